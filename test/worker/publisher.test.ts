// The Publisher sends events exactly as docs/protocol.md §9 (Events) says: SPUBLISH on the target's
// channel, or for a target that keeps history the script that writes its history stream too; which
// targets keep history is what the gateways wrote to Redis.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { Redis } from 'ioredis'
import { startRedis, type TestRedis } from '../helpers/redis.js'
import { Publisher, Worker } from '../../src/worker/index.js'
import { FakeGateway, memoryLogger } from './fake-gateway.js'

let redis: TestRedis
let raw: Redis
let sub: Redis
const messages: Array<[string, string]> = []

before(async () => {
  redis = await startRedis()
  raw = new Redis(redis.url)
  sub = new Redis(redis.url)
  sub.on('smessage', (channel: string, message: string) => messages.push([channel, message]))
  await sub.ssubscribe('ipc:ev:{user:42}', 'ipc:ev:{room:lobby}', 'ipc:ev:{conn:c3}', 'ipc:ev:{all}', 'app1:ev:{all}', 'ipc:ev:{room:chat:1}')
})
after(async () => {
  sub.disconnect()
  await raw.quit()
  await redis.stop()
})

async function received (n: number): Promise<Array<[string, string]>> {
  for (let i = 0; i < 100 && messages.length < n; i++) await new Promise(resolve => setTimeout(resolve, 20))
  return messages.splice(0, messages.length)
}

test('each target on its channel; a user target (history by default) into its history too', async () => {
  const pub = new Publisher({ redis: redis.url })
  const user = await pub.toUser('42', 'order.updated', { orderId: 7 })
  assert.match(user.offset!, /^\d+-\d+$/)
  assert.match(user.epoch!, /^\d+$/)
  const typing = await pub.toUser('42', 'typing', true, { exclude: 'c9' })
  assert.equal(typing.epoch, user.epoch)
  assert.deepEqual(await pub.toRoom('lobby', 'chat.message', { text: 'hi' }, { exclude: 'c1' }), {})
  assert.deepEqual(await pub.toConnection('c3', 'hello', 'you'), {})
  assert.deepEqual(await pub.broadcast('maintenance'), {})
  assert.deepEqual((await received(5)).map(([c, m]) => [c, normalize(m)]), [
    ['ipc:ev:{user:42}', `{"event":"order.updated","epoch":"${user.epoch!}","offset":"${user.offset!}"}\n{"orderId":7}`],
    ['ipc:ev:{user:42}', `{"event":"typing","epoch":"${user.epoch!}","exclude":"c9","offset":"${typing.offset!}"}\ntrue`],
    ['ipc:ev:{room:lobby}', '{"event":"chat.message","exclude":"c1"}\n{"text":"hi"}'],
    ['ipc:ev:{conn:c3}', '{"event":"hello"}\n"you"'],
    ['ipc:ev:{all}', '{"event":"maintenance"}\nnull']
  ].map(([channel, message]) => [channel, normalize(message)]))
  assert.deepEqual(await raw.xrange('ipc:history:{user:42}', '-', '+'), [
    [user.offset, ['event', 'order.updated', 'data', '{"orderId":7}']],
    [typing.offset, ['event', 'typing', 'data', 'true', 'exclude', 'c9']]
  ])
  assert.equal(await raw.get('ipc:epoch:{user:42}'), user.epoch)
  const ttl = await raw.pttl('ipc:history:{user:42}')
  assert.ok(ttl > 290000 && ttl <= 300000, String(ttl))
  await pub.close()
})

test('the history config the gateways wrote decides, bounded by its size', async () => {
  await raw.set('ipc:config:history', JSON.stringify({ size: 3, ttlMs: 5000, rooms: ['chat:*'], users: false }))
  const pub = new Publisher({ redis: redis.url })
  for (let i = 0; i < 5; i++) assert.match((await pub.toRoom('chat:1', 'n', i)).offset!, /^\d+-\d+$/)
  assert.deepEqual(await pub.toUser('42', 'no.history'), {})
  assert.equal(await raw.xlen('ipc:history:{room:chat:1}'), 3)
  assert.ok(await raw.pttl('ipc:history:{room:chat:1}') <= 5000)
  assert.equal((await received(6)).length, 6)
  await raw.del('ipc:config:history')
  await pub.close()
})

test('a prefix, and a client of your own left open', async () => {
  const pub = new Publisher({ redis: raw, prefix: 'app1:' })
  assert.deepEqual(await pub.broadcast('x', 1), {})
  assert.deepEqual(await received(1), [['app1:ev:{all}', '{"event":"x"}\n1']])
  await pub.close()
  assert.equal(await raw.ping(), 'PONG')
})

test('ctx.publish inside a handler publishes the same way', async () => {
  const gw = new FakeGateway(redis.url)
  const w = new Worker({ redis: redis.url, service: 'chat', logger: memoryLogger() })
    .method('chat.say', {}, async (params: { text: string }, ctx) => await ctx.publish.toRoom('lobby', 'chat.message', { from: ctx.caller.userId, text: params.text }, { exclude: ctx.caller.connectionId }))
  await w.start()
  const { final } = await gw.call('chat', 'chat.say', { text: 'hello' })
  assert.deepEqual(final.result, {})
  assert.deepEqual(await received(1), [['ipc:ev:{room:lobby}', '{"event":"chat.message","exclude":"c1"}\n{"from":"42","text":"hello"}']])
  await w.stop()
  await gw.close()
})

// Lua's cjson orders the header's keys as it likes: compare headers as objects
function normalize (message: string): string {
  const nl = message.indexOf('\n')
  const head = JSON.parse(message.slice(0, nl)) as Record<string, unknown>
  return JSON.stringify(Object.fromEntries(Object.entries(head).sort(([a], [b]) => a.localeCompare(b)))) + message.slice(nl)
}
