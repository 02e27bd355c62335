import uuid

from django.db import models


class Order(models.Model):
    order_id = models.UUIDField("orderId", unique=True, default=uuid.uuid4, editable=False)
    user_id = models.CharField("userId", max_length=64, db_index=True)
    product_id = models.CharField("productId", max_length=64)
    qty = models.IntegerField()
    unit_price = models.BigIntegerField("unitPrice")
    total_price = models.BigIntegerField("totalPrice")
    created_at = models.DateTimeField("createdAt", auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.order_id} ({self.user_id}: {self.qty} × {self.product_id})"


class OutboxEvent(models.Model):
    """An event to publish, written in the same transaction as the change it announces.

    ``sent_at`` is set when the broker acknowledges it. Rows still unsent after a crash
    or a broker outage are published by ``manage.py runrelay``.
    """

    topic = models.CharField(max_length=249)
    key = models.CharField(max_length=64)
    # What the event is about (the orderId), to find an order's event again.
    subject_id = models.CharField(max_length=64, db_index=True)
    payload = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")

    class Meta:
        indexes = [
            # The relay's query: unsent rows, oldest first.
            models.Index(fields=["id"], condition=models.Q(sent_at__isnull=True), name="outbox_unsent_idx"),
        ]

    def __str__(self) -> str:
        state = f"sent {self.sent_at:%Y-%m-%d %H:%M:%S}" if self.sent_at else "unsent"
        return f"#{self.pk} {self.topic} key={self.key} ({state})"
