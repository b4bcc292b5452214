// The Gateway without Fastify: auth, dispatch, rooms, fan-out, driven through real sockets.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import Type from 'typebox'
import { MemoryBroker } from '../../src/broker/memory.js'
import type { Broker } from '../../src/broker/types.js'
import { RpcError } from '../../src/protocol/errors.js'
import { API_KEY, TestClient, token } from '../helper.js'
import { gatewayOnWs } from './harness.js'

test('auth: an identity from the upgrade opens authenticated; others have rpc.auth, or 4001', async (t) => {
  const { gateway, url, close } = await gatewayOnWs({ authTimeoutMs: 200 })
  t.after(close)
  const byHeader = await TestClient.connect(url, { token: token({ sub: '1' }) })
  assert.equal((await byHeader.call('rpc.ping')).error, undefined)
  assert.equal([...gateway.connections.values()].find(c => c.identity?.userId === '1')?.state, 'authenticated')

  const pending = await TestClient.connect(url)
  assert.equal((await pending.call('rpc.join', { room: 'x' })).error?.code, -32001)
  assert.equal((await pending.call('rpc.auth', { token: 'not-a-jwt' })).error?.code, -32001)
  const auth = await pending.call('rpc.auth', { token: token({ sub: '2' }) })
  assert.equal(auth.result.userId, '2')
  assert.equal(auth.result.node, gateway.api.nodeId)

  const service = await TestClient.connect(url, { auth: API_KEY })
  assert.equal((await service.call('rpc.ping')).error, undefined)

  const silent = await TestClient.connect(url)
  assert.deepEqual(await silent.closed, { code: 4001, reason: 'not authenticated in time' })
  assert.equal(gateway.connections.size, 3)
})

test('identify: a header that is not "Bearer <token>", or a bad token, is -32001 and counted', async (t) => {
  const { gateway, close } = await gatewayOnWs()
  t.after(close)
  assert.equal((await gateway.identify(`Bearer ${token({ sub: '7' })}`)).userId, '7')
  assert.equal((await gateway.identify(`bearer ${API_KEY}`)).kind, 'service')
  await assert.rejects(gateway.identify(`Basic ${API_KEY}`), (err: RpcError) => err.code === -32001 && /Bearer <token>/.test(err.message))
  await assert.rejects(gateway.identify('Bearer nope'), (err: RpcError) => err.code === -32001 && /Invalid token/.test(err.message))
  const metrics = await gateway.metrics.registry.getSingleMetricAsString('ipc_connections_rejected_total')
  assert.match(metrics, /reason="unauthenticated"} 2/)
})

test('dispatch: in-process methods with schemas and context; unknown names -32601', async (t) => {
  const { gateway, url, close } = await gatewayOnWs()
  t.after(close)
  gateway.api.method('math.add', { params: Type.Object({ a: Type.Number(), b: Type.Number() }) }, ({ a, b }) => ({ sum: a + b }))
  gateway.api.method('who.am', {}, async (_params, ctx) => ({ user: ctx.caller.userId, node: ctx.caller.node }))
  const client = await TestClient.connect(url, { token: token({ sub: '42' }) })
  t.after(() => client.close())
  assert.deepEqual((await client.call('math.add', { a: 2, b: 3 })).result, { sum: 5 })
  assert.equal((await client.call('math.add', { a: 'x' })).error?.code, -32602)
  assert.deepEqual((await client.call('who.am')).result, { user: '42', node: gateway.api.nodeId })
  assert.equal((await client.call('no.such')).error?.code, -32601)
  assert.equal(gateway.openrpc().methods instanceof Array, true)
  assert.deepEqual((gateway.openrpc().methods as Array<{ name: string }>).map(m => m.name), ['math.add', 'who.am'])
})

test('dispatch: a remote method with no RpcTransport in the broker is -32050, not a crash', async (t) => {
  const memory = new MemoryBroker('catalog-only')
  // An engine that knows workers' methods but cannot reach them: the gateway answers for the missing concern.
  const broker: Broker = {
    nodeId: memory.nodeId,
    events: memory.events,
    presence: memory.presence,
    control: memory.control,
    catalog: { remoteMethods: () => new Map([['report.build', {}]]) },
    start: async listener => await memory.start(listener),
    close: async () => await memory.close()
  }
  const { url, close } = await gatewayOnWs({}, broker)
  t.after(close)
  const client = await TestClient.connect(url, { token: token({ sub: '1' }) })
  t.after(() => client.close())
  const res = await client.call('report.build', {})
  assert.equal(res.error?.code, -32050)
  assert.match(res.error!.message, /No workers/)
})

test('rooms and fan-out: room, user, connection and everyone, with exclude', async (t) => {
  const { gateway, url, close } = await gatewayOnWs({ publicRooms: ['lobby'] })
  t.after(close)
  const [a, b, c] = await Promise.all(['a', 'b', 'c'].map(async sub => await TestClient.connect(url, { token: token({ sub }) })))
  t.after(async () => await Promise.all([a, b, c].map(async x => await x.close())))
  assert.equal((await a.call('rpc.join', { room: 'lobby' })).error, undefined)
  const joined = await b.call('rpc.join', { room: 'lobby' })
  assert.equal(joined.error, undefined)
  assert.equal((await c.call('rpc.join', { room: 'staff' })).error?.code, -32003)
  assert.deepEqual((await a.call('rpc.presence', { room: 'lobby' })).result, { room: 'lobby', count: 2, users: ['a', 'b'] })

  await gateway.api.publish({ target: 'room:lobby', event: 'chat', data: { n: 1 } })
  for (const x of [a, b]) assert.deepEqual((await x.event('chat')).params, { event: 'chat', data: { n: 1 }, target: 'room:lobby' })
  const bId = (await b.call('rpc.auth', { token: token({ sub: 'b' }) })).result.connectionId
  await gateway.api.publish({ target: 'room:lobby', event: 'chat', data: { n: 2 }, exclude: bId })
  await gateway.api.publish({ target: 'user:c', event: 'direct', data: null })
  await gateway.api.publish({ target: `conn:${bId}`, event: 'yours', data: 1 })
  await gateway.api.publish({ target: 'all', event: 'bye', data: 'x' })
  assert.equal((await a.event('chat')).params.data.n, 2)
  assert.equal((await c.event('direct')).params.target, 'user:c')
  assert.equal((await b.event('yours')).params.data, 1)
  for (const x of [a, b, c]) assert.equal((await x.event('bye')).params.data, 'x')
  assert.equal(b.frames.some(f => f.method === 'rpc.event' && f.params.event === 'chat'), false, 'excluded from the second chat')
  assert.equal(c.frames.some(f => f.params?.event === 'chat'), false, 'c is not in the room')
  await assert.rejects(gateway.api.publish({ target: 'nowhere', event: 'x' }), { code: -32602 })
})
