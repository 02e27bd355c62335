"""The order service's consumers: the catalog's order results and its products."""

from __future__ import annotations

from contracts.events import OrderResult, ProductSnapshot
from kafka_bridge.handlers import DatabaseBatchHandler
from kafka_bridge.messages import BatchResult, Record
from orders.services import order_apply_results, replica_apply_snapshots


class OrderResultsHandler(DatabaseBatchHandler):
    """Plugs ``order_apply_results`` into the shared ``BatchConsumer`` loop."""

    def decode(self, value: bytes | None) -> OrderResult:
        return OrderResult.from_json(value)

    def apply(self, records: list[Record[OrderResult]]) -> BatchResult:
        done = self.run(order_apply_results, records)
        return BatchResult(applied=done.applied, skipped=done.skipped)


class ProductSnapshotsHandler(DatabaseBatchHandler):
    """Plugs ``replica_apply_snapshots`` into the shared ``BatchConsumer`` loop."""

    def decode(self, value: bytes | None) -> ProductSnapshot:
        return ProductSnapshot.from_json(value)

    def apply(self, records: list[Record[ProductSnapshot]]) -> BatchResult:
        done = self.run(replica_apply_snapshots, records)
        return BatchResult(applied=done.applied, skipped=done.skipped)
