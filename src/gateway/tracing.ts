// A span per call the gateway handles (docs/protocol.md §3), through @opentelemetry/api: without an
// SDK installed by the application every span is the API's no-op. A client's `traceparent` makes the
// span its child; the span's own context goes to workers in the request entry (§9).
import { context, type Context, isSpanContextValid, type Span, SpanKind, SpanStatusCode, trace, type Tracer } from '@opentelemetry/api'
import type { RequestId } from '../protocol/frames.js'
import { formatTraceparent, parseTraceparent } from '../protocol/traceparent.js'

const SERVER = { kind: SpanKind.SERVER }

export class CallTracing {
  private readonly tracer: Tracer

  constructor (version: string) {
    this.tracer = trace.getTracer('fastify-ipc', version)
  }

  /**
   * Starts the span of one call: `name` a known method name (span names stay few), `method` what the
   * client asked for. Attributes are set only on a recording span: a no-op span costs no object more.
   */
  start (name: string, method: string, id: RequestId | undefined, traceparent: string | undefined, userId: string | undefined): Span {
    const active = context.active()
    const remote = traceparent === undefined ? null : parseTraceparent(traceparent)
    const span = this.tracer.startSpan(name, SERVER, remote === null ? active : trace.setSpanContext(active, remote))
    if (span.isRecording()) {
      span.setAttribute('rpc.system', 'jsonrpc')
      span.setAttribute('rpc.method', method)
      span.setAttribute('rpc.jsonrpc.version', '2.0')
      if (id !== undefined) span.setAttribute('rpc.jsonrpc.request_id', String(id))
      if (userId !== undefined && userId !== '') span.setAttribute('enduser.id', userId)
    }
    return span
  }

  /** Ends a call's span: `code` the JSON-RPC error code it answered with, null for a result. */
  end (span: Span, code: number | null, message: string | undefined): void {
    if (span.isRecording()) {
      span.setAttribute('ipc.outcome', code === null ? 'ok' : 'error')
      if (code !== null) {
        span.setAttribute('rpc.jsonrpc.error_code', code)
        span.setStatus({ code: SpanStatusCode.ERROR, message })
      }
    }
    span.end()
  }
}

/** The `traceparent` a worker continues: the span's context (a no-op span carries its parent's), or none. */
export function traceparentOf (span: Span | undefined): string | undefined {
  const ctx = span?.spanContext()
  return ctx !== undefined && isSpanContextValid(ctx) ? formatTraceparent(ctx) : undefined
}

/** The context a local handler runs in, so spans it starts are children of the call's. */
export function contextOf (span: Span | undefined): Context | null {
  return span !== undefined && isSpanContextValid(span.spanContext()) ? trace.setSpan(context.active(), span) : null
}
