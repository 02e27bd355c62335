"""The order service's results handler on the fast layer."""

from __future__ import annotations

from contracts.events import OrderResult
from kafka_bridge.messages import BatchResult, Record
from orders.consumers import OrderResultsHandler
from orders.fast.services import order_apply_results_fast


class FastOrderResultsHandler(OrderResultsHandler):
    """Plugs ``order_apply_results_fast`` into the loop."""

    def apply(self, records: list[Record[OrderResult]]) -> BatchResult:
        done = self.run(order_apply_results_fast, records)
        return BatchResult(applied=done.applied, skipped=done.skipped)
