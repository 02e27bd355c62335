"""How the catalog decides each order event: reserve the stock, reject the order, or give
stock back. Pure logic, no database: ``catalog.services`` feeds it the locked products
and the ledger rows of the batch's orders, then writes what it decided.

The rules, per order (``orderId``):

* an order event reserves ``qty`` if the product exists, is for sale and has at least
  ``qty`` left; otherwise it is rejected with a reason and stock is unchanged — stock
  never goes below zero;
* a cancellation gives back exactly what the order took (from the ledger, not from the
  message), once; if the order was rejected there is nothing to give back; if the
  cancellation arrives first, it is recorded and the order, when it comes, is rejected;
* an event whose (orderId, kind) is already decided — in the ledger or earlier in the
  batch — is a redelivery: skipped, and its result is given again, as decided the first
  time (the first answer may have been lost with a crash before it reached Kafka).

Every event gets an answer: ``Decisions.results`` has one per event, in the batch's order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from contracts.events import (
    CANCELLED,
    CANCELLED_FIRST,
    CONFIRMED,
    INSUFFICIENT_STOCK,
    ORDER_CANCELLED,
    PRODUCT_INACTIVE,
    REJECTED,
    UNKNOWN_PRODUCT,
    OrderEvent,
    OrderResult,
    ResultStatus,
)
from kafka_bridge.messages import DeadLetter, Record

ORDER, CANCEL = "order", "cancel"  # StockMovement.Kind
APPLIED, REFUSED = "applied", "rejected"  # StockMovement.Outcome


@dataclass
class ProductState:
    stock: int
    active: bool


# Decided and Movement are NamedTuples, not frozen dataclasses: as immutable, and made
# once per event, where a frozen dataclass's __init__ costs twice as much.
class Decided(NamedTuple):
    """What the ledger already says about one (orderId, kind)."""

    product_id: str
    delta: int
    outcome: str
    reason: str


def order_result(*, order_id: str, kind: str, outcome: str, reason: str, product_id: str, delta: int) -> OrderResult:
    """The answer the order service gets for one decision."""
    status: ResultStatus
    if kind == CANCEL:
        status = CANCELLED
    else:
        status = CONFIRMED if outcome == APPLIED else REJECTED
    return OrderResult(order_id=order_id, status=status, reason=reason, product_id=product_id, stock_delta=delta)


class Movement(NamedTuple):
    """One decision: a ledger row to write and the result to publish."""

    record: Record[OrderEvent]
    kind: str
    outcome: str
    reason: str
    delta: int
    stock_after: int | None

    @property
    def result(self) -> OrderResult:
        event = self.record.event
        return order_result(
            order_id=event.order_id,
            kind=self.kind,
            outcome=self.outcome,
            reason=self.reason,
            product_id=event.product_id,
            delta=self.delta,
        )


@dataclass
class Decisions:
    movements: list[Movement] = field(default_factory=list)
    stock: dict[str, int] = field(default_factory=dict)  # new stock of the products that changed
    skipped: int = 0
    dead_letters: list[DeadLetter] = field(default_factory=list)  # never applicable: not an order outcome
    results: list[OrderResult] = field(default_factory=list)  # one per decided or skipped event, in order


def reserve_or_reject(
    *,
    records: list[Record[OrderEvent]],
    products: dict[str, ProductState],
    decided: dict[tuple[str, str], Decided],
) -> Decisions:
    """Decide a batch in order. ``products``: the batch's products (locked by the caller);
    ``decided``: the ledger's rows for the batch's orderIds. Neither is modified."""
    # Run once per event, on the busiest path of the consumer: lookups are bound to locals
    # and each result is built positionally.
    out = Decisions()
    movements, results, changed = out.movements, out.results, out.stock
    stock = {pid: p.stock for pid, p in products.items()}
    decided = dict(decided)
    for record in records:
        event = record.event
        order_id, product_id = event.order_id, event.product_id
        kind = CANCEL if event.event_type == ORDER_CANCELLED else ORDER
        already = decided.get((order_id, kind))
        if already is not None:
            out.skipped += 1
            results.append(
                order_result(
                    order_id=order_id,
                    kind=kind,
                    outcome=already.outcome,
                    reason=already.reason,
                    product_id=already.product_id,
                    delta=already.delta,
                )
            )
            continue
        current = stock.get(product_id)
        if kind == ORDER:
            if (order_id, CANCEL) in decided:
                outcome, reason, delta = REFUSED, CANCELLED_FIRST, 0
            elif current is None:
                outcome, reason, delta = REFUSED, UNKNOWN_PRODUCT, 0
            elif not products[product_id].active:
                outcome, reason, delta = REFUSED, PRODUCT_INACTIVE, 0
            elif current < event.qty:
                outcome, reason, delta = REFUSED, INSUFFICIENT_STOCK, 0
            else:
                outcome, reason, delta = APPLIED, "", -event.qty
            status: ResultStatus = CONFIRMED if outcome == APPLIED else REJECTED
        else:
            order = decided.get((order_id, ORDER))
            if order is not None and order.product_id != product_id:
                out.dead_letters.append(
                    DeadLetter(
                        record,
                        f"cancellation names product {product_id!r}, the order was for {order.product_id!r}",
                        "ProductMismatch",
                    )
                )
                continue
            outcome, delta = APPLIED, -order.delta if order is not None else 0
            reason = "" if order is not None else CANCELLED_FIRST
            if delta and current is None:  # the product was deleted since: nothing to give back to
                delta = 0
            status = CANCELLED
        if current is not None and delta:
            current += delta
            stock[product_id] = changed[product_id] = current
        decided[order_id, kind] = Decided(product_id, delta, outcome, reason)
        movements.append(Movement(record, kind, outcome, reason, delta, current))
        results.append(OrderResult(order_id, status, reason, product_id, delta))  # order_result's, positionally
    return out
