// Authentication (docs/protocol.md §2): header and first message, 4001, 4003, refresh, pinned
// algorithms, API keys.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPairSync } from 'node:crypto'
import { createSigner } from 'fast-jwt'
import { API_KEY, SECRET, startGateway, TestClient, token } from '../helper.js'

const b64 = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url')
const now = (): number => Math.floor(Date.now() / 1000)
/** A token that expires between `ms` and `ms` + 1000 milliseconds from now (`exp` is in whole seconds). */
const expiringIn = (ms: number, sub = '42'): string => createSigner({ key: SECRET })({ sub, exp: Math.ceil((Date.now() + ms) / 1000) })

test('auth by Authorization header: the socket opens authenticated', async (t) => {
  const gw = await startGateway()
  t.after(() => gw.close())
  const client = await TestClient.connect(gw.url, { token: token({ sub: '42' }) })
  t.after(() => client.close())
  assert.equal(typeof (await client.call('rpc.ping', {})).result.time, 'number')
  assert.equal((await client.call('rpc.join', { room: 'lobby' })).error?.code, -32003, 'authenticated, so join reaches the permission check')
})

test('a bad token in the header refuses the upgrade with 401', async (t) => {
  const gw = await startGateway()
  t.after(() => gw.close())
  await assert.rejects(TestClient.connect(gw.url, { token: 'not-a-jwt' }), /HTTP 401/)
  await assert.rejects(TestClient.connect(gw.url, { token: token({ sub: '42' }, { key: 'another-secret-0123456789abcdef' }) }), /HTTP 401/)
})

test('auth by first message: rpc.auth answers with the connection details', async (t) => {
  const gw = await startGateway({ heartbeatMs: 1234 })
  t.after(() => gw.close())
  const client = await TestClient.connect(gw.url)
  t.after(() => client.close())
  assert.equal((await client.call('math.add', {})).error?.code, -32001, 'pending: methods are refused')
  assert.equal((await client.call('rpc.join', { room: 'x' })).error?.code, -32001)
  assert.equal((await client.call('rpc.discover', {})).error?.code, -32001)
  assert.equal(typeof (await client.call('rpc.ping', {})).result.time, 'number', 'rpc.ping works while pending')
  assert.equal((await client.call('rpc.auth', { token: 'garbage' })).error?.code, -32001)
  const tok = token({ sub: '42' })
  const res = await client.call('rpc.auth', { token: tok })
  assert.equal(res.result.userId, '42')
  assert.equal(typeof res.result.connectionId, 'string')
  assert.equal(res.result.node, gw.app.ipcBroker.nodeId)
  assert.equal(res.result.heartbeatMs, 1234)
  const exp = JSON.parse(Buffer.from(tok.split('.')[1], 'base64url').toString()).exp
  assert.equal(res.result.expiresAt, exp * 1000)
})

test('a token without exp authenticates with expiresAt null', async (t) => {
  const gw = await startGateway()
  t.after(() => gw.close())
  const client = await TestClient.connect(gw.url)
  t.after(() => client.close())
  const res = await client.call('rpc.auth', { token: createSigner({ key: SECRET })({ sub: 7 }) })
  assert.equal(res.result.userId, '7')
  assert.equal(res.result.expiresAt, null)
})

test('a token without sub is refused', async (t) => {
  const gw = await startGateway()
  t.after(() => gw.close())
  const client = await TestClient.connect(gw.url)
  t.after(() => client.close())
  assert.equal((await client.call('rpc.auth', { token: token({ name: 'x' }) })).error?.code, -32001)
})

test('a pending connection is closed with 4001 after authTimeoutMs', async (t) => {
  const gw = await startGateway({ authTimeoutMs: 100 })
  t.after(() => gw.close())
  const client = await TestClient.connect(gw.url)
  assert.equal((await client.closed).code, 4001)
  const authed = await TestClient.connect(gw.url, { auth: token({ sub: '1' }) })
  t.after(() => authed.close())
  await new Promise(resolve => setTimeout(resolve, 200))
  assert.equal(typeof (await authed.call('rpc.ping', {})).result.time, 'number', 'an authenticated connection outlives the auth timeout')
})

