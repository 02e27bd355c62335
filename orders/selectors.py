"""Reads of the order service."""

from __future__ import annotations

import time
import uuid

from django.db.models import QuerySet

from orders.models import Order


def order_list(*, user_id: str | None = None) -> QuerySet[Order]:
    orders = Order.objects.all()
    return orders.filter(user_id=user_id) if user_id is not None else orders


def order_wait_final(*, order: Order, timeout: float) -> Order:
    """The order, re-read until its status is no longer PENDING or ``timeout`` seconds pass.

    Polls its own row (cheap, indexed); the first checks come quickly because the catalog
    usually answers within milliseconds.
    """
    deadline = time.monotonic() + timeout
    pause = 0.01
    while order.status == Order.Status.PENDING and time.monotonic() < deadline:
        time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
        pause = min(pause * 2, 0.2)
        order = Order.objects.get(pk=order.pk)
    return order


def could_be_order_id(text: str) -> bool:
    """Whether ``text`` is an orderId this service could have made (a UUID). Other ids on
    the topics — the tutorial's hand-typed "test-order-id-dummy-id" — are not ours."""
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True
