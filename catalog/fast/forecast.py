"""Deciding a batch of order events before its products are locked (the fast layer).

In the fast layer's pipelined loop (``kafka_bridge.pipeline``) one thread applies batch N
while the loop's thread decodes batch N+1. Deciding N+1 (``reserve_or_reject``) needs the stock
N+1's products will have once N commits, read under their locks: so the applier decided
N+1 only after N, one step after the other, while the loop's thread waited. A forecast
decides N+1 on the loop's thread instead, while N is applied, from the stock N will leave
as N's own forecast predicted it.

Under N+1's locks, the applier compares what it reads with what the forecast assumed: the
products (stock, for sale) and the ledger's rows for the batch (none). ``reserve_or_reject``
is a pure function of the batch and these two, so when they are equal its decisions are
the forecast's, and the applier writes them. When they are not (another writer moved a
stock, a redelivery, a product created since), the applier decides the batch again from
what it read, as it always has. A forecast can be wrong; what is written never is.

Batches with a cancellation are not forecast (their decisions depend on the ledger), and
after a wrong forecast none are made for a few batches: consumers sharing products move
each other's stock between batches, and a forecast that always fails only costs CPU.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from catalog.reservations import Decided, Decisions, ProductState, reserve_or_reject
from contracts.events import OrderEvent
from kafka_bridge.messages import Record

# After a wrong forecast, this many batches are decided by the applier alone.
PAUSE_AFTER_MISS = 8


@dataclass
class Forecast:
    """One batch's place in the order of batches and, if it could be made, its forecast."""

    seq: int  # the batch's number, in the loop's order
    epoch: int  # what the forecaster knew when it was made (a wrong forecast starts a new epoch)
    products: dict[str, ProductState] | None = None  # what the decisions assume (None: no forecast)
    decisions: Decisions | None = None
    # What the applier would build, built by the handler ahead as well: the read's
    # parameters (with or without a forecast), the decisions' ledger text and replies.
    read: Any = None
    ledger: str | None = None
    replies: list | None = None

    def holds(self, products: dict[str, ProductState], decided: dict[tuple[str, str], Decided]) -> bool:
        """Whether what the batch read under its locks is what the forecast assumed."""
        return self.decisions is not None and not decided and products == self.products


class StockForecaster:
    """The stock each product will have once the batches handed to the applier so far
    commit, as forecast or as read; one per consumer (its loop's thread forecasts, its
    applier thread learns)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # Each product as the batches up to ``_through`` leave it (None: not in the catalog).
        self._known: dict[str, ProductState | None] = {}
        self._through = 0  # the last batch whose effect ``_known`` holds (-1: none)
        self._epoch = 0
        self._seq = 0
        self._paused = 0  # batches still to go without a forecast after a wrong one

    def ahead(self, records: list[Record[OrderEvent]]) -> Forecast:
        """Number the next batch and forecast it, if every batch before it is known (the
        loop's thread, in the order batches are applied)."""
        with self._lock:
            self._seq += 1
            forecast = Forecast(self._seq, self._epoch)
            if self._paused:
                self._paused -= 1
            else:
                self._forecast(forecast, records)
            return forecast

    def ready(self, forecast: Forecast, records: list[Record[OrderEvent]]) -> Forecast:
        """Just before the batch goes to the applier (the batch before it applied): the
        forecast, made again if what it assumed has changed since, or if it could not be
        made then and can now."""
        with self._lock:
            if forecast.decisions is not None and forecast.epoch == self._epoch:
                return forecast
            fresh = Forecast(forecast.seq, self._epoch)
            if not self._paused:
                self._forecast(fresh, records)
            return fresh

    def settle(
        self,
        forecast: Forecast | None,
        records: list[Record[OrderEvent]],
        *,
        held: bool,
        products: dict[str, ProductState],
        stock: dict[str, int],
    ) -> None:
        """After the batch commits (the applier thread): learn what it left its products
        in, unless its forecast held. ``products``: as read under its locks; ``stock``:
        what its decisions changed. ``forecast`` None: the batch was applied out of the
        loop's order (one record at a time after a failure), so nothing known is sure."""
        if held:
            return
        with self._lock:
            if forecast is None or forecast.decisions is not None:
                # Wrong, or out of order: so is whatever was forecast on top of it.
                self._known.clear()
                self._epoch += 1
                self._through = -1
                self._paused = PAUSE_AFTER_MISS if forecast is not None else 0
                if forecast is None:
                    return
            for product_id in {r.event.product_id for r in records}:
                read = products.get(product_id)
                self._known[product_id] = (
                    None if read is None else ProductState(stock.get(product_id, read.stock), read.active)
                )
            self._through = forecast.seq

    def _forecast(self, forecast: Forecast, records: list[Record[OrderEvent]]) -> None:
        """Fill ``forecast`` if the batches before it are known and so are its products
        (under the lock)."""
        if self._through != forecast.seq - 1 or any(r.event.is_cancellation for r in records):
            return
        products: dict[str, ProductState] = {}
        for product_id in {r.event.product_id for r in records}:
            if product_id not in self._known:
                return
            state = self._known[product_id]
            if state is not None:
                products[product_id] = ProductState(state.stock, state.active)
        decisions = reserve_or_reject(records=records, products=products, decided={})
        for product_id, stock in decisions.stock.items():
            self._known[product_id] = ProductState(stock, products[product_id].active)
        forecast.products, forecast.decisions = products, decisions
        self._through = forecast.seq