test('an expired token closes the connection with 4003', async (t) => {
  const gw = await startGateway()
  t.after(() => gw.close())
  const byMessage = await TestClient.connect(gw.url, { auth: expiringIn(300) })
  const byHeader = await TestClient.connect(gw.url, { token: expiringIn(300) })
  assert.equal((await byMessage.closed).code, 4003)
  assert.equal((await byHeader.closed).code, 4003)
  await new Promise(resolve => setTimeout(resolve, 50))
  await assert.rejects(TestClient.connect(gw.url, { auth: createSigner({ key: SECRET })({ sub: '42', exp: now() - 10 }) }), /rpc.auth failed/)
})

test('refresh: a newer token for the same sub extends the connection; another sub gets -32003', async (t) => {
  const gw = await startGateway()
  t.after(() => gw.close())
  const first = expiringIn(200)
  const firstExpiry = JSON.parse(Buffer.from(first.split('.')[1], 'base64url').toString()).exp * 1000
  const client = await TestClient.connect(gw.url, { auth: first })
  t.after(() => client.close())
  const other = await client.call('rpc.auth', { token: token({ sub: '43' }) })
  assert.equal(other.error?.code, -32003)
  const longer = token({ sub: '42' })
  const res = await client.call('rpc.auth', { token: longer })
  assert.equal(res.result.userId, '42')
  assert.ok(res.result.expiresAt > Date.now() + 3000_000)
  await new Promise(resolve => setTimeout(resolve, firstExpiry - Date.now() + 150))
  assert.equal(typeof (await client.call('rpc.ping', {})).result.time, 'number', 'still open after the first token expired')
  // The refused refresh did not change who the connection is.
  await gw.app.ipc.publish({ target: 'user:42', event: 'still.me', data: 1 })
  await client.event('still.me')
})

test('a token signed with another algorithm, even with the right secret, is refused', async (t) => {
  const gw = await startGateway()
  t.after(() => gw.close())
  for (const algorithm of ['HS384', 'HS512']) {
    const client = await TestClient.connect(gw.url)
    const res = await client.call('rpc.auth', { token: token({ sub: '42' }, { algorithm }) })
    assert.equal(res.error?.code, -32001, algorithm)
    await client.close()
    await assert.rejects(TestClient.connect(gw.url, { token: token({ sub: '42' }, { algorithm }) }), /HTTP 401/)
  }
})

test('an unsigned token (alg none) is refused', async (t) => {
  const gw = await startGateway()
  t.after(() => gw.close())
  const payload = b64({ sub: '42', exp: now() + 3600 })
  const client = await TestClient.connect(gw.url)
  t.after(() => client.close())
  for (const alg of ['none', 'None', 'NONE']) {
    const unsigned = `${b64({ alg, typ: 'JWT' })}.${payload}.`
    assert.equal((await client.call('rpc.auth', { token: unsigned })).error?.code, -32001, alg)
    await assert.rejects(TestClient.connect(gw.url, { token: unsigned }), /HTTP 401/)
  }
  // A token re-labelled HS256 keeps its signature check.
  const forged = `${b64({ alg: 'HS256', typ: 'JWT' })}.${payload}.${'A'.repeat(43)}`
  assert.equal((await client.call('rpc.auth', { token: forged })).error?.code, -32001)
})

