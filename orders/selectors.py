"""Reads of the order service."""

from __future__ import annotations

import time
import uuid
from typing import NamedTuple

from django.db import connections, router
from django.db.models import QuerySet

from orders.models import Order, ProductReplica


def order_list(*, user_id: str | None = None) -> QuerySet[Order]:
    orders = Order.objects.all()
    return orders.filter(user_id=user_id) if user_id is not None else orders


class OrderTerms(NamedTuple):
    """What the order service knows of a product when an order for it is placed."""

    unit_price: int
    active: bool


def product_replica_terms(*, product_id: str) -> OrderTerms | None:
    """The replica's price and for-sale flag of ``product_id``; None if it is unknown.

    Read on every order placed, so written as one plain ``SELECT`` of two columns by its
    unique key: ``ProductReplica.objects.get()`` built and compiled a query and a model
    instance each time, several times the statement's own cost.
    """
    connection = connections[router.db_for_read(ProductReplica)]
    table = connection.ops.quote_name(ProductReplica._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT unit_price, active FROM {table} WHERE product_id = %s", [product_id])  # noqa: S608
        row = cursor.fetchone()
    return OrderTerms(int(row[0]), bool(row[1])) if row else None


# GET ?wait re-reads the order this often for its first second: the catalog answers within
# milliseconds, and a client feels each poll's gap on top of that. A poll that started at
# 10 ms and doubled looked at 10, 30 and 70 ms, so an answer stored at 12 ms was seen at 30
# A read by primary key costs ~0.2 ms; after a second
# the gaps double, up to 0.2 s.
WAIT_POLL_SECONDS = 0.005


def order_wait_final(*, order: Order, timeout: float) -> Order:
    """The order, re-read until its status is no longer PENDING or ``timeout`` seconds pass."""
    started = time.monotonic()
    deadline = started + timeout
    pause = WAIT_POLL_SECONDS
    while order.status == Order.Status.PENDING and time.monotonic() < deadline:
        time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
        if time.monotonic() - started > 1.0:
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
