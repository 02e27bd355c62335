"""Writes of the order service."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import connections, router, transaction
from django.db.models.signals import post_save
from django.utils import timezone

from kafka_bridge.events import ORDER_CANCELLED, OrderResult, ProductSnapshot
from kafka_bridge.messages import Record
from kafka_bridge.outbox import OutboxRow
from orders.models import Order, ProductReplica
from orders.order_sql import order_place_sql, order_statuses_lock_sql, order_statuses_write_sql
from orders.outbox import order_event, outbox_send_order_event
from orders.selectors import OrderTerms, could_be_order_id, product_replica_terms

logger = logging.getLogger(__name__)

# A status only ever moves up this ladder: a late or repeated result never moves an order back.
STATUS_RANK = {
    Order.Status.PENDING: 0,
    Order.Status.CONFIRMED: 1,
    Order.Status.REJECTED: 1,
    Order.Status.CANCELLED: 2,
}


@dataclass
class Applied:
    """What a batch of the catalog's messages changed here."""

    applied: int = 0
    skipped: int = 0  # a duplicate, a late result, an older snapshot, an order not ours


class OrderRefused(Exception):
    """The order cannot be placed as asked; ``errors`` maps each field to its messages."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__(errors)
        self.errors = errors


class OrderConflict(Exception):
    """The order is not in a state that allows this; ``str()`` says why."""


def order_create(*, user_id: str, product_id: str, qty: int, unit_price: int) -> Order:
    """Store a PENDING order; its event is recorded in the same transaction and handed to
    the producer by ``post_save`` (``orders.signals``).

    The product must be known to the order service's replica of the catalog, for sale,
    and at this price; otherwise ``OrderRefused``. The total is computed here, never
    taken from the client. Stock is the catalog's to decide (the order's status follows).

    On PostgreSQL the check and both rows are one statement (``orders.order_sql``: the
    API's hot path); elsewhere the ORM does the same in a transaction.
    """
    using = router.db_for_write(Order)
    order = Order(
        user_id=user_id,
        product_id=product_id,
        qty=qty,
        unit_price=unit_price,
        total_price=qty * unit_price,
        created_at=timezone.now(),
    )
    place = order_create_sql if connections[using].vendor == "postgresql" else order_create_orm
    place(order=order, using=using)
    return order


def order_create_orm(*, order: Order, using: str) -> None:
    """Check ``order`` against the replica, then save it (``post_save`` records its event)."""
    refusal = _refusal(order, product_replica_terms(product_id=order.product_id))
    if refusal is not None:
        raise refusal
    with transaction.atomic(using=using):
        order.save(using=using)


def order_create_sql(*, order: Order, using: str) -> None:
    """The same in one statement; then the same ``post_save``, which finds the event
    already in the outbox and hands it to the producer."""
    topic = settings.ORDER_EVENTS_TOPIC
    payload = order_event(order).to_json()
    placed = order_place_sql(order=order, topic=topic, payload=payload, using=using)
    if placed.order_pk is None or placed.outbox_pk is None:
        terms = None if placed.unit_price is None else OrderTerms(placed.unit_price, bool(placed.active))
        refusal = _refusal(order, terms)
        assert refusal is not None  # the statement inserts exactly when the terms accept the order
        raise refusal
    order.pk, order._state.adding, order._state.db = placed.order_pk, False, using
    row = OutboxRow(placed.outbox_pk, topic, order.product_id, payload)
    post_save.send(
        sender=Order, instance=order, created=True, update_fields=None, raw=False, using=using, outbox_row=row
    )


def _refusal(order: Order, terms: OrderTerms | None) -> OrderRefused | None:
    """Why the replica's ``terms`` refuse ``order``, or None if they accept it."""
    if terms is None:
        return OrderRefused({"productId": [f"Unknown product {order.product_id!r}."]})
    if not terms.active:
        return OrderRefused({"productId": [f"{order.product_id} is not for sale."]})
    if order.unit_price != terms.unit_price:
        return OrderRefused(
            {"unitPrice": [f"The price of {order.product_id} is {terms.unit_price}, not {order.unit_price}."]}
        )
    return None


def order_cancel(*, order: Order) -> Order:
    """Cancel a pending or confirmed order and tell the catalog, which gives the stock back
    exactly once. ``OrderConflict`` if it is rejected or cancelled already."""
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order.pk)
        if order.status in (Order.Status.REJECTED, Order.Status.CANCELLED):
            raise OrderConflict(f"Order {order.order_id} is {order.status.lower()}: there is nothing to cancel.")
        order.status, order.reason, order.status_changed_at = Order.Status.CANCELLED, "", timezone.now()
        order.save(update_fields=["status", "reason", "status_changed_at"])
        outbox_send_order_event(order=order, event_type=ORDER_CANCELLED, using="default")
    return order


