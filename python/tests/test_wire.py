"""The worker's side of docs/protocol.md §9 seen from Redis, with no gateway: requests added to the
stream by hand, replies read from the reply list. A Worker runs in this process on redis.asyncio.
Also the publishers' event fields, and the command's errors about its environment."""
import asyncio
import json
import os
import subprocess
import sys
import time

import pytest
from redis.asyncio import Redis as AsyncRedis

from fastify_ipc import AsyncPublisher, ErrorCode, Publisher, Worker
from fastify_ipc.schema import inline_refs, json_schema, params_reader, InvalidParams, to_json_value
from fixtures.jobs import Line, OrderQuery
from fixtures.jobs import setup as declare_jobs
from ipc_support import PYTHON_DIR, TESTS

REPLY = "ipc:reply:node-t"


def request(redis, method, params, id, deadline_ms=5000, **extra):
    fields = {"v": "1", "id": id, "method": method, "params": json.dumps(params), "reply": REPLY,
              "caller": json.dumps({"userId": "u1", "connectionId": "c1", "node": "node-t", "roles": [], "claims": {"sub": "u1"}}),
              "deadline": str(int(time.time() * 1000) + deadline_ms), **extra}
    return redis.xadd("ipc:rpc:wire", {k: v for k, v in fields.items() if v is not None})


def replies(redis, count, timeout=5):
    out = []
    end = time.monotonic() + timeout
    while len(out) < count and time.monotonic() < end:
        got = redis.blpop(REPLY, 1)
        if got:
            out.append(json.loads(got[1]))
    return out


def serve(redis_url, body, concurrency=4, **options):
    """Runs ``body(worker)`` in a thread-free way: the worker on this loop, the test's sync Redis calls in a thread."""
    async def run():
        client = AsyncRedis.from_url(redis_url)
        worker = Worker(client, "wire", concurrency=concurrency, **options)
        declare_jobs(worker)
        await worker.start()
        try:
            return await asyncio.get_running_loop().run_in_executor(None, body, worker)
        finally:
            await worker.stop()
            await client.close()
    return asyncio.run(run())


def test_answers_errors_and_drops_as_the_protocol_says(redis_url, redis):
    def body(worker):
        ok = request(redis, "wire.echo", {"n": 3, "tag": "x"}, "r1")
        request(redis, "wire.nope", {}, "r2")
        request(redis, "wire.order", {"order_id": "not a number"}, "r3")
        redis.xadd("ipc:rpc:wire", {"v": "1", "id": "r4", "method": "wire.echo", "params": "{not json", "reply": REPLY,
                                    "caller": "{}", "deadline": str(int(time.time() * 1000) + 5000)})
        request(redis, "wire.echo", {}, "r5", v="2")
        request(redis, "wire.echo", {"n": 1, "tag": "late"}, "r6", deadline_ms=-1)
        redis.xadd("ipc:rpc:wire", {"v": "1", "method": "wire.echo"})  # nobody to answer
        got = {r["id"]: r for r in replies(redis, 5)}
        time.sleep(0.3)
        return ok, got
    ok, got = serve(redis_url, body)
    assert got["r1"]["result"]["square"] == 9 and got["r1"]["result"]["user"] == "u1"
    assert got["r2"] == {"id": "r2", "error": {"code": -32601, "message": "Method not found: wire.nope"}}
    assert got["r3"]["error"]["code"] == -32602 and got["r3"]["error"]["data"]["errors"][0]["path"] == "/order_id"
    assert got["r4"]["error"] == {"code": -32602, "message": "Invalid params: not JSON"}
    assert got["r5"]["error"] == {"code": -32600, "message": "Invalid request: unsupported request version 2"}
    assert "r6" not in got and redis.llen(REPLY) == 0, "a request past its deadline is dropped"
    assert 0 < redis.pttl(REPLY) <= 60000 or redis.exists(REPLY) == 0
    assert redis.xpending("ipc:rpc:wire", "workers")["pending"] == 0, "every request acked, answered or not"


def test_a_reply_list_expires_in_60_s_and_the_worker_set_is_left_on_stop(redis_url, redis):
    def body(worker):
        request(redis, "wire.steps", {"count": 3}, "p1")
        time.sleep(0.5)
        ttl = redis.pttl(REPLY)
        member = redis.zscore("ipc:workers:wire", worker.id)
        return ttl, member, [json.loads(x) for x in redis.lrange(REPLY, 0, -1)]
    ttl, member, frames = serve(redis_url, body)
    redis.delete(REPLY)
    assert 55000 < ttl <= 60000
    assert member > time.time() * 1000 + 10000
    assert frames == [{"id": "p1", "progress": {"step": i}} for i in range(3)] + [{"id": "p1", "result": {"done": 3}}]
    assert redis.zcard("ipc:workers:wire") == 0


