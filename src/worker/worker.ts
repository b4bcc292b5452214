// A backend worker: answers a service's RPC requests from the stream `ipc:rpc:<service>` with bounded
// concurrency, heartbeats, and takes over what dead workers left behind (docs/protocol.md §9).
import { randomBytes } from 'node:crypto'
import { hostname } from 'node:os'
import { context } from '@opentelemetry/api'
import { CLAIM_IDLE_MS, keys, MAX_DELIVERIES, WORKER_HEARTBEAT_MS, WORKER_TTL_MS, type Keys } from '../broker/keys.js'
import { Slots } from '../broker/slots.js'
import { ErrorCode } from '../protocol/errors.js'
import { execute, type ExecuteDeps, JobAbort } from './execute.js'
import { consoleLogger, type WorkerLogger } from './log.js'
import { defineMethod, SERVICE, type WorkerHandler, type WorkerInterceptor, type WorkerMethod, type WorkerMethodOptions } from './method.js'
import { Publisher } from './publisher.js'
import { close, connect, drop, duplicate, type RedisInput, type WorkerRedis } from './redis.js'
import { Outbox } from './outbox.js'
import { encodeReply, internalError } from './replies.js'
import { parseRequest, type WorkerRequest } from './request.js'
import { RequestStream } from './request-stream.js'
import { endSpan, spanContext, startSpan } from './tracing.js'
import { DuplicateMethodError, InvalidOptionError, InvalidStateError } from '../errors.js'

export interface WorkerOptions {
  /** a URL, ioredis options, or your own ioredis `Redis` or `Cluster` (left open on stop) */
  redis: RedisInput
  /** `redis` is the URL of one node of a Redis Cluster (false) */
  cluster?: boolean
  /** the service this worker serves: methods are named `<service>.<name>` (`default`: names without dots) */
  service: string
  /** most requests handled at once (10) */
  concurrency?: number
  /** key prefix (`ipc:`) */
  prefix?: string
  /** consumer name in the group; unique per process (host-pid-random by default) */
  id?: string
  logger?: WorkerLogger
  /** how long stop() waits for running handlers before leaving them to other workers (10000) */
  stopTimeoutMs?: number
  /** a span around each handler through @opentelemetry/api, continuing the request's trace (true); false skips that code */
  tracing?: boolean
}

// BLOCK of each read: stop() and claims interrupt it with CLIENT UNBLOCK, so this only bounds a missed interrupt.
const READ_BLOCK_MS = 2000
/** XREADGROUPs kept queued on the reading connection (see readAhead); one on a Cluster */
const QUEUED_READS = 4
/** how long one CLIENT UNBLOCK is given to end a read before it is sent again */
const UNBLOCK_RETRY_MS = 100
const CLAIM_EVERY_MS = 1000
const RETRY_MS = 1000

interface Job { readonly entryId: string, readonly started: number, abort: JobAbort | null, done: Promise<void>, slot: number }
/** A queued XREADGROUP: it holds `count` of the concurrency until it is answered. */
interface Read { readonly count: number, done: Promise<void>, settled: boolean }
interface Claimed { readonly entryId: string, readonly fields: string[], readonly deliveries: number }

export class Worker {
  readonly id: string
  readonly service: string
  readonly concurrency: number
  private readonly keys: Keys
  private readonly log: WorkerLogger
  private readonly stopTimeoutMs: number
  private readonly tracing: boolean
  private readonly methods = new Map<string, WorkerMethod>()
  private readonly interceptors: WorkerInterceptor[] = []
  /** what we are working on */
  private readonly jobs = new Slots<Job>()
  private state: 'new' | 'running' | 'stopping' | 'stopped' = 'new'
  private redis!: WorkerRedis
  private owned = false
  private blocking!: WorkerRedis
  private stream!: RequestStream
  private outbox!: Outbox
  /** the reading connection's CLIENT ID, asked as it connects (null on a Cluster, or while unknown) */
  private blockingId: number | null = null
  /** the reads queued on `blocking`, oldest first; each dispatches what it brings and leaves the queue */
  private ahead: Read[] = []
  /** slots of the concurrency held by queued reads and by a claim under way */
  private reserved = 0
  /** a claim waits for slots: no read is queued meanwhile */
  private claimWaits = false
  private depth = QUEUED_READS
  private deps!: ExecuteDeps
  private timers: NodeJS.Timeout[] = []
  private reading: Promise<void> = Promise.resolve()
  private claiming: Promise<void> | null = null
  private wake: (() => void) | null = null
  private stopped: Promise<void> | null = null
  /** a heartbeat made it into the worker set: stop() takes it out */
  private joined = false

