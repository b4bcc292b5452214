// Remote calls: XADD on `ipc:rpc:<service>`, the answer on this node's `ipc:reply:<node>` list
// (BLPOP, then LPOP count to drain), matched by id. Replies nobody waits for are dropped.
import { ErrorCode, RpcError } from '../protocol/errors.js'
import { type Caller, type Reply, serviceOf, validators } from '../protocol/frames.js'
import { type Keys, REQUEST_MAXLEN, WORKER_GROUP } from './keys.js'
import type { RedisClient } from './redis-link.js'
import type { RemoteCall } from './types.js'

const BLOCK_SECONDS = 2
const DRAIN = 256
/** how long a "service has a live worker" answer is trusted (ms); a negative one, shorter */
const LIVE_CACHE_MS = 1000
const DEAD_CACHE_MS = 250
const MAXLEN = String(REQUEST_MAXLEN)

interface Pending {
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

/** the caller's JSON, kept per claims object (one per authenticated connection) while it matches */
interface CallerText { caller: Caller, json: string }

export class RpcClient {
  private readonly pending = new Map<string, Pending>()
  /** `known`: the answer once it came, so a cached answer costs no await */
  private readonly live = new Map<string, { alive: Promise<boolean>, known: boolean | undefined, until: number }>()
  private readonly callers = new WeakMap<object, CallerText>()
  /** services whose consumer group exists (since the last reconnect) */
  private readonly groups = new Set<string>()
  /** stream key per service, made once */
  private readonly streams = new Map<string, string>()
  private readonly replyKey: string
  // One timer for every call in flight, armed for the earliest deadline (see sweep), rather than a
  // setTimeout/clearTimeout pair per call: timers were a good part of the gateway's garbage per call.
  private sweepTimer: NodeJS.Timeout | null = null
  private sweepAt = Infinity

  constructor (
    private readonly redis: RedisClient,
    private readonly reader: RedisClient,
    private readonly keys: Keys,
    nodeId: string,
    private readonly hooks: RpcHooks
  ) {
    this.replyKey = keys.reply(nodeId)
  }

  // Not async: with a cached "live" answer (nearly always) the caller gets the reply's own promise,
  // without a promise per layer in between.
  call (call: RemoteCall, progress: (data: unknown) => void): Promise<unknown> {
    const service = serviceOf(call.method)
    const cached = this.live.get(service)
    if (cached !== undefined && cached.until > Date.now() && cached.known !== undefined) return this.start(service, call, progress, cached.known)
    return this.alive(service).then(alive => this.start(service, call, progress, alive))
  }

  private start (service: string, { id, method, params, caller, deadline }: RemoteCall, progress: (data: unknown) => void, alive: boolean): Promise<unknown> {
    if (!alive) return Promise.reject(new RpcError(ErrorCode.UNAVAILABLE, `Unavailable: no live worker for service "${service}"`))
    if (deadline <= Date.now()) return Promise.reject(deadlineExceeded())
    if (this.pending.has(id)) return Promise.reject(new RpcError(ErrorCode.INVALID_REQUEST, `Invalid request: call id ${id} is already in flight`))
    const result = new Promise<unknown>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, progress, deadline, started: performance.now() })
    })
    if (deadline < this.sweepAt) this.armSweep(deadline)
    // not awaited before `result`: a deadline or an outage may reject it while the XADD is under way
    const sent = this.groups.has(service) ? this.send(service, id, method, params, caller, deadline) : this.ensureGroup(service).then(() => this.send(service, id, method, params, caller, deadline))
    sent.catch(() => {
      this.settle(id)?.reject(new RpcError(ErrorCode.UNAVAILABLE, 'Unavailable: Redis is unreachable'))
    })
    return result
  }

  private send (service: string, id: string, method: string, params: unknown, caller: Caller, deadline: number): Promise<unknown> {
    let stream = this.streams.get(service)
    if (stream === undefined) this.streams.set(service, stream = this.keys.rpc(service))
    return this.redis.xadd(stream, 'MAXLEN', '~', MAXLEN, '*',
      'v', '1', 'id', id, 'method', method, 'params', JSON.stringify(params ?? {}),
      'caller', this.callerJson(caller), 'reply', this.replyKey, 'deadline', String(deadline))
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
    for (const [id, p] of this.pending) {
      if (p.deadline <= now) {
        this.pending.delete(id)
        p.reject(deadlineExceeded())
      } else if (p.deadline < next) next = p.deadline
    }
    if (next !== Infinity) this.armSweep(next)
  }

  // A connection's caller differs from call to call only by the object: its JSON (with every claim of
  // the token) is made once per identity rather than once per call. Identities are never changed in
  // place (a new rpc.auth makes a new one), so the claims object stands for its content.
  private callerJson (caller: Caller): string {
    const seen = this.callers.get(caller.claims)
    const c = seen?.caller
    if (c !== undefined && c.connectionId === caller.connectionId && c.userId === caller.userId && c.roles === caller.roles && c.node === caller.node) return seen!.json
    const json = JSON.stringify(caller)
    this.callers.set(caller.claims, { caller, json })
    return json
  }

  /** One BLPOP on the reply list, then whatever else is queued there. */
  async read (): Promise<void> {
    const first = await this.reader.blpop(this.replyKey, BLOCK_SECONDS)
    if (first === null) return
    this.handle(first[1])
    let more: string[] | null
    do {
      more = await this.reader.lpop(this.replyKey, DRAIN)
      if (more !== null) for (const raw of more) this.handle(raw)
    } while (more !== null && more.length === DRAIN)
  }

  /** Fails every call in flight (Redis went away, or the node is closing). */
  failAll (err: RpcError): void {
    for (const id of [...this.pending.keys()]) this.settle(id)?.reject(err)
    if (this.sweepTimer !== null) clearTimeout(this.sweepTimer)
    this.sweepTimer = null
    this.sweepAt = Infinity
  }

  /** Forgets what it knew about Redis' state: after an outage, groups and workers are checked again. */
  reset (): void {
    this.groups.clear()
    this.live.clear()
  }

  get inFlight (): number {
    return this.pending.size
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
    const p = this.pending.get(reply.id)
    if (p === undefined) { // late, duplicate, or meant for an earlier life of this node
      this.hooks.dropped()
      return
    }
    if ('progress' in reply && !('result' in reply) && reply.error === undefined) {
      p.progress(reply.progress)
      return
    }
    this.settle(reply.id)
    this.hooks.waited((performance.now() - p.started) / 1000)
    // `{"id"}` alone is a result too: JSON.stringify drops a handler's `undefined`
    if (reply.error !== undefined) p.reject(new RpcError(reply.error.code, reply.error.message, reply.error.data))
    else p.resolve(reply.result ?? null)
  }

  private settle (id: string): Pending | undefined {
    const p = this.pending.get(id)
    if (p === undefined) return undefined
    this.pending.delete(id)
    return p
  }

  // A worker heartbeats with score = its expiry: one member scored in the future means one alive.
  private async alive (service: string): Promise<boolean> {
    const now = Date.now()
    const cached = this.live.get(service)
    if (cached !== undefined && cached.until > now) return await cached.alive
    const alive = this.redis.zcount(this.keys.workers(service), now, '+inf').then(n => n > 0, () => false)
    const entry: { alive: Promise<boolean>, known: boolean | undefined, until: number } = { alive, known: undefined, until: now + LIVE_CACHE_MS }
    this.live.set(service, entry)
    entry.known = await alive
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

const deadlineExceeded = (): RpcError => new RpcError(ErrorCode.DEADLINE_EXCEEDED, 'Deadline exceeded: no answer from a worker in time')