def test_concurrency_bounds_the_requests_run_at_once(redis_url, redis):
    def body(worker):
        for i in range(6):
            request(redis, "wire.sleep", {"ms": 400}, f"s{i}")
        time.sleep(0.2)
        at_once = redis.xpending("ipc:rpc:wire", "workers")["pending"]
        got = replies(redis, 6)
        return at_once, got
    at_once, got = serve(redis_url, body, concurrency=2)
    assert at_once == 2, "two read, the others wait in the stream"
    assert sorted(r["id"] for r in got) == [f"s{i}" for i in range(6)]


def test_stop_finishes_running_handlers_and_answers_them(redis_url, redis):
    async def run():
        client = AsyncRedis.from_url(redis_url)
        worker = Worker(client, "wire", concurrency=4)
        declare_jobs(worker)
        await worker.start()
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, lambda: [request(redis, "wire.sleep", {"ms": 600}, f"g{i}") for i in range(3)])
        await asyncio.sleep(0.2)
        started = time.monotonic()
        await worker.stop()
        took = time.monotonic() - started
        await client.close()
        return took
    took = asyncio.run(run())
    assert sorted(r["id"] for r in replies(redis, 3, 1)) == ["g0", "g1", "g2"]
    assert took < 2, f"stop took {took:.2f} s"
    assert redis.xpending("ipc:rpc:wire", "workers")["pending"] == 0


def test_schemas_and_params_with_the_pydantic_2_api():
    """Pydantic 2 is not installed here: a model with its API (model_json_schema, model_validate,
    model_dump) takes the 2.x path of every adapter function."""
    class V2Query:
        @classmethod
        def model_json_schema(cls):
            return {"type": "object", "properties": {"line": {"$ref": "#/$defs/Line"}}, "$defs": {"Line": Line.schema()}}

        @classmethod
        def model_validate(cls, data):
            return OrderQuery.parse_obj(data)

        def model_dump(self, mode="python"):
            assert mode == "json"
            return {"dumped": True}

    schema = json_schema(V2Query, "test")
    assert "$defs" not in schema and schema["properties"]["line"]["properties"]["qty"]["type"] == "integer"
    read = params_reader(V2Query)
    assert read({"order_id": 2}).order_id == 2
    with pytest.raises(InvalidParams) as err:
        read({"order_id": "x"})
    assert err.value.errors == [{"path": "/order_id", "message": "value is not a valid integer"}]
    assert to_json_value(V2Query()) == {"dumped": True}
    assert json_schema(OrderQuery, "test") == inline_refs(OrderQuery.schema())


def test_options_are_checked_when_declared(redis_url):
    worker = Worker(redis_url, "wire")
    with pytest.raises(ValueError, match="not in service"):
        worker.method("other.x")(lambda p, c: None)
    with pytest.raises(ValueError, match="reserved"):
        Worker(redis_url, "rpc").method("rpc.x")(lambda p, c: None)
    with pytest.raises(ValueError, match="timeout_ms"):
        worker.method("wire.x", timeout_ms=0)(lambda p, c: None)
    with pytest.raises(ValueError, match="access"):
        worker.method("wire.x", access="everyone")(lambda p, c: None)
    with pytest.raises(TypeError, match="JSON Schema"):
        worker.method("wire.x", params=[1])(lambda p, c: None)
    with pytest.raises(ValueError, match="invalid service"):
        Worker(redis_url, "a-b")
    assert ErrorCode.DEADLINE_EXCEEDED == -32008


