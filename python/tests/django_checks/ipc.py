"""Service ``checks``: one method per exception a Django handler may raise, and one that watches
the worker thread's database connection; service ``slow``: a call to stop a worker during."""
import datetime
import decimal
import time
import uuid

from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.db import DEFAULT_DB_ALIAS, connections
from django.http import Http404
from django.utils.translation import gettext_lazy

from fastify_ipc import RpcError
from fastify_ipc.django import method

RAISES = {
    "does_not_exist": lambda: ObjectDoesNotExist("Order matching query does not exist."),
    "http404": lambda: Http404("No Order matches the given query."),
    "permission_denied": lambda: PermissionDenied("Not your order"),
    "permission_denied_bare": lambda: PermissionDenied(),
    "validation_fields": lambda: ValidationError({"status": ["Value 'lost' is not a valid choice."], "item": ["This field cannot be blank."]}),
    "validation_list": lambda: ValidationError(["Too early", "Too late"]),
    "validation_one": lambda: ValidationError("Ships on weekdays only", code="weekday"),
    "timeout": lambda: TimeoutError("the carrier did not answer"),
    "rpc_error": lambda: RpcError(4090, "Already shipped", {"orderId": 7}),
    "bug": lambda: KeyError("secret-internal-detail"),
}


@method("checks.raise", params={"type": "object", "properties": {"what": {"type": "string"}}, "required": ["what"]})
def raise_(params, ctx):
    raise RAISES[params["what"]]()


@method("checks.araise", params={"type": "object", "properties": {"what": {"type": "string"}}, "required": ["what"]})
async def araise(params, ctx):
    raise RAISES[params["what"]]()


def values():
    return {
        "at": datetime.datetime(2026, 12, 4, 15, 30, 0, 250000, tzinfo=datetime.timezone.utc),
        "day": datetime.date(2026, 12, 4),
        "price": decimal.Decimal("19.90"),
        "id": uuid.UUID("12345678-1234-5678-1234-567812345678"),
        "label": gettext_lazy("Order"),
    }


@method("checks.values")
def values_(params, ctx):
    return values()


@method("checks.avalues")
async def avalues(params, ctx):
    return values()


# The database wrapper the last call used: Django keeps one per thread.
last = {}


@method("checks.connection")
def connection_state(params, ctx):
    """Whether the connection the previous call opened is closed by now; then opens one."""
    before = last.get("wrapper")
    closed = None if before is None else before.connection is None
    wrapper = connections[DEFAULT_DB_ALIAS]
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT 1")
    last["wrapper"] = wrapper
    return {"previousClosed": closed}


@method("slow.sleep", params={"type": "object", "properties": {"ms": {"type": "integer"}}, "required": ["ms"]}, timeout_ms=30000)
def slow_sleep(params, ctx):
    """Tells the caller it started, then sleeps: a worker stopped meanwhile finishes it first."""
    ctx.progress({"sleeping": params["ms"]})
    time.sleep(params["ms"] / 1000)
    return {"slept": params["ms"]}


async def audit(call, call_next):
    """An interceptor named in FASTIFY_IPC['INTERCEPTORS'] by the tests."""
    return await call_next()
