"""``orders.services`` writes on the fast layer: the same effect in fewer round trips (PostgreSQL)."""

from __future__ import annotations

from django.conf import settings
from django.db import router, transaction
from django.utils import timezone

from contracts.events import OrderResult
from kafka_bridge.messages import Record
from kafka_bridge.outbox import OutboxRow
from kafka_bridge.tracing import traceparent_now
from orders.fast.order_sql import order_place_sql, order_statuses_lock_sql, order_statuses_write_sql
from orders.models import Order
from orders.outbox import order_event, outbox_publish_order_event
from orders.selectors import OrderTerms, could_be_order_id
from orders.services import Applied, order_refusal, results_to_changes


def order_unsaved(*, user_id: str, product_id: str, qty: int, unit_price: int) -> Order:
    """An order with every field set as saving it would set them, not yet saved: the fast
    layer's statements insert it whole."""
    return Order(
        user_id=user_id,
        product_id=product_id,
        qty=qty,
        unit_price=unit_price,
        total_price=qty * unit_price,
        created_at=timezone.now(),
    )


def placement_refused(*, product_id: str, unit_price: int, price: int | None, active: bool | None) -> Exception:
    """Why a placing statement inserted nothing, from the replica's terms as it read them
    (``price`` None: the product is unknown)."""
    terms = None if price is None else OrderTerms(int(price), bool(active))
    refusal = order_refusal(product_id=product_id, unit_price=unit_price, terms=terms)
    assert refusal is not None  # the statement inserts exactly when the terms accept the order
    return refusal


def order_create_fast(*, user_id: str, product_id: str, qty: int, unit_price: int) -> Order:
    """``orders.services.order_create`` in one statement: the replica's terms checked, the
    order and its outbox row inserted, or nothing. The event is then handed to the
    producer as the ``post_save`` receiver would hand it (the statement saved no model, so
    no signal fires)."""
    using = router.db_for_write(Order)
    order = order_unsaved(user_id=user_id, product_id=product_id, qty=qty, unit_price=unit_price)
    topic = settings.ORDER_EVENTS_TOPIC
    payload = order_event(order).to_json()
    traceparent = traceparent_now()  # stored on the row and handed to the sender: one value
    placed = order_place_sql(order=order, topic=topic, payload=payload, traceparent=traceparent, using=using)
    if placed.order_pk is None or placed.outbox_pk is None:
        raise placement_refused(
            product_id=product_id, unit_price=unit_price, price=placed.unit_price, active=placed.active
        )
    order.pk = placed.order_pk
    order._state.adding, order._state.db = False, using  # as Model.save() leaves a saved instance
    outbox_publish_order_event(row=OutboxRow(placed.outbox_pk, topic, product_id, payload, traceparent), using=using)
    return order


def order_apply_results_fast(*, records: list[Record[OrderResult]]) -> Applied:
    """``orders.services.order_apply_results`` by two statements: lock and read the batch's
    orders, then one ``UPDATE`` from arrays."""
    using = router.db_for_write(Order)
    with transaction.atomic(using=using):
        order_ids = sorted({r.event.order_id for r in records if could_be_order_id(r.event.order_id)})
        statuses = order_statuses_lock_sql(order_ids=order_ids, using=using)
        result, changes = results_to_changes(records, statuses)
        order_statuses_write_sql(changes=changes, at=timezone.now(), using=using)
    return result
