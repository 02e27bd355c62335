"""The catalog's consumer of order events: the wire format in, stock changes and answers out."""

from __future__ import annotations

from django.conf import settings

from catalog.services import StockDecided, stock_apply_order_events
from config.routers import CATALOG_DB
from contracts.events import OrderEvent, OrderResult
from kafka_bridge.handlers import DatabaseBatchHandler
from kafka_bridge.messages import BatchResult, Outgoing, Record


class OrderEventsHandler(DatabaseBatchHandler):
    """Plugs ``stock_apply_order_events`` into the shared ``BatchConsumer`` loop."""

    using = CATALOG_DB

    def decode(self, value: bytes | None) -> OrderEvent:
        return OrderEvent.from_json(value)

    def apply(self, records: list[Record[OrderEvent]]) -> BatchResult:
        return batch_result(self.run(stock_apply_order_events, records))


def batch_result(decided: StockDecided, replies: list[Outgoing] | None = None) -> BatchResult:
    """What the loop needs of a decided batch: its counts, and each order's result to publish."""
    return BatchResult(
        applied=decided.applied,
        refused=decided.refused,
        skipped=decided.skipped,
        dead_letters=decided.dead_letters,
        replies=order_replies(decided.results) if replies is None else replies,
    )


def order_replies(results: list[OrderResult]) -> list[Outgoing]:
    """The results as messages for the results topic, keyed by orderId: one order's
    answers stay in order."""
    topic = settings.ORDER_RESULTS_TOPIC
    return [(topic, r.order_id.encode(), r.to_json(), None) for r in results]
