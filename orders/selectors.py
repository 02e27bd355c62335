"""Reads of the order service."""

from __future__ import annotations

from django.db.models import QuerySet

from orders.models import Order


def order_list(*, user_id: str | None = None) -> QuerySet[Order]:
    orders = Order.objects.all()
    return orders.filter(user_id=user_id) if user_id is not None else orders
