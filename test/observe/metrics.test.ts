// The per-service figures of /metrics (docs/protocol.md §10) read from a real Redis: live workers,
// requests not yet read (backlog), read and not answered (pending), dead-lettered; and the event
// delivery lag. A service is known to the gateway from its published catalog.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Redis } from 'ioredis'
import { Worker } from '../../src/worker/index.js'
import { startGateway, TestClient, token } from '../helper.js'
import { startRedis } from '../helpers/redis.js'

const silent = { info () {}, warn () {}, error () {}, debug () {} }

function value (text: string, series: string): number | undefined {
  const line = text.split('\n').find(l => l.startsWith(series + ' '))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}

test('workers, backlog, pending and dead letters per service; event delivery lag', async (t) => {
  const redis = await startRedis()
  const closing: Array<() => Promise<void>> = [async () => await redis.stop()]
  t.after(async () => { for (const close of closing.reverse()) await close() })
  const raw = new Redis(redis.url)
  closing.push(async () => { raw.disconnect() })
  const worker = new Worker({ redis: redis.url, service: 'live', logger: silent })
  worker.method('live.echo', {}, (params: unknown) => params)
  await worker.start()
  closing.push(async () => await worker.stop())
  // a service whose worker is gone: 3 requests never read, 1 read and never answered, 2 buried
  await raw.hset('ipc:methods:idle', 'idle.work', '{}')
  await raw.xgroup('CREATE', 'ipc:rpc:idle', 'workers', '0', 'MKSTREAM')
  for (let i = 0; i < 4; i++) await raw.xadd('ipc:rpc:idle', '*', 'v', '1', 'id', `x${i}`)
  await raw.xreadgroup('GROUP', 'workers', 'gone', 'COUNT', 1, 'STREAMS', 'ipc:rpc:idle', '>')
  for (let i = 0; i < 2; i++) await raw.xadd('ipc:rpc:idle:dead', '*', 'v', '1', 'id', `d${i}`)
  const gw = await startGateway({ redis: redis.url })
  closing.push(async () => await gw.close())
  const client = await TestClient.connect(gw.url, { token: token({ sub: 'ada' }) })
  closing.push(async () => await client.close())
  for (let i = 0; i < 100 && (await client.call('live.echo', {})).error !== undefined; i++) await new Promise(resolve => setTimeout(resolve, 50))
  await gw.app.ipc.publish({ target: 'user:ada', event: 'tick' })
  await client.event('tick')

  const text = await (await fetch(`${gw.http}/metrics`)).text()
  assert.equal(value(text, 'ipc_workers{service="live"}'), 1)
  assert.equal(value(text, 'ipc_workers{service="idle"}'), 0)
  assert.equal(value(text, 'ipc_redis_stream_lag{service="idle"}'), 3)
  assert.equal(value(text, 'ipc_redis_stream_pending{service="idle"}'), 1)
  assert.equal(value(text, 'ipc_redis_stream_length{service="idle"}'), 4)
  assert.equal(value(text, 'ipc_redis_dead_letters{service="idle"}'), 2)
  assert.equal(value(text, 'ipc_redis_dead_letters{service="live"}'), 0)
  assert.equal(value(text, 'ipc_redis_stream_lag{service="live"}'), 0)
  assert.equal(value(text, 'ipc_event_delivery_lag_seconds_count'), 1)
})
