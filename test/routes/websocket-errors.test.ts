// Every error code of docs/protocol.md §6, each provoked by a real frame, and batches.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import Type from 'typebox'
import { notFound, RpcError } from '../../src/index.js'
import { startGateway, TestClient, token, type TestGateway } from '../helper.js'

/** A gateway with methods for every outcome; `release()` lets every `slow.wait` call finish. */
async function gateway (options = {}): Promise<TestGateway & { release: () => void }> {
  let open!: () => void
  let gate = new Promise<void>(resolve => { open = resolve })
  const gw = await startGateway(options, app => {
    app.ipc.method('math.add', {
      params: Type.Object({ a: Type.Number(), b: Type.Number() }),
      result: Type.Object({ sum: Type.Number() })
    }, ({ a, b }) => ({ sum: a + b }))
    app.ipc.method('math.broken', { result: Type.Object({ sum: Type.Number() }) }, () => ({ sum: 'not a number' }))
    app.ipc.method('fail.crash', {}, () => { throw new Error('secret database password in /srv/app/db.js') })
    app.ipc.method('fail.db', {}, () => { throw Object.assign(new Error('E11000 duplicate key: users.email'), { code: 11000 }) })
    app.ipc.method('fail.missing', { params: Type.Object({ id: Type.Integer() }) }, ({ id }) => { throw notFound(`Order ${id} does not exist`, { id }) })
    app.ipc.method('fail.app', {}, () => { throw new RpcError(4200, 'Out of stock', { sku: 'A-1' }) })
    app.ipc.method('fail.reserved', {}, () => { throw new RpcError(-32099, 'Custom server error') })
    app.ipc.method('slow.never', { timeoutMs: 50 }, () => new Promise(() => {}))
    app.ipc.method('slow.wait', {}, async () => { await gate; return { done: true } })
    app.ipc.method('admin.only', { roles: ['admin'] }, () => ({ ok: true }))
    app.ipc.method('svc.only', { access: 'service' }, () => ({ ok: true }))
  })
  return { ...gw, release: () => { open(); gate = Promise.resolve() } }
}

test('-32700: a frame that is not JSON', async (t) => {
  const gw = await gateway()
  t.after(() => gw.close())
  const client = await TestClient.connect(gw.url, { token: token({ sub: '1' }) })
  t.after(() => client.close())
  client.send('{"jsonrpc":"2.0","id":1,"method":')
  const res = await client.next(f => f.error !== undefined)
  assert.equal(res.id, null)
  assert.equal(res.error?.code, -32700)
  assert.equal(typeof (await client.call('rpc.ping', {})).result.time, 'number', 'the connection stays open')
})

test('-32600: not a JSON-RPC request', async (t) => {
  const gw = await gateway()
  t.after(() => gw.close())
  const client = await TestClient.connect(gw.url, { token: token({ sub: '1' }) })
  t.after(() => client.close())
  for (const [frame, id] of [
    [42, null],
    ['"hello"', null],
    [{ id: 1, method: 'rpc.ping' }, 1],
    [{ jsonrpc: '1.0', id: 2, method: 'rpc.ping' }, 2],
    [{ jsonrpc: '2.0', id: 3 }, 3],
    [{ jsonrpc: '2.0', id: 4, method: 'rpc.ping', params: 'bar' }, 4],
    [{ jsonrpc: '2.0', id: { x: 1 }, method: 'rpc.ping' }, null]
  ] as const) {
    client.send(typeof frame === 'string' ? frame : JSON.stringify(frame))
    const res = await client.next(f => f.error !== undefined)
    assert.equal(res.error?.code, -32600, JSON.stringify(frame))
    assert.equal(res.id, id, JSON.stringify(frame))
  }
})

