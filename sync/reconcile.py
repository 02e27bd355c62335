"""Do the two services agree? Orders (the source of truth) against the catalog's ledger.

Read-only. Four findings, each with what to do about it:

* an order older than the threshold with no ledger row — its event was lost or is stuck;
* an order whose status disagrees with the catalog's decision — PENDING although the
  catalog decided (its result is lost or stuck), CANCELLED with no stock given back
  (the cancellation is lost or stuck), or a status the ledger contradicts;
* a ledger row whose orderId the order service does not know — an event not made by it;
* a product whose stock disagrees with its own ledger — stock changed outside the sync.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from catalog.models import Product, StockMovement
from catalog.reservations import APPLIED, CANCEL, ORDER
from config.routers import CATALOG_DB
from orders.models import Order, OutboxEvent
from orders.selectors import could_be_order_id

CHUNK = 5000


@dataclass(frozen=True)
class MissingOrder:
    order_id: str
    product_id: str
    qty: int
    created_at: datetime
    outbox: str  # "unsent (3 attempts: …)", "sent 2026-…", "no outbox row"


@dataclass(frozen=True)
class StatusMismatch:
    order_id: str
    status: str
    catalog_says: str
    detail: str


@dataclass(frozen=True)
class OrphanMovement:
    order_id: str
    product_id: str
    delta: int
    where: str
    applied_at: datetime


@dataclass(frozen=True)
class StockMismatch:
    product_id: str
    stock: int
    expected: int
    detail: str


@dataclass
class ReconcileReport:
    checked_at: datetime
    older_than_seconds: float
    orders_checked: int = 0
    movements_checked: int = 0
    missing: list[MissingOrder] = field(default_factory=list)
    statuses: list[StatusMismatch] = field(default_factory=list)
    orphans: list[OrphanMovement] = field(default_factory=list)
    mismatches: list[StockMismatch] = field(default_factory=list)

    @property
    def in_sync(self) -> bool:
        return not (self.missing or self.statuses or self.orphans or self.mismatches)

    def as_dict(self) -> dict:
        return {**asdict(self), "in_sync": self.in_sync}


def sync_reconcile(*, older_than: timedelta, progress: Callable[[int], None] | None = None) -> ReconcileReport:
    """Compare every order placed before ``now - older_than`` with the ledger, and the ledger with stock.

    ``progress`` is called with the number of rows just checked (for a progress bar).
    """
    progress = progress or (lambda n: None)
    report = ReconcileReport(checked_at=timezone.now(), older_than_seconds=older_than.total_seconds())
    cutoff = report.checked_at - older_than
    for chunk in _chunks(Order.objects.filter(created_at__lt=cutoff)):
        progress(len(chunk))
        report.orders_checked += len(chunk)
        ids = {str(o.order_id) for o in chunk}
        ledger = {
            (order_id, kind): outcome
            for order_id, kind, outcome in StockMovement.objects.using(CATALOG_DB)
            .filter(order_id__in=ids)
            .values_list("order_id", "kind", "outcome")
        }
        unapplied = [o for o in chunk if (str(o.order_id), ORDER) not in ledger]
        report.statuses += [m for o in chunk if (m := _status_mismatch(o, ledger, cutoff))]
        if unapplied:
            outbox = {
                e.subject_id: e for e in OutboxEvent.objects.filter(subject_id__in=[str(o.order_id) for o in unapplied])
            }
            report.missing += [
                MissingOrder(
                    str(o.order_id), o.product_id, o.qty, o.created_at, _outbox_state(outbox.get(str(o.order_id)))
                )
                for o in unapplied
            ]
    for chunk in _chunks(StockMovement.objects.using(CATALOG_DB)):
        progress(len(chunk))
        report.movements_checked += len(chunk)
        known = set(
            str(i)
            for i in Order.objects.filter(
                order_id__in=[m.order_id for m in chunk if could_be_order_id(m.order_id)]
            ).values_list("order_id", flat=True)
        )
        report.orphans += [
            OrphanMovement(m.order_id, m.product_id, m.delta, f"{m.topic}[{m.partition}]@{m.offset}", m.applied_at)
            for m in chunk
            if m.order_id not in known
        ]
    report.mismatches = list(_stock_mismatches())
    return report


def _stock_mismatches() -> Iterator[StockMismatch]:
    # Each movement must start where the previous one of its product ended, and the
    # last must end at the product's current stock. Ids follow the order of application:
    # a product's movements are written under its row lock.
    last: dict[str, int] = {}
    broken: dict[str, str] = {}
    for chunk in _chunks(StockMovement.objects.using(CATALOG_DB)):
        for m in chunk:
            if m.stock_after is None:  # refused for an unknown product: no stock to follow
                continue
            before = last.get(m.product_id)
            if before is not None and before + m.delta != m.stock_after and m.product_id not in broken:
                broken[m.product_id] = (
                    f"ledger row for order {m.order_id} goes {before} {m.delta:+d} → {m.stock_after}, "
                    f"not {before + m.delta}"
                )
            last[m.product_id] = m.stock_after
    for product in Product.objects.using(CATALOG_DB).filter(product_id__in=list(last)).order_by("product_id"):
        expected = last[product.product_id]
        if product.product_id in broken:
            yield StockMismatch(product.product_id, product.stock, expected, broken[product.product_id])
        elif product.stock != expected:
            yield StockMismatch(
                product.product_id,
                product.stock,
                expected,
                f"stock is {product.stock}, its last ledger row says {expected}",
            )


def _status_mismatch(order: Order, ledger: dict[tuple[str, str], str], cutoff: datetime) -> StatusMismatch | None:
    order_id, status = str(order.order_id), str(order.status)
    if status == "CANCELLED":
        if (order_id, CANCEL) in ledger or (order.status_changed_at or cutoff) >= cutoff:
            return None
        return StatusMismatch(order_id, status, "not cancelled", "cancellation not applied by the catalog")
    outcome = ledger.get((order_id, ORDER))
    if outcome is None:
        return None  # reported as missing
    expected = "CONFIRMED" if outcome == APPLIED else "REJECTED"
    if status == expected:
        return None
    if status == "PENDING":
        return StatusMismatch(order_id, status, expected, "the catalog's result has not reached the order")
    return StatusMismatch(order_id, status, expected, "the order's status contradicts the ledger")


def _outbox_state(event: OutboxEvent | None) -> str:
    if event is None and settings.OUTBOX_RELAY == "debezium":
        return "no outbox row (Debezium's: deleted as written, sent from the log)"
    if event is None:
        return "no outbox row"
    if event.sent_at:
        return f"sent {event.sent_at:%Y-%m-%d %H:%M:%S}"
    error = f": {event.last_error}" if event.last_error else ""
    return f"unsent ({event.attempts} relay attempt(s){error})"


def _chunks(queryset) -> Iterator[list]:
    """The rows in id order, a chunk at a time (keyset pagination: no deep OFFSETs)."""
    last_id = 0
    while chunk := list(queryset.filter(id__gt=last_id).order_by("id")[:CHUNK]):
        yield chunk
        last_id = chunk[-1].id
