"""A Python worker process (``python -m fastify_ipc worker``) behind a real gateway process and Redis:
what a WebSocket client sees of its methods, the catalog it publishes, progress, events, typed
errors, deadlines. The same behaviour as the Node SDK's test/worker and test/cluster tests."""
import asyncio
import json
import threading

import pytest

from ipc_support import Client, serving_worker, until


@pytest.fixture(scope="module")
def worker(redis_url, gateway):
    yield from serving_worker(redis_url, gateway, "jobs", "jobs.admin")


def scenario(gateway, body, sub="u1", **claims):
    async def run():
        client = await Client.connect(gateway.url, gateway.token(sub, **claims))
        try:
            return await body(client)
        finally:
            await client.close()
    return asyncio.run(run())


def test_the_catalog_holds_each_method_as_the_node_sdk_writes_it(worker, gateway, redis):
    raw = {k.decode(): json.loads(v) for k, v in redis.hgetall("ipc:methods:jobs").items()}
    assert raw["jobs.echo_sync"] == {"description": "echo, from the thread pool", "access": "user"}
    assert raw["jobs.admin"] == {"access": "user", "roles": ["admin"]}
    order = raw["jobs.order"]
    assert list(order) == ["params", "result", "description", "timeoutMs", "access"]
    assert order["timeoutMs"] == 5000 and order["description"] == "A typed order"
    # the nested model is inlined: the gateway validates and documents it without a $ref
    line = order["params"]["properties"]["lines"]["items"]
    assert line["properties"]["qty"]["type"] == "integer" and "$ref" not in json.dumps(order)
    assert order["params"]["required"] == ["order_id"]
    listed = gateway.wait_for_method("jobs.order")
    assert listed["params"][0] == {"name": "order_id", "required": True, "schema": {"title": "Order Id", "type": "integer"}}
    assert listed["x-timeout-ms"] == 5000 and listed["result"]["schema"]["required"] == ["order_id", "total", "by"]
    assert float(redis.zscore("ipc:workers:jobs", redis.zrange("ipc:workers:jobs", 0, 0)[0])) > 0


def test_calls_reach_async_and_thread_pool_handlers_with_the_caller(worker, gateway):
    async def body(client):
        return await asyncio.gather(client.result("jobs.echo", {"n": 7, "tag": "a"}),
                                    client.result("jobs.echo_sync", {"x": [1, None]}))
    echo, sync = scenario(gateway, body, roles=["clerk"])
    assert echo["n"] == 7 and echo["square"] == 49 and echo["tag"] == "a" and echo["user"] == "u1"
    assert echo["by"] == worker.pid and echo["node"] == gateway.node_id and echo["connection"]
    assert sync["params"] == {"x": [1, None]} and sync["user"] == "u1" and sync["roles"] == ["clerk"]
    assert sync["thread"].startswith("ipc-jobs") and sync["thread"] != threading.main_thread().name


def test_ctx_idempotency_key_is_the_calls_key_and_a_keyed_call_runs_once(worker, gateway):
    async def body(client):
        plain = await client.result("jobs.echo_sync", {"x": 1})
        first = (await asyncio.wait_for(client.send("jobs.echo_sync", {"x": 2}, idempotencyKey="py-k1"), 10))["result"]
        again = (await asyncio.wait_for(client.send("jobs.echo_sync", {"x": 2}, idempotencyKey="py-k1"), 10))["result"]
        return plain, first, again
    plain, first, again = scenario(gateway, body)
    assert plain["idempotency_key"] is None
    assert first["idempotency_key"] == "py-k1"
    assert again == first, "the re-sent call gets the kept answer: the same request id, not a second run"


def test_a_pydantic_params_model_arrives_as_the_model_and_a_result_model_is_serialised(worker, gateway):
    async def body(client):
        return await client.result("jobs.order", {"order_id": 3, "lines": [{"sku": "tea", "qty": 2}, {"sku": "pot", "qty": 1}]})
    assert scenario(gateway, body, sub="ann") == {"order_id": 3, "total": 3, "by": "ann"}


