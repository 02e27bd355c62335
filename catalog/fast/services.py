"""``stock_apply_order_events`` on the fast layer: set-based SQL, and a forecast written as made."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db import IntegrityError, transaction

from catalog.fast.forecast import Forecast
from catalog.fast.stock_sql import is_ledger_duplicate, stock_read_batch_sql, stock_write_decisions_sql
from catalog.reservations import Decisions, ProductState, reserve_or_reject
from catalog.services import StockDecided
from config.routers import CATALOG_DB
from contracts.events import OrderEvent
from kafka_bridge.faults import crash_point
from kafka_bridge.messages import Record

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FastDecided:
    """What the batch did, and what the forecaster learns from it: whether the forecast's
    decisions were the ones written, the products as read under the locks, and the stock
    the decisions set."""

    decided: StockDecided
    forecast_held: bool
    products: dict[str, ProductState]
    stock: dict[str, int]


def stock_apply_order_events_fast(
    *, records: list[Record[OrderEvent]], forecast: Forecast | None = None
) -> FastDecided:
    """``catalog.services.stock_apply_order_events``, with the same effect, on PostgreSQL.

    A large batch is first assumed to hold only new orders, which spares most of the
    ledger read; if one was already decided, its write fails on the ledger's unique index,
    the transaction rolls back, and the batch is decided again against the whole ledger.

    ``forecast``: the batch decided ahead of its locks (``catalog.fast.forecast``). Its
    decisions are written if what was read under the locks is what it assumed; otherwise
    the batch is decided here, as without one.
    """
    try:
        return _decide(records, assume_new=True, forecast=forecast)
    except IntegrityError as exc:
        if not is_ledger_duplicate(exc):
            raise
        logger.info(
            "%d event(s) from %s: some were already decided (redelivered); deciding them again against the ledger",
            len(records),
            records[0].where,
            extra=records[0].log_fields,
        )
        return _decide(records, assume_new=False, forecast=forecast)


def _decide(records: list[Record[OrderEvent]], *, assume_new: bool, forecast: Forecast | None) -> FastDecided:
    with transaction.atomic(using=CATALOG_DB):
        lines = forecast.read if forecast is not None else None
        products, decided = stock_read_batch_sql(records=records, using=CATALOG_DB, assume_new=assume_new, lines=lines)
        held = forecast is not None and forecast.holds(products, decided)
        decisions: Decisions
        if held:
            assert forecast is not None and forecast.decisions is not None
            decisions = forecast.decisions
        else:
            decisions = reserve_or_reject(records=records, products=products, decided=decided)
        ledger = forecast.ledger if held and forecast is not None else None
        stock_write_decisions_sql(decisions=decisions, using=CATALOG_DB, ledger=ledger)
        crash_point("consumer.before_db_commit")
    return FastDecided(StockDecided.of(decisions), held, products, decisions.stock)
