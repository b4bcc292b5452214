// The Publisher writes `ipc:events` exactly as section 9 says, and stays bounded.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { Redis } from 'ioredis'
import { startRedis, type TestRedis } from '../helpers/redis.js'
import { EVENTS_MAXLEN } from '../../src/broker/keys.js'
import { Publisher, Worker } from '../../src/worker/index.js'
import { FakeGateway, memoryLogger } from './fake-gateway.js'

let redis: TestRedis
let raw: Redis

before(async () => {
  redis = await startRedis()
  raw = new Redis(redis.url)
})
after(async () => {
  await raw.quit()
  await redis.stop()
})

const last = async (key = 'ipc:events'): Promise<[string, string[]]> => (await raw.xrevrange(key, '+', '-', 'COUNT', 1))[0]

test('each target, with the exact fields, resolving with the stream id', async () => {
  const pub = new Publisher({ redis: redis.url })
  const cases: Array<[() => Promise<string>, string[]]> = [
    [async () => await pub.toUser('42', 'order.updated', { orderId: 7 }), ['target', 'user:42', 'event', 'order.updated', 'data', '{"orderId":7}']],
    [async () => await pub.toUser('42', 'typing', true, { exclude: 'c9' }), ['target', 'user:42', 'event', 'typing', 'data', 'true', 'exclude', 'c9']],
    [async () => await pub.toRoom('lobby', 'chat.message', { text: 'hi' }, { exclude: 'c1' }), ['target', 'room:lobby', 'event', 'chat.message', 'data', '{"text":"hi"}', 'exclude', 'c1']],
    [async () => await pub.toConnection('c3', 'hello', 'you'), ['target', 'conn:c3', 'event', 'hello', 'data', '"you"']],
    [async () => await pub.broadcast('maintenance'), ['target', 'all', 'event', 'maintenance', 'data', 'null']]
  ]
  for (const [publish, fields] of cases) {
    const id = await publish()
    assert.match(id, /^\d+-\d+$/)
    assert.deepEqual(await last(), [id, fields])
  }
  await pub.close()
})

test('a prefix, and a client of your own left open', async () => {
  const pub = new Publisher({ redis: raw, prefix: 'app1:' })
  const id = await pub.broadcast('x', 1)
  assert.deepEqual(await last('app1:events'), [id, ['target', 'all', 'event', 'x', 'data', '1']])
  await pub.close()
  assert.equal(await raw.ping(), 'PONG')
})

test('the stream stays bounded by MAXLEN ~', async () => {
  const pub = new Publisher({ redis: redis.url, prefix: 'bounded:' })
  const total = EVENTS_MAXLEN + 5000
  for (let i = 0; i < total; i += 1000) await Promise.all(Array.from({ length: 1000 }, async (_, j) => await pub.broadcast('tick', i + j)))
  const len = await raw.xlen('bounded:events')
  assert.ok(len >= EVENTS_MAXLEN && len < total, `length ${len}`)
  await pub.close()
})

test('ctx.publish inside a handler writes the same stream', async () => {
  const gw = new FakeGateway(redis.url)
  const w = new Worker({ redis: redis.url, service: 'chat', logger: memoryLogger() })
    .method('chat.say', {}, async (params: { text: string }, ctx) => ({ offset: await ctx.publish.toRoom('lobby', 'chat.message', { from: ctx.caller.userId, text: params.text }, { exclude: ctx.caller.connectionId }) }))
  await w.start()
  const { final } = await gw.call('chat', 'chat.say', { text: 'hello' })
  const offset = (final.result as { offset: string }).offset
  assert.deepEqual(await last(), [offset, ['target', 'room:lobby', 'event', 'chat.message', 'data', '{"from":"42","text":"hello"}', 'exclude', 'c1']])
  await w.stop()
  await gw.close()
})
