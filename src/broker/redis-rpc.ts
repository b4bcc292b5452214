// Remote calls: XADD on `ipc:rpc:<service>`, the answer on this node's `ipc:reply:<node>` list
// (BLMPOP, or BLPOP then LPOP count on Redis 6.2), matched by id. Replies nobody waits for are dropped.
import type { Redis } from 'ioredis'
import { ErrorCode, RpcError } from '../protocol/errors.js'
import { type Caller, type Reply, serviceOf, validators } from '../protocol/frames.js'
import { type Keys, REQUEST_MAXLEN, WORKER_GROUP } from './keys.js'
import { Slots } from './slots.js'
import type { RedisClient } from './redis-link.js'
import { arrayOf, bulk, type Command, encoded, sendTogether } from './redis-wire.js'
import type { RemoteCall } from './types.js'

const BLOCK_SECONDS = 2
const DRAIN = 256
/** BLMPOPs kept queued on the reply connection (see readAhead) */
const AHEAD = 8
/** how long a "service has a live worker" answer is trusted (ms); a negative one, shorter */
const LIVE_CACHE_MS = 1000
const DEAD_CACHE_MS = 250
const MAXLEN = String(REQUEST_MAXLEN)

interface Pending {
  /** `<node>:<boot>.<slot>.<seq>`: unique per node, and says where its reply finds it */
  id: string
  slot: number
  resolve (result: unknown): void
  reject (err: RpcError): void
  progress (data: unknown): void
  /** epoch ms */
  deadline: number
  started: number
}

export interface RpcHooks {
  /** seconds from XADD to the final reply */
  waited (seconds: number): void
  dropped (): void
}

/** the caller's JSON (and as a RESP bulk string), kept per claims object (one per authenticated connection) while it matches */
interface CallerText { caller: Caller, json: string, bulk: string }

export class RpcClient {
  private readonly pending = new Slots<Pending>()
  /** call ids start with the node and its start time, so a node restarted with the same id never takes a reply meant for its former life */
  private readonly idPrefix: string
  private seq = 0
  /** `known`: the answer once it came, so a cached answer costs no await */
  private readonly live = new Map<string, { alive: Promise<boolean>, known: boolean | undefined, until: number }>()
  private readonly callers = new WeakMap<object, CallerText>()
  /** services whose consumer group exists (since the last reconnect) */
  private readonly groups = new Set<string>()
  /** stream key per service, made once; and for the fast path, the XADD's RESP text up to the id */
  private readonly streams = new Map<string, string>()
  private readonly heads = new Map<string, string>()
  private readonly replyKey: string
  /** RESP text from the `reply` field name to the `deadline` field name (both constant per node) */
  private readonly replyBulks: string
  /**
   * Own RESP and per-turn batch for a plain (non-cluster) client without ioredis' `keyPrefix`; a
   * Cluster (slot routing) or a prefixing client keeps ioredis' generic XADD.
   */
  private readonly fast: boolean
  /** the XADDs of this event-loop turn, written together on the next setImmediate */
  private batch: Command[] = []
  // One timer for every call in flight, armed for the earliest deadline (see sweep), rather than a
  // setTimeout/clearTimeout pair and their garbage per call.
  private sweepTimer: NodeJS.Timeout | null = null
  private sweepAt = Infinity
  /** false once the server turned BLMPOP down (Redis before 7.0) */
  private blmpop = true
  /** the BLMPOPs queued on the reply connection, oldest first; each handles the replies it brings */
  private ahead: Array<Promise<void>> = []

  constructor (
    private readonly redis: RedisClient,
    private readonly reader: RedisClient,
    private readonly keys: Keys,
    nodeId: string,
    private readonly hooks: RpcHooks
  ) {
    this.replyKey = keys.reply(nodeId)
    this.idPrefix = `${nodeId}:${Date.now().toString(36)}.`
    this.replyBulks = bulk('reply') + bulk(this.replyKey) + bulk('deadline')
    this.fast = !redis.isCluster && !(redis as Redis).options.keyPrefix
  }

  // Not async: with a cached "live" answer (nearly always) the caller gets the reply's own promise,
  // without a promise per layer in between.
  call (call: RemoteCall, progress: (data: unknown) => void): Promise<unknown> {
    const service = serviceOf(call.method)
    const cached = this.live.get(service)
    if (cached !== undefined && cached.until > Date.now() && cached.known !== undefined) return this.start(service, call, progress, cached.known)
    return this.alive(service).then(alive => this.start(service, call, progress, alive))
  }

