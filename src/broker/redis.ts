// The Redis broker (docs/protocol.md §9): remote calls over streams, events and presence across
// nodes, the method catalog workers publish. A circuit breaker follows the command connection:
// while Redis is unreachable, calls and publishes fail at once with -32050 and presence answers
// from this node; when it returns, the catalog is reloaded and presence re-registered by itself.
import type { FastifyBaseLogger } from 'fastify'
import type { Registry } from 'prom-client'
import { ErrorCode, RpcError } from '../protocol/errors.js'
import type { MethodSpec } from '../protocol/frames.js'
import { type Keys, keys } from './keys.js'
import { Catalog } from './redis-catalog.js'
import type { HistoryConfig } from './history.js'
import { RedisEvents } from './redis-events.js'
import { ChannelSubscriber, clusterSubscriberOptions, subscriberOptions } from './redis-pubsub.js'
import { withTimeout } from '../timeout.js'
import { type Link, type RedisClient, close, connect, duplicate, loop, noAnswer, ready, revive } from './redis-link.js'
import { RedisAdmin } from './redis-admin.js'
import { RedisControl } from './redis-control.js'
import { RedisLifecycle } from './redis-lifecycle.js'
import { RedisMetrics } from './redis-metrics.js'
import { RedisPresence } from './redis-presence.js'
import { RedisRequestLog } from './redis-request-log.js'
import { RedisResults } from './redis-results.js'
import { RpcClient } from './redis-rpc.js'
import type { Broker, BrokerListener, EventBus, Health, MethodCatalog, OutgoingEvent, Position, PublishResult, Recovery, RemoteCall, RequestLogSink, RpcTransport } from './types.js'

export interface RedisBrokerOptions {
  /** a redis:// URL, ioredis options, or an ioredis client / Cluster (borrowed: never quit) */
  redis: unknown
  /** `redis` is the URL of one node of a Redis Cluster */
  cluster?: boolean
  nodeId: string
  prefix: string
  presenceTtlMs: number
  /** which targets keep history, how much and how long */
  history: HistoryConfig
  /** rooms whose members hear presence.join / presence.leave (docs/protocol.md §4) */
  presenceEventRooms?: readonly string[]
  /** the request log stream's cap; undefined: no request log stream */
  requestLogLength?: number
  log: FastifyBaseLogger
  /** the app's Prometheus registry */
  registry: Registry
}

/** how often the breaker pings Redis, and how long a ping may take */
const PROBE_MS = 1000
/** how long start() waits for Redis before starting in the down state */
const START_WAIT_MS = 3000

const unavailable = (why: string): RpcError => new RpcError(ErrorCode.UNAVAILABLE, `Unavailable: ${why}`)

/** Serves every concern of a Broker itself: each of them is this object, behind its own interface. */
export class RedisBroker implements Broker, RpcTransport, EventBus, MethodCatalog, Health {
  readonly nodeId: string
  readonly presence: RedisPresence
  readonly control: RedisControl
  readonly admin: RedisAdmin
  readonly rpc: RpcTransport = this
  readonly events: EventBus = this
  readonly catalog: MethodCatalog = this
  readonly health: Health = this
  readonly results: RedisResults
  readonly lifecycle: RedisLifecycle
  readonly requestLog?: RequestLogSink
  private readonly log: FastifyBaseLogger
  private readonly keys: Keys
  private readonly link: Link
  private readonly workers: Catalog
  private readonly metrics: RedisMetrics
  /** the blocking connections, made in start() */
  private readonly own: RedisClient[] = []
  private rpcClient: RpcClient | null = null
  private readonly prefix: string
  private readonly history: HistoryConfig
  private stream: RedisEvents | null = null
  private listener: BrokerListener | null = null
  private loops: Array<Promise<void>> = []
  private probe: NodeJS.Timeout | null = null
  private up = false
  /** the catalog could not be reloaded after (re)connecting: try again on the next probe */
  private stale = false
  private catalogFailing = false
  /** start() is done: from now on state changes are reported */
  private running = false
  private closed = false
  /** the last connection error (refused, wrong password, no Sentinel answering): why Redis is unreachable */
  private lastError: string | undefined

