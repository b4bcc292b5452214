// Metrics of the Redis bridge, on the app's own Registry. The per-service figures (stream length,
// backlog, pending and dead-lettered requests, live workers) are read on scrape, all of them in one
// pass over the known services with a short timeout, and kept for a second: a slow Redis never
// stalls /metrics, and the gauges of one scrape (or of scrapers close together) share one pass.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client'
import { type Keys, WORKER_GROUP } from './keys.js'
import { withTimeout } from '../timeout.js'
import { noAnswer, type RedisClient } from './redis-link.js'

const SCRAPE_TIMEOUT_MS = 500
const CACHE_MS = 1000

/** One service's figures; a figure Redis could not give (no stream yet, Redis slow) is absent. */
interface ServiceFigures { length?: number, lag?: number, pending?: number, dead?: number, workers?: number }
type Figure = keyof ServiceFigures

export class RedisMetrics {
  readonly streamLength: Gauge
  readonly streamLag: Gauge
  readonly streamPending: Gauge
  readonly deadLetters: Gauge
  readonly workers: Gauge
  readonly replyWait: Histogram
  readonly eventsRead: Counter
  readonly repliesDropped: Counter
  readonly breakerOpen: Gauge
  private sampled: { at: number, figures: Promise<Map<string, ServiceFigures>> } | null = null

  constructor (registry: Registry, private readonly redis: RedisClient, private readonly keys: Keys, private readonly services: () => Iterable<string>, private readonly isUp: () => boolean) {
    const registers = [registry]
    const sample = this.sample.bind(this)
    const gauge = (name: string, help: string, figure: Figure): Gauge => new Gauge({
      name, help, labelNames: ['service'] as const, registers,
      async collect () {
        this.reset()
        for (const [service, figures] of await sample()) {
          const n = figures[figure]
          if (n !== undefined) this.set({ service }, n)
        }
      }
    })
    this.streamLength = gauge('ipc_redis_stream_length', 'entries in each service\'s request stream (answered ones included, up to its MAXLEN)', 'length')
    this.streamLag = gauge('ipc_redis_stream_lag', 'requests of each service not yet read by any worker (the backlog; Redis 7.0 or later)', 'lag')
    this.streamPending = gauge('ipc_redis_stream_pending', 'requests delivered to a worker of each service and not acked yet', 'pending')
    this.deadLetters = gauge('ipc_redis_dead_letters', 'requests in each service\'s dead-letter stream', 'dead')
    this.workers = gauge('ipc_workers', 'live workers of each service (heartbeat not expired)', 'workers')
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

  /** Every known service's figures, read at most once per CACHE_MS. */
  private async sample (): Promise<Map<string, ServiceFigures>> {
    const now = Date.now()
    if (this.sampled === null || this.sampled.at + CACHE_MS <= now) this.sampled = { at: now, figures: this.read(now) }
    return await this.sampled.figures
  }

  private async read (now: number): Promise<Map<string, ServiceFigures>> {
    const out = new Map<string, ServiceFigures>()
    if (!this.isUp()) return out
    const { redis, keys } = this
    await Promise.all([...this.services()].map(async service => {
      const figures: ServiceFigures = {}
      out.set(service, figures)
      const stream = keys.rpc(service)
      await Promise.all([
        this.figure(figures, 'length', redis.xlen(stream)),
        this.figure(figures, 'pending', redis.xpending(stream, WORKER_GROUP).then(r => Number((r as unknown[])[0]))),
        this.figure(figures, 'lag', redis.xinfo('GROUPS', stream).then(groupLag)),
        this.figure(figures, 'dead', redis.xlen(keys.dead(service))),
        this.figure(figures, 'workers', redis.zcount(keys.workers(service), now, '+inf'))
      ])
    }))
    return out
  }

  private async figure (figures: ServiceFigures, name: Figure, value: Promise<number | undefined>): Promise<void> {
    try {
      const n = await withTimeout(value, SCRAPE_TIMEOUT_MS, noAnswer)
      if (n !== undefined) figures[name] = n
    } catch {} // no stream or group yet, or Redis slow: no sample
  }
}

/** The workers group's `lag` in an XINFO GROUPS answer (absent before Redis 7.0, null when Redis cannot tell). */
function groupLag (groups: unknown): number | undefined {
  for (const group of groups as unknown[][]) {
    const fields = new Map<unknown, unknown>()
    for (let i = 0; i + 1 < group.length; i += 2) fields.set(String(group[i]), group[i + 1])
    if (fields.get('name') !== WORKER_GROUP) continue
    const lag = fields.get('lag')
    return typeof lag === 'number' ? lag : undefined
  }
  return undefined
}