def test_bad_params_get_32602_from_the_gateway_with_dict_and_model_schemas(worker, gateway):
    async def body(client):
        return await asyncio.gather(client.call("jobs.echo", {"n": "seven", "tag": "a"}), client.call("jobs.order", {"lines": []}),
                                    client.call("jobs.order", {"order_id": 1, "lines": [{"sku": "tea"}]}))
    for frame in scenario(gateway, body):
        assert frame["error"]["code"] == -32602, frame
        assert frame["error"]["data"], frame


def test_progress_reaches_the_caller_in_order_before_the_result_from_both_kinds_of_handler(worker, gateway):
    async def body(client):
        out = []
        for method in ("jobs.steps", "jobs.steps_sync"):
            result = await client.result(method, {"count": 5})
            steps = [(await asyncio.wait_for(client.progress.get(), 5))["data"]["step"] for _ in range(5)]
            out.append((result, steps, client.progress.qsize()))
        return out
    for result, steps, left in scenario(gateway, body):
        assert result == {"done": 5} and steps == [0, 1, 2, 3, 4] and left == 0


def test_events_published_by_handlers_reach_users_and_rooms(worker, gateway):
    async def body(client):
        first = await client.result("jobs.notify", {"user": "eve", "event": "order.updated"})
        got = await client.event()
        await client.result("rpc.join", {"room": "shop:1"})
        second = await client.result("jobs.notify_sync", {"room": "shop:1", "n": 2})
        return first, got, second, await client.event()
    first, got, second, room = scenario(gateway, body, sub="eve", rooms=["shop:*"])
    assert got["event"] == "order.updated" and got["target"] == "user:eve" and got["offset"] == first["offset"]
    assert got["data"]["from"]
    # users keep history (offset and epoch); this room does not
    assert room == {"event": "room.news", "data": {"n": 2}, "target": "room:shop:1"} and second == {}


@pytest.mark.parametrize("kind, error", [
    ("not_found", {"code": -32004, "message": "No such order", "data": {"orderId": 7}}),
    ("denied", {"code": -32003, "message": "Permission denied"}),
    ("custom", {"code": 4001, "message": "Out of stock", "data": {"sku": "tea"}}),
    ("timeout", {"code": -32008, "message": "Deadline exceeded"}),
    ("unserialisable", {"code": -32603, "message": "Internal error"}),
    ("crash", {"code": -32603, "message": "Internal error"}),
])
def test_typed_errors_reach_the_client_and_anything_else_is_32603_without_internals(worker, gateway, kind, error):
    async def body(client):
        return await client.call("jobs.fail", {"kind": kind})
    assert scenario(gateway, body)["error"] == error
    if kind == "crash":
        until(lambda: "KeyError: 'secret-internal-detail'" in worker.output, 5, "the traceback in the worker's log")
        assert "Traceback" in worker.output


def test_at_the_deadline_async_handlers_are_cancelled_and_sync_ones_see_ctx_cancelled(worker, gateway):
    async def body(client):
        frames = await asyncio.gather(client.call("jobs.wait"), client.call("jobs.wait_sync"))
        events = sorted([await client.event(), await client.event()], key=lambda e: e["event"])
        return frames, events
    frames, events = scenario(gateway, body, sub="dora")
    assert [f["error"]["code"] for f in frames] == [-32008, -32008]
    assert [e["event"] for e in events] == ["cancelled", "cancelled_sync"]
    assert events[1]["data"] == {"cancelled": True, "flag": True}


def test_methods_with_roles_are_hidden_from_other_identities(worker, gateway):
    async def body(client):
        return await client.call("jobs.admin")
    assert scenario(gateway, body)["error"]["code"] == -32601
    assert scenario(gateway, body, roles=["admin"])["result"] == "ok"
