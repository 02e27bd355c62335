"""The catalog's consumer of order events: the wire format in, stock changes and answers out."""

from __future__ import annotations

from django.conf import settings

from catalog.forecast import Forecast, StockForecaster
from catalog.services import stock_apply_order_events
from config.routers import CATALOG_DB
from kafka_bridge.consumer import DatabaseBatchHandler
from kafka_bridge.events import OrderEvent
from kafka_bridge.messages import BatchResult, Record


class OrderEventsHandler(DatabaseBatchHandler):
    """Plugs ``stock_apply_order_events`` into the shared ``BatchConsumer`` loop. Pipelined,
    the loop's thread forecasts each batch while the one before it is applied
    (``catalog.forecast``)."""

    using = CATALOG_DB

    def __init__(self) -> None:
        self.forecaster = StockForecaster()

    def decode(self, value: bytes | None) -> OrderEvent:
        return OrderEvent.from_json(value)

    def prepare(self, records: list[Record[OrderEvent]]) -> Forecast:
        return self.forecaster.ahead(records)

    def ready(self, records: list[Record[OrderEvent]], prepared: Forecast) -> Forecast:
        return self.forecaster.ready(prepared, records)

    def apply(self, records: list[Record[OrderEvent]], prepared: Forecast | None = None) -> BatchResult:
        decided = self.run(stock_apply_order_events, records, forecast=prepared)
        self.forecaster.settle(
            prepared, records, held=decided.forecast_held, products=decided.products, stock=decided.stock
        )
        topic = settings.ORDER_RESULTS_TOPIC
        return BatchResult(
            applied=decided.applied,
            refused=decided.refused,
            skipped=decided.skipped,
            dead_letters=decided.dead_letters,
            # Keyed by orderId: one order's answers stay in order on the results topic.
            replies=[(topic, r.order_id.encode(), r.to_json(), None) for r in decided.results],
        )
