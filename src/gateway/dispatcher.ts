// One message's way through the gateway: decode -> validate -> limits -> built-in, local handler or
// RpcTransport -> encode -> socket. Every request ends in exactly one answer (or none, for notifications).
import { context, INVALID_TRACEID, type Span } from '@opentelemetry/api'
import type { FastifyBaseLogger } from 'fastify'
import type { RawData } from 'ws'
import type { OutgoingEvent, RemoteCall, RpcTransport } from '../broker/types.js'
import type { ResolvedOptions } from '../config.js'
import { CloseCode, ErrorCode, RpcError } from '../protocol/errors.js'
import { type Request, type RequestId, validationErrors, validators } from '../protocol/frames.js'
import { isThenable } from '../protocol/methods.js'
import { namedParams } from '../protocol/params.js'
import { withTimeout } from '../timeout.js'
import { BUILTINS, type Builtins } from './builtins.js'
import { callerOf } from './caller.js'
import type { Connection } from './connection.js'
import { Followed } from './follow.js'
import { errorFrame, idOf, progressFrame, resultFrame } from './frames.js'
import type { Hub } from './hub.js'
import type { Idempotency } from './idempotency.js'
import type { Interceptors } from './interceptors.js'
import type { Metrics } from './metrics.js'
import type { Method, MethodContext, Registry } from './registry.js'
import type { RequestLog } from './request-log.js'
import { type CallTracing, contextOf, traceparentOf } from './tracing.js'
import type { NodeStats } from './stats.js'

export interface DispatcherDeps {
  options: ResolvedOptions
  registry: Registry
  builtins: Builtins
  hub: Hub
  /** null when the broker has no workers: remote methods then answer -32050 */
  rpc: RpcTransport | null
  /** calls with an idempotencyKey (docs/protocol.md §3) */
  idempotency: Idempotency
  /** `app.ipc.use`: around every call of a method, local or remote */
  interceptors: Interceptors
  nodeId: string
  metrics: Metrics
  /** the admin page's counters */
  stats: NodeStats
  log: FastifyBaseLogger
  /** null: the tracing code is skipped (`tracing: false`) */
  tracing: CallTracing | null
  requestLog: RequestLog
  publish (event: OutgoingEvent): Promise<{ offset?: string }>
}

const checkResults = process.env.NODE_ENV !== 'production'

export class Dispatcher {
  private readonly durationsOk = new Map<string, { observe (seconds: number): void }>()
  private readonly durationsError = new Map<string, { observe (seconds: number): void }>()

  constructor (private readonly deps: DispatcherDeps) {}