test('RS256: tokens signed with the private key pass; HS256 with the public key as secret does not', async (t) => {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const pub = publicKey.export({ type: 'spki', format: 'pem' }).toString()
  const priv = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
  const gw = await startGateway({ jwt: { publicKey: pub } })
  t.after(() => gw.close())
  const good = await TestClient.connect(gw.url, { token: token({ sub: 'rs' }, { key: priv, algorithm: 'RS256' }) })
  t.after(() => good.close())
  assert.equal(typeof (await good.call('rpc.ping', {})).result.time, 'number')
  const confused = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ sub: 'rs', exp: now() + 60 })}`
  const { createHmac } = await import('node:crypto')
  const forged = `${confused}.${createHmac('sha256', pub).update(confused).digest('base64url')}`
  await assert.rejects(TestClient.connect(gw.url, { token: forged }), /HTTP 401/)
  await assert.rejects(TestClient.connect(gw.url, { token: token({ sub: 'rs' }, { key: priv, algorithm: 'RS384' }) }), /HTTP 401/)
})

test('issuer and audience are checked when configured', async (t) => {
  const gw = await startGateway({ jwt: { secret: SECRET, issuer: 'https://issuer', audience: 'ipc' } })
  t.after(() => gw.close())
  const ok = await TestClient.connect(gw.url, { token: token({ sub: '1', iss: 'https://issuer', aud: 'ipc' }) })
  t.after(() => ok.close())
  await assert.rejects(TestClient.connect(gw.url, { token: token({ sub: '1', iss: 'https://other', aud: 'ipc' }) }), /HTTP 401/)
  await assert.rejects(TestClient.connect(gw.url, { token: token({ sub: '1', iss: 'https://issuer', aud: 'else' }) }), /HTTP 401/)
  await assert.rejects(TestClient.connect(gw.url, { token: token({ sub: '1' }) }), /HTTP 401/)
})

test('API keys: by header and by rpc.auth, with identity service:<name> and role service', async (t) => {
  const gw = await startGateway({}, app => {
    app.ipc.method('admin.whoami', { access: 'service' }, (_p, ctx) => ({ userId: ctx.caller.userId, roles: ctx.caller.roles }))
  })
  t.after(() => gw.close())
  const byHeader = await TestClient.connect(gw.url, { token: API_KEY })
  t.after(() => byHeader.close())
  assert.deepEqual((await byHeader.call('admin.whoami', {})).result, { userId: 'service:backend', roles: ['service'] })
  const byMessage = await TestClient.connect(gw.url)
  t.after(() => byMessage.close())
  const res = await byMessage.call('rpc.auth', { token: API_KEY })
  assert.equal(res.result.userId, 'service:backend')
  assert.equal(res.result.expiresAt, null)
  assert.deepEqual((await byMessage.call('admin.whoami', {})).result, { userId: 'service:backend', roles: ['service'] })
  await assert.rejects(TestClient.connect(gw.url, { token: API_KEY + 'x' }), /HTTP 401/)
  await assert.rejects(TestClient.connect(gw.url, { token: API_KEY.slice(0, -1) }), /HTTP 401/)
  const user = await TestClient.connect(gw.url, { token: token({ sub: '42' }) })
  t.after(() => user.close())
  assert.equal((await user.call('admin.whoami', {})).error?.code, -32601, 'a user does not see service methods')
})

// API keys are free-form: one may look like a JWT, and a token that is neither gets the JWT's error.
test('an API key shaped like a JWT is still an API key; a bad JWT still gets the JWT\'s error', async (t) => {
  const jwtLike = 'abc-def_0123.ghijkl456789.mnopq-rs_tuv'
  const gw = await startGateway({ apiKeys: { odd: jwtLike } })
  t.after(() => gw.close())
  const odd = await TestClient.connect(gw.url)
  t.after(() => odd.close())
  assert.equal((await odd.call('rpc.auth', { token: jwtLike })).result.userId, 'service:odd')
  const bad = await TestClient.connect(gw.url)
  t.after(() => bad.close())
  const res = await bad.call('rpc.auth', { token: token({ sub: '42' }, { key: 'another-secret-0123456789abcdef0123' }) })
  assert.equal(res.error?.code, -32001)
  assert.match(res.error?.message ?? '', /^Invalid token: /)
  const user = await TestClient.connect(gw.url)
  t.after(() => user.close())
  assert.equal((await user.call('rpc.auth', { token: token({ sub: '42' }) })).result.userId, '42')
})
