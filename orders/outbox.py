"""The order service's events, written to its outbox (``kafka_bridge.outbox`` sends them).

An order's events are keyed by productId: one product's events share a partition, so
the catalog sees an order's placement before its cancellation.
"""

from __future__ import annotations

from django.conf import settings

from contracts.events import ORDER_PLACED, OrderEvent
from kafka_bridge.outbox import OutboxRow, outbox_publish_on_commit, outbox_send
from orders.models import Order, OutboxEvent

# Committed, not yet handed to Kafka: where chaos kills the web process.
CRASH_POINT = "web.after_commit"


def order_event(order: Order, *, event_type: str = ORDER_PLACED) -> OrderEvent:
    return OrderEvent(
        product_id=order.product_id,
        qty=order.qty,
        unit_price=order.unit_price,
        total_price=order.total_price,
        order_id=str(order.order_id),
        user_id=order.user_id,
        event_type=event_type,
    )


def outbox_send_order_event(*, order: Order, event_type: str, using: str) -> OutboxRow:
    """Record the order's event in the outbox, inside the caller's transaction, and publish
    it once that commits."""
    return outbox_send(
        model=OutboxEvent,
        using=using,
        topic=settings.ORDER_EVENTS_TOPIC,
        key=order.product_id,
        subject_id=str(order.order_id),
        payload=order_event(order, event_type=event_type).to_json(),
        crash_point_name=CRASH_POINT,
    )


def outbox_publish_order_event(*, row: OutboxRow, using: str) -> None:
    """Publish an event already in the outbox once the caller's transaction commits (at
    once outside one)."""
    outbox_publish_on_commit(model=OutboxEvent, rows=[row], using=using, crash_point_name=CRASH_POINT)
