"""Server-side control from Python (docs/protocol.md §10, §9 Control) behind a real gateway process
and Redis: the publishers' subscribe, unsubscribe, disconnect and revoke, the same from a worker's
``ctx.publish``, the revocation keys they leave, and bad arguments refused before anything is sent."""
import asyncio
from datetime import datetime, timedelta, timezone

import pytest
import websockets

from fastify_ipc import AsyncPublisher, Publisher
from ipc_support import Client, serving_worker


@pytest.fixture(scope="module")
def worker(redis_url, gateway):
    yield from serving_worker(redis_url, gateway, "ctl", "ctl.kick")


@pytest.fixture(scope="module")
def publisher(redis_url):
    pub = Publisher(redis_url)
    yield pub
    pub.close()


async def closed(client):
    """The close code and reason the gateway closed a client with."""
    await client.ws.wait_closed()
    try:
        await client.reader
    except websockets.ConnectionClosed:
        pass
    return client.ws.close_code, client.ws.close_reason


async def in_room(client, room):
    return "result" in await client.call("rpc.presence", {"room": room})


async def eventually(check, what, timeout=5.0):
    end = asyncio.get_running_loop().time() + timeout
    while not await check():
        assert asyncio.get_running_loop().time() < end, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


def test_the_sync_publisher_subscribes_unsubscribes_and_disconnects_wherever_the_user_is(gateway, publisher):
    async def run():
        tabs = [await Client.connect(gateway.url, gateway.token("pia")) for _ in range(2)]
        await asyncio.to_thread(publisher.subscribe, "py:1", user_id="pia")
        for tab in tabs:
            await eventually(lambda: in_room(tab, "py:1"), "pia in py:1")
        await asyncio.to_thread(publisher.to_room, "py:1", "said", {"n": 1})
        for tab in tabs:
            assert (await tab.event())["data"] == {"n": 1}
        await asyncio.to_thread(publisher.unsubscribe, "py:1", connection_id=(await tabs[0].result("rpc.auth", {"token": gateway.token("pia")}))["connectionId"])
        await eventually(lambda: _not(in_room(tabs[0], "py:1")), "one tab out of py:1")
        assert await in_room(tabs[1], "py:1")
        await asyncio.to_thread(publisher.disconnect, user_id="pia", code=4100, reason="banned")
        for tab in tabs:
            assert await closed(tab) == (4100, "banned")
    asyncio.run(run())


async def _not(check):
    return not await check


def test_revoke_closes_with_4003_and_leaves_keys_that_expire_with_the_tokens(gateway, publisher, redis):
    async def run():
        quinn = await Client.connect(gateway.url, gateway.token("quinn"))
        stolen = await Client.connect(gateway.url, gateway.token("rae", jti="stolen"))
        fine = await Client.connect(gateway.url, gateway.token("rae", jti="fine"))
        await asyncio.to_thread(publisher.revoke, user_id="quinn")
        assert await closed(quinn) == (4003, "token revoked")
        expires = datetime.now(timezone.utc) + timedelta(minutes=5)
        await asyncio.to_thread(publisher.revoke, jti="stolen", expires_at=expires)
        assert await closed(stolen) == (4003, "token revoked")
        assert "result" in await fine.call("rpc.ping")
        with pytest.raises(Exception, match="401"):
            await Client.connect(gateway.url, gateway.token("rae", jti="stolen"))
        await fine.close()
    asyncio.run(run())
    assert 0 < redis.pttl("ipc:revoked:user:quinn") <= 24 * 3600 * 1000
    assert 0 < redis.pttl("ipc:revoked:jti:stolen") <= 5 * 60 * 1000
    assert redis.get("ipc:revoked:jti:stolen") == b"0"
    # an earlier `before` does not lower the stored one, nor a shorter expiry shorten it
    before = int(redis.get("ipc:revoked:user:quinn"))
    publisher.revoke(user_id="quinn", before=before - 60000, expires_at=datetime.now(timezone.utc) + timedelta(seconds=30))
    assert int(redis.get("ipc:revoked:user:quinn")) == before
    assert redis.pttl("ipc:revoked:user:quinn") > 3600 * 1000


def test_the_async_publisher_and_worker_handlers_of_both_kinds(gateway, redis_url, worker):
    async def run():
        pub = AsyncPublisher(redis_url)
        try:
            sam = await Client.connect(gateway.url, gateway.token("sam"))
            await pub.subscribe("py:2", user_id="sam")
            await eventually(lambda: in_room(sam, "py:2"), "sam in py:2")
            # the handler closes its caller's connection before its answer could reach it
            sam.send("ctl.kick", {"room": "py:2"})
            assert await closed(sam) == (4100, "kicked")
            tabs = [await Client.connect(gateway.url, gateway.token("tom")) for _ in range(2)]
            tabs[0].send("ctl.kick_async")
            for tab in tabs:
                assert await closed(tab) == (4000, "bye")
        finally:
            await pub.close()
    asyncio.run(run())


@pytest.mark.parametrize("call, message", [
    (lambda p: p.subscribe("py:1"), "exactly one of user_id and connection_id"),
    (lambda p: p.subscribe("py:1", user_id="a", connection_id="b"), "exactly one of user_id and connection_id"),
    (lambda p: p.subscribe("a b", user_id="a"), "room must be"),
    (lambda p: p.disconnect(user_id="a", code=1006), "code must be 1000, 1008 or 3000-4999"),
    (lambda p: p.disconnect(user_id="a", reason="x" * 200), "reason must be"),
    (lambda p: p.revoke(), "exactly one of user_id and jti"),
    (lambda p: p.revoke(jti="j", before=1), "before goes with user_id"),
    (lambda p: p.revoke(user_id="a", expires_at=1), "expires_at must be in the future"),
    (lambda p: p.revoke(user_id="a", before=datetime(2026, 1, 1)), "aware datetime"),
])
def test_bad_arguments_raise_before_anything_is_sent(publisher, redis, call, message):
    with redis.pubsub() as watch:
        watch.subscribe("ipc:control")
        watch.get_message(timeout=1)
        with pytest.raises(ValueError, match=message):
            call(publisher)
        assert watch.get_message(timeout=0.2) is None
    assert redis.exists("ipc:revoked:user:a") == 0