def order_apply_results(*, records: list[Record[OrderResult]]) -> Applied:
    """Move each order to the status the catalog decided, in one transaction.

    Idempotent and safe out of order: a status only moves up ``STATUS_RANK``, so a
    duplicate or late result changes nothing. Results for orders this service does not
    know (the tutorial's hand-typed ``orderId``) are skipped. On PostgreSQL the orders
    are read and written by plain SQL (``orders.order_sql``: the order consumer's hot
    path); elsewhere through the ORM, with the same effect.
    """
    result = Applied()
    now = timezone.now()
    using = router.db_for_write(Order)
    if connections[using].vendor == "postgresql":
        lock, write = order_statuses_lock_sql, order_statuses_write_sql
    else:
        lock, write = order_statuses_lock_orm, order_statuses_write_orm
    with transaction.atomic(using=using):
        statuses = lock(
            order_ids=sorted({r.event.order_id for r in records if could_be_order_id(r.event.order_id)}), using=using
        )
        changes: dict[str, tuple[str, str]] = {}
        for record in records:
            outcome = record.event
            current = statuses.get(outcome.order_id)
            if current is None:
                logger.info(
                    "result for unknown order %s (%s): skipped", outcome.order_id, record.where, extra=record.log_fields
                )
                result.skipped += 1
                continue
            if STATUS_RANK[Order.Status(outcome.status)] <= STATUS_RANK[Order.Status(current)]:
                result.skipped += 1
                continue
            statuses[outcome.order_id] = outcome.status
            changes[outcome.order_id] = (outcome.status, outcome.reason)
            result.applied += 1
        write(changes=changes, at=now, using=using)
    return result


def order_statuses_lock_orm(*, order_ids: list[str], using: str) -> dict[str, str]:
    """Lock these orders (in orderId order) and return each one's status."""
    return {
        str(order_id): status
        for order_id, status in Order.objects.using(using)
        .select_for_update()
        .filter(order_id__in=order_ids)
        .order_by("order_id")
        .values_list("order_id", "status")
    }


def order_statuses_write_orm(*, changes: dict[str, tuple[str, str]], at: datetime, using: str) -> None:
    """Set each order's (status, reason) and ``status_changed_at``, through the ORM."""
    for order_id, (status, reason) in changes.items():
        Order.objects.using(using).filter(order_id=order_id).update(status=status, reason=reason, status_changed_at=at)


def replica_apply_snapshots(*, records: list[Record[ProductSnapshot]]) -> Applied:
    """Upsert the order service's copy of the catalog's products; an older version never
    overwrites a newer one, so redelivery and reordering are harmless."""
    result = Applied()
    latest: dict[str, ProductSnapshot] = {}
    for record in records:
        snapshot = record.event
        if snapshot.product_id not in latest or snapshot.version >= latest[snapshot.product_id].version:
            latest[snapshot.product_id] = snapshot
    with transaction.atomic():
        current = {
            p.product_id: p
            for p in ProductReplica.objects.select_for_update()
            .filter(product_id__in=list(latest))
            .order_by("product_id")
        }
        for product_id, snapshot in latest.items():
            fields = {
                "product_name": snapshot.product_name,
                "unit_price": snapshot.unit_price,
                "active": snapshot.active,
                "version": snapshot.version,
            }
            replica = current.get(product_id)
            if replica is None:
                ProductReplica.objects.create(product_id=product_id, **fields)
            elif snapshot.version >= replica.version:
                ProductReplica.objects.filter(pk=replica.pk).update(**fields, replicated_at=timezone.now())
            else:
                result.skipped += 1
                continue
            result.applied += 1
    result.skipped += len(records) - len(latest)
    return result
