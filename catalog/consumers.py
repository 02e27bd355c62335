"""The catalog's consumer of order events: the wire format in, stock changes and answers out."""

from __future__ import annotations

from collections.abc import Sequence

from django.conf import settings

from catalog.services import StockDecided, stock_apply_order_events
from config.routers import CATALOG_DB
from contracts.events import OrderEvent, OrderResult
from kafka_bridge.handlers import DatabaseBatchHandler
from kafka_bridge.messages import BatchResult, Outgoing, Record
from kafka_bridge.tracing import reply_headers_by


class OrderEventsHandler(DatabaseBatchHandler):
    """Plugs ``stock_apply_order_events`` into the shared ``BatchConsumer`` loop."""

    using = CATALOG_DB

    def decode(self, value: bytes | None) -> OrderEvent:
        return OrderEvent.from_json(value)

    def apply(self, records: list[Record[OrderEvent]]) -> BatchResult:
        return batch_result(self.run(stock_apply_order_events, records), records=records)


def batch_result(
    decided: StockDecided, replies: list[Outgoing] | None = None, records: Sequence[Record[OrderEvent]] = ()
) -> BatchResult:
    """What the loop needs of a decided batch: its counts, and each order's result to publish."""
    return BatchResult(
        applied=decided.applied,
        refused=decided.refused,
        skipped=decided.skipped,
        dead_letters=decided.dead_letters,
        replies=order_replies(decided.results, records) if replies is None else replies,
    )


def order_replies(results: list[OrderResult], records: Sequence[Record[OrderEvent]] = ()) -> list[Outgoing]:
    """The results as messages for the results topic, keyed by orderId: one order's
    answers stay in order. Each carries its event's trace (tracing on; else no header)."""
    topic = settings.ORDER_RESULTS_TOPIC
    traces = reply_headers_by(records, key=lambda record: record.event.order_id)
    return [(topic, r.order_id.encode(), r.to_json(), traces.get(r.order_id)) for r in results]
