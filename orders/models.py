import uuid

from django.db import models
from django.utils import timezone

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
        # nothing here makes; each index costs every insert.
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


class IdempotencyKey(models.Model):
    """A client's ``Idempotency-Key`` and the order it placed (``orders.idempotency``).

    Written in the order's transaction, so a key exists exactly when its order does: a
    client that lost the answer sends the same key again and gets the same answer, never a
    second order. Kept ``IDEMPOTENCY_KEY_TTL_HOURS``; ``manage.py clearidempotencykeys``
    deletes older ones (the orders stay)."""

    client = models.CharField(max_length=150, help_text="the username that sent the request")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of the request: same key, same request")
    order = models.OneToOneField(Order, on_delete=models.CASCADE, related_name="idempotency_key")
    response_body = models.JSONField(help_text="the 201 response it got, returned again as it was")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["client", "key"], name="idempotency_key_per_client")]
        indexes = [models.Index(fields=["created_at"], name="idempotency_created_idx")]

    def __str__(self) -> str:
        return f"{self.client}: {self.key} → {self.order_id}"