  private start (service: string, { method, params, caller, deadline, idem, traceparent }: RemoteCall, progress: (data: unknown) => void, alive: boolean): Promise<unknown> {
    if (!alive) return Promise.reject(new RpcError(ErrorCode.UNAVAILABLE, `Unavailable: no live worker for service "${service}"`))
    if (deadline <= Date.now()) return Promise.reject(deadlineExceeded())
    let p!: Pending
    const result = new Promise<unknown>((resolve, reject) => {
      p = { id: '', slot: -1, resolve, reject, progress, deadline, started: performance.now() }
    })
    this.pending.add(p)
    const id = p.id = `${this.idPrefix}${p.slot}.${++this.seq}`
    if (deadline < this.sweepAt) this.armSweep(deadline)
    // not awaited before `result`: a deadline or an outage may reject it while the XADD is under way
    const sent = this.groups.has(service) ? this.send(service, id, method, params, caller, deadline, idem, traceparent) : this.ensureGroup(service).then(() => this.send(service, id, method, params, caller, deadline, idem, traceparent))
    sent.catch(() => {
      if (this.pending.remove(p)) p.reject(new RpcError(ErrorCode.UNAVAILABLE, 'Unavailable: Redis is unreachable'))
    })
    return result
  }

  private send (service: string, id: string, method: string, params: unknown, caller: Caller, deadline: number, idem: string | undefined, traceparent: string | undefined): Promise<unknown> {
    if (this.fast) {
      let head = this.heads.get(service)
      if (head === undefined) {
        // XADD, key, MAXLEN ~ n * and the `v` and `id` fields (docs/protocol.md §9), after the array header
        head = ['xadd', this.keys.rpc(service), 'MAXLEN', '~', MAXLEN, '*', 'v', '1', 'id'].map(bulk).join('')
        this.heads.set(service, head)
      }
      // 7 field/value pairs, and `idem` and `traceparent` when the call has them
      const optional = (idem === undefined ? 0 : 1) + (traceparent === undefined ? 0 : 1)
      const cmd = encoded('xadd', ARRAYS[optional] + head + bulk(id) + METHOD + bulk(method) + PARAMS + bulk(JSON.stringify(params ?? {})) +
        CALLER + this.callerText(caller).bulk + this.replyBulks + bulk(String(deadline)) +
        (idem === undefined ? '' : IDEM + bulk(idem)) + (traceparent === undefined ? '' : TRACEPARENT + bulk(traceparent)))
      if (this.batch.length === 0) setImmediate(this.flush)
      this.batch.push(cmd)
      return cmd.promise
    }
    let stream = this.streams.get(service)
    if (stream === undefined) this.streams.set(service, stream = this.keys.rpc(service))
    const fields = ['v', '1', 'id', id, 'method', method, 'params', JSON.stringify(params ?? {}),
      'caller', this.callerText(caller).json, 'reply', this.replyKey, 'deadline', String(deadline)]
    if (idem !== undefined) fields.push('idem', idem)
    if (traceparent !== undefined) fields.push('traceparent', traceparent)
    return this.redis.xadd(stream, 'MAXLEN', '~', MAXLEN, '*', ...fields)
  }

  // The turn's XADDs leave in one write, as the auto-pipeline's would.
  private readonly flush = (): void => {
    const batch = this.batch
    this.batch = []
    sendTogether(this.redis as Redis, batch)
  }

  private armSweep (at: number): void {
    if (this.sweepTimer !== null) clearTimeout(this.sweepTimer)
    this.sweepAt = at
    this.sweepTimer = setTimeout(() => this.sweep(), Math.max(0, at - Date.now()))
  }

  /** Fails the calls whose deadline has come and re-arms for the earliest one left. */
  private sweep (): void {
    this.sweepTimer = null
    this.sweepAt = Infinity
    const now = Date.now()
    let next = Infinity
    for (const p of this.pending.all()) {
      if (p.deadline <= now) {
        this.pending.remove(p)
        p.reject(deadlineExceeded())
      } else if (p.deadline < next) next = p.deadline
    }
    if (next !== Infinity) this.armSweep(next)
  }

  // A connection's caller differs from call to call only by the object: its JSON (with every claim of
  // the token) is made once per identity rather than once per call. Identities are never changed in
  // place (a new rpc.auth makes a new one), so the claims object stands for its content.
  private callerText (caller: Caller): CallerText {
    const seen = this.callers.get(caller.claims)
    const c = seen?.caller
    if (c !== undefined && c.connectionId === caller.connectionId && c.userId === caller.userId && c.roles === caller.roles && c.node === caller.node) return seen!
    const json = JSON.stringify(caller)
    const text = { caller, json, bulk: bulk(json) }
    this.callers.set(caller.claims, text)
    return text
  }

  /**
   * Waits for replies on this node's list and handles what came: with BLMPOP (Redis 7) up to DRAIN
   * in one command, the next ones already queued; on Redis 6.2, one BLPOP and then LPOP count until
   * the list is empty (a round trip more per wake-up, which at moderate load is most of them).
   */
  async read (): Promise<void> {
    if (this.blmpop) {
      if (this.ahead.length <= AHEAD / 2) this.readAhead()
      try {
        await this.ahead.shift()
      } catch (err) {
        // the ones queued behind it fail alike (a dropped connection rejects them all): start afresh
        this.ahead = []
        if (!/unknown command/i.test(String(err))) throw err
        this.blmpop = false
      }
      return
    }
    const first = await this.reader.blpop(this.replyKey, BLOCK_SECONDS)
    if (first === null) return
    this.handle(first[1])
    let more: string[] | null
    do {
      more = await this.reader.lpop(this.replyKey, DRAIN)
      if (more !== null) for (const raw of more) this.handle(raw)
    } while (more !== null && more.length === DRAIN)
  }

