// The worker's span around each handler (docs/protocol.md §9): a child of the request's
// `traceparent` when it has one, through @opentelemetry/api (a no-op unless the worker's program
// installs an SDK). Handlers' own spans nest under it: the handler runs in its context.
import { context, type Context, isSpanContextValid, type Span, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api'
import { parseTraceparent } from '../protocol/traceparent.js'
import { version } from '../version.js'
import type { ReplyBody } from './replies.js'
import type { WorkerRequest } from './request.js'

const tracer = trace.getTracer('fastify-ipc-worker', version)
const SERVER = { kind: SpanKind.SERVER }

export function startSpan (req: WorkerRequest, service: string): Span {
  const active = context.active()
  const remote = req.traceparent === undefined ? null : parseTraceparent(req.traceparent)
  const span = tracer.startSpan(req.method, SERVER, remote === null ? active : trace.setSpanContext(active, remote))
  if (span.isRecording()) {
    span.setAttribute('rpc.system', 'jsonrpc')
    span.setAttribute('rpc.method', req.method)
    span.setAttribute('rpc.service', service)
    span.setAttribute('rpc.jsonrpc.request_id', req.id)
  }
  return span
}

/** The context a handler runs in (null when the span has no valid context: nothing to nest under). */
export function spanContext (span: Span): Context | null {
  return isSpanContextValid(span.spanContext()) ? trace.setSpan(context.active(), span) : null
}

export function endSpan (span: Span, body: ReplyBody): void {
  if (span.isRecording() && 'error' in body) {
    span.setAttribute('rpc.jsonrpc.error_code', body.error.code)
    span.setStatus({ code: SpanStatusCode.ERROR, message: body.error.message })
  }
  span.end()
}
