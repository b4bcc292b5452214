// The in-memory broker's history (docs/protocol.md §4, §5): per target, bounded by size and TTL, an
// epoch per run of the process; rpc.join and rpc.auth recover from it as they do from Redis.
import { setTimeout as sleep } from 'node:timers/promises'
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { MemoryBroker } from '../../src/broker/memory.js'
import { type Frame, TestClient, token } from '../helper.js'
import { gatewayOnWs } from './harness.js'

const history = { size: 5, ttlMs: 400, rooms: ['chat:*'], users: true }

const ok = (f: Frame): any => {
  assert.equal(f.error, undefined, JSON.stringify(f.error))
  return f.result
}

const numbers = (c: TestClient, target: string): number[] =>
  c.frames.filter(f => f.method === 'rpc.event' && f.params.target === target).map(f => f.params.data)

test('memory broker: recovery of a room and a user, trimmed by size, expired by TTL, another run', async (t) => {
  const h = await gatewayOnWs({ publicRooms: ['*'] }, new MemoryBroker('m1', history))
  t.after(() => h.close())
  const publish = async (target: string, n: number): Promise<{ offset?: string, epoch?: string }> => await h.gateway.publish({ target, event: 'n', data: n })
  const c = await TestClient.connect(h.url)
  t.after(() => c.close())
  const auth = ok(await c.call('rpc.auth', { token: token({ sub: 'u1' }) }))
  assert.equal(auth.offset, '0-0')
  const joined = ok(await c.call('rpc.join', { room: 'chat:a' }))
  assert.deepEqual(Object.keys(joined).sort(), ['epoch', 'offset', 'room'])
  assert.deepEqual(ok(await c.call('rpc.join', { room: 'plain' })), { room: 'plain' })
  assert.deepEqual(await publish('room:plain', 0), {}, 'a room without history: no position')

  const first = await publish('room:chat:a', 1)
  await c.event('n')
  ok(await c.call('rpc.leave', { room: 'chat:a' }))
  await publish('room:chat:a', 2)
  await publish('room:chat:a', 3)
  await publish('user:u1', 10)
  c.frames.length = 0
  const back = ok(await c.call('rpc.join', { room: 'chat:a', recover: first }))
  assert.equal(back.recovered, true)
  await sleep(50)
  assert.deepEqual(numbers(c, 'room:chat:a'), [2, 3])

  // trimmed: more than `size` events since
  ok(await c.call('rpc.leave', { room: 'chat:a' }))
  for (let i = 4; i < 12; i++) await publish('room:chat:a', i)
  c.frames.length = 0
  const trimmed = ok(await c.call('rpc.join', { room: 'chat:a', recover: first }))
  assert.equal(trimmed.recovered, false)
  await sleep(50)
  assert.deepEqual(numbers(c, 'room:chat:a'), [], 'nothing replayed')

  // the user target recovered on this node: events after the position given at auth
  const c3 = await TestClient.connect(h.url)
  t.after(() => c3.close())
  const user = ok(await c3.call('rpc.auth', { token: token({ sub: 'u1' }), recover: { offset: auth.offset, epoch: auth.epoch } }))
  assert.equal(user.recovered, true)
  await sleep(50)
  assert.deepEqual(numbers(c3, 'user:u1'), [10])

  // expired: an event missed, then nothing published for longer than ttlMs
  const last = await publish('room:chat:a', 12)
  ok(await c.call('rpc.leave', { room: 'chat:a' }))
  await publish('room:chat:a', 13)
  await sleep(history.ttlMs + 100)
  await publish('room:chat:a', 14)
  assert.equal(ok(await c.call('rpc.join', { room: 'chat:a', recover: last })).recovered, false)

  // another run of the process: another epoch
  const other = new MemoryBroker('m1', history)
  const h2 = await gatewayOnWs({ publicRooms: ['*'] }, other)
  t.after(() => h2.close())
  const c2 = await TestClient.connect(h2.url)
  t.after(() => c2.close())
  const again = ok(await c2.call('rpc.auth', { token: token({ sub: 'u1' }), recover: { offset: '0-0', epoch: auth.epoch } }))
  assert.equal(again.recovered, false)
  assert.notEqual(again.epoch, auth.epoch)

})
