"""The Django integration end to end: the example shop's ORM answering a WebSocket client through a
real gateway and Redis, its post_save event reaching the order's owner, ``on_commit`` publishing,
Django's exceptions as the client sees them, and ``manage.py ipc_worker`` as a process."""
import asyncio
import os
import signal
import sys
import time
from typing import Dict, NamedTuple

import pytest

from django_support import EXAMPLE, ipc_worker, python, shop_env
from ipc_support import Client, Process


@pytest.fixture(scope="module")
def shop(redis_url, gateway, tmp_path_factory):
    """The example shop set up in this process (the test settings), migrated, and workers of its
    ``orders`` and the tests' ``checks`` services running as ``manage.py ipc_worker``."""
    env = shop_env(redis_url, tmp_path_factory.mktemp("shop") / "db.sqlite3")
    for name in ("DJANGO_SETTINGS_MODULE", "REDIS_URL", "SHOP_DB"):
        os.environ[name] = env[name]
    sys.path.insert(0, str(EXAMPLE))
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    workers = {service: ipc_worker(env, service, "--concurrency", "4") for service in ("orders", "checks")}
    gateway.wait_for_method("orders.get")
    gateway.wait_for_method("checks.raise")
    yield Shop(env, workers)
    for w in workers.values():
        assert w.stop() == 0, w.output


class Shop(NamedTuple):
    env: Dict[str, str]
    workers: Dict[str, Process]


def user(name):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_user(name)


def client_of(gateway, someone):
    return Client.connect(gateway.url, gateway.token(str(someone.pk)))


def as_json(value):
    """How Django's JSON responses write a value: a datetime to the millisecond, Z for UTC."""
    from django.core.serializers.json import DjangoJSONEncoder

    return DjangoJSONEncoder().default(value)


def test_a_method_answers_from_the_orm_through_the_gateway(shop, gateway):
    from orders.models import Order

    alice, bob = user("alice"), user("bob")
    order = Order.objects.create(owner=alice, item="teapot", status="paid")

    async def scenario():
        client = await client_of(gateway, alice)
        try:
            got = await client.result("orders.get", {"orderId": order.pk})
            # the other user's view: not found, as if it did not exist
            other = await client_of(gateway, bob)
            missing = await other.call("orders.get", {"orderId": order.pk})
            await other.close()
            return got, missing
        finally:
            await client.close()

    got, missing = asyncio.run(scenario())
    assert got == {"orderId": order.pk, "item": "teapot", "status": "paid", "updatedAt": as_json(order.updated_at)}
    assert missing["error"] == {"code": -32004, "message": "Order matching query does not exist."}


def test_a_saved_order_reaches_its_owner_once_committed(shop, gateway, redis):
    from django.db import transaction
    from orders.models import Order

    carol = user("carol")

    def save():
        with transaction.atomic():
            order = Order.objects.create(owner=carol, item="kettle")
            assert events_for(redis, carol) == [], "sent before the commit"
        return order

    async def scenario():
        client = await client_of(gateway, carol)
        try:
            order = await asyncio.to_thread(save)
            saved = await client.event()
            # through a method: full_clean() and save() in the worker, the event from its post_save
            shipped = await client.result("orders.set_status", {"orderId": order.pk, "status": "shipped"})
            updated = await client.event()
            return order, saved, shipped, updated
        finally:
            await client.close()

    order, saved, shipped, updated = asyncio.run(scenario())
    assert saved["event"] == "order.updated" and saved["target"] == f"user:{carol.pk}"
    assert saved["data"] == {"orderId": order.pk, "item": "kettle", "status": "new", "updatedAt": as_json(order.updated_at)}
    assert shipped["status"] == "shipped"
    assert updated["data"] == shipped