  constructor (options: RedisBrokerOptions) {
    this.nodeId = options.nodeId
    this.log = options.log
    this.keys = keys(options.prefix)
    this.prefix = options.prefix
    this.history = options.history
    this.link = connect(options.redis, `fastify-ipc:${options.nodeId}`, options.cluster)
    const redis = this.link.client
    redis.on('error', this.onError)
    redis.on('ready', this.onReady)
    redis.on('close', this.onDown)
    if (this.link.owned) this.revive(redis, 'fastify-ipc')
    this.workers = new Catalog(redis, this.keys, this.log)
    this.results = new RedisResults(redis, this.keys, () => this.duplicate('results'))
    this.lifecycle = new RedisLifecycle(redis, this.keys.lifecycle, this.nodeId)
    this.presence = new RedisPresence(redis, this.keys, {
      ttlMs: options.presenceTtlMs, eventRooms: options.presenceEventRooms ?? [], nodeId: this.nodeId, publish: async ev => await this.publish(ev)
    }, () => this.up, this.log)
    this.control = new RedisControl(redis, this.keys, () => this.up, cmd => this.listener?.control(cmd), this.log)
    this.admin = new RedisAdmin(redis, this.keys, this.nodeId, () => this.workers.serviceNames(), userId => this.listener?.connectionsOf?.(userId) ?? null, this.log)
    this.metrics = new RedisMetrics(options.registry, redis, this.keys, () => this.workers.serviceNames(), () => this.up)
    this.metrics.breakerOpen.set(1)
    if (options.requestLogLength !== undefined) this.requestLog = new RedisRequestLog(redis, this.keys.requests, options.requestLogLength, this.nodeId, () => this.up)
  }

