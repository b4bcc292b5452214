// The gateway's connection helpers against a real Redis: a connection ioredis gives up for good is
// brought back, and a loop waiting on one never spins.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import { loop, ready, revive } from '../../src/broker/redis-link.js'
import { startRedis, type TestRedis } from '../helpers/redis.js'

let redis: TestRedis
before(async () => { redis = await startRedis() })
after(async () => await redis.stop())

/** A client that ioredis gives up on (status `end`) at its first dropped connection. */
function fragile (): Redis {
  const client = new Redis(redis.url, { retryStrategy: () => null })
  client.on('error', () => {})
  return client
}

async function dropConnection (client: Redis): Promise<void> {
  const killer = new Redis(redis.url)
  await killer.client('KILL', 'ID', String(await client.client('ID')))
  killer.disconnect()
}

test('revive: a connection ioredis gave up is connected again, said once; one we close stays closed', async () => {
  const client = fragile()
  let closing = false
  const said: string[] = []
  revive(client, () => closing, message => said.push(message))
  await ready(client, 5000)
  await dropConnection(client)
  await new Promise(resolve => client.once('end', resolve))
  await ready(client, 5000)
  assert.equal(client.status, 'ready')
  assert.equal(await client.ping(), 'PONG')
  assert.deepEqual(said, ['ioredis gave the connection up: connecting again in 1000 ms'])

  closing = true
  client.disconnect()
  await sleep(1500)
  assert.equal(client.status, 'end')
  assert.equal(said.length, 1)
})

test('loop: waiting on a connection that has ended leaves the event loop free', async () => {
  const client = fragile()
  await ready(client, 5000)
  client.disconnect()
  await new Promise(resolve => client.once('end', resolve))
  let stopped = false
  let steps = 0
  const running = loop(client, () => stopped, async () => { steps++ }, () => {})
  // a loop spinning on the ended client would keep this timer, and the test, from ever firing
  await sleep(300)
  stopped = true
  await running
  assert.equal(steps, 0)
})
