"""The catalog's order-events handler on the fast layer: a ``PreparingHandler`` for
``kafka_bridge.pipeline``, writing through ``catalog.fast.services``."""

from __future__ import annotations

from catalog.consumers import OrderEventsHandler, batch_result, order_replies
from catalog.fast.forecast import Forecast, StockForecaster
from catalog.fast.services import stock_apply_order_events_fast
from catalog.fast.stock_sql import ledger_ahead, read_lines
from contracts.events import OrderEvent
from kafka_bridge import tracing
from kafka_bridge.messages import BatchResult, Record


class FastOrderEventsHandler(OrderEventsHandler):
    """While batch N is written, the loop's thread forecasts batch N+1 and builds what
    writing it needs (the read's parameters, the ledger's COPY text, the replies)."""

    def __init__(self) -> None:
        self.forecaster = StockForecaster()

    def prepare(self, records: list[Record[OrderEvent]]) -> Forecast:
        return self._built_ahead(self.forecaster.ahead(records), records)

    def ready(self, records: list[Record[OrderEvent]], prepared: Forecast) -> Forecast:
        forecast = self.forecaster.ready(prepared, records)
        return forecast if forecast is prepared else self._built_ahead(forecast, records)

    def apply(self, records: list[Record[OrderEvent]], prepared: Forecast | None = None) -> BatchResult:
        done = self.run(stock_apply_order_events_fast, records, forecast=prepared)
        self.forecaster.settle(prepared, records, held=done.forecast_held, products=done.products, stock=done.stock)
        # Replies built ahead carry no trace header (their spans start now): with tracing on, build them here.
        held = done.forecast_held and not tracing.ENABLED
        built = prepared.replies if held and prepared is not None else None
        return batch_result(done.decided, built, records=records)

    @staticmethod
    def _built_ahead(forecast: Forecast, records: list[Record[OrderEvent]]) -> Forecast:
        forecast.read = read_lines(records)
        if forecast.decisions is not None:
            forecast.ledger = ledger_ahead(forecast.decisions)
            forecast.replies = order_replies(forecast.decisions.results)
        return forecast
