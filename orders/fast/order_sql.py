"""The order service's SQL on the fast layer: placing an order (the API's), and moving
orders to the catalog's answers (``runorderconsumer``'s). ``orders.fast.services`` uses
these; ``orders.services`` does the same through the ORM.

``order_place_sql``: one statement checks the product against the replica of the
catalog, inserts the order and inserts its outbox row, or does nothing. A single
statement is atomic by itself, so there is no BEGIN and no COMMIT to send: the ORM's way
takes five round trips (the replica's ``SELECT``, ``BEGIN``, two ``INSERT``s, ``COMMIT``),
this takes one, what the bare create-with-INSERT endpoint of ``bench.http`` pays.

Everything the rows hold is known before the statement runs: the orderId is a UUID made
here, the event's JSON is built from the order's fields, the times are taken here as
Django's ``auto_now_add`` would.

``order_statuses_lock_sql`` and ``order_statuses_write_sql``: the batch's orders locked and
read as (orderId, status) pairs, then changed by one ``UPDATE`` from arrays, where the ORM
updates them one by one.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from django.db import connections

from orders.models import Order, OutboxEvent, ProductReplica


class Placed(NamedTuple):
    """What the statement saw and did: the replica's terms (None: unknown product) and,
    if the order was inserted, its id and its outbox row's id."""

    unit_price: int | None
    active: bool | None
    order_pk: int | None
    outbox_pk: int | None


def place_ctes(using: str, *, only_if: str = "true") -> str:
    """The CTEs that place an order, for a statement to build on: ``terms`` (the replica's),
    ``placed`` (the order, inserted if the terms accept it and ``only_if``, an SQL
    condition, holds) and ``announced`` (its outbox row). Parameters: ``place_params``'s."""
    quote = connections[using].ops.quote_name
    replica, order, outbox = (quote(m._meta.db_table) for m in (ProductReplica, Order, OutboxEvent))
    # The order's columns are the model's (status_changed_at stays NULL until the catalog
    # answers); the outbox row's are the model's too, as OutboxEvent.objects.create fills them.
    return f"""
terms AS (
    SELECT unit_price, active FROM {replica} WHERE product_id = %(product_id)s
), placed AS (
    INSERT INTO {order} (order_id, user_id, product_id, qty, unit_price, total_price, status, reason, created_at)
    SELECT %(order_id)s, %(user_id)s, %(product_id)s, %(qty)s, %(unit_price)s, %(total_price)s, %(status)s, '',
        %(created_at)s
    FROM terms WHERE ({only_if}) AND terms.active AND terms.unit_price = %(unit_price)s
    RETURNING id
), announced AS (
    INSERT INTO {outbox} (topic, key, subject_id, payload, created_at, attempts, last_error, traceparent)
    SELECT %(topic)s, %(product_id)s, %(subject_id)s, %(payload)s, %(created_at)s, 0, '', %(traceparent)s FROM placed
    RETURNING id
)"""  # noqa: S608 - table names are the models', quoted


def place_params(*, order: Order, topic: str, payload: bytes, traceparent: str) -> dict:
    """``place_ctes``'s parameters for ``order`` (not yet saved, every field set) and its event."""
    return {
        "product_id": order.product_id,
        "order_id": order.order_id,
        "user_id": order.user_id,
        "qty": order.qty,
        "unit_price": order.unit_price,
        "total_price": order.total_price,
        "status": order.status,
        "created_at": order.created_at,
        "topic": topic,
        "subject_id": str(order.order_id),
        "payload": payload,
        "traceparent": traceparent,  # the request's ("" with tracing off), as the row's sender reads it
    }


_statements: dict[str, str] = {}


def order_place_sql(*, order: Order, topic: str, payload: bytes, traceparent: str, using: str) -> Placed:
    """Insert ``order`` (not yet saved, every field set) and its event's outbox row, if the
    replica knows its product, has it for sale and at its unit price; in one statement."""
    if using not in _statements:
        _statements[using] = (
            f"WITH {place_ctes(using)}\n"
            "SELECT terms.unit_price, terms.active, placed.id, announced.id\n"
            "FROM terms LEFT JOIN placed ON true LEFT JOIN announced ON true"
        )
    with connections[using].cursor() as cursor:
        cursor.execute(
            _statements[using], place_params(order=order, topic=topic, payload=payload, traceparent=traceparent)
        )
        row = cursor.fetchone()
    if row is None:
        return Placed(None, None, None, None)
    unit_price, active, order_pk, outbox_pk = row
    return Placed(int(unit_price), bool(active), order_pk, outbox_pk)


def order_statuses_lock_sql(*, order_ids: list[str], using: str) -> dict[str, str]:
    """Lock these orders (in orderId order, as every writer of several orders does) and
    return each one's status; orders not found are left out."""
    table = connections[using].ops.quote_name(Order._meta.db_table)
    with connections[using].cursor() as cursor:
        cursor.execute(
            f"SELECT order_id::text, status FROM {table} WHERE order_id = ANY(%s::uuid[])"  # noqa: S608
            " ORDER BY order_id FOR UPDATE",
            [order_ids],
        )
        return dict(cursor.fetchall())


def order_statuses_write_sql(*, changes: dict[str, tuple[str, str]], at: datetime, using: str) -> None:
    """Set each order's (status, reason), and its ``status_changed_at`` to ``at``."""
    if not changes:
        return
    table = connections[using].ops.quote_name(Order._meta.db_table)
    statuses, reasons = zip(*changes.values(), strict=True)
    with connections[using].cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} o SET status = c.status, reason = c.reason, status_changed_at = %s"  # noqa: S608
            " FROM unnest(%s::uuid[], %s::text[], %s::text[]) AS c(order_id, status, reason)"
            " WHERE o.order_id = c.order_id",
            [at, list(changes), list(statuses), list(reasons)],
        )
