"""Writes of the order service."""

from __future__ import annotations

from django.db import transaction

from orders.models import Order


def order_create(*, user_id: str, product_id: str, qty: int, unit_price: int) -> Order:
    """Store an order; its event is recorded in the same transaction (``orders.signals``).

    The total is computed here, never taken from the client.
    """
    with transaction.atomic():
        return Order.objects.create(
            user_id=user_id,
            product_id=product_id,
            qty=qty,
            unit_price=unit_price,
            total_price=qty * unit_price,
        )