test('-32600: a second request with an id still in flight; the first is answered normally', async (t) => {
  const gw = await gateway()
  t.after(() => gw.close())
  const client = await TestClient.connect(gw.url, { token: token({ sub: '1' }) })
  t.after(() => client.close())
  client.send({ jsonrpc: '2.0', id: 'dup', method: 'slow.wait' })
  client.send({ jsonrpc: '2.0', id: 'dup', method: 'rpc.ping' })
  const second = await client.next(f => f.id === 'dup')
  assert.equal(second.error?.code, -32600)
  gw.release()
  assert.deepEqual((await client.next(f => f.id === 'dup')).result, { done: true })
  assert.equal(typeof (await client.call('rpc.ping', {}, 'dup')).result.time, 'number', 'the id is free again once answered')
})

test('a number id and a string id with the same digits are two requests, both in flight at once', async (t) => {
  const gw = await gateway()
  t.after(() => gw.close())
  const client = await TestClient.connect(gw.url, { token: token({ sub: '1' }) })
  t.after(() => client.close())
  client.send({ jsonrpc: '2.0', id: 7, method: 'slow.wait' })
  client.send({ jsonrpc: '2.0', id: '7', method: 'rpc.ping' })
  assert.equal(typeof (await client.next(f => f.id === '7')).result?.time, 'number')
  gw.release()
  assert.deepEqual((await client.next(f => f.id === 7)).result, { done: true })
})

test('-32600: a batch too big, and an empty batch', async (t) => {
  const gw = await gateway({ maxBatch: 3 })
  t.after(() => gw.close())
  const client = await TestClient.connect(gw.url, { token: token({ sub: '1' }) })
  t.after(() => client.close())
  client.send(Array.from({ length: 4 }, (_, i) => ({ jsonrpc: '2.0', id: i, method: 'rpc.ping' })))
  const big = await client.next(f => f.error !== undefined)
  assert.equal(big.error?.code, -32600)
  assert.equal(big.id, null)
  client.send([])
  assert.equal((await client.next(f => f.error !== undefined)).error?.code, -32600)
  assert.equal(client.frames.length, 0, 'no entry of the refused batch ran')
})

test('-32601: an unknown method, a method hidden by roles or access, an unknown rpc. method', async (t) => {
  const gw = await gateway()
  t.after(() => gw.close())
  const client = await TestClient.connect(gw.url, { token: token({ sub: '1' }) })
  t.after(() => client.close())
  assert.equal((await client.call('nope.nothing', {})).error?.code, -32601)
  assert.equal((await client.call('nodot', {})).error?.code, -32601)
  assert.equal((await client.call('admin.only', {})).error?.code, -32601)
  assert.equal((await client.call('svc.only', {})).error?.code, -32601)
  assert.equal((await client.call('rpc.nothing', {})).error?.code, -32601)
  const admin = await TestClient.connect(gw.url, { token: token({ sub: '2', roles: ['admin'] }) })
  t.after(() => admin.close())
  assert.deepEqual((await admin.call('admin.only', {})).result, { ok: true })
})

test('-32602: params that fail the schema, with the errors in data', async (t) => {
  const gw = await gateway()
  t.after(() => gw.close())
  const client = await TestClient.connect(gw.url, { token: token({ sub: '1' }) })
  t.after(() => client.close())
  const res = await client.call('math.add', { a: 1, b: 'two' })
  assert.equal(res.error?.code, -32602)
  assert.ok(Array.isArray(res.error?.data.errors) && res.error.data.errors.length > 0)
  assert.ok(res.error.data.errors.some((e: { path: string }) => e.path === '/b'), JSON.stringify(res.error.data))
  assert.equal((await client.call('math.add')).error?.code, -32602, 'absent params are validated as {}')
  assert.equal((await client.call('rpc.join', { room: 'a b' })).error?.code, -32602, 'built-ins validate too')
  assert.equal((await client.call('rpc.auth', {})).error?.code, -32602)
})

