import uuid

from django.db import models

from kafka_bridge.models import OutboxEventBase


class Order(models.Model):
    class Status(models.TextChoices):
        PENDING = "PENDING", "Pending"  # placed; the catalog has not answered yet
        CONFIRMED = "CONFIRMED", "Confirmed"  # the catalog reserved the stock
        REJECTED = "REJECTED", "Rejected"  # the catalog refused it (see reason)
        CANCELLED = "CANCELLED", "Cancelled"  # cancelled by its user; stock given back

    class Reason(models.TextChoices):
        NONE = "", "—"
        INSUFFICIENT_STOCK = "INSUFFICIENT_STOCK", "insufficient stock"
        UNKNOWN_PRODUCT = "UNKNOWN_PRODUCT", "unknown product"
        PRODUCT_INACTIVE = "PRODUCT_INACTIVE", "product not for sale"
        CANCELLED_FIRST = "CANCELLED_FIRST", "cancelled before the catalog saw it"

    order_id = models.UUIDField("orderId", unique=True, default=uuid.uuid4, editable=False)
    user_id = models.CharField("userId", max_length=64)
    product_id = models.CharField("productId", max_length=64)
    qty = models.IntegerField()
    unit_price = models.BigIntegerField("unitPrice")
    total_price = models.BigIntegerField("totalPrice")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    reason = models.CharField(max_length=64, choices=Reason.choices, default="", blank=True)
    created_at = models.DateTimeField("createdAt", auto_now_add=True)
    status_changed_at = models.DateTimeField("statusChangedAt", null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        # Plain B-trees declared here rather than db_index=True, which on PostgreSQL also
        # builds a second, varchar_pattern_ops index for LIKE 'prefix%' queries that
        # nothing here makes; each index costs every insert (docs/BENCHMARKS.md).
        indexes = [models.Index(fields=["user_id"], name="order_user_idx")]

    def __str__(self) -> str:
        return f"{self.order_id} ({self.user_id}: {self.qty} × {self.product_id}, {self.status})"


class OutboxEvent(OutboxEventBase):
    """The order service's outbox: order placed, order cancelled."""

    class Meta:
        indexes = [
            # The relay's query: unsent rows, oldest first.
            models.Index(fields=["id"], condition=models.Q(sent_at__isnull=True), name="outbox_unsent_idx"),
            # reconcile: the event of an order the catalog never saw.
            models.Index(fields=["subject_id"], name="outbox_subject_idx"),
        ]


class ProductReplica(models.Model):
    """The order service's read-only copy of the catalog's products, fed by the
    compacted products topic (``manage.py runorderconsumer``). Orders are checked
    against it; the catalog stays the authority on stock."""

    product_id = models.CharField("productId", max_length=64, unique=True)
    product_name = models.CharField("productName", max_length=200)
    unit_price = models.BigIntegerField("unitPrice")
    active = models.BooleanField(default=True)
    version = models.BigIntegerField(help_text="the catalog's version of this product; older copies are ignored")
    replicated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["product_id"]

    def __str__(self) -> str:
        return f"{self.product_id} {self.product_name}"
