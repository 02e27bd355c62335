"""Test data built one way: records as the consume loop hands them to a handler."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from contracts.events import ORDER_PLACED, OrderEvent
from kafka_bridge.messages import Record

T = TypeVar("T")


def record(event: T, *, topic: str = "t", partition: int = 0, offset: int = 0) -> Record[T]:
    """One decoded message at ``topic[partition]@offset`` (no key, value or timestamp)."""
    return Record(topic, partition, offset, None, None, None, event=event)


def records(events: Iterable[T], *, topic: str = "t", partition: int = 0, start: int = 0) -> list[Record[T]]:
    """Consecutive offsets from ``start`` on one partition, in the order given."""
    return [record(e, topic=topic, partition=partition, offset=start + i) for i, e in enumerate(events)]


def order_records(*orders: tuple, partition: int = 0, start: int = 0) -> list[Record[OrderEvent]]:
    """(orderId, productId, qty[, eventType]) → order events on ``orders[partition]``, from
    offset ``start`` (unit price 10, user "u")."""
    return records(
        (
            OrderEvent(pid, qty, 10, qty * 10, oid, "u", kind[0] if kind else ORDER_PLACED)
            for oid, pid, qty, *kind in orders
        ),
        topic="orders",
        partition=partition,
        start=start,
    )
