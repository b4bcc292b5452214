// Runs one request's method: params checked again, the handler called with its context, and
// whatever it returns or throws turned into a reply body.
import { ErrorCode, RpcError } from '../protocol/errors.js'
import { type Caller, validationErrors } from '../protocol/frames.js'
import { isThenable } from '../protocol/methods.js'
import { intercept } from '../interceptors.js'
import type { WorkerLogger } from './log.js'
import type { WorkerContext, WorkerInterceptor, WorkerMethod } from './method.js'
import type { Publisher } from './publisher.js'
import { errorObject, internalError, type ReplyBody } from './replies.js'
import { callerOf, type WorkerRequest } from './request.js'

// Like the gateway: a result that breaks its own schema is a bug worth a log line, outside production.
const checkResults = process.env.NODE_ENV !== 'production'
// setTimeout fires at once for delays past 2^31 - 1 ms.
const MAX_TIMER_MS = 2 ** 31 - 1

export interface ExecuteDeps {
  methods: ReadonlyMap<string, WorkerMethod>
  /** `worker.use`, outermost first */
  interceptors: readonly WorkerInterceptor[]
  publish: Publisher
  log: WorkerLogger
  progress (request: WorkerRequest, data: unknown): void
}

/**
 * A job's abort signal, made only when its handler asks for it (most never do): no AbortController and
 * no deadline timer per request otherwise. Aborted at the deadline, or by `abort` (stop() giving up).
 */
export class JobAbort {
  private controller: AbortController | null = null
  private timer: NodeJS.Timeout | undefined
  private reason: unknown = null
  private ended = false

  constructor (private readonly deadline: number) {}

  get signal (): AbortSignal {
    if (this.controller === null) {
      this.controller = new AbortController()
      const ms = this.deadline - Date.now()
      if (this.reason !== null) this.controller.abort(this.reason)
      else if (ms <= 0) this.controller.abort(deadlineExceeded())
      else if (!this.ended) this.timer = setTimeout(() => this.controller!.abort(deadlineExceeded()), Math.min(ms, MAX_TIMER_MS))
    }
    return this.controller.signal
  }

  abort (reason: unknown): void {
    if (this.controller === null) this.reason ??= reason
    else this.controller.abort(reason)
  }

  /** The job is over: its deadline timer goes. */
  end (): void {
    this.ended = true
    clearTimeout(this.timer)
  }
}

/**
 * A handler's context. A class, not an object literal: a literal's `get signal ()` is a new accessor
 * per request, and V8 then gives each context a map of its own outside the young generation, which
 * kept every context and its request alive through young-generation GCs until the next full one.
 */
class Context implements WorkerContext {
  readonly requestId: string
  readonly deadline: number
  readonly idempotencyKey: string | undefined
  readonly publish: WorkerContext['publish']
  readonly log: WorkerLogger
  /** an own function, so a handler may take it out of the context: `{ progress }` */
  readonly progress: (data: unknown) => void
  readonly #abort: JobAbort
  readonly #request: WorkerRequest
  #caller: Caller | undefined

  constructor (deps: ExecuteDeps, req: WorkerRequest, abort: JobAbort) {
    this.requestId = req.id
    this.deadline = req.deadline
    this.idempotencyKey = req.idem
    this.publish = deps.publish
    this.log = deps.log
    this.progress = data => deps.progress(req, data)
    this.#abort = abort
    this.#request = req
  }

  get caller (): Caller {
    return (this.#caller ??= callerOf(this.#request))
  }

  get signal (): AbortSignal {
    return this.#abort.signal
  }
}

const deadlineExceeded = (): RpcError => new RpcError(ErrorCode.DEADLINE_EXCEEDED, 'Deadline exceeded')

/**
 * Runs a request: the reply body at once when the handler answers synchronously (no promise and no
 * microtask per request, as most handlers of a busy worker do), else a promise of it.
 */
export function execute (deps: ExecuteDeps, req: WorkerRequest, abort: JobAbort): ReplyBody | Promise<ReplyBody> {
  const method = deps.methods.get(req.method)
  if (method === undefined) return { error: { code: ErrorCode.METHOD_NOT_FOUND, message: `Method not found: ${req.method}` } }
  let params: unknown
  try {
    params = JSON.parse(req.params)
  } catch {
    return { error: { code: ErrorCode.INVALID_PARAMS, message: 'Invalid params: not JSON' } }
  }
  if (method.params !== null && !method.params.Check(params)) {
    return { error: { code: ErrorCode.INVALID_PARAMS, message: 'Invalid params', data: { errors: validationErrors(method.params, params) } } }
  }
  const ctx = new Context(deps, req, abort)
  if (deps.interceptors.length > 0) {
    return settle(deps, method, req, intercept(deps.interceptors, { method: method.name, params, ctx }, () => method.handler(params, ctx)), abort)
  }
  let out: unknown
  try {
    out = method.handler(params, ctx)
  } catch (err) {
    abort.end()
    return failed(deps, method, req, err)
  }
  if (isThenable(out)) return settle(deps, method, req, out, abort)
  abort.end()
  return answered(deps, method, out)
}

async function settle (deps: ExecuteDeps, method: WorkerMethod, req: WorkerRequest, out: PromiseLike<unknown>, abort: JobAbort): Promise<ReplyBody> {
  try {
    return answered(deps, method, await out)
  } catch (err) {
    return failed(deps, method, req, err)
  } finally {
    abort.end()
  }
}

function answered (deps: ExecuteDeps, method: WorkerMethod, result: unknown): ReplyBody {
  if (checkResults && method.result !== null && !method.result.Check(result)) {
    deps.log.error({ method: method.name, errors: validationErrors(method.result, result) }, 'method result does not match its schema')
  }
  return { result }
}

function failed (deps: ExecuteDeps, method: WorkerMethod, req: WorkerRequest, err: unknown): ReplyBody {
  const error = errorObject(err)
  if (error !== null) return { error }
  deps.log.error({ err, method: method.name, requestId: req.id }, 'handler failed')
  return { error: internalError() }
}