def test_on_commit_sends_nothing_on_rollback_and_sends_on_commit(shop, gateway, redis):
    from django.db import transaction
    from fastify_ipc.django import publish
    from orders.models import Order

    dave = user("dave")

    def rolled_back():
        with pytest.raises(RuntimeError):
            with transaction.atomic():
                Order.objects.create(owner=dave, item="lost in the rollback")  # post_save, on_commit
                assert publish.to_user(dave.pk, "note", {"n": 1}, on_commit=True) is None
                raise RuntimeError("roll back")

    def savepoint_rolled_back():
        with transaction.atomic():
            with pytest.raises(RuntimeError):
                with transaction.atomic():
                    publish.to_user(dave.pk, "note", {"n": 2}, on_commit=True)
                    raise RuntimeError("roll back the savepoint only")
            publish.to_user(dave.pk, "note", {"n": 3}, on_commit=True)
            assert events_for(redis, dave) == [], "sent before the commit"

    async def scenario():
        client = await client_of(gateway, dave)
        try:
            await asyncio.to_thread(rolled_back)
            await asyncio.to_thread(savepoint_rolled_back)
            # outside a transaction, at once; and without on_commit, the stream id
            sent = await asyncio.to_thread(publish.to_user, dave.pk, "note", {"n": 4}, on_commit=True)
            offset = await asyncio.to_thread(publish.to_user, dave.pk, "note", {"n": 5})
            return sent, offset, [await client.event() for _ in range(3)]
        finally:
            await client.close()

    sent, offset, received = asyncio.run(scenario())
    assert sent is None
    assert [e["data"] for e in received] == [{"n": 3}, {"n": 4}, {"n": 5}]
    assert received[2]["offset"] == offset["offset"]
    assert [data for _, data in events_for(redis, dave)] == [{"n": 3}, {"n": 4}, {"n": 5}]
    assert not Order.objects.filter(owner=dave).exists()


def test_publish_reaches_rooms_connections_and_everyone(shop, gateway):
    from fastify_ipc.django import publish

    erin = user("erin")

    async def scenario():
        client = await Client.connect(gateway.url, gateway.token(str(erin.pk), rooms=["orders:*"]))
        try:
            me = await client.result("rpc.auth", {"token": gateway.token(str(erin.pk), rooms=["orders:*"])})
            await client.result("rpc.join", {"room": "orders:9"})
            await asyncio.to_thread(publish.to_room, "orders:9", "room.note", {"to": "room"})
            await asyncio.to_thread(publish.to_connection, me["connectionId"], "conn.note", {"to": "conn"})
            await asyncio.to_thread(publish.broadcast, "all.note", {"to": "all"}, exclude=me["connectionId"])
            await asyncio.to_thread(publish.broadcast, "all.note", {"to": "all"})
            return [await client.event() for _ in range(3)]
        finally:
            await client.close()

    received = asyncio.run(scenario())
    assert [(e["event"], e["target"], e["data"]) for e in received] == [
        ("room.note", "room:orders:9", {"to": "room"}),
        ("conn.note", received[1]["target"], {"to": "conn"}),
        ("all.note", "all", {"to": "all"}),
    ]
    assert received[1]["target"].startswith("conn:")


def test_publish_controls_connections_after_the_commit(shop, gateway):
    from django.db import transaction

    from fastify_ipc.django import publish

    fay = user("fay")

    async def scenario():
        client = await Client.connect(gateway.url, gateway.token(str(fay.pk)))
        try:
            def subscribe_in_transaction():
                with transaction.atomic():
                    publish.subscribe("orders:11", user_id=fay.pk, on_commit=True)
            await asyncio.to_thread(subscribe_in_transaction)
            for _ in range(100):
                if "result" in await client.call("rpc.presence", {"room": "orders:11"}):
                    break
                await asyncio.sleep(0.05)
            else:
                raise AssertionError("fay was not put into orders:11")
            await asyncio.to_thread(publish.disconnect, user_id=fay.pk, code=4100, reason="banned")
            await client.ws.wait_closed()
            return client.ws.close_code, client.ws.close_reason
        finally:
            client.reader.cancel()

    assert asyncio.run(scenario()) == (4100, "banned")


