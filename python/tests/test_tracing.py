"""The trace context of a call reaches a Python worker (docs/protocol.md §3, §9): a client's W3C
``traceparent`` goes through a real gateway and Redis into the request entry, and the handler finds it
parsed on ``ctx.trace`` (async and thread-pool handlers alike); a call without one, or with one that
does not parse, has none. With the ``opentelemetry`` package installed the worker also continues the
trace with a span of its own (fastify_ipc/tracing.py)."""
import asyncio

import pytest

from fastify_ipc import tracing
from ipc_support import Client, python_worker

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT}-01"


@pytest.fixture(scope="module")
def worker(redis_url, gateway):
    proc = python_worker(redis_url, "traced", concurrency=4)
    gateway.wait_for_method("traced.trace_sync")
    yield proc
    assert proc.stop() == 0, proc.output


def calls(gateway, *requests):
    async def run():
        client = await Client.connect(gateway.url, gateway.token("u1"))
        try:
            return await asyncio.gather(*(client.call(method, {}, **members) for method, members in requests))
        finally:
            await client.close()
    return asyncio.run(run())


def test_a_clients_traceparent_reaches_async_and_thread_pool_handlers(worker, gateway):
    frames = calls(gateway, ("traced.trace", {"traceparent": TRACEPARENT}), ("traced.trace_sync", {"traceparent": TRACEPARENT}))
    for frame in frames:
        # the gateway runs without an OpenTelemetry SDK: its no-op span passes the client's context on
        assert frame["result"] == {"traceparent": TRACEPARENT, "trace_id": TRACE_ID, "span_id": PARENT, "sampled": True}, frame


def test_a_call_without_a_usable_traceparent_has_no_trace(worker, gateway):
    frames = calls(gateway, ("traced.trace", {}), ("traced.trace_sync", {"traceparent": "not-a-traceparent"}),
                   ("traced.trace", {"traceparent": f"00-{'0' * 32}-{PARENT}-01"}))
    assert [f["result"] for f in frames] == [None, None, None], frames


def test_a_traceparent_that_is_not_a_string_is_an_invalid_request(worker, gateway):
    frame, = calls(gateway, ("traced.trace", {"traceparent": 42}))
    assert frame["error"]["code"] == -32600, frame


def test_parse_follows_w3c_trace_context():
    assert tracing.parse(TRACEPARENT) == tracing.TraceParent(TRACE_ID, PARENT, 1)
    assert str(tracing.parse(TRACEPARENT)) == TRACEPARENT
    assert tracing.parse(f"00-{TRACE_ID}-{PARENT}-00").sampled is False
    # a later version may add fields; version 00 may not, and ff is invalid
    assert tracing.parse(f"01-{TRACE_ID}-{PARENT}-01-more") == tracing.TraceParent(TRACE_ID, PARENT, 1)
    for bad in (f"00-{TRACE_ID}-{PARENT}-01-more", f"ff-{TRACE_ID}-{PARENT}-01", f"00-{TRACE_ID}-{'0' * 16}-01",
                f"00-{TRACE_ID.upper()}-{PARENT}-01", "", None, f"00-{TRACE_ID}-{PARENT}"):
        assert tracing.parse(bad) is None, bad
