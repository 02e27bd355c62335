"""The catalog's consumer of order events: the wire format in, stock changes and answers out."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.db import connections

from catalog.forecast import Forecast, StockForecaster
from catalog.services import StockDecided, stock_apply_order_events
from catalog.stock_sql import ledger_ahead, read_lines
from catalog.stock_writer import StockWriter
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
        # Pipelined on PostgreSQL, forecast large batches are written by a process of its own.
        self.writer = (
            StockWriter(CATALOG_DB)
            if settings.CONSUMER_STOCK_WRITER and connections[CATALOG_DB].vendor == "postgresql"
            else None
        )

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
        if forecast.read is not None and self.writer is not None:
            self.writer.start()  # a large batch: a backlog, where the writer pays (at once, if not running)
        if forecast.decisions is not None:
            forecast.ledger = ledger_ahead(forecast.decisions)
            forecast.replies = self._replies(forecast.decisions.results)
        return forecast

    def submit(self, records: list[Record[OrderEvent]], prepared: Forecast) -> Callable[[], bool] | None:
        """A forecast large batch, built ahead, goes to the writer process (if it is on and
        is taking batches); the loop gets a callable that waits for it."""
        forecast, writer = prepared, self.writer
        if writer is None or not writer.takes_more or forecast.decisions is None or forecast.ledger is None:
            return None
        writer.send(forecast)
        return writer.receive

    def written(self, records: list[Record[OrderEvent]], prepared: Forecast) -> BatchResult:
        """What a batch the writer wrote did: its forecast's decisions."""
        assert prepared.decisions is not None and prepared.products is not None
        return self._result(
            StockDecided.of(prepared.decisions, forecast_held=True, products=prepared.products), prepared
        )

    def open(self) -> None:
        """Pipelined: start the writer now, so that its start-up (Django set up in a new
        process, about a second of CPU) is not paid in a backlog's first seconds."""
        if self.writer is not None:
            self.writer.start()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()

    def apply(self, records: list[Record[OrderEvent]], prepared: Forecast | None = None) -> BatchResult:
        decided = self.run(stock_apply_order_events, records, forecast=prepared)
        self.forecaster.settle(
            prepared, records, held=decided.forecast_held, products=decided.products, stock=decided.stock
        )
        return self._result(decided, prepared)

    def _result(self, decided: StockDecided, prepared: Forecast | None) -> BatchResult:
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
