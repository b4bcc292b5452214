// W3C Trace Context `traceparent` (docs/protocol.md §3, §9): read from clients' requests and from
// request entries, written into request entries for workers. Parsed here rather than through the
// globally registered propagator: the field is W3C's whatever propagator the application installs.
import { isSpanContextValid, type SpanContext } from '@opentelemetry/api'

// version-traceId-parentId-flags; later versions may append fields after a dash
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-[^]*)?$/

/** The remote span context a `traceparent` names, or null when it does not parse (then ignored, as W3C says). */
export function parseTraceparent (text: string): SpanContext | null {
  const m = TRACEPARENT.exec(text)
  if (m === null || m[1] === 'ff' || (m[1] === '00' && m[5] !== undefined)) return null
  const ctx: SpanContext = { traceId: m[2], spanId: m[3], traceFlags: parseInt(m[4], 16), isRemote: true }
  return isSpanContextValid(ctx) ? ctx : null
}

export function formatTraceparent (ctx: SpanContext): string {
  return `00-${ctx.traceId}-${ctx.spanId}-${(ctx.traceFlags & 0xff).toString(16).padStart(2, '0')}`
}
