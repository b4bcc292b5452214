// W3C Trace Context `traceparent` (docs/protocol.md §3, §9): read from clients' requests and from
// request entries, written into request entries for workers. Parsed here rather than through the
// globally registered propagator: the field is W3C's whatever propagator the application installs.
import { INVALID_SPANID, INVALID_TRACEID, type SpanContext } from '@opentelemetry/api'

// version-traceId-parentId-flags: version 00 exactly so; a later version may append fields after a
// dash, and version ff is invalid. Fixed positions, so the parts are sliced, not captured.
const V00 = /^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/
const LATER = /^(?!00|ff)[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}(?:-|$)/

/** The remote span context a `traceparent` names, or null when it does not parse (then ignored, as W3C says). */
export function parseTraceparent (text: string): SpanContext | null {
  if (!V00.test(text) && !LATER.test(text)) return null
  const traceId = text.slice(3, 35)
  const spanId = text.slice(36, 52)
  if (traceId === INVALID_TRACEID || spanId === INVALID_SPANID) return null
  return { traceId, spanId, traceFlags: parseInt(text.slice(53, 55), 16), isRemote: true }
}

export function formatTraceparent (ctx: SpanContext): string {
  return `00-${ctx.traceId}-${ctx.spanId}-${(ctx.traceFlags & 0xff).toString(16).padStart(2, '0')}`
}
