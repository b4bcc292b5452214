// Two gateway nodes in one process, sharing one Redis: events reach every target on either node,
// presence is seen from both, and a node that stops refreshing vanishes within one TTL.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import { API_KEY, gatewayOf, startGateway, TestClient, type TestGateway, token } from '../helper.js'
import { startRedis, type TestRedis } from '../helpers/redis.js'

let redis: TestRedis
let raw: Redis
let a: TestGateway
let b: TestGateway

before(async () => {
  redis = await startRedis()
  raw = new Redis(redis.url)
  a = await startGateway({ redis: redis.url, nodeId: 'node-a' })
  b = await startGateway({ redis: redis.url, nodeId: 'node-b' })
})
after(async () => {
  await Promise.all([a.close(), b.close()])
  raw.disconnect()
  await redis.stop()
})

async function connect (t: { after: (fn: () => Promise<void>) => void }, gw: TestGateway, sub: string, rooms: string[] = []): Promise<TestClient> {
  const c = await TestClient.connect(gw.url, { auth: token({ sub, rooms: ['*'] }) })
  t.after(() => c.close())
  for (const room of rooms) assert.ok((await c.call('rpc.join', { room })).result)
  return c
}

test('events reach users, rooms, connections and everyone across nodes, whoever publishes', async (t) => {
  const u1a = await connect(t, a, 'u1', ['r1'])
  const u1b = await connect(t, b, 'u1')
  const u2b = await connect(t, b, 'u2', ['r1'])
  const u3a = await connect(t, a, 'u3')
  const conn: string = (await u2b.call('rpc.auth', { token: token({ sub: 'u2', rooms: ['*'] }) })).result.connectionId

  // by hand, as any backend would (docs/protocol.md §9)
  await raw.spublish('ipc:ev:{room:r1}', '{"event":"hand.made"}\n{"n":1}')
  for (const c of [u1a, u2b]) assert.deepEqual((await c.event('hand.made')).params, { event: 'hand.made', data: { n: 1 }, target: 'room:r1' })

  // a user target keeps history by default: its events carry offset and epoch
  const position = await b.app.ipc.publish({ target: 'user:u1', event: 'for.u1', data: 1 })
  for (const c of [u1a, u1b]) assert.deepEqual((await c.event('for.u1')).params, { event: 'for.u1', data: 1, target: 'user:u1', ...position })
  assert.match(position.epoch!, /^\d+$/)

  // app.ipc.publish on node A
  assert.deepEqual(await a.app.ipc.publish({ target: 'room:r1', event: 'room.news', data: { n: 2 } }), {})
  for (const c of [u1a, u2b]) assert.deepEqual((await c.event('room.news')).params.data, { n: 2 })

  // POST /api/publish on node A, to one connection on node B
  const res = await fetch(`${a.http}/api/publish`, {
    method: 'POST',
    headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ target: `conn:${conn}`, event: 'just.you', data: [3] })
  })
  assert.equal(res.status, 200)
  assert.deepEqual(await res.json(), {})
  assert.deepEqual((await u2b.event('just.you')).params.data, [3])

  // everyone, but the excluded connection
  await b.app.ipc.publish({ target: 'all', event: 'hello.all', data: null, exclude: conn })
  for (const c of [u1a, u1b, u3a]) assert.equal((await c.event('hello.all')).params.target, 'all')

  await sleep(100) // whatever else was coming has arrived by now
  assert.ok(!u3a.frames.some(f => f.params?.event === 'room.news' || f.params?.event === 'hand.made'), 'u3 got only what was meant for it')
  assert.ok(!u2b.frames.some(f => f.params?.event === 'hello.all'), 'the excluded connection got nothing')
  assert.ok(!u1b.frames.some(f => f.params?.event === 'room.news'), 'u1 on node B is not in room r1')
})

test('presence is shared: users online and room members seen from both nodes', async (t) => {
  const p1 = await connect(t, a, 'p1', ['lobby'])
  const p2 = await connect(t, b, 'p2', ['lobby'])
  const online = await p1.call('rpc.presence', { users: ['p1', 'p2', 'nobody'] })
  assert.deepEqual(online.result, { online: { p1: true, p2: true, nobody: false } })
  const room = await p2.call('rpc.presence', { room: 'lobby' })
  assert.deepEqual(room.result.users.sort(), ['p1', 'p2'])
  assert.equal(room.result.count, 2)

  await p2.call('rpc.leave', { room: 'lobby' })
  assert.deepEqual((await p1.call('rpc.presence', { room: 'lobby' })).result.users, ['p1'])
  await p2.close()
  let seen: unknown
  for (let i = 0; i < 50; i++) {
    seen = (await p1.call('rpc.presence', { users: ['p2'] })).result
    if ((seen as { online: Record<string, boolean> }).online.p2 === false) break
    await sleep(20)
  }
  assert.deepEqual(seen, { online: { p2: false } })
})

test('the entries of a node that stops refreshing vanish within one TTL', async (t) => {
  const ttl = 600
  const c = await startGateway({ redis: redis.url, nodeId: 'node-c', presenceTtlMs: ttl })
  t.after(() => c.close())
  const watcher = await connect(t, a, 'watcher', ['hall'])
  const ghost = await connect(t, c, 'ghost', ['hall'])
  assert.deepEqual((await ghost.call('rpc.presence', { room: 'hall' })).result.users.sort(), ['ghost', 'watcher'])
  await sleep(ttl * 1.5) // refreshed meanwhile: still there
  assert.deepEqual((await watcher.call('rpc.presence', { users: ['ghost'] })).result, { online: { ghost: true } })

  // node C "crashes": its broker stops without saying goodbye, its sockets stay open
  await gatewayOf(c.app).broker.close()
  const stopped = Date.now()
  await sleep(ttl + 50)
  assert.deepEqual((await watcher.call('rpc.presence', { users: ['ghost'] })).result, { online: { ghost: false } })
  assert.deepEqual((await watcher.call('rpc.presence', { room: 'hall' })).result.users, ['watcher'])
  assert.ok(Date.now() - stopped < ttl * 2)
})
