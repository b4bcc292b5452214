// Runs one request's method: params checked again, the handler called with its context, and
// whatever it returns or throws turned into a reply body.
import { ErrorCode, RpcError } from '../protocol/errors.js'
import { validationErrors } from '../protocol/frames.js'
import type { WorkerLogger } from './log.js'
import type { WorkerContext, WorkerMethod } from './method.js'
import type { Publisher } from './publisher.js'
import { errorObject, internalError, type ReplyBody } from './replies.js'
import type { WorkerRequest } from './request.js'

// Like the gateway: a result that breaks its own schema is a bug worth a log line, outside production.
const checkResults = process.env.NODE_ENV !== 'production'
// setTimeout fires at once for delays past 2^31 - 1 ms.
const MAX_TIMER_MS = 2 ** 31 - 1

export interface ExecuteDeps {
  methods: ReadonlyMap<string, WorkerMethod>
  publish: Publisher
  log: WorkerLogger
  progress (request: WorkerRequest, data: unknown): void
}

export async function execute (deps: ExecuteDeps, req: WorkerRequest, abort: AbortController): Promise<ReplyBody> {
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
  const timer = setTimeout(() => abort.abort(new RpcError(ErrorCode.DEADLINE_EXCEEDED, 'Deadline exceeded')), Math.min(req.deadline - Date.now(), MAX_TIMER_MS))
  const ctx: WorkerContext = {
    caller: req.caller,
    requestId: req.id,
    deadline: req.deadline,
    progress: data => deps.progress(req, data),
    publish: deps.publish,
    signal: abort.signal,
    log: deps.log
  }
  try {
    const result = await method.handler(params, ctx)
    if (checkResults && method.result !== null && !method.result.Check(result)) {
      deps.log.error({ method: method.name, errors: validationErrors(method.result, result) }, 'method result does not match its schema')
    }
    return { result }
  } catch (err) {
    const error = errorObject(err)
    if (error !== null) return { error }
    deps.log.error({ err, method: method.name, requestId: req.id }, 'handler failed')
    return { error: internalError() }
  } finally {
    clearTimeout(timer)
  }
}