  // Below the maximum rate most BLMPOPs bring one worker's small batch, and each wakes Redis and this
  // process. Redis runs a blocked client's next command once the blocked one is served, so BLMPOPs
  // wait there in a queue, topped up AHEAD / 2 at a time, and the next batch needs no round trip.
  private readAhead (): void {
    while (this.ahead.length < AHEAD) {
      const done = this.reader.blmpop(BLOCK_SECONDS, 1, this.replyKey, 'LEFT', 'COUNT', DRAIN).then(got => {
        if (got !== null) for (const raw of got[1]) this.handle(raw)
      })
      done.catch(() => undefined) // read() awaits it, unless one before it failed and the queue was dropped
      this.ahead.push(done)
    }
  }

  /** Fails every call in flight (Redis went away, or the node is closing). */
  failAll (err: RpcError): void {
    for (const p of this.pending.all()) {
      this.pending.remove(p)
      p.reject(err)
    }
    if (this.sweepTimer !== null) clearTimeout(this.sweepTimer)
    this.sweepTimer = null
    this.sweepAt = Infinity
  }

  /** Forgets what it knew about Redis' state: after an outage, groups and workers are checked again. */
  reset (): void {
    this.groups.clear()
    this.live.clear()
  }

  private handle (raw: string): void {
    let reply: Reply
    try {
      reply = JSON.parse(raw)
    } catch {
      this.hooks.dropped()
      return
    }
    if (!validators.reply.Check(reply)) {
      this.hooks.dropped()
      return
    }
    const p = this.lookup(reply.id)
    if (p === undefined) { // late, duplicate, or meant for an earlier life of this node
      this.hooks.dropped()
      return
    }
    if ('progress' in reply && !('result' in reply) && reply.error === undefined) {
      p.progress(reply.progress)
      return
    }
    this.pending.remove(p)
    this.hooks.waited((performance.now() - p.started) / 1000)
    // `{"id"}` alone is a result too: JSON.stringify drops a handler's `undefined`
    if (reply.error !== undefined) p.reject(new RpcError(reply.error.code, reply.error.message, reply.error.data))
    else p.resolve(reply.result ?? null)
  }

  /** The call a reply's id names: its slot is the number before the last dot. */
  private lookup (id: string): Pending | undefined {
    const end = id.lastIndexOf('.')
    const p = this.pending.at(Number(id.slice(id.lastIndexOf('.', end - 1) + 1, end)))
    return p !== undefined && p.id === id ? p : undefined
  }

  // A worker heartbeats with score = its expiry: one member scored in the future means one alive.
  // A failed count says nothing of the workers: the call fails with the count's error, and nothing
  // is cached.
  private async alive (service: string): Promise<boolean> {
    const now = Date.now()
    const cached = this.live.get(service)
    if (cached !== undefined && cached.until > now) return await cached.alive
    const alive = this.redis.zcount(this.keys.workers(service), now, '+inf').then(n => n > 0, (err: Error) => {
      throw new RpcError(ErrorCode.UNAVAILABLE, `Unavailable: could not count the live workers of "${service}" (${err.message})`)
    })
    const entry: { alive: Promise<boolean>, known: boolean | undefined, until: number } = { alive, known: undefined, until: now + LIVE_CACHE_MS }
    this.live.set(service, entry)
    try {
      entry.known = await alive
    } catch (err) {
      if (this.live.get(service) === entry) this.live.delete(service)
      throw err
    }
    if (!entry.known) entry.until = now + DEAD_CACHE_MS
    return entry.known
  }

  // Whoever comes first creates the group, at 0 so the requests added before it are not skipped.
  private async ensureGroup (service: string): Promise<void> {
    if (this.groups.has(service)) return
    try {
      await this.redis.xgroup('CREATE', this.keys.rpc(service), WORKER_GROUP, '0', 'MKSTREAM')
    } catch (err) {
      if (!String((err as Error).message).startsWith('BUSYGROUP')) throw err
    }
    this.groups.add(service)
  }
}

const METHOD = bulk('method')
const PARAMS = bulk('params')
const CALLER = bulk('caller')
const IDEM = bulk('idem')
const TRACEPARENT = bulk('traceparent')
/** the XADD's array header with 7, 8 and 9 field/value pairs */
const ARRAYS = [arrayOf(20), arrayOf(22), arrayOf(24)]

const deadlineExceeded = (): RpcError => new RpcError(ErrorCode.DEADLINE_EXCEEDED, 'Deadline exceeded: no answer from a worker in time')
