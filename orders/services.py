"""Writes of the order service."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from contracts.events import ORDER_CANCELLED, OrderResult, ProductSnapshot
from kafka_bridge.faults import crash_point
from kafka_bridge.messages import Record
from orders.models import Order, ProductReplica
from orders.outbox import outbox_send_order_event
from orders.replica import replica_caught_up
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


class ReplicaLoading(Exception):
    """The order service is still filling its replica of the catalog's products: an
    unknown product may only not have arrived yet. Try again in a moment."""

    retry_after_seconds = 2

    def __str__(self) -> str:
        return "The order service is still loading the catalog's products; retry in a moment."


class OrderConflict(Exception):
    """The order is not in a state that allows this; ``str()`` says why."""


def order_create(*, user_id: str, product_id: str, qty: int, unit_price: int) -> Order:
    """Store a PENDING order. Saving it fires ``post_save``, whose receiver
    (``orders.signals``) records the order's event in the outbox in the same transaction
    and hands it to the producer once the transaction commits.

    The product must be known to the order service's replica of the catalog, for sale,
    and at this price; otherwise ``OrderRefused``. Until the replica has caught up with the
    catalog's products once, an unknown product is ``ReplicaLoading`` instead. The total
    is computed here, never taken from the client. Stock is the catalog's to decide (the
    order's status follows).
    """
    refusal = order_refusal(
        product_id=product_id, unit_price=unit_price, terms=product_replica_terms(product_id=product_id)
    )
    if refusal is not None:
        raise refusal
    with transaction.atomic():
        order = Order.objects.create(
            user_id=user_id, product_id=product_id, qty=qty, unit_price=unit_price, total_price=qty * unit_price
        )
        crash_point("web.before_commit")  # the order and its event written, neither committed
        return order


def order_refusal(*, product_id: str, unit_price: int, terms: OrderTerms | None) -> Exception | None:
    """Why the replica's ``terms`` refuse an order, or None if they accept it."""
    if terms is None:
        if not replica_caught_up():
            return ReplicaLoading()
        return OrderRefused({"productId": [f"Unknown product {product_id!r}."]})
    if not terms.active:
        return OrderRefused({"productId": [f"{product_id} is not for sale."]})
    if unit_price != terms.unit_price:
        return OrderRefused({"unitPrice": [f"The price of {product_id} is {terms.unit_price}, not {unit_price}."]})
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
    know (the tutorial's hand-typed ``orderId``) are skipped.
    """
    with transaction.atomic():
        order_ids = sorted({r.event.order_id for r in records if could_be_order_id(r.event.order_id)})
        statuses = {
            str(order_id): status
            for order_id, status in Order.objects.select_for_update()
            .filter(order_id__in=order_ids)
            .order_by("order_id")  # every writer of several orders locks them in this order
            .values_list("order_id", "status")
        }
        result, changes = results_to_changes(records, statuses)
        now = timezone.now()
        for order_id, (status, reason) in changes.items():
            Order.objects.filter(order_id=order_id).update(status=status, reason=reason, status_changed_at=now)
    return result


def results_to_changes(
    records: list[Record[OrderResult]], statuses: dict[str, str]
) -> tuple[Applied, dict[str, tuple[str, str]]]:
    """Which orders the results move, from their current ``statuses``: (status, reason) by orderId."""
    result = Applied()
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
    return result, changes


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
