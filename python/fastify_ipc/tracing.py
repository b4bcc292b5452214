"""The trace context of a request (docs/protocol.md §9): the W3C ``traceparent`` the gateway wrote in
the request entry, parsed. When the ``opentelemetry`` package is installed the worker continues the
trace with a span around each handler (a no-op unless the program configures an SDK); without it the
parsed context is on ``ctx.trace`` for the handler to use as it likes."""
import contextlib
import re
from typing import Any, Iterator, NamedTuple, Optional

try:  # optional: Debian does not package it, and a worker must run without it
    from opentelemetry import trace as otel_trace
except ImportError:  # pragma: no cover - depends on what is installed
    otel_trace = None

# version-traceId-parentId-flags; later versions may append fields after a dash
_TRACEPARENT = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$", re.S)


class TraceParent(NamedTuple):
    """A request's trace context: its trace, the span that sent it (the gateway's), its flags."""
    trace_id: str
    span_id: str
    flags: int

    @property
    def sampled(self) -> bool:
        return bool(self.flags & 1)

    def __str__(self) -> str:
        return f"00-{self.trace_id}-{self.span_id}-{self.flags:02x}"


def parse(text: Optional[str]) -> Optional[TraceParent]:
    """The context a ``traceparent`` names, or None when it is absent or does not parse (ignored, as W3C says)."""
    if not text:
        return None
    m = _TRACEPARENT.match(text)
    if m is None or m.group(1) == "ff" or (m.group(1) == "00" and m.group(5) is not None):
        return None
    if m.group(2) == "0" * 32 or m.group(3) == "0" * 16:
        return None
    return TraceParent(m.group(2), m.group(3), int(m.group(4), 16))


def available() -> bool:
    """Whether spans are made (the ``opentelemetry`` package is importable)."""
    return otel_trace is not None


@contextlib.contextmanager
def span(method: str, service: str, request_id: str, parent: Optional[TraceParent]) -> Iterator[Any]:
    """A server span around one handler, child of ``parent``, current while the handler runs; None
    (and nothing done) without the ``opentelemetry`` package."""
    if otel_trace is None:
        yield None
        return
    ctx = None
    if parent is not None:
        remote = otel_trace.SpanContext(trace_id=int(parent.trace_id, 16), span_id=int(parent.span_id, 16), is_remote=True,
                                        trace_flags=otel_trace.TraceFlags(parent.flags))
        ctx = otel_trace.set_span_in_context(otel_trace.NonRecordingSpan(remote))
    tracer = otel_trace.get_tracer("fastify-ipc-worker")
    attributes = {"rpc.system": "jsonrpc", "rpc.method": method, "rpc.service": service, "rpc.jsonrpc.request_id": request_id}
    with tracer.start_as_current_span(method, context=ctx, kind=otel_trace.SpanKind.SERVER, attributes=attributes) as current:
        yield current


def failed(current: Any, code: int, message: str) -> None:
    """Marks a handler's span as failed with the JSON-RPC error it answered."""
    if current is not None and current.is_recording():
        current.set_attribute("rpc.jsonrpc.error_code", code)
        current.set_status(otel_trace.Status(otel_trace.StatusCode.ERROR, message))