test('-32603: a handler that throws, or returns a result off its schema; no stack or message leaks', async (t) => {
  const gw = await gateway()
  t.after(() => gw.close())
  const client = await TestClient.connect(gw.url, { token: token({ sub: '1' }) })
  t.after(() => client.close())
  for (const method of ['fail.crash', 'fail.db', 'math.broken']) {
    const raw = new Promise<string>(resolve => client.ws.once('message', data => resolve(data.toString())))
    const res = await client.call(method, {})
    assert.deepEqual(res.error, { code: -32603, message: 'Internal error' }, method)
    const text = await raw
    assert.doesNotMatch(text, /secret|db\.js|E11000|at |\n/, method)
  }
})

test('-32001: calls before authenticating', async (t) => {
  const gw = await gateway()
  t.after(() => gw.close())
  const client = await TestClient.connect(gw.url)
  t.after(() => client.close())
  assert.equal((await client.call('math.add', { a: 1, b: 2 })).error?.code, -32001)
  assert.equal((await client.call('nope.nothing', {})).error?.code, -32001)
  assert.equal((await client.call('rpc.nothing', {})).error?.code, -32001)
  assert.equal((await client.call('rpc.presence', { users: ['1'] })).error?.code, -32001)
  assert.equal((await client.call('rpc.auth', { token: 'x.y.z' })).error?.code, -32001)
})

test('-32003: authenticated but not allowed', async (t) => {
  const gw = await gateway()
  t.after(() => gw.close())
  const client = await TestClient.connect(gw.url, { token: token({ sub: '1', rooms: ['team:*'] }) })
  t.after(() => client.close())
  assert.equal((await client.call('rpc.join', { room: 'admins' })).error?.code, -32003)
  assert.equal((await client.call('rpc.presence', { room: 'team:a' })).error?.code, -32003, 'presence of a room you are not in')
})

test('-32004: a handler that throws the exported notFound', async (t) => {
  const gw = await gateway()
  t.after(() => gw.close())
  const client = await TestClient.connect(gw.url, { token: token({ sub: '1' }) })
  t.after(() => client.close())
  assert.deepEqual((await client.call('fail.missing', { id: 9 })).error, { code: -32004, message: 'Order 9 does not exist', data: { id: 9 } })
})

test('-32008: no answer before the method deadline', async (t) => {
  const gw = await gateway()
  t.after(() => gw.close())
  const client = await TestClient.connect(gw.url, { token: token({ sub: '1' }) })
  t.after(() => client.close())
  const res = await client.call('slow.never', {})
  assert.equal(res.error?.code, -32008)
  assert.equal(typeof (await client.call('rpc.ping', {})).result.time, 'number')
})

test('-32008: defaultTimeoutMs applies to methods without their own', async (t) => {
  const gw = await gateway({ defaultTimeoutMs: 50 })
  t.after(async () => { gw.release(); await gw.close() })
  const client = await TestClient.connect(gw.url, { token: token({ sub: '1' }) })
  t.after(() => client.close())
  assert.equal((await client.call('slow.wait', {})).error?.code, -32008)
})

test('-32029: more requests in flight than maxInFlight; the connection stays open', async (t) => {
  const gw = await gateway({ maxInFlight: 2 })
  t.after(() => gw.close())
  const client = await TestClient.connect(gw.url, { token: token({ sub: '1' }) })
  t.after(() => client.close())
  const a = client.call('slow.wait', {})
  const b = client.call('slow.wait', {})
  assert.equal((await client.call('rpc.ping', {})).error?.code, -32029)
  gw.release()
  assert.deepEqual([(await a).result, (await b).result], [{ done: true }, { done: true }])
  assert.equal(typeof (await client.call('rpc.ping', {})).result.time, 'number')
})

test('-32029: over the message rate; the connection stays open and recovers', async (t) => {
  const gw = await gateway({ rateLimit: 5 })
  t.after(() => gw.close())
  const client = await TestClient.connect(gw.url, { token: token({ sub: '1' }) })
  t.after(() => client.close())
  const answers = await Promise.all(Array.from({ length: 20 }, () => client.call('rpc.ping', {})))
  const limited = answers.filter(f => f.error?.code === -32029).length
  assert.ok(limited >= 5, `${limited} of 20 limited`)
  assert.ok(answers.filter(f => f.result !== undefined).length >= 10, 'the burst (twice the rate) passes')
  await new Promise(resolve => setTimeout(resolve, 400))
  assert.equal(typeof (await client.call('rpc.ping', {})).result.time, 'number')
})