  /** Entry point for one WebSocket message. */
  message (conn: Connection, data: RawData, isBinary: boolean): void {
    if (conn.state === 'closed') return
    if (isBinary) {
      conn.close(CloseCode.UNSUPPORTED_DATA, 'binary frames are not supported')
      return
    }
    const buf = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data)
    // ws enforces maxPayload when we created it; a host's own @fastify/websocket may allow more.
    if (buf.length > this.deps.options.maxPayload) {
      conn.close(CloseCode.TOO_BIG, 'message too big')
      return
    }
    this.deps.metrics.messagesIn.inc()
    let msg: unknown
    try {
      msg = JSON.parse(buf.toString('utf8'))
    } catch {
      if (this.junk(conn)) conn.send(errorFrame(null, { code: ErrorCode.PARSE_ERROR, message: 'Parse error: not JSON' }))
      return
    }
    if (Array.isArray(msg)) this.batch(conn, msg)
    else {
      this.one(conn, msg).then(out => {
        if (out === undefined) return
        conn.send(out)
        conn.answered(out)
      }, err => this.fail(conn, err))
    }
  }

  private batch (conn: Connection, list: unknown[]): void {
    const max = this.deps.options.maxBatch
    if (list.length === 0 || list.length > max) {
      const message = list.length === 0 ? 'Invalid request: empty batch' : `Invalid request: a batch holds at most ${max} entries`
      conn.send(errorFrame(null, { code: ErrorCode.INVALID_REQUEST, message }))
      return
    }
    Promise.all(list.map(m => this.one(conn, m))).then(outs => {
      const parts = outs.filter((o): o is string => o !== undefined)
      if (parts.length > 0) conn.send('[' + parts.join(',') + ']')
      for (const part of parts) conn.answered(part)
    }, err => this.fail(conn, err))
  }

  /** Answers one request (the encoded frame) or runs one notification (undefined). */
  private async one (conn: Connection, msg: unknown): Promise<string | undefined> {
    if (!validators.request.Check(msg)) {
      if (!this.junk(conn)) return undefined
      return errorFrame(idOf(msg), { code: ErrorCode.INVALID_REQUEST, message: 'Invalid request', data: { errors: validationErrors(validators.request, msg) } })
    }
    const req = msg as Request
    const id = req.id
    const refuse = this.admit(conn, id)
    if (refuse !== null) return id === undefined ? undefined : errorFrame(id, refuse.toJSON())
    conn.started(id)
    const started = performance.now()
    let label = 'unknown'
    let span: Span | undefined
    try {
      const method = req.method.startsWith('rpc.') ? undefined : this.deps.registry.get(req.method)
      // Labels come only from known names: a client's made-up method names would be new series each.
      label = method?.name ?? (BUILTINS.has(req.method) ? req.method : 'unknown')
      span = this.deps.tracing?.start(label, req.method, id, req.traceparent, conn.identity?.userId)
      const result = await this.call(conn, req, method, span)
      const seconds = (performance.now() - started) / 1000
      this.observe(label, 'ok', seconds)
      this.ended(conn, req, seconds, span, null)
      if (result instanceof Followed) return followed(conn, id, result)
      return id === undefined ? undefined : resultFrame(id, result)
    } catch (err) {
      const error = this.toRpcError(err, req.method)
      const seconds = (performance.now() - started) / 1000
      this.observe(label, 'error', seconds)
      this.deps.metrics.rpcErrors.inc({ code: String(error.code) })
      this.deps.stats.failed({
        at: Date.now(),
        node: this.deps.nodeId,
        // an unknown name is shown as asked (it is no label: the list is short and bounded)
        method: label === 'unknown' ? req.method : label,
        code: error.code,
        message: error.message.slice(0, 500),
        userId: conn.identity?.userId ?? ''
      })
      this.ended(conn, req, seconds, span, error)
      return id === undefined ? undefined : errorFrame(id, error.toJSON())
    } finally {
      conn.ended(id)
    }
  }

  /** The call's span and its request log entry (docs/protocol.md §12): the one place both hook in. */
  private ended (conn: Connection, req: Request, seconds: number, span: Span | undefined, error: RpcError | null): void {
    const code = error === null ? null : error.code
    if (span !== undefined) this.deps.tracing!.end(span, code, error?.message)
    if (!this.deps.requestLog.wants(error !== null)) return
    const traceId = span?.spanContext().traceId
    this.deps.requestLog.record({
      method: req.method,
      userId: conn.identity?.userId ?? '',
      durationMs: Math.round(seconds * 1e6) / 1000,
      code,
      ...(traceId === undefined || traceId === INVALID_TRACEID ? {} : { traceId })
    })
  }

  /**
   * Frames that are not requests count against the rate limit too; past it a client sending them is
   * closed with 1008 rather than answered (a flood of junk would otherwise cost an answer each).
   */
  private junk (conn: Connection): boolean {
    if (conn.allowMessage()) return true
    conn.close(CloseCode.POLICY, 'rate limit exceeded with invalid frames')
    return false
  }

  /** The limits a request must pass before it runs, in the order docs/protocol.md §3 gives them. */
  private admit (conn: Connection, id: RequestId | undefined): RpcError | null {
    if (!conn.allowMessage()) return new RpcError(ErrorCode.RATE_LIMITED, 'Rate limited: too many messages')
    if (id !== undefined && conn.running(id)) return new RpcError(ErrorCode.INVALID_REQUEST, `Invalid request: id ${JSON.stringify(id)} is already in flight`)
    if (conn.pending >= this.deps.options.maxInFlight) return new RpcError(ErrorCode.RATE_LIMITED, `Rate limited: at most ${this.deps.options.maxInFlight} requests in flight`)
    if (conn.leaving) return new RpcError(ErrorCode.UNAVAILABLE, 'Unavailable: this node is shutting down')
    return null
  }

  // Not async (one promise less per call): `one` awaits what it returns, and what it throws before
  // that is caught by the same try.
  private call (conn: Connection, req: Request, method: Method | undefined, span: Span | undefined): unknown {
    const { options, registry } = this.deps
    if (req.method.startsWith('rpc.')) return this.deps.builtins.run(conn, req.method, req.params)
    const identity = conn.identity
    if (identity === null && !(method?.access === 'public' && options.allowAnonymous)) {
      throw new RpcError(ErrorCode.UNAUTHENTICATED, 'Unauthenticated: call rpc.auth first')
    }
    if (method === undefined || !registry.visible(method, identity, options.allowAnonymous)) {
      throw new RpcError(ErrorCode.METHOD_NOT_FOUND, `Method not found: ${req.method}`)
    }
    const params = namedParams(req.method, req.params, method.positions)
    if (method.params !== null && !method.params.Check(params)) {
      throw new RpcError(ErrorCode.INVALID_PARAMS, 'Invalid params', { errors: validationErrors(method.params, params) })
    }
    const timeoutMs = method.spec.timeoutMs ?? options.defaultTimeoutMs
    const caller = callerOf(identity, conn.id, this.deps.nodeId)
    const id = req.id
    const progress = (data: unknown): void => {
      if (id !== undefined && conn.running(id)) conn.send(progressFrame(id, data))
    }
    if (method.handler === undefined && this.deps.rpc === null) throw new RpcError(ErrorCode.UNAVAILABLE, 'No workers: this gateway serves in-process methods only')
    const key = req.idempotencyKey
    // Scoped per user: an anonymous caller has no scope a re-send could find again.
    if (key !== undefined && identity === null) throw new RpcError(ErrorCode.INVALID_REQUEST, 'Invalid request: idempotencyKey needs an authenticated connection')
    const ctx: MethodContext = { identity, caller, progress, publish: this.deps.publish, log: this.deps.log, idempotencyKey: key }
    const deadline = Date.now() + timeoutMs
    const interceptors = this.deps.interceptors
    // Without interceptors or a key no closure is made: the call goes straight through.
    if (interceptors.empty && key === undefined) return this.invoke(method, params, ctx, deadline, span)
    const run = key === undefined
      ? () => this.invoke(method, params, ctx, deadline, span)
      : () => this.deps.idempotency.run({ userId: identity!.userId, key, method: method.name, params, deadline }, () => this.invoke(method, params, ctx, deadline, span))
    if (interceptors.empty) return run()
    const call = { method: method.name, params, identity, caller, connectionId: conn.id, remote: method.handler === undefined, deadline, idempotencyKey: key }
    return interceptors.run(call, run)
  }

  /** The call itself: a worker's, through the RpcTransport, or the in-process handler's. */
  private invoke (method: Method, params: unknown, ctx: MethodContext, deadline: number, span: Span | undefined): unknown {
    if (method.handler === undefined) {
      const call: RemoteCall = { method: method.name, params, caller: ctx.caller, deadline, traceparent: traceparentOf(span) }
      if (ctx.idempotencyKey !== undefined) call.idem = ctx.idempotencyKey
      return this.deps.rpc!.call(call, ctx.progress)
    }
    const traced = contextOf(span)
    const timeoutMs = deadline - Date.now()
    return traced === null ? this.local(method, params, ctx, timeoutMs) : context.with(traced, this.local, this, method, params, ctx, timeoutMs)
  }

  private async local (method: Method, params: unknown, ctx: MethodContext, timeoutMs: number): Promise<unknown> {
    const out: unknown = method.handler!(params, ctx)
    // A synchronous answer comes before any timer could fire: the deadline timer is armed for promises only.
    const result = isThenable(out) ? await withTimeout(out, timeoutMs, deadlineExceeded) : out
    if (checkResults && method.result !== null && !method.result.Check(result)) {
      this.deps.log.error({ method: method.name, errors: validationErrors(method.result, result) }, 'method result does not match its schema')
      throw new RpcError(ErrorCode.INTERNAL_ERROR, 'Internal error')
    }
    return result
  }

  // prom-client hashes the label object on every observe(); a child per (method, outcome) skips that.
  private observe (method: string, outcome: 'ok' | 'error', seconds: number): void {
    const children = outcome === 'ok' ? this.durationsOk : this.durationsError
    let child = children.get(method)
    if (child === undefined) {
      child = this.deps.metrics.rpcDuration.labels(method, outcome)
      children.set(method, child)
    }
    child.observe(seconds)
    this.deps.stats.record(method, outcome === 'ok', seconds)
  }

  private toRpcError (err: unknown, method: string): RpcError {
    const known = RpcError.of(err)
    if (known !== null) return known
    this.deps.log.error({ err, method }, 'method handler failed')
    return new RpcError(ErrorCode.INTERNAL_ERROR, 'Internal error')
  }

  private fail (conn: Connection, err: unknown): void {
    this.deps.log.error({ err }, 'dispatch failed')
    conn.close(CloseCode.INTERNAL, 'internal error')
  }
}

const deadlineExceeded = (ms: number): RpcError => new RpcError(ErrorCode.DEADLINE_EXCEEDED, `Deadline exceeded: no answer within ${ms} ms`)

/** A result with frames that must follow its answer: they go once the answer is written (or at once, for a notification). */
function followed (conn: Connection, id: RequestId | undefined, { result, after }: Followed): string | undefined {
  if (id === undefined) {
    after()
    return undefined
  }
  const frame = resultFrame(id, result)
  conn.follow(frame, after)
  return frame
}
