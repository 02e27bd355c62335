from django.db import models


class Product(models.Model):
    product_id = models.CharField("productId", max_length=64, unique=True)
    product_name = models.CharField("productName", max_length=200)
    # Signed and 64-bit: the tutorial lets stock go below zero, and it must not overflow.
    stock = models.BigIntegerField()
    unit_price = models.BigIntegerField("unitPrice")
    created_at = models.DateTimeField("createdAt", auto_now_add=True)

    class Meta:
        ordering = ["product_id"]

    def __str__(self) -> str:
        return f"{self.product_id} {self.product_name}"


class StockMovement(models.Model):
    """The ledger: one row per order applied to stock, and proof that it was applied.

    ``order_id`` is unique, so an order event delivered twice changes stock once.
    """

    order_id = models.CharField("orderId", max_length=64, unique=True)
    product_id = models.CharField("productId", max_length=64, db_index=True)
    delta = models.BigIntegerField()
    stock_after = models.BigIntegerField()
    topic = models.CharField(max_length=249)
    partition = models.IntegerField()
    offset = models.BigIntegerField()
    applied_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.order_id}: {self.product_id} {self.delta:+d} → {self.stock_after}"
