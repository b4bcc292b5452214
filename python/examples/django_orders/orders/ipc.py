"""The orders service's methods, found by ``python manage.py ipc_worker orders``.

Plain ``def`` handlers: each runs in a worker thread, where the ORM works as in a view. Django's
exceptions reach the caller as JSON-RPC errors: ``Order.DoesNotExist`` as -32004 (not found),
``full_clean()``'s ``ValidationError`` as -32602 with the field messages as data.
"""
from django.db import transaction

from fastify_ipc.django import method

from .models import Order

ORDER = {
    "type": "object",
    "properties": {
        "orderId": {"type": "integer"},
        "item": {"type": "string"},
        "status": {"type": "string"},
        "updatedAt": {"type": "string"},
    },
    "required": ["orderId", "item", "status", "updatedAt"],
}


def mine(ctx):
    """The caller's orders: someone else's order does not exist, as far as they can tell."""
    return Order.objects.filter(owner_id=ctx.caller.user_id)


@method(
    "orders.get",
    description="One of the caller's orders",
    params={"type": "object", "properties": {"orderId": {"type": "integer"}}, "required": ["orderId"]},
    result=ORDER,
)
def get_order(params, ctx):
    return mine(ctx).get(pk=params["orderId"]).as_json()


@method(
    "orders.set_status",
    description="Changes the status of one of the caller's orders; its owner receives order.updated",
    params={
        "type": "object",
        "properties": {"orderId": {"type": "integer"}, "status": {"type": "string"}},
        "required": ["orderId", "status"],
    },
    result=ORDER,
)
def set_status(params, ctx):
    with transaction.atomic():
        order = mine(ctx).select_for_update().get(pk=params["orderId"])
        order.status = params["status"]
        order.full_clean()  # the model's choices decide which statuses exist
        order.save()  # post_save: order.updated, sent when this block commits
    return order.as_json()