def test_publishers_send_what_the_node_publisher_sends(redis_url, redis):
    """docs/protocol.md §9 Events: SPUBLISH on the target's channel; users (history by default) through
    the script, into their history stream, answering the offset and epoch; rooms per the gateways' config."""
    redis.set("pub:config:history", json.dumps({"size": 2, "ttlMs": 60000, "rooms": ["shop:*"], "users": True}))
    # redis-py's PubSub of Debian's release knows no SSUBSCRIBE: a connection of its own, read as is
    sub = redis.connection_pool.make_connection()
    sub.send_command("SSUBSCRIBE", "pub:ev:{conn:c2}", "pub:ev:{all}", "pub:ev:{room:lobby}")
    assert [sub.read_response()[0] for _ in range(3)] == [b"ssubscribe"] * 3
    sync = Publisher(redis_url, prefix="pub:")
    user = sync.to_user("u1", "order.updated", {"id": 1}, exclude="c9")
    rooms = [sync.to_room("shop:1", "news"), sync.to_room("shop:1", "news", 2), sync.to_room("shop:1", "news", 3)]
    plain = [sync.to_room("lobby", "hi", exclude="c1"), sync.to_connection("c2", "hi", [1, 2]), sync.broadcast("tick", 3)]
    sync.close()

    async def run():
        publisher = AsyncPublisher(redis_url, prefix="pub:")
        try:
            return await publisher.to_user("u1", "async", {"ok": True}), await publisher.broadcast("async")
        finally:
            await publisher.close()
    second, everyone = asyncio.run(run())

    assert set(user) == {"offset", "epoch"} and second["epoch"] == user["epoch"]
    assert plain == [{}, {}, {}] and everyone == {}
    entries = [(i.decode(), {k.decode(): v.decode() for k, v in f.items()}) for i, f in redis.xrange("pub:history:{user:u1}")]
    assert entries == [
        (user["offset"], {"event": "order.updated", "data": '{"id":1}', "exclude": "c9"}),
        (second["offset"], {"event": "async", "data": '{"ok":true}'}),
    ]
    assert redis.get("pub:epoch:{user:u1}").decode() == user["epoch"]
    # bounded by the configured size
    assert [i.decode() for i, _ in redis.xrange("pub:history:{room:shop:1}")] == [r["offset"] for r in rooms[1:]]
    got = [tuple(part.decode() for part in sub.read_response()[1:]) for _ in range(4)]
    sub.disconnect()
    assert got == [
        ("pub:ev:{room:lobby}", '{"event":"hi","exclude":"c1"}\nnull'),
        ("pub:ev:{conn:c2}", '{"event":"hi"}\n[1,2]'),
        ("pub:ev:{all}", '{"event":"tick"}\n3'),
        ("pub:ev:{all}", '{"event":"async"}\nnull'),
    ]
    with pytest.raises(ValueError, match="event name"):
        Publisher(redis_url).broadcast("")


def test_python_publishers_reach_history_targets_that_a_client_recovers(redis_url, redis):
    """A real gateway with history rooms: events the Python publishers sent while a client was away
    are recovered by rpc.join and rpc.auth, in order, after their answers."""
    from ipc_support import Client, Gateway
    redis.delete("ipc:config:history")
    gw = Gateway(redis_url, IPC_HISTORY_ROOMS="py:*")
    try:
        sync = Publisher(redis_url)

        async def scenario():
            tok = gw.token("py1", rooms=["*"])
            first = await Client.connect(gw.url, tok)
            try:
                auth = await first.result("rpc.auth", {"token": tok})
                joined = await first.result("rpc.join", {"room": "py:1"})
            finally:
                await first.close()
            sync.to_room("py:1", "said", 1)
            publisher = AsyncPublisher(redis_url)
            try:
                await publisher.to_room("py:1", "said", 2)
                await publisher.to_user("py1", "note", 3)
            finally:
                await publisher.close()
            again = await Client.connect(gw.url, tok)
            try:
                reauth = await again.result("rpc.auth", {"token": tok, "recover": {"offset": auth["offset"], "epoch": auth["epoch"]}})
                rejoin = await again.result("rpc.join", {"room": "py:1", "recover": {"offset": joined["offset"], "epoch": joined["epoch"]}})
                return reauth, rejoin, [await again.event() for _ in range(3)]
            finally:
                await again.close()

        reauth, rejoin, events = asyncio.run(scenario())
        sync.close()
        assert reauth["recovered"] is True and rejoin["recovered"] is True
        assert sorted((e["target"], e["data"]) for e in events) == [("room:py:1", 1), ("room:py:1", 2), ("user:py1", 3)]
        assert [e["data"] for e in events if e["target"] == "room:py:1"] == [1, 2]
        assert all(set(e) == {"event", "data", "target", "offset", "epoch"} for e in events)
    finally:
        assert gw.stop() == 0, gw.output


@pytest.mark.parametrize("env, message", [
    ({}, "REDIS_URL: required"),
    ({"REDIS_URL": "redis://127.0.0.1:1"}, "IPC_WORKER_SERVICE: must name the service"),
    ({"REDIS_URL": "redis://127.0.0.1:1", "IPC_WORKER_SERVICE": "a", "IPC_WORKER_CONCURRENCY": "0"}, "IPC_WORKER_CONCURRENCY=0"),
])
def test_the_command_says_what_is_wrong_with_its_environment(env, message):
    base = {k: v for k, v in os.environ.items() if not k.startswith(("REDIS_", "IPC_"))}
    done = subprocess.run([sys.executable, "-m", "fastify_ipc", "worker", "jobs:setup"], capture_output=True, text=True, timeout=30,
                          env={**base, "PYTHONPATH": os.pathsep.join([str(PYTHON_DIR), str(TESTS / "fixtures")]), **env})
    assert done.returncode == 1 and message in done.stderr, done.stderr
