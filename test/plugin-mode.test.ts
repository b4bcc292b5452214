// Plugin mode: fastify-ipc inside a host app that already registered @fastify/websocket and @fastify/jwt.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fastifyJwt from '@fastify/jwt'
import fastifyWebsocket from '@fastify/websocket'
import Fastify, { type FastifyInstance } from 'fastify'
import Type from 'typebox'
import WebSocket from 'ws'
import fastifyIpc from '../src/index.js'
import { gatewayOf, SECRET, TestClient, token } from './helper.js'

const HOST_SECRET = 'host-secret-abcdefabcdefabcdefabcdef'

async function hostApp (): Promise<{ app: FastifyInstance, http: string, ws: string, release: () => void }> {
  const app = Fastify({ logger: false })
  await app.register(fastifyWebsocket)
  await app.register(fastifyJwt, { secret: HOST_SECRET })
  app.get('/hello', async () => ({ hello: 'world' }))
  app.get('/me', { onRequest: async (request) => { await request.jwtVerify() } }, async (request) => ({ user: request.user }))
  app.get('/echo', { websocket: true }, (socket) => {
    socket.on('message', data => socket.send(`echo:${data.toString()}`))
  })
  let release!: () => void
  const gate = new Promise(resolve => { release = () => resolve({ done: true }) })
  await app.register(fastifyIpc, { jwt: { secret: SECRET }, maxPayload: 1024 })
  app.ipc.method('math.add', { params: Type.Object({ a: Type.Number(), b: Type.Number() }) }, ({ a, b }) => ({ sum: a + b }))
  app.ipc.method('slow.wait', {}, async () => await gate)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as { port: number }
  return { app, http: `http://127.0.0.1:${port}`, ws: `ws://127.0.0.1:${port}`, release }
}

async function echo (url: string): Promise<string> {
  const ws = new WebSocket(url)
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject) })
  ws.send('ping')
  const data = await new Promise<WebSocket.RawData>(resolve => ws.once('message', resolve))
  ws.close()
  await new Promise(resolve => ws.once('close', resolve))
  return data.toString()
}

test('the host keeps its routes, its websocket routes and its own @fastify/jwt', async (t) => {
  const host = await hostApp()
  t.after(() => host.app.close())
  assert.deepEqual(await (await fetch(`${host.http}/hello`)).json(), { hello: 'world' })
  assert.equal(await echo(`${host.ws}/echo`), 'echo:ping')

  const hostToken = host.app.jwt.sign({ sub: 'host-user' })
  const me = await fetch(`${host.http}/me`, { headers: { authorization: `Bearer ${hostToken}` } })
  assert.equal(me.status, 200)
  assert.equal((await me.json()).user.sub, 'host-user')
  assert.equal((await fetch(`${host.http}/me`, { headers: { authorization: `Bearer ${token({ sub: '1' })}` } })).status, 401, 'the host does not accept gateway tokens')
  assert.equal((host.app.jwt as unknown as Record<string, unknown>).ipc, undefined, 'the host\'s jwt decorator is untouched')
  assert.deepEqual(Object.keys(host.app.jwt).sort(), ['cookie', 'decode', 'lookupToken', 'options', 'sign', 'verify'])

  await assert.rejects(TestClient.connect(`${host.ws}/ws`, { token: hostToken }), /HTTP 401/, 'the gateway does not accept host tokens')
  const client = await TestClient.connect(`${host.ws}/ws`, { token: token({ sub: '1' }) })
  t.after(() => client.close())
  assert.deepEqual((await client.call('math.add', { a: 2, b: 3 })).result, { sum: 5 })
  assert.equal((await fetch(`${host.http}/health`)).status, 200)
})

test('maxPayload holds even though the host\'s websocket server allows more (1009)', async (t) => {
  const host = await hostApp()
  t.after(() => host.app.close())
  const client = await TestClient.connect(`${host.ws}/ws`, { token: token({ sub: '1' }) })
  client.send({ jsonrpc: '2.0', id: 1, method: 'rpc.ping', params: { pad: 'x'.repeat(2000) } })
  assert.equal((await client.closed).code, 1009)
  assert.equal(await echo(`${host.ws}/echo`), 'echo:ping', 'host sockets are not limited by the gateway')
})

// The host's @fastify/websocket closes its server's sockets in its preClose, before ours drains:
// plugins/websocket.ts `adopt` takes our sockets off its list, and this test fails if that stops working.
test('shutdown in a host app: in-flight requests are answered, then gateway sockets close with 1001', async () => {
  const host = await hostApp()
  const client = await TestClient.connect(`${host.ws}/ws`, { token: token({ sub: '1' }) })
  const slow = client.call('slow.wait', {})
  await client.call('rpc.ping', {})
  const closing = host.app.close()
  while (!gatewayOf(host.app).draining) await new Promise(resolve => setImmediate(resolve))
  host.release()
  assert.deepEqual((await slow).result, { done: true })
  assert.equal((await client.closed).code, 1001)
  await closing
})

test('two gateways can be registered side by side on different paths', async (t) => {
  const app = Fastify({ logger: false })
  t.after(() => app.close())
  await app.register(fastifyJwt, { secret: HOST_SECRET })
  await app.register(async (scope) => {
    await scope.register(fastifyIpc, { jwt: { secret: SECRET }, path: '/a' })
    scope.ipc.method('who.am', {}, () => 'a')
  })
  await app.register(async (scope) => {
    await scope.register(fastifyIpc, { jwt: { secret: SECRET }, path: '/b', routes: false })
    scope.ipc.method('who.am', {}, () => 'b')
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as { port: number }
  for (const name of ['a', 'b']) {
    const client = await TestClient.connect(`ws://127.0.0.1:${port}/${name}`, { token: token({ sub: '1' }) })
    assert.equal((await client.call('who.am', {})).result, name)
    await client.close()
  }
})
