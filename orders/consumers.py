"""The order service's consumers: the catalog's order results and its products."""

from __future__ import annotations

from django.db import DatabaseError, InterfaceError, OperationalError, connections

from kafka_bridge.consumer import BatchResult, Record
from kafka_bridge.events import OrderResult, ProductSnapshot
from orders.services import order_apply_results, replica_apply_snapshots


class _OrdersDatabaseHandler:
    # Database unreachable or restarting, lock or statement timeouts: retry, never skip.
    transient_errors = (OperationalError, InterfaceError)

    def _run(self, apply, records):
        try:
            return apply(records=records)
        except DatabaseError:
            # The connection may be broken; the retry must start with a fresh one.
            connections["default"].close()
            raise


class OrderResultsHandler(_OrdersDatabaseHandler):
    """Plugs ``order_apply_results`` into the shared ``BatchConsumer`` loop."""

    def decode(self, value: bytes | None) -> OrderResult:
        return OrderResult.from_json(value)

    def apply(self, records: list[Record[OrderResult]]) -> BatchResult:
        return self._run(order_apply_results, records)


class ProductSnapshotsHandler(_OrdersDatabaseHandler):
    """Plugs ``replica_apply_snapshots`` into the shared ``BatchConsumer`` loop."""

    def decode(self, value: bytes | None) -> ProductSnapshot:
        return ProductSnapshot.from_json(value)

    def apply(self, records: list[Record[ProductSnapshot]]) -> BatchResult:
        return self._run(replica_apply_snapshots, records)
