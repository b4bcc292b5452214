// JWTs checked against a JWKS document (docs/protocol.md §2): a local HTTP server serves the keys
// and rotates them during the test; the gateway follows without a restart, fetching again on an
// unknown `kid` at most once per cooldown, and a broken or unreachable endpoint refuses tokens
// without crashing anything.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import Fastify, { type FastifyInstance } from 'fastify'
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose'
import fastifyIpc from '../../src/index.js'
import { freePort } from '../helpers/redis.js'
import { TestClient, token as hsToken } from '../helper.js'

const COOLDOWN_MS = 400
type Key = Awaited<ReturnType<typeof generateKeyPair>>['privateKey']

let server: Server
let jwksUrl: string
let served: JWK[] = []
let mode: 'ok' | 'garbage' | 'error' = 'ok'
let fetches = 0
const privateKeys = new Map<string, Key>()

async function addKey (kid: string): Promise<JWK> {
  const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true })
  privateKeys.set(kid, privateKey)
  return { ...await exportJWK(publicKey), kid, alg: 'RS256', use: 'sig' }
}

async function sign (kid: string, sub: string): Promise<string> {
  return await new SignJWT({ sub }).setProtectedHeader({ alg: 'RS256', kid }).setExpirationTime('1h').sign(privateKeys.get(kid)!)
}

async function gateway (url: string): Promise<{ app: FastifyInstance, url: string, logs: string[] }> {
  const logs: string[] = []
  const app = Fastify({ logger: { level: 'warn', stream: { write: (line: string) => { logs.push(line) } } } })
  await app.register(fastifyIpc, { jwt: { jwksUrl: url, jwksCooldownMs: COOLDOWN_MS } })
  await app.listen({ port: 0, host: '127.0.0.1' })
  return { app, url: `ws://127.0.0.1:${(app.server.address() as AddressInfo).port}/ws`, logs }
}

async function auth (url: string, token: string): Promise<{ result?: any, error?: { code: number, message: string } }> {
  const client = await TestClient.connect(url)
  try {
    return await client.call('rpc.auth', { token })
  } finally {
    await client.close()
  }
}

before(async () => {
  served = [await addKey('A')]
  await addKey('C') // signs tokens whose kid the issuer never serves
  server = createServer((req, res) => {
    fetches++
    if (mode === 'error') return res.writeHead(500).end('boom')
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(mode === 'garbage' ? '{"keys": "not a list"' : JSON.stringify({ keys: served }))
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`
})

after(async () => {
  server.closeAllConnections()
  await new Promise(resolve => server.close(resolve))
})

test('keys rotate without a restart; unknown kids fetch again at most once per cooldown', async (t) => {
  const gw = await gateway(jwksUrl)
  t.after(() => gw.app.close())

  assert.equal((await auth(gw.url, await sign('A', 'ada'))).result?.userId, 'ada')
  const byHeader = await TestClient.connect(gw.url, { token: await sign('A', 'bob') })
  await byHeader.close()
  assert.equal(fetches, 1, 'the set is fetched once, then cached')

  // The issuer rotates: A out, B in.
  served = [await addKey('B')]
  const tooSoon = await auth(gw.url, await sign('B', 'ada'))
  assert.equal(tooSoon.error?.code, -32001, 'within the cooldown an unknown kid is refused without a fetch')
  assert.equal(fetches, 1)

  await sleep(COOLDOWN_MS + 100)
  assert.equal((await auth(gw.url, await sign('B', 'ada'))).result?.userId, 'ada', 'the new kid is accepted after one fetch')
  assert.equal(fetches, 2)
  const old = await auth(gw.url, await sign('A', 'ada'))
  assert.equal(old.error?.code, -32001, 'the rotated-out kid is refused')
  assert.match(old.error!.message, /^Invalid token: /)
  await assert.rejects(TestClient.connect(gw.url, { token: await sign('A', 'ada') }), /HTTP 401/)

  // a burst of tokens with unknown kids costs no fetch within the cooldown
  const burst = await Promise.all(Array.from({ length: 5 }, async () => await auth(gw.url, await sign('C', 'eve'))))
  assert.ok(burst.every(r => r.error?.code === -32001))
  assert.equal(fetches, 2)

  // and after it, one fetch: A is still gone
  await sleep(COOLDOWN_MS + 100)
  assert.equal((await auth(gw.url, await sign('A', 'ada'))).error?.code, -32001)
  assert.equal(fetches, 3)

  // algorithms stay pinned: an HS256 token is refused whatever its kid
  assert.equal((await auth(gw.url, hsToken({ sub: 'mallory' }))).error?.code, -32001)
})

test('a broken JWKS response or an unreachable endpoint refuses tokens with a logged reason, and nothing crashes', async (t) => {
  served = [await addKey('D')]
  mode = 'ok'
  const gw = await gateway(jwksUrl)
  t.after(() => gw.app.close())
  assert.equal((await auth(gw.url, await sign('D', 'ada'))).result?.userId, 'ada')

  for (const broken of ['garbage', 'error'] as const) {
    mode = broken
    await sleep(COOLDOWN_MS + 100)
    const before = fetches
    const unknown = await auth(gw.url, await sign('C', 'ada'))
    assert.equal(unknown.error?.code, -32001, broken)
    assert.equal(fetches, before + 1)
    assert.ok(gw.logs.some(l => l.includes('JWKS fetch failed')), 'the reason is logged')
    // the keys known before still work, and a failed fetch is not tried again within the cooldown
    assert.equal((await auth(gw.url, await sign('D', 'bob'))).result?.userId, 'bob', broken)
    assert.equal((await auth(gw.url, await sign('C', 'ada'))).error?.code, -32001)
    assert.equal(fetches, before + 1, broken)
  }
  mode = 'ok'

  const nowhere = await gateway(`http://127.0.0.1:${await freePort()}/jwks.json`)
  t.after(() => nowhere.app.close())
  const refused = await auth(nowhere.url, await sign('D', 'ada'))
  assert.equal(refused.error?.code, -32001)
  assert.match(refused.error!.message, /signing keys unavailable/)
  assert.ok(nowhere.logs.some(l => l.includes('JWKS fetch failed')))
  await assert.rejects(TestClient.connect(nowhere.url, { token: await sign('D', 'ada') }), /HTTP 401/)
  assert.equal((await auth(nowhere.url, await sign('D', 'ada'))).error?.code, -32001, 'still refused, still serving')
})
