"""Drives the generated Python client against the fixture gateway (test/codegen/python.test.ts).

Prints FREEZE, READY, RESTART, RECONNECTED and DONE as it goes; the test answers each by freezing the
proxy, publishing an event or restarting the gateway. Any failed assertion exits non-zero with a traceback.
"""
import asyncio
import sys
from typing import Any, List, Tuple

from shop_client import Api, Backoff, ChatMessageEvent, EventMeta, IpcClient, IpcError, OrdersGetResult, OrderUpdatedEvent


def say(line: str) -> None:
    print(line, flush=True)


async def token_failures(url: str, token: str) -> None:
    """A get_token that raises is reported at once and retried a bounded number of times; one that recovers connects."""
    fast = Backoff(initial_delay=0.02, max_delay=0.1)
    asked = [0]

    async def broken() -> str:
        asked[0] += 1
        raise RuntimeError("token service down")

    seen: List[Tuple[str, Any]] = []
    client = IpcClient(url, get_token=broken, reconnect=fast)
    client.on_state_change(lambda state, error: seen.append((state, error and error.message)))
    connecting = asyncio.ensure_future(client.connect())
    await asyncio.sleep(0)
    queued = asyncio.ensure_future(client.call("math.add", {"a": 1, "b": 1}))
    for future in (connecting, queued):
        try:
            await asyncio.wait_for(future, 5)
            raise AssertionError("a failing get_token connected")
        except IpcError as e:
            assert (e.code, e.message, str(e.data)) == (IpcError.UNAUTHENTICATED, "get_token failed: token service down", "token service down"), repr(e)
            assert isinstance(e.__cause__, RuntimeError), repr(e.__cause__)
    assert asked[0] == 3, asked
    failed = ("reconnecting", "get_token failed: token service down")
    assert seen == [("connecting", None), failed, failed, ("closed", failed[1])], seen
    await client.close()

    # max_token_failures sets the bound.
    once = IpcClient(url, get_token=broken, reconnect=fast, max_token_failures=1)
    try:
        await asyncio.wait_for(once.connect(), 5)
        raise AssertionError("a failing get_token connected")
    except IpcError as e:
        assert e.code == IpcError.UNAUTHENTICATED, repr(e)
    assert asked[0] == 4, asked
    await once.close()

    calls = [0]

    def flaky() -> str:
        calls[0] += 1
        if calls[0] == 1:
            raise RuntimeError("token service starting")
        return token

    states: List[Tuple[str, Any]] = []
    client = IpcClient(url, get_token=flaky, reconnect=fast)
    client.on_state_change(lambda state, error: states.append((state, error and error.code)))
    await asyncio.wait_for(client.connect(), 5)
    assert calls[0] == 2, calls
    assert states == [("connecting", None), ("reconnecting", IpcError.UNAUTHENTICATED), ("open", None)], states
    assert await client.call("math.add", {"a": 1, "b": 1}) == {"sum": 2}
    await client.close()


async def silent_death(url: str, token: str) -> None:
    """Through a proxy to a gateway with heartbeatMs 100: an idle connection stays up on answered pings; once
    the proxy freezes the flow (no FIN), the watchdog aborts it, the call in flight fails, the client reconnects."""
    loop = asyncio.get_running_loop()
    states: List[str] = []
    client = IpcClient(url, token=token, reconnect=Backoff(initial_delay=0.02, max_delay=0.1), call_timeout=5)
    client.on_state_change(lambda state, error: states.append(state))
    await client.connect()
    assert client.auth is not None and client.auth["heartbeatMs"] == 100, client.auth
    first = client.auth["connectionId"]
    ids = next(client._ids)
    await asyncio.sleep(0.6)
    assert next(client._ids) - ids >= 4, "no rpc.ping sent while idle"  # websockets hides server pings
    assert states == ["connecting", "open"] and client.auth["connectionId"] == first, (states, client.auth)

    await client.join("lobby")
    slow = asyncio.ensure_future(client.call("slow.wait", {"ms": 3000}))
    await asyncio.sleep(0.05)
    say("FREEZE")  # the test freezes the proxy's flows
    frozen = loop.time()
    try:
        await slow
        raise AssertionError("a call in flight survived a dead connection")
    except IpcError as e:
        assert (e.code, e.message) == (IpcError.UNAVAILABLE, "Connection lost"), repr(e)
        assert e.data == {"closeCode": 1006, "reason": "No answer to rpc.ping within 0.1 s"}, repr(e)
    assert loop.time() - frozen < 1.5, loop.time() - frozen
    assert await client.call("math.add", {"a": 1, "b": 2}) == {"sum": 3}  # waits for the reconnect
    assert client.auth["connectionId"] != first and states[-2:] == ["reconnecting", "open"], (states, client.auth)
    chat: "asyncio.Queue[Any]" = asyncio.Queue()
    client.on("chat.message", lambda data, meta: chat.put_nowait(data))
    await client.call("chat.say", {"room": "lobby", "text": "rejoined"})
    assert (await asyncio.wait_for(chat.get(), 5))["text"] == "rejoined"
    await client.close()


