// ChannelSubscriber (src/broker/redis-pubsub.ts) on the ioredis version in package.json: channels
// added in one turn go out as one SSUBSCRIBE, removed ones are unsubscribed, a dropped connection
// subscribes again by itself and then says so; on a Redis Cluster, channels of every slot work.
import { setTimeout as sleep } from 'node:timers/promises'
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { Redis } from 'ioredis'
import { startRedis, type TestRedis } from '../helpers/redis.js'
import { startCluster, type TestCluster } from '../helpers/redis-cluster.js'
import { clusterFromUrl } from '../../src/broker/cluster-url.js'
import { duplicate, type RedisClient } from '../../src/broker/redis-link.js'
import { ChannelSubscriber, clusterSubscriberOptions, subscriberOptions } from '../../src/broker/redis-pubsub.js'

let redis: TestRedis
let cluster: TestCluster
const closing: RedisClient[] = []

before(async () => {
  [redis, cluster] = await Promise.all([startRedis(), startCluster()])
})
after(async () => {
  for (const c of closing) c.disconnect()
  await Promise.all([redis.stop(), cluster.stop()])
})

async function until (check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 250; i++) {
    if (await check()) return
    await sleep(20)
  }
  throw new Error(`timed out: ${what}`)
}

test('standalone: one SSUBSCRIBE per batch, SUNSUBSCRIBE on remove, subscribed again after a drop', async () => {
  const base = new Redis(redis.url)
  const raw = new Redis(redis.url)
  closing.push(base, raw)
  const sub = duplicate(base, 'fanout-test', subscriberOptions)
  closing.push(sub)
  const got: string[] = []
  let again = 0
  const channels = new ChannelSubscriber(sub, (channel, message) => got.push(`${channel} ${message}`), () => again++, err => { throw err })
  await until(() => sub.status === 'ready', 'ready')
  const before = Number(/total_commands_processed:(\d+)/.exec(await raw.info('stats'))![1])
  await Promise.all(['a', 'b', 'c'].map(async c => await channels.add(`ch:{${c}}`)))
  const after = Number(/total_commands_processed:(\d+)/.exec(await raw.info('stats'))![1])
  assert.equal(after - before, 2, 'one SSUBSCRIBE for the three (and the INFO)')
  assert.deepEqual((await raw.call('PUBSUB', 'SHARDCHANNELS') as string[]).sort(), ['ch:{a}', 'ch:{b}', 'ch:{c}'])
  await raw.spublish('ch:{b}', 'hello')
  await until(() => got.length === 1, 'a message')
  assert.deepEqual(got, ['ch:{b} hello'])

  channels.remove('ch:{a}')
  await channels.add('ch:{b}') // still wanted: nothing to do
  await until(async () => !(await raw.call('PUBSUB', 'SHARDCHANNELS') as string[]).includes('ch:{a}'), 'unsubscribed')
  assert.equal(channels.size, 2)

  await raw.call('CLIENT', 'KILL', 'TYPE', 'pubsub')
  await until(() => again === 1, 'subscribed again')
  assert.deepEqual((await raw.call('PUBSUB', 'SHARDCHANNELS') as string[]).sort(), ['ch:{b}', 'ch:{c}'])
  await raw.spublish('ch:{c}', 'back')
  await until(() => got.length === 2, 'a message after the drop')
})

test('cluster: channels on every shard, one subscriber per master', async () => {
  const url = `redis://127.0.0.1:${cluster.nodes[0].port}`
  const base = clusterFromUrl(url)
  closing.push(base)
  await until(() => base.status === 'ready', 'cluster ready')
  const sub = duplicate(base, 'fanout-test', subscriberOptions, clusterSubscriberOptions)
  closing.push(sub)
  await until(() => sub.status === 'ready', 'subscriber ready')
  const got = new Set<string>()
  const channels = new ChannelSubscriber(sub, (channel, message) => got.add(`${channel} ${message}`), () => {}, err => { throw err })
  const names = Array.from({ length: 12 }, (_, i) => `ipc:ev:{room:r${i}}`)
  await Promise.all(names.map(async c => await channels.add(c)))
  for (const c of names) await base.spublish(c, 'x')
  await until(() => got.size === names.length, 'a message on every channel')
  channels.remove(names[0])
  await sleep(100)
  await base.spublish(names[0], 'y')
  await sleep(100)
  assert.ok(!got.has(`${names[0]} y`), 'unsubscribed')
})