  constructor (private readonly options: WorkerOptions) {
    const { service, concurrency = 10, prefix, id, logger, stopTimeoutMs = 10000, tracing = true } = options
    if (typeof service !== 'string' || !SERVICE.test(service)) throw new InvalidOptionError(`worker: invalid service "${service}" (letters, digits and _)`)
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new InvalidOptionError('worker: concurrency must be a whole number >= 1')
    this.service = service
    this.concurrency = concurrency
    this.id = id ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`
    this.keys = keys(prefix)
    this.log = logger ?? consoleLogger
    this.stopTimeoutMs = stopTimeoutMs
    this.tracing = tracing !== false
  }

  /** Declares a method, like the gateway's `ipc.method`; call before start(). */
  method<P = any, R = unknown> (name: string, options: WorkerMethodOptions, handler: WorkerHandler<P, R>): this {
    if (this.state !== 'new') throw new InvalidStateError(`fastify-ipc worker: method "${name}" declared after start()`)
    if (this.methods.has(name)) throw new DuplicateMethodError(`fastify-ipc worker: method "${name}" is already defined`)
    this.methods.set(name, defineMethod(this.service, name, options, handler as WorkerHandler))
    return this
  }

  /**
   * Adds an interceptor around every handler of this worker, in the order they were added (the first
   * is the outermost): `(call, next) => ...` with `call` = {method, params, ctx}. What it throws is
   * answered like a handler's error; call before start().
   */
  use (interceptor: WorkerInterceptor): this {
    if (this.state !== 'new') throw new InvalidStateError('fastify-ipc worker: use() called after start()')
    if (typeof interceptor !== 'function') throw new InvalidOptionError('worker: use() takes a function (call, next) => ...')
    this.interceptors.push(interceptor)
    return this
  }

  /** Publishes the catalog, joins the consumer group, heartbeats, and starts answering. */
  async start (): Promise<void> {
    if (this.state !== 'new') throw new InvalidStateError('fastify-ipc worker: start() may be called once')
    if (this.methods.size === 0) throw new InvalidStateError('fastify-ipc worker: declare at least one method before start()')
    const name = `worker ${this.id}`
    const { client, owned } = connect(this.options.redis, this.log, name, this.options.cluster)
    this.redis = client
    this.owned = owned
    this.blocking = duplicate(client, this.log, `${name} (reads)`, `fastify-ipc:worker:${this.id.replace(/\s/g, '_')}:reads`)
    if (this.blocking.isCluster) this.depth = 1 // commands to a Cluster leave one by one, and none can be unblocked
    else {
      this.blocking.on('connect', this.identify)
      this.blocking.on('close', () => { this.blockingId = null })
    }
    this.stream = new RequestStream(client, this.keys.rpc(this.service), this.keys.dead(this.service), this.id)
    this.outbox = new Outbox(client, this.stream.key, (err, count) => this.log.warn({ err }, `could not ack ${count} answered requests: they will be delivered again`))
    this.deps = { methods: this.methods, interceptors: this.interceptors, publish: new Publisher({ redis: client, prefix: this.options.prefix }), log: this.log, progress: this.progress }
    this.state = 'running'
    try {
      await this.announce()
    } catch (err) {
      await this.stop()
      throw err
    }
    this.redis.on('ready', this.reannounce)
    this.timers = [
      setInterval(() => { this.heartbeat().catch(err => this.log.warn({ err }, 'heartbeat failed')) }, WORKER_HEARTBEAT_MS),
      setInterval(() => this.claimTick(), CLAIM_EVERY_MS)
    ]
    this.reading = this.read()
    this.log.info({ service: this.service, methods: [...this.methods.keys()], concurrency: this.concurrency }, `worker ${this.id} started`)
  }

  /** Stops reading, lets running handlers finish (bounded), leaves the worker set, closes its connections. */
  async stop (): Promise<void> {
    this.stopped ??= this.shutdown()
    await this.stopped
  }

  private async shutdown (): Promise<void> {
    if (this.state === 'new') {
      this.state = 'stopped'
      return
    }
    this.state = 'stopping'
    this.redis.off('ready', this.reannounce)
    for (const t of this.timers) clearInterval(t)
    this.wake?.()
    // A Cluster routes commands by key, not to the node the read waits on: its reading connection is
    // dropped instead (entries it was being handed stay pending, and are taken over). Elsewhere the
    // queued reads are ended one by one; what they bring is still run.
    if (!this.blocking.isCluster) {
      const until = Date.now() + READ_BLOCK_MS + 1000
      while (this.ahead.length > 0 && Date.now() < until) await this.unblock(this.ahead[0], until)
    }
    if (this.ahead.length > 0) drop(this.blocking)
    await within(this.reading, READ_BLOCK_MS + 1000)
    if (this.claiming !== null) await within(this.claiming, 3000)
    const jobs = this.jobs.all()
    if (!await within(Promise.all(jobs.map(j => j.done)), this.stopTimeoutMs)) {
      for (const j of this.jobs.all()) j.abort?.abort(new Error('worker stopping'))
      this.log.warn(`stop: ${this.jobs.size} requests still running after ${this.stopTimeoutMs} ms; other workers will take them over`)
    }
    if (this.joined && !await within(this.redis.zrem(this.keys.workers(this.service), this.id), 2000)) {
      this.log.warn('could not leave the worker set: the entry expires by itself')
    }
    await close(this.blocking)
    if (this.owned) await close(this.redis)
    this.state = 'stopped'
    this.log.info(`worker ${this.id} stopped`)
  }

  // Redis may come back empty (restarted without persistence): set up again on every reconnect. A
  // NOGROUP read is not enough: a gateway or another worker may have created the group first, and
  // this worker's methods and heartbeat would stay missing.
  private readonly reannounce = (): void => {
    if (this.state !== 'running') return
    this.announce().catch(err => this.log.warn({ err }, 'could not publish the catalog again after reconnecting'))
  }

  /** Group, catalog, heartbeat, then the catalog news (gateways reload it). */
  private async announce (): Promise<void> {
    await this.stream.ensureGroup()
    const fields = [...this.methods.values()].flatMap(m => [m.name, JSON.stringify(m.spec)])
    await this.redis.hset(this.keys.methods(this.service), ...fields)
    await this.heartbeat()
    await this.redis.publish(this.keys.catalog, this.service)
  }

  private async heartbeat (): Promise<void> {
    const key = this.keys.workers(this.service)
    const now = Date.now()
    await this.redis.zadd(key, now + WORKER_TTL_MS, this.id)
    this.joined = true
    // Members of crashed workers are dead weight: gateways filter them by score, this drops them.
    await this.redis.zremrangebyscore(key, '-inf', now)
  }

  private async read (): Promise<void> {
    let failing = false // log a run of failed reads once
    while (this.state === 'running') {
      if (this.ahead.length <= this.depth / 2 && !this.claimWaits) this.readAhead()
      const head = this.ahead[0]
      if (head === undefined) { // every slot is taken: wait for one to free up
        await this.pause()
        continue
      }
      try {
        await head.done
        failing = false
      } catch (err) {
        if (this.state !== 'running') break
        // the reads queued behind it most likely fail alike: deal with it once
        await Promise.allSettled(this.ahead.map(async r => await r.done))
        if (String(err).includes('NOGROUP')) {
          // Redis lost its data (restart without persistence): set everything up again.
          this.log.warn('consumer group missing: creating it and publishing the catalog again')
          await this.announce().catch(e => this.log.warn({ err: e }, 'could not set up again'))
        } else if (!failing) {
          this.log.warn({ err }, 'reading requests failed; retrying every second')
        }
        failing = true
        await this.pause(RETRY_MS)
      }
    }
  }

  // Below the maximum rate most reads bring a few requests. Redis runs a blocked client's next command
  // once the blocked one is served, so reads wait there in a queue, each holding its share of the
  // concurrency, and the next batch needs no round trip; half of them are topped up at a time.
  private readAhead (): void {
    const share = Math.ceil(this.concurrency / this.depth)
    while (this.ahead.length < this.depth) {
      const count = Math.min(share, this.free())
      if (count <= 0) break
      const read: Read = { count, done: Promise.resolve(), settled: false }
      this.reserved += count
      read.done = this.stream.read(this.blocking, count, READ_BLOCK_MS).then(entries => {
        this.settle(read)
        for (const [entryId, fields] of entries) if (fields !== null) this.dispatch(entryId, fields)
      }, err => {
        this.settle(read)
        throw err
      })
      read.done.catch(() => undefined) // read() awaits it, or drops it with the others after a failure
      this.ahead.push(read)
    }
  }

  private settle (read: Read): void {
    read.settled = true
    this.reserved -= read.count
    this.ahead.splice(this.ahead.indexOf(read), 1)
  }

  /** Slots of the concurrency that no job, queued read or claim holds. */
  private free (): number {
    return this.concurrency - this.jobs.size - this.reserved
  }

  /** Ends a queued read early (it answers empty), sending CLIENT UNBLOCK until it has, up to `until`. */
  private async unblock (read: Read, until: number): Promise<void> {
    while (!read.settled && Date.now() < until) {
      // Not awaited alone: while Redis is unreachable it would wait for the reconnect.
      if (this.blockingId !== null) await within(this.redis.call('CLIENT', 'UNBLOCK', this.blockingId), UNBLOCK_RETRY_MS)
      await within(read.done, UNBLOCK_RETRY_MS)
    }
  }

  // Asked as the reading connection connects: a CLIENT ID sent later would wait behind the queued
  // reads (ioredis sends them again after a reconnect).
  private readonly identify = (): void => {
    this.blocking.call('CLIENT', 'ID').then(id => { this.blockingId = Number(id) }, (err: Error) => {
      // a failed connection is logged as such; a user without the right to CLIENT only here
      if (/NOPERM|unknown/i.test(err.message)) this.log.warn({ err: err.message }, 'CLIENT ID refused: stop() and takeovers wait for reads to end by themselves (up to 3 s)')
    })
  }

  /** Waits until a job ends, stop() is called, or `ms` pass. */
  private async pause (ms?: number): Promise<void> {
    await new Promise<void>(resolve => {
      let timer: NodeJS.Timeout | undefined
      const done = (): void => {
        clearTimeout(timer)
        if (this.wake === done) this.wake = null
        resolve()
      }
      if (ms !== undefined) timer = setTimeout(done, ms)
      this.wake = done
    })
  }

  /** Runs a request (or, given its delivery count, buries it) as a job counted against the concurrency. */
  private dispatch (entryId: string, fields: string[], deliveries?: number): void {
    const job: Job = { entryId, started: Date.now(), abort: null, done: Promise.resolve(), slot: -1 }
    this.jobs.add(job)
    job.done = this.run(entryId, fields, job, deliveries)
  }

  // One async function per request, not a promise chain: a busy worker makes fewer objects per request.
  private async run (entryId: string, fields: string[], job: Job, deliveries: number | undefined): Promise<void> {
    try {
      if (deliveries === undefined) await this.handle(entryId, fields, job)
      else await this.bury(entryId, fields, deliveries)
    } catch (err) {
      this.log.error({ err, entryId }, 'could not answer a request; it is delivered again unless Redis applied its ack')
    } finally {
      this.jobs.remove(job)
      this.wake?.()
    }
  }

  private async handle (entryId: string, fields: string[], job: Job): Promise<void> {
    const parsed = parseRequest(fields)
    if (!parsed.ok) {
      this.log.warn({ entryId, reason: parsed.reason }, 'dropping a request I cannot read')
      if (parsed.answer === undefined) this.outbox.ack(entryId)
      else await this.outbox.answer(parsed.answer.reply, encodeReply(parsed.answer.id, { error: { code: ErrorCode.INVALID_REQUEST, message: `Invalid request: ${parsed.reason}` } }), entryId)
      return
    }
    const req = parsed.request
    // The gateway has answered -32008 already: running it now would only do unwanted work.
    if (Date.now() > req.deadline) {
      this.log.debug({ requestId: req.id, method: req.method }, 'dropping a request past its deadline')
      this.outbox.ack(entryId)
      return
    }
    job.abort = new JobAbort(req.deadline)
    const span = this.tracing ? startSpan(req, this.service) : null
    const traced = span === null ? null : spanContext(span)
    const out = traced === null ? execute(this.deps, req, job.abort) : context.with(traced, execute, undefined, this.deps, req, job.abort)
    const body = out instanceof Promise ? await out : out
    if (span !== null) endSpan(span, body)
    await this.outbox.answer(req.reply, encodeReply(req.id, body), entryId)
  }

  // The outbox keeps the order of one list's replies, so progress pushed before the final reply arrives before it.
  private readonly progress = (req: WorkerRequest, data: unknown): void => {
    this.outbox.reply(req.reply, encodeReply(req.id, { progress: data }))
      .catch(err => this.log.warn({ err, requestId: req.id }, 'could not send progress'))
  }

  private claimTick (): void {
    if (this.claiming !== null || this.state !== 'running') return
    this.claiming = this.claim()
      .catch(err => this.log.warn({ err }, 'claiming abandoned requests failed'))
      .finally(() => { this.claiming = null })
  }

  /**
   * Takes over requests idle for CLAIM_IDLE_MS (their worker died); buries those delivered too often.
   * Queued reads hold every free slot of an idle worker: when there is something to take over, no
   * read is queued and the oldest is ended, and the claim takes the slots it gives back.
   */
  private async claim (): Promise<void> {
    const old = Date.now() - CLAIM_IDLE_MS / 2
    await this.stream.renew(this.jobs.all().filter(j => j.started < old).map(j => j.entryId))
    try {
      if (this.free() <= 0) {
        if (this.ahead.length === 0 || !await this.stream.abandoned()) return
        this.claimWaits = true
        await this.unblock(this.ahead[0], Date.now() + READ_BLOCK_MS + 1000)
      }
      let cursor = '0-0'
      do {
        const count = this.free()
        if (count <= 0 || this.state !== 'running') return
        this.reserved += count // no read takes these slots while the claim is under way
        let found: Claimed[]
        try {
          ({ next: cursor, found } = await this.takeOver(cursor, count))
        } finally {
          this.reserved -= count
        }
        for (const { entryId, fields, deliveries } of found) this.dispatch(entryId, fields, deliveries > MAX_DELIVERIES ? deliveries : undefined)
      } while (cursor !== '0-0')
    } finally {
      this.claimWaits = false
      this.wake?.()
    }
  }

  /** One XAUTOCLAIM of up to `count`: the requests now ours (not those acked meanwhile), and the next cursor. */
  private async takeOver (cursor: string, count: number): Promise<{ next: string, found: Claimed[] }> {
    const { next, entries } = await this.stream.claim(cursor, count)
    const mine = new Set(this.jobs.all().map(j => j.entryId))
    const fresh = entries.filter((e): e is [string, string[]] => e[1] !== null && !mine.has(e[0]))
    const counts = await Promise.all(fresh.map(async ([entryId]) => await this.stream.deliveries(entryId)))
    const found: Claimed[] = []
    fresh.forEach(([entryId, fields], i) => {
      const deliveries = counts[i]
      if (deliveries !== null) found.push({ entryId, fields, deliveries })
    })
    return { next, found }
  }

  /** A request that kept killing its workers: into the dead-letter stream, answered -32603, acked. */
  private async bury (entryId: string, fields: string[], deliveries: number): Promise<void> {
    const error = internalError({ deliveries })
    await this.stream.bury(fields, error)
    const parsed = parseRequest(fields)
    const to = parsed.ok ? parsed.request : parsed.answer
    if (to === undefined) this.outbox.ack(entryId)
    else await this.outbox.answer(to.reply, encodeReply(to.id, { error }), entryId)
    this.log.error({ entryId, requestId: to?.id, deliveries }, 'request delivered too many times: moved to the dead-letter stream')
  }
}

/** Whether `promise` fulfilled within `ms` (a rejection counts as no). */
async function within (promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<false>(resolve => { timer = setTimeout(resolve, ms, false) })
  try {
    return await Promise.race([promise.then(() => true, () => false), timeout])
  } finally {
    clearTimeout(timer)
  }
}