  async start (listener: BrokerListener): Promise<void> {
    this.listener = listener
    const redis = this.link.client
    const replies = this.duplicate('replies')
    const reader = this.duplicate('events', true)
    const sub = this.duplicate('catalog')
    const rpc = this.rpcClient = new RpcClient(redis, replies, this.keys, this.nodeId, {
      waited: s => this.metrics.replyWait.observe(s),
      dropped: () => this.metrics.repliesDropped.inc()
    })
    let events!: RedisEvents
    const channels = new ChannelSubscriber(reader, (channel, message) => events.message(channel, message),
      () => events.resubscribed(), err => this.log.warn({ err }, 'subscribing to event channels failed'))
    events = this.stream = new RedisEvents(redis, channels, this.prefix, this.history, {
      deliver: ev => this.listener?.event(ev),
      received: () => this.metrics.eventsRead.inc(),
      invalid: channel => this.log.warn({ channel }, 'skipping a malformed event message'),
      lost: target => this.log.warn({ target }, 'history lost events of this target while the node was cut off from Redis (failover or flush): they are not replayed')
    })
    // every node wants `all` for as long as it runs
    const everyone = events.watch('all')
    // Subscribed again on every (re)connect; catalog messages missed meanwhile are made up by a full reload.
    let subscribed: Promise<void> = Promise.resolve()
    sub.on('message', (channel: string, message: string) => {
      if (channel === this.keys.control) this.control.receive(message)
      else if (channel === this.keys.catalog) void this.reload(message)
      else this.admin.receive(channel, message)
    })
    sub.on('ready', () => {
      subscribed = sub.subscribe(this.keys.catalog, this.keys.control, ...this.admin.channels).then(() => {
        if (this.running && this.up) this.stale = true
      }, () => undefined)
    })

    if (redis.status === 'wait') redis.connect().catch(() => undefined) // a borrowed lazyConnect client
    await Promise.all([ready(redis, START_WAIT_MS), ready(sub, START_WAIT_MS), ready(reader, START_WAIT_MS)])
    await subscribed
    this.up = redis.status === 'ready'
    if (this.up) {
      await withTimeout(everyone, START_WAIT_MS, noAnswer).catch(() => undefined)
      await this.resync()
      this.log.info('Redis reachable')
    } else {
      this.log.warn({ reason: this.lastError }, 'Redis unreachable at start: remote calls fail with -32050 until it answers')
    }
    this.metrics.breakerOpen.set(this.up ? 0 : 1)
    listener.state(this.up)
    this.running = true

    const stopped = (): boolean => this.closed
    this.loops = [
      loop(replies, stopped, async () => await rpc.read(), err => this.log.warn({ err }, 'reading replies failed'))
    ]
    this.presence.start()
    this.probe = setInterval(() => { void this.check() }, PROBE_MS)
    this.probe.unref()
  }

  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.up = false
    if (this.probe !== null) clearInterval(this.probe)
    this.presence.stop()
    this.rpcClient?.failAll(unavailable('this node is closing'))
    // Blocking connections hold nothing to flush, and QUIT would wait behind their BLPOP/XREAD.
    for (const conn of this.own) conn.disconnect()
    await Promise.all(this.loops)
    const redis = this.link.client
    redis.off('ready', this.onReady).off('close', this.onDown)
    if (this.link.owned) await close(redis)
    redis.off('error', this.onError)
    this.listener = null
  }

  isUp (): boolean {
    return this.up
  }

  async publish (event: OutgoingEvent): Promise<PublishResult> {
    if (!this.up || this.stream === null) throw unavailable('Redis is unreachable')
    try {
      return await this.stream.publish(event)
    } catch (err) {
      if (this.up) this.log.warn({ err }, 'publishing an event failed')
      throw unavailable('Redis is unreachable')
    }
  }

  keepsHistory (target: string): boolean {
    return this.stream?.keepsHistory(target) ?? false
  }

  async watch (target: string): Promise<void> {
    await this.stream?.watch(target)
  }

  unwatch (target: string): void {
    this.stream?.unwatch(target)
  }

  async recover (target: string, since?: Position): Promise<Recovery> {
    if (!this.up || this.stream === null) throw unavailable('Redis is unreachable')
    try {
      return await this.stream.recover(target, since)
    } catch (err) {
      if (this.up) this.log.warn({ err }, 'reading history failed')
      throw unavailable('Redis is unreachable')
    }
  }

  remoteMethods (): ReadonlyMap<string, MethodSpec> {
    return this.workers.methods
  }

  // not async: the reply's promise itself, one promise less per call
  call (call: RemoteCall, onProgress: (data: unknown) => void): Promise<unknown> {
    if (!this.up || this.rpcClient === null) return Promise.reject(unavailable('Redis is unreachable'))
    return this.rpcClient.call(call, onProgress)
  }

  /** Our connections only: a client borrowed from the host is the host's to bring back. */
  private revive (conn: RedisClient, name: string): void {
    revive(conn, () => this.closed, message => this.log.warn(`Redis (${name}): ${message}`))
  }

  private duplicate (name: string, subscriber = false): RedisClient {
    const conn = subscriber
      ? duplicate(this.link.client, `fastify-ipc:${this.nodeId}:${name}`, subscriberOptions, clusterSubscriberOptions)
      : duplicate(this.link.client, `fastify-ipc:${this.nodeId}:${name}`)
    conn.on('error', this.onError)
    this.revive(conn, name)
    this.own.push(conn)
    return conn
  }

  // ioredis reports every failed reconnect: the last one is kept, and said once when the breaker's
  // state changes, not logged per retry.
  private readonly onError = (err: Error): void => { this.lastError = err.message }

  private readonly onReady = (): void => {
    this.lastError = undefined
    this.setUp(true)
  }

  private readonly onDown = (): void => this.setUp(false)

  // The connection may look fine while Redis does not answer (a hung server): ping it.
  private async check (): Promise<void> {
    const redis = this.link.client
    if (redis.status !== 'ready') return this.setUp(false)
    try {
      await withTimeout(redis.ping(), PROBE_MS, noAnswer)
      this.setUp(true)
      if (this.stale) await this.resync()
    } catch {
      this.setUp(false)
    }
  }

  private setUp (up: boolean): void {
    if (up === this.up || this.closed || !this.running) return
    this.up = up
    this.metrics.breakerOpen.set(up ? 0 : 1)
    this.listener?.state(up)
    if (up) {
      this.log.info('Redis reachable again: remote calls, events and presence resume')
      void this.resync()
    } else {
      this.log.warn({ reason: this.lastError }, 'Redis unreachable: remote calls and publishes fail with -32050 until it returns')
      this.rpcClient?.failAll(unavailable('Redis is unreachable'))
      this.rpcClient?.reset()
    }
  }

  /** After (re)connecting: the whole catalog again, and this node's presence. */
  private async resync (): Promise<void> {
    this.stale = false
    try {
      await this.stream?.announce()
      await this.workers.loadAll()
      this.listener?.catalog()
      this.catalogFailing = false
    } catch (err) {
      if (!this.catalogFailing) this.log.warn({ err }, 'loading the method catalog failed; retrying')
      this.catalogFailing = true
      this.stale = true
    }
    await this.presence.refresh()
  }

  private async reload (service: string): Promise<void> {
    try {
      await this.workers.load(service)
      this.listener?.catalog()
    } catch {
      this.stale = true
    }
  }
}
