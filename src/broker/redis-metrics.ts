// Metrics of the Redis bridge, on the app's own Registry. Stream length and pending count are read
// on scrape (XLEN / XPENDING for each known service) with a short timeout, so a slow Redis never
// stalls /metrics.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client'
import { type Keys, WORKER_GROUP } from './keys.js'
import { withTimeout } from '../timeout.js'
import { noAnswer, type RedisClient } from './redis-link.js'

const SCRAPE_TIMEOUT_MS = 500

export class RedisMetrics {
  readonly streamLength: Gauge
  readonly streamPending: Gauge
  readonly replyWait: Histogram
  readonly eventsRead: Counter
  readonly repliesDropped: Counter
  readonly breakerOpen: Gauge

  constructor (registry: Registry, redis: RedisClient, keys: Keys, services: () => Iterable<string>, isUp: () => boolean) {
    const registers = [registry]
    const sample = async (metric: 'length' | 'pending', gauge: Gauge): Promise<void> => {
      gauge.reset()
      if (!isUp()) return
      await Promise.all([...services()].map(async service => {
        const key = keys.rpc(service)
        try {
          const n = metric === 'length'
            ? await withTimeout(redis.xlen(key), SCRAPE_TIMEOUT_MS, noAnswer)
            : Number((await withTimeout(redis.xpending(key, WORKER_GROUP), SCRAPE_TIMEOUT_MS, noAnswer) as unknown[])[0])
          gauge.set({ service }, n)
        } catch {} // no stream or group yet, or Redis slow: no sample
      }))
    }
    this.streamLength = new Gauge({ name: 'ipc_redis_stream_length', help: 'entries in each service\'s request stream', labelNames: ['service'] as const, registers, async collect () { await sample('length', this) } })
    this.streamPending = new Gauge({ name: 'ipc_redis_stream_pending', help: 'requests delivered to a worker of each service and not acked yet', labelNames: ['service'] as const, registers, async collect () { await sample('pending', this) } })
    this.replyWait = new Histogram({
      name: 'ipc_redis_reply_wait_seconds',
      help: 'time from XADD of a request to its final reply',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers
    })
    this.eventsRead = new Counter({ name: 'ipc_redis_events_read_total', help: 'event messages received on the channels this node subscribes to', registers })
    this.repliesDropped = new Counter({ name: 'ipc_redis_replies_dropped_total', help: 'replies nobody waited for (late, duplicate or malformed)', registers })
    this.breakerOpen = new Gauge({ name: 'ipc_redis_breaker_open', help: '1 while remote calls fail fast because Redis is unreachable', registers })
  }
}