FIELDS = {"status": ["Value 'lost' is not a valid choice."], "item": ["This field cannot be blank."]}
MAPPED = {
    "does_not_exist": {"code": -32004, "message": "Order matching query does not exist."},
    "http404": {"code": -32004, "message": "No Order matches the given query."},
    "permission_denied": {"code": -32003, "message": "Not your order"},
    "permission_denied_bare": {"code": -32003, "message": "Permission denied"},
    "validation_fields": {"code": -32602, "message": "Invalid params", "data": FIELDS},
    "validation_list": {"code": -32602, "message": "Invalid params", "data": ["Too early", "Too late"]},
    "validation_one": {"code": -32602, "message": "Invalid params", "data": ["Ships on weekdays only"]},
    "timeout": {"code": -32008, "message": "Deadline exceeded"},
    "rpc_error": {"code": 4090, "message": "Already shipped", "data": {"orderId": 7}},
    "bug": {"code": -32603, "message": "Internal error"},
}


@pytest.mark.parametrize("method", ["checks.raise", "checks.araise"])
def test_django_exceptions_reach_the_client_as_json_rpc_errors(shop, gateway, method):
    frank = user(f"frank-{method}")

    async def scenario():
        client = await client_of(gateway, frank)
        try:
            return {what: (await client.call(method, {"what": what}))["error"] for what in MAPPED}
        finally:
            await client.close()

    assert asyncio.run(scenario()) == MAPPED
    # the unexpected error's traceback is in the worker's log, and nowhere near the client
    shop.workers["checks"].wait_for("KeyError: 'secret-internal-detail'", 5)


def test_a_models_validation_error_reaches_the_client_with_its_fields(shop, gateway):
    from orders.models import Order

    gina = user("gina")
    order = Order.objects.create(owner=gina, item="mug")

    async def scenario():
        client = await client_of(gateway, gina)
        try:
            return await client.call("orders.set_status", {"orderId": order.pk, "status": "lost"})
        finally:
            await client.close()

    assert asyncio.run(scenario())["error"] == {"code": -32602, "message": "Invalid params", "data": {"status": ["Value 'lost' is not a valid choice."]}}
    order.refresh_from_db()
    assert order.status == "new"


def test_the_database_connection_of_a_call_is_closed_after_it(shop, gateway):
    henry = user("henry")

    async def scenario():
        client = await client_of(gateway, henry)
        try:
            return [await client.result("checks.connection") for _ in range(3)]
        finally:
            await client.close()

    # CONN_MAX_AGE is 0, as by default: like a request, each call's connection is gone after it
    assert asyncio.run(scenario())[1:] == [{"previousClosed": True}, {"previousClosed": True}]


def test_ipc_worker_discovers_ipc_py_and_stops_gracefully_on_sigterm(shop, gateway, redis):
    slow = ipc_worker(shop.env, "slow", "--concurrency", "2")
    assert "slow.sleep" in slow.output
    gateway.wait_for_method("slow.sleep")
    ivy = user("ivy")

    async def scenario():
        client = await client_of(gateway, ivy)
        try:
            call = asyncio.ensure_future(client.call("slow.sleep", {"ms": 1500}))
            assert await asyncio.wait_for(client.progress.get(), 10) == {"id": 1, "data": {"sleeping": 1500}}
            stopped = asyncio.ensure_future(asyncio.to_thread(slow.stop, signal.SIGTERM))
            answer = await call
            return answer, await stopped
        finally:
            await client.close()

    answer, code = asyncio.run(scenario())
    assert answer["result"] == {"slept": 1500}, slow.output
    assert code == 0, slow.output
    assert "stopped" in slow.output
    assert redis.zcard("ipc:workers:slow") == 0


def test_ipc_worker_of_the_example_alone_serves_orders_and_stops_on_sigint(shop, gateway, redis):
    orders = ipc_worker({**shop.env, "DJANGO_SETTINGS_MODULE": "shop.settings"}, "orders")
    assert "orders.get, orders.set_status (concurrency 10)" in orders.output
    assert redis.zcard("ipc:workers:orders") == 2
    assert orders.stop(signal.SIGINT) == 0, orders.output
    assert redis.zcard("ipc:workers:orders") == 1


