from django.db.models.signals import post_save
from django.dispatch import receiver

from fastify_ipc.django import publish

from .models import Order


@receiver(post_save, sender=Order)
def order_saved(sender, instance: Order, **kwargs) -> None:
    # Sent once the transaction commits: a rolled-back save tells nobody anything.
    publish.to_user(instance.owner_id, "order.updated", instance.as_json(), on_commit=True)
