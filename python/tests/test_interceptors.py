"""``worker.use`` in the Python SDK, and hooks served by a Python worker (docs/protocol.md §3, §5),
behind real gateway processes and a real Redis."""
import asyncio

import pytest
import websockets

from fastify_ipc import Worker
from ipc_support import Client, Gateway, python_worker


@pytest.fixture(scope="module")
def guarded(redis_url, gateway):
    proc = python_worker(redis_url, "guarded", setup="guarded:setup", concurrency=4)
    gateway.wait_for_method("guarded.add_sync")
    yield proc
    assert proc.stop() == 0, proc.output


@pytest.fixture(scope="module")
def hooked(redis_url, guarded):
    """A second gateway whose hooks the Python worker serves, configured by env as in production."""
    gw = Gateway(redis_url, IPC_NODE_ID="hooked", IPC_JOIN_METHOD="guarded.can_join", IPC_CONNECT_METHOD="guarded.connected",
                 IPC_DISCONNECT_METHOD="guarded.disconnected", IPC_HOOK_TIMEOUT_MS="300", IPC_PUBLIC_ROOMS="watchers")
    gw.wait_for_method("guarded.add_sync")
    yield gw
    assert gw.stop() == 0, gw.output


def run(gateway, body, sub="u1", **claims):
    async def go():
        client = await Client.connect(gateway.url, gateway.token(sub, **claims))
        try:
            return await body(client)
        finally:
            await client.close()
    return asyncio.run(go())


def test_interceptors_wrap_async_and_sync_handlers_in_order(guarded, gateway):
    async def body(client):
        return await asyncio.gather(client.result("guarded.add_async", {"a": 1, "b": 2}), client.result("guarded.add_sync", {"a": 3, "b": 4}))
    a, s = run(gateway, body)
    assert a == {"sum": 3, "trace": ["handler", "inner", "audit"], "timed": True, "user": "u1"}
    assert s == {"sum": 7, "trace": ["handler", "inner", "audit"], "timed": True, "user": "u1"}


def test_an_interceptor_may_reject_with_a_code_or_fail_as_a_handler_does(guarded, gateway):
    async def body(client):
        return await asyncio.gather(client.call("guarded.secret"), client.call("guarded.crash"), client.result("guarded.seen"))
    secret, crash, seen = run(gateway, body)
    assert secret["error"] == {"code": -32003, "message": "admins only (python interceptor)"}
    assert crash["error"] == {"code": -32603, "message": "Internal error"}
    assert "guarded.secret" not in seen and "guarded.crash" not in seen

    async def admin(client):
        return await client.result("guarded.secret")
    assert run(gateway, admin, sub="boss", roles=["admin"]) == "the secret"
    assert "KeyError: 'interceptor bug'" in guarded.output or "interceptor bug" in guarded.output


def test_use_takes_an_async_function_before_start():
    worker = Worker("redis://127.0.0.1:1", "x")
    with pytest.raises(TypeError, match="async function"):
        worker.use(lambda call, call_next: call_next())

    async def fine(call, call_next):
        return await call_next()
    assert worker.use(fine) is fine
    worker.state = "running"
    with pytest.raises(RuntimeError, match="after start"):
        worker.use(fine)


def test_a_python_worker_decides_joins_in_time_or_they_are_denied(hooked):
    async def body(client):
        joins = {}
        for room in ("club:open", "club:own", "club:closed", "club:slow"):
            joins[room] = await client.call("rpc.join", {"room": room})
        return joins
    joins = run(hooked, body, sub="owner")
    assert joins["club:open"]["result"] == {"room": "club:open"}
    assert joins["club:own"]["result"] == {"room": "club:own"}
    assert joins["club:closed"]["error"]["code"] == -32003
    assert joins["club:slow"]["error"]["code"] == -32003  # no answer within IPC_HOOK_TIMEOUT_MS: denied

    async def stranger(client):
        return await client.call("rpc.join", {"room": "club:own"})
    assert run(hooked, stranger, sub="stranger")["error"]["code"] == -32003


def test_a_python_worker_hears_of_connections_and_may_refuse_them(hooked):
    async def body(watcher):
        await watcher.result("rpc.join", {"room": "watchers"})
        ada = await Client.connect(hooked.url, hooked.token("ada"))
        await ada.result("rpc.join", {"room": "club:open"})
        await ada.close()
        gone = await watcher.event()
        banned = await websockets.connect(hooked.url, extra_headers={"Authorization": f"Bearer {hooked.token('banned')}"})
        await banned.wait_closed()
        return gone, banned.close_code, banned.close_reason
    gone, code, reason = run(hooked, body, sub="watcher")
    assert gone["event"] == "gone" and gone["data"] == {"user": "ada", "rooms": ["club:open"]}
    assert (code, reason) == (1008, "refused by the backend")