@pytest.mark.parametrize("args, message", [
    (["nothing"], "CommandError: no method of service 'nothing' is declared in an installed app's ipc.py (services found: checks, orders, slow)"),
    (["orders", "--concurrency", "0"], "CommandError: --concurrency must be 1 or more"),
])
def test_ipc_worker_refuses_what_it_cannot_serve(shop, args, message):
    wrong = python(shop.env, "manage.py", "ipc_worker", *args)
    assert wrong.proc.wait(30) == 1
    wrong.stop()
    assert message in wrong.output


def events_for(redis, someone):
    """(offset, data) of every event in the history of ``someone`` (users keep history by default)."""
    import json

    return [(offset, json.loads(fields[b"data"])) for offset, fields in redis.xrange(f"ipc:history:{{user:{someone.pk}}}")]


def test_the_readme_session_a_listener_sees_the_order_saved_in_the_shell(shop, gateway):
    """The README's walk-through: listen.py as the order's owner, an order saved in `manage.py shell`."""
    from orders.models import Order

    june = user("june")
    order = Order.objects.create(owner=june, item="whisk")
    listener = python({**shop.env, "TOKEN": gateway.token(str(june.pk))}, "listen.py", gateway.url, str(order.pk))
    try:
        listener.wait_for("orders.get: {'orderId': %d, 'item': 'whisk', 'status': 'new'" % order.pk)
        shell = python({**shop.env, "DJANGO_SETTINGS_MODULE": "shop.settings"}, "manage.py", "shell", "-c",
                        f"from orders.models import Order; o = Order.objects.get(pk={order.pk}); o.status = 'paid'; o.save()")
        assert shell.proc.wait(30) == 0, shell.output
        listener.wait_for("event: order.updated {'orderId': %d, 'item': 'whisk', 'status': 'paid'" % order.pk)
    finally:
        listener.stop()


@pytest.mark.parametrize("given, message", [
    (["redis://localhost"], "FASTIFY_IPC must be a dict, not list"),
    ({"REDIS": "redis://localhost"}, "FASTIFY_IPC: unknown key(s) REDIS (known: REDIS_URL, PREFIX, INTERCEPTORS)"),
    ({"REDIS_URL": "localhost:6379"}, "FASTIFY_IPC['REDIS_URL'] = 'localhost:6379': must be a redis://, rediss:// or unix:// URL"),
    ({"REDIS_URL": None}, "FASTIFY_IPC['REDIS_URL'] = None: must be a redis://, rediss:// or unix:// URL"),
    ({"PREFIX": 7}, "FASTIFY_IPC['PREFIX'] = 7: must be a string, the gateway's IPC_PREFIX ('ipc:')"),
    ({"INTERCEPTORS": "a.b"}, "FASTIFY_IPC['INTERCEPTORS'] = 'a.b': must be a list of dotted paths to async functions (call, call_next)"),
])
def test_bad_settings_are_improperly_configured(shop, given, message):
    from django.core.exceptions import ImproperlyConfigured
    from django.test import override_settings
    from fastify_ipc.django.conf import ipc_settings

    with override_settings(FASTIFY_IPC=given), pytest.raises(ImproperlyConfigured) as raised:
        ipc_settings()
    assert str(raised.value) == message


def test_settings_have_defaults(shop):
    from django.conf import settings
    from django.test import override_settings
    from fastify_ipc.django.conf import ipc_settings

    with override_settings():
        del settings.FASTIFY_IPC
        assert ipc_settings() == ("redis://localhost:6379/0", "ipc:", [])
    with override_settings(FASTIFY_IPC={"PREFIX": "shop:"}):
        assert ipc_settings() == ("redis://localhost:6379/0", "shop:", [])


def test_a_project_with_bad_settings_does_not_start(shop):
    check = python({**shop.env, "FASTIFY_IPC_JSON": '{"REDIS_URL": "localhost"}'}, "manage.py", "check")
    assert check.proc.wait(30) == 1
    check.stop()
    assert "ImproperlyConfigured: FASTIFY_IPC['REDIS_URL'] = 'localhost'" in check.output