test('-32050: a request while the node drains; the one in flight is still answered, then 1001', async () => {
  const gw = await gateway()
  const client = await TestClient.connect(gw.url, { token: token({ sub: '1' }) })
  const slow = client.call('slow.wait', {})
  await new Promise(resolve => setTimeout(resolve, 20))
  const closing = gw.close()
  while (!gw.app.ipcHub.draining) await new Promise(resolve => setImmediate(resolve))
  const refused = await client.call('math.add', { a: 1, b: 2 })
  assert.equal(refused.error?.code, -32050)
  gw.release()
  assert.deepEqual((await slow).result, { done: true })
  assert.equal((await client.closed).code, 1001)
  await closing
})

test('an application error code is passed through with its message and data', async (t) => {
  const gw = await gateway()
  t.after(() => gw.close())
  const client = await TestClient.connect(gw.url, { token: token({ sub: '1' }) })
  t.after(() => client.close())
  assert.deepEqual((await client.call('fail.app', {})).error, { code: 4200, message: 'Out of stock', data: { sku: 'A-1' } })
  assert.deepEqual((await client.call('fail.reserved', {})).error, { code: -32099, message: 'Custom server error' })
})

test('batches: mixed requests, notifications and errors answered as one array', async (t) => {
  const gw = await gateway()
  t.after(() => gw.close())
  const client = await TestClient.connect(gw.url, { token: token({ sub: '1' }) })
  t.after(() => client.close())
  const raw = new Promise<unknown>(resolve => client.ws.once('message', data => resolve(JSON.parse(data.toString()))))
  client.send([
    { jsonrpc: '2.0', id: 'a', method: 'math.add', params: { a: 1, b: 2 } },
    { jsonrpc: '2.0', method: 'math.add', params: { a: 1, b: 2 } },
    { jsonrpc: '2.0', id: 'b', method: 'nope.nothing' },
    { jsonrpc: '2.0', id: 'c', method: 'math.add', params: { a: 'x' } },
    { foo: 'bar' },
    { jsonrpc: '2.0', id: 'd', method: 'fail.missing', params: { id: 1 } },
    { jsonrpc: '2.0', method: 'fail.crash' }
  ])
  const answer = await raw as Array<{ id: unknown, result?: unknown, error?: { code: number } }>
  assert.ok(Array.isArray(answer))
  const byId = new Map(answer.map(f => [f.id, f]))
  assert.equal(answer.length, 5)
  assert.deepEqual(byId.get('a')?.result, { sum: 3 })
  assert.equal(byId.get('b')?.error?.code, -32601)
  assert.equal(byId.get('c')?.error?.code, -32602)
  assert.equal(byId.get(null)?.error?.code, -32600)
  assert.equal(byId.get('d')?.error?.code, -32004)
})

test('batches of notifications only get no answer; notifications are never answered', async (t) => {
  const gw = await gateway()
  t.after(() => gw.close())
  const client = await TestClient.connect(gw.url, { token: token({ sub: '1' }) })
  t.after(() => client.close())
  client.send([{ jsonrpc: '2.0', method: 'rpc.ping' }, { jsonrpc: '2.0', method: 'math.add', params: { a: 1, b: 2 } }])
  client.send({ jsonrpc: '2.0', method: 'nope.nothing' })
  client.send({ jsonrpc: '2.0', method: 'fail.crash' })
  const pong = await client.call('rpc.ping', {}, 'last')
  assert.equal(typeof pong.result.time, 'number')
  await new Promise(resolve => setTimeout(resolve, 50))
  assert.deepEqual(client.frames, [], 'nothing but the ping was answered')
})
