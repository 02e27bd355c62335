"""Test data built one way: records as the consume loop hands them to a handler."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from kafka_bridge.messages import Record

T = TypeVar("T")


def record(event: T, *, topic: str = "t", partition: int = 0, offset: int = 0) -> Record[T]:
    """One decoded message at ``topic[partition]@offset`` (no key, value or timestamp)."""
    return Record(topic, partition, offset, None, None, None, event=event)


def records(events: Iterable[T], *, topic: str = "t", partition: int = 0, start: int = 0) -> list[Record[T]]:
    """Consecutive offsets from ``start`` on one partition, in the order given."""
    return [record(e, topic=topic, partition=partition, offset=start + i) for i, e in enumerate(events)]