async def main(url: str, token: str, proxied: str) -> None:
    await token_failures(url, token)
    await silent_death(proxied, token)
    states: List[str] = []
    api = Api(url, get_token=lambda: token, reconnect=Backoff(initial_delay=0.05, max_delay=0.5), call_timeout=5)
    api.client.on_state_change(lambda state, error: states.append(state))
    await api.connect()

    order = await api.orders.get(order_id=42)
    assert isinstance(order, OrdersGetResult), order
    assert (order.order_id, order.status, order.items[0].qty, order.customer.name, order.note) == (42, "shipped", 2, "Ada", None)
    assert (await api.math.add(a=1, b=2.5)).sum == 3.5
    assert await api.echo(text="hi", from_="py") == "py: hi"
    assert await api.echo(text="hi") == "hi"
    assert [o.status for o in await api.orders.list(status="delivered")] == ["delivered"]
    assert (await api.orders.get_status(order_id=1)).status == "pending"

    try:
        await api.orders.get(order_id=7)
        raise AssertionError("orders.get(7) succeeded")
    except IpcError as e:
        assert (e.code, e.message, e.data) == (IpcError.NOT_FOUND, "Order 7 does not exist", {"orderId": 7}), repr(e)
    try:
        await api.client.call("math.add", {"a": "one", "b": 2})
        raise AssertionError("math.add with a string succeeded")
    except IpcError as e:
        assert e.code == IpcError.INVALID_PARAMS, repr(e)
    try:
        await api.slow.wait(ms=2000, timeout=0.2)
        raise AssertionError("no timeout")
    except IpcError as e:
        assert e.code == IpcError.DEADLINE_EXCEEDED, repr(e)

    chat: "asyncio.Queue[Tuple[Any, EventMeta]]" = asyncio.Queue()
    updates: "asyncio.Queue[Any]" = asyncio.Queue()
    api.on("chat.message", lambda data, meta: chat.put_nowait((data, meta)))

    async def on_update(data: OrderUpdatedEvent, meta: EventMeta) -> None:  # async handlers work too
        await updates.put(data)

    api.on("order.updated", on_update)
    await api.client.join("lobby")
    await api.chat.say(room="lobby", text="hello")
    data, meta = await asyncio.wait_for(chat.get(), 5)
    assert isinstance(data, ChatMessageEvent) and (data.from_, data.text, meta.target) == ("42", "hello", "room:lobby"), (data, meta)

    say("READY")  # the test publishes order.updated to user:42
    update = await asyncio.wait_for(updates.get(), 5)
    assert isinstance(update, OrderUpdatedEvent) and (update.order_id, update.status) == (42, "delivered"), update

    slow = asyncio.ensure_future(api.slow.wait(ms=3000))
    await asyncio.sleep(0.2)
    say("RESTART")  # the test restarts the gateway on the same port
    try:
        await slow
        raise AssertionError("a call in flight survived the restart")
    except IpcError as e:
        assert e.code == IpcError.UNAVAILABLE, repr(e)
    assert (await api.math.add(a=2, b=2)).sum == 4  # waits for the reconnect
    assert "reconnecting" in states and states[-1] == "open", states

    say("RECONNECTED")  # the test publishes chat.message to room:lobby, which the client rejoined
    data, meta = await asyncio.wait_for(chat.get(), 5)
    assert data.text == "after restart", data
    await api.close()
    assert states[-1] == "closed", states
    say("DONE")


asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3]))