def test_a_method_declared_twice_is_improperly_configured(shop):
    from django.core.exceptions import ImproperlyConfigured
    from fastify_ipc.django import method
    from fastify_ipc.django.registry import declared, discover
    from orders import ipc

    discover()
    first = declared("orders")["orders.get"]
    assert method("orders.get", **first.options)(ipc.get_order) is ipc.get_order  # the same again: harmless
    with pytest.raises(ImproperlyConfigured) as raised:
        @method("orders.get")
        def get_order(params, ctx):
            return None
    assert str(raised.value) == ("method 'orders.get' is declared twice: in orders.ipc.get_order and in "
                                 "test_django.test_a_method_declared_twice_is_improperly_configured.<locals>.get_order")
    assert declared("orders")["orders.get"] is first


VALUES = {"at": "2026-12-04T15:30:00.250Z", "day": "2026-12-04", "price": "19.90",
          "id": "12345678-1234-5678-1234-567812345678", "label": "Order"}


def test_results_and_events_carry_django_values_as_django_writes_them(shop, gateway):
    from django.db import transaction
    from fastify_ipc.django import publish
    from django_checks.ipc import values

    kim = user("kim")

    def publish_then_change():
        with transaction.atomic():
            data = values()
            publish.to_user(kim.pk, "values", data, on_commit=True)
            data["price"] = "changed after the call"  # the event has what was given at the call
            with pytest.raises(TypeError):  # JSON cannot say it: the caller hears, before any commit
                publish.to_user(kim.pk, "values", {"not": object()}, on_commit=True)

    async def scenario():
        client = await client_of(gateway, kim)
        try:
            results = [await client.result(m) for m in ("checks.values", "checks.avalues")]
            await asyncio.to_thread(publish_then_change)
            return results, await client.event()
        finally:
            await client.close()

    results, event = asyncio.run(scenario())
    assert results == [VALUES, VALUES]
    assert event["data"] == VALUES


def test_publish_works_in_a_forked_child_as_in_celery_or_gunicorn_workers(shop, redis):
    from fastify_ipc.django import publish

    publish.to_user("forks", "parent", {})  # the process's publisher is made, its pool connected
    pid = os.fork()
    if pid == 0:  # the child: redis-py's pool sees the new pid and connects afresh
        code = 1
        try:
            publish.to_user("forks", "child", {})
            code = 0
        finally:
            os._exit(code)
    end = time.monotonic() + 10
    while (done := os.waitpid(pid, os.WNOHANG))[0] == 0 and time.monotonic() < end:
        time.sleep(0.02)
    if done[0] == 0:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    assert done[0] == pid and os.waitstatus_to_exitcode(done[1]) == 0
    publish.to_user("forks", "parent again", {})  # and the parent's connection still serves
    assert [f[b"event"] for _, f in redis.xrange("ipc:history:{user:forks}")] == [b"parent", b"child", b"parent again"]


def test_a_bad_method_option_stops_ipc_worker_saying_where_it_is(shop):
    from django.core.management.base import CommandError
    from fastify_ipc.django import method
    from fastify_ipc.django.worker import django_worker

    @method("broken.slow", timeout_ms=0)
    def slow(params, ctx):
        return None

    with pytest.raises(CommandError) as raised:
        django_worker("broken")
    assert str(raised.value) == ("test_django.test_a_bad_method_option_stops_ipc_worker_saying_where_it_is.<locals>.slow: "
                                 "fastify_ipc worker: method 'broken.slow': timeout_ms must be a positive int")


def test_interceptors_of_the_setting_wrap_the_django_worker(shop):
    from django.core.management.base import CommandError
    from django.test import override_settings
    from django_checks.ipc import audit
    from fastify_ipc.django.worker import django_worker

    with override_settings(FASTIFY_IPC={"INTERCEPTORS": ["django_checks.ipc.audit"]}):
        assert django_worker("checks").interceptors == [audit]
    for path, why in (("django_checks.ipc.nope", "does not define"), ("django_checks.ipc.RAISES", "async function")):
        with override_settings(FASTIFY_IPC={"INTERCEPTORS": [path]}), pytest.raises(CommandError) as raised:
            django_worker("checks")
        assert str(raised.value).startswith(f"FASTIFY_IPC['INTERCEPTORS']: {path}: ") and why in str(raised.value)
