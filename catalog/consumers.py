"""The catalog's consumer of order events: the wire format in, stock changes and answers out."""

from __future__ import annotations

from django.conf import settings

from catalog.forecast import Forecast, StockForecaster
from catalog.services import stock_apply_order_events
from catalog.stock_sql import ledger_ahead, read_lines
from config.routers import CATALOG_DB
from kafka_bridge.consumer import DatabaseBatchHandler
from kafka_bridge.events import OrderEvent, OrderResult
from kafka_bridge.messages import BatchResult, Outgoing, Record


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
        return self._built_ahead(self.forecaster.ahead(records), records)

    def ready(self, records: list[Record[OrderEvent]], prepared: Forecast) -> Forecast:
        forecast = self.forecaster.ready(prepared, records)
        return forecast if forecast is prepared else self._built_ahead(forecast, records)

    def _built_ahead(self, forecast: Forecast, records: list[Record[OrderEvent]]) -> Forecast:
        """The read's parameters and, with a forecast, the ledger's COPY text and the
        replies, built on the loop's thread too: the applier then only reads, checks and
        writes."""
        forecast.read = read_lines(records)
        if forecast.decisions is not None:
            forecast.ledger = ledger_ahead(forecast.decisions)
            forecast.replies = self._replies(forecast.decisions.results)
        return forecast

    def apply(self, records: list[Record[OrderEvent]], prepared: Forecast | None = None) -> BatchResult:
        decided = self.run(stock_apply_order_events, records, forecast=prepared)
        self.forecaster.settle(
            prepared, records, held=decided.forecast_held, products=decided.products, stock=decided.stock
        )
        built = prepared.replies if decided.forecast_held and prepared is not None else None
        return BatchResult(
            applied=decided.applied,
            refused=decided.refused,
            skipped=decided.skipped,
            dead_letters=decided.dead_letters,
            replies=built if built is not None else self._replies(decided.results),
        )

    @staticmethod
    def _replies(results: list[OrderResult]) -> list[Outgoing]:
        # Keyed by orderId: one order's answers stay in order on the results topic.
        topic = settings.ORDER_RESULTS_TOPIC
        return [(topic, r.order_id.encode(), r.to_json(), None) for r in results]
