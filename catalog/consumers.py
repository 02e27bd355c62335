"""The catalog's consumer of order events: the wire format in, stock changes out."""

from __future__ import annotations

from django.db import DatabaseError, InterfaceError, OperationalError, connections

from catalog.services import stock_apply_order_events
from config.routers import CATALOG_DB
from kafka_bridge.consumer import BatchResult, Record
from kafka_bridge.events import OrderEvent


class OrderEventsHandler:
    """Plugs ``stock_apply_order_events`` into the shared ``BatchConsumer`` loop."""

    # Database unreachable or restarting, lock or statement timeouts: retry, never skip.
    transient_errors = (OperationalError, InterfaceError)

    def decode(self, value: bytes | None) -> OrderEvent:
        return OrderEvent.from_json(value)

    def apply(self, records: list[Record[OrderEvent]]) -> BatchResult:
        try:
            return stock_apply_order_events(records=records)
        except DatabaseError:
            # The connection may be broken; the retry must start with a fresh one.
            connections[CATALOG_DB].close()
            raise
