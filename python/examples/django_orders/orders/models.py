from django.conf import settings
from django.db import models


class Order(models.Model):
    class Status(models.TextChoices):
        NEW = "new"
        PAID = "paid"
        SHIPPED = "shipped"
        DELIVERED = "delivered"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="orders")
    item = models.CharField(max_length=100)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.NEW)
    updated_at = models.DateTimeField(auto_now=True)

    def as_json(self) -> dict:
        # the datetime is written as Django's JSON responses write it
        return {"orderId": self.pk, "item": self.item, "status": self.status, "updatedAt": self.updated_at}
