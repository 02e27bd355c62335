from django.db import models
from django.db.models.functions import Now

from kafka_bridge.models import OutboxEventBase


class Product(models.Model):
    product_id = models.CharField("productId", max_length=64, unique=True)
    product_name = models.CharField("productName", max_length=200)
    # Never below zero: an order that would overdraw it is rejected (catalog.reservations).
    stock = models.BigIntegerField()
    unit_price = models.BigIntegerField("unitPrice")
    # Database defaults too, so that products loaded with plain SQL get them.
    active = models.BooleanField(default=True, db_default=True, help_text="inactive products are not for sale")
    created_at = models.DateTimeField("createdAt", auto_now_add=True)
    updated_at = models.DateTimeField("updatedAt", auto_now=True, db_default=Now())

    class Meta:
        ordering = ["product_id"]
        constraints = [models.CheckConstraint(condition=models.Q(stock__gte=0), name="product_stock_not_negative")]

    def __str__(self) -> str:
        return f"{self.product_id} {self.product_name}"

    # What the order service's replica holds of a product. Remembered as loaded, so that
    # saving a product only republishes it when one of these changed (not for stock).
    REPLICATED_FIELDS = ("product_id", "product_name", "unit_price", "active")

    @classmethod
    def from_db(cls, db, field_names, values):
        instance = super().from_db(db, field_names, values)
        instance._replicated_as_loaded = instance.replicated_values()
        return instance

    def replicated_values(self) -> tuple:
        return tuple(getattr(self, name) for name in self.REPLICATED_FIELDS)

    @property
    def replica_is_stale(self) -> bool:
        """True unless this instance was loaded and none of the replicated fields changed since."""
        return getattr(self, "_replicated_as_loaded", None) != self.replicated_values()


class StockMovement(models.Model):
    """The ledger: one row per order event the catalog decided, and proof that it did.

    An order has at most one ``order`` row (applied: stock taken, or rejected: why) and
    one ``cancel`` row (stock given back, or nothing to give back), so an event
    delivered twice changes stock once.
    """

    class Kind(models.TextChoices):
        ORDER = "order", "order"
        CANCEL = "cancel", "cancellation"

    class Outcome(models.TextChoices):
        APPLIED = "applied", "applied"
        REJECTED = "rejected", "rejected"

    order_id = models.CharField("orderId", max_length=64)
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.ORDER, db_default=Kind.ORDER)
    outcome = models.CharField(
        max_length=8, choices=Outcome.choices, default=Outcome.APPLIED, db_default=Outcome.APPLIED
    )
    reason = models.CharField(max_length=64, blank=True, default="", db_default="")
    product_id = models.CharField("productId", max_length=64)
    delta = models.BigIntegerField()
    stock_after = models.BigIntegerField(null=True, blank=True)  # null: the product is unknown
    topic = models.CharField(max_length=249)
    partition = models.IntegerField()
    offset = models.BigIntegerField()
    applied_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        constraints = [models.UniqueConstraint(fields=["order_id", "kind"], name="stockmovement_one_per_order_kind")]
        # A product's movements (its admin page). A plain B-tree: db_index=True would add
        # a LIKE-prefix index beside it that nothing uses and every ledger row pays for.
        indexes = [
            models.Index(fields=["product_id"], name="stockmovement_product_idx"),
            # The cancellations alone (a few rows), which a large batch of orders reads
            # instead of probing the whole ledger (catalog.fast.stock_sql.DECIDED_CANCELLATIONS).
            models.Index(fields=["order_id"], condition=models.Q(kind="cancel"), name="stockmovement_cancel_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.order_id} {self.kind} {self.outcome}: {self.product_id} {self.delta:+d} → {self.stock_after}"


class OutboxEvent(OutboxEventBase):
    """The catalog's outbox: product snapshots. (Order results need none: the consumer
    publishes them before committing the offsets of the events they answer.)"""

    class Meta:
        # Only the relay's index: nothing looks the catalog's events up by subject_id, and
        # each index here is paid by every row written and marked sent.
        indexes = [
            models.Index(fields=["id"], condition=models.Q(sent_at__isnull=True), name="catalog_outbox_unsent_idx"),
        ]
