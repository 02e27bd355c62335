"""How order events change the catalog's stock."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from django.conf import settings
from django.db import IntegrityError, connections, transaction
from django.utils import timezone

from catalog.forecast import Forecast
from catalog.models import OutboxEvent, Product, StockMovement
from catalog.reservations import APPLIED, Decided, Decisions, ProductState, reserve_or_reject
from catalog.stock_sql import is_ledger_duplicate, stock_read_batch_sql, stock_write_decisions_sql
from config.routers import CATALOG_DB
from kafka_bridge.events import OrderEvent, OrderResult, ProductSnapshot
from kafka_bridge.faults import crash_point
from kafka_bridge.messages import DeadLetter, Record
from kafka_bridge.outbox import OutboxRow, outbox_send

logger = logging.getLogger(__name__)

DEMO_PRODUCTS = [
    # productId, productName, stock, unitPrice: the Spring Cloud course's catalog.
    # CATALOG-001 costs 1000 here (1500 in the course) so that the tutorial's order,
    # {"productId":"CATALOG-001","qty":10,"unitPrice":1000}, is one at the right price.
    ("CATALOG-001", "Berlin", 100, 1000),
    ("CATALOG-002", "Tokyo", 110, 1000),
    ("CATALOG-003", "Stockholm", 120, 2000),
]


@dataclass(frozen=True)
class StockDecided:
    """What a batch of order events did to the catalog (``stock_apply_order_events``)."""

    applied: int  # orders that took stock, cancellations that gave it back
    refused: int  # orders rejected, with their reason in the ledger
    skipped: int  # already in the ledger: redelivered
    results: list[OrderResult]  # one answer per event, in order; a skipped one's as first decided
    dead_letters: list[DeadLetter]  # events that can never apply (a cancellation for another product)
    # For the forecaster (catalog.forecast): whether the forecast's decisions were the ones
    # written, the products as read under the locks, and the stock the decisions set.
    forecast_held: bool = False
    products: dict[str, ProductState] = field(default_factory=dict)
    stock: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, decisions: Decisions, *, forecast_held: bool, products: dict[str, ProductState]) -> StockDecided:
        """What these decisions did once written (here, or by the stock writer process)."""
        applied = sum(1 for m in decisions.movements if m.outcome == APPLIED)
        return cls(
            applied=applied,
            refused=len(decisions.movements) - applied,
            skipped=decisions.skipped,
            results=decisions.results,
            dead_letters=decisions.dead_letters,
            forecast_held=forecast_held,
            products=products,
            stock=decisions.stock,
        )


def stock_apply_order_events(*, records: list[Record[OrderEvent]], forecast: Forecast | None = None) -> StockDecided:
    """Decide a batch of order events in one catalog transaction, exactly once per order.

    Locks the batch's products (in productId order, so consumers sharing products queue
    instead of deadlocking), reads what the ledger already decided for the batch's
    orders (after the locks are held: it includes the previous holder's), and lets
    ``catalog.reservations`` decide each event: reserve, reject (stock never below
    zero) or give back. Each decision is a ledger row (``StockMovement``), in the same
    transaction as the stock change. Redelivered events are skipped.

    Every event's ``OrderResult`` — a redelivered one's as the ledger first decided it —
    comes back in ``StockDecided.results``. The handler (``catalog.consumers``) makes them
    the batch's replies, which the consume loop publishes, and waits for the broker to
    have, before the batch's offsets may be committed: so a result lost with a crash is
    given again when its event is redelivered, and the ledger is the only record the
    catalog keeps of its answers (no outbox row per result).

    On PostgreSQL the batch is read and written by set-based SQL (``catalog.stock_sql``:
    the consumer's hot path); elsewhere through the ORM, with the same effect. A large
    batch is first assumed to hold only new orders, which spares most of the ledger read;
    if one was already decided, its write fails on the ledger's unique index, the
    transaction rolls back, and the batch is decided again against the whole ledger.

    ``forecast`` (the pipelined consumer's, ``catalog.forecast``): the batch decided ahead
    of its locks. Its decisions are written if what was read under the locks is what it
    assumed; otherwise the batch is decided here, as without one.
    """
    try:
        products, decisions, held = _stock_decide(records, assume_new=True, forecast=forecast)
    except IntegrityError as exc:
        if not is_ledger_duplicate(exc):
            raise
        logger.info(
            "%d event(s) from %s: some were already decided (redelivered); deciding them again against the ledger",
            len(records),
            records[0].where,
            extra=records[0].log_fields,
        )
        products, decisions, held = _stock_decide(records, assume_new=False, forecast=forecast)
    return StockDecided.of(decisions, forecast_held=held, products=products)


def _stock_decide(
    records: list[Record[OrderEvent]], *, assume_new: bool, forecast: Forecast | None
) -> tuple[dict[str, ProductState], Decisions, bool]:
    """Read, decide and write a batch in one catalog transaction (rolled back on error):
    the products as read, the decisions written, and whether they were the forecast's."""
    with transaction.atomic(using=CATALOG_DB):
        if connections[CATALOG_DB].vendor == "postgresql":
            read, write = stock_read_batch_sql, stock_write_decisions_sql
        else:
            read, write = stock_read_batch_orm, stock_write_decisions_orm
        lines = forecast.read if forecast is not None else None
        products, decided = read(records=records, using=CATALOG_DB, assume_new=assume_new, lines=lines)
        # A forecast made on what was read here has the decisions the rules would make now.
        held = forecast is not None and forecast.holds(products, decided)
        if held:
            assert forecast is not None and forecast.decisions is not None
            decisions = forecast.decisions
        else:
            decisions = reserve_or_reject(records=records, products=products, decided=decided)
        write(decisions=decisions, using=CATALOG_DB, ledger=forecast.ledger if held and forecast else None)
        crash_point("consumer.before_db_commit")
    return products, decisions, held


def stock_read_batch_orm(
    *, records: list[Record[OrderEvent]], using: str, assume_new: bool = False, lines: object = None
) -> tuple[dict[str, ProductState], dict[tuple[str, str], Decided]]:
    """Lock the batch's products (in productId order, so that consumers sharing products
    cannot deadlock) and read them, then what the ledger already decided for its orders
    (all of it: ``assume_new`` and ``lines`` are the SQL path's)."""
    products = {
        pid: ProductState(stock, active)
        for pid, stock, active in Product.objects.using(using)
        .select_for_update()
        .filter(product_id__in={r.event.product_id for r in records})
        .order_by("product_id")
        .values_list("product_id", "stock", "active")
    }
    decided = {
        (order_id, kind): Decided(product_id, delta, outcome, reason)
        for order_id, kind, product_id, delta, outcome, reason in StockMovement.objects.using(using)
        .filter(order_id__in={r.event.order_id for r in records})
        .values_list("order_id", "kind", "product_id", "delta", "outcome", "reason")
    }
    return products, decided


def stock_write_decisions_orm(*, decisions: Decisions, using: str, ledger: str | None = None) -> None:
    """Write ledger rows and stock through the ORM (``ledger``, a COPY text, is the SQL
    path's)."""
    StockMovement.objects.using(using).bulk_create(
        [
            StockMovement(
                order_id=m.record.event.order_id,
                kind=m.kind,
                outcome=m.outcome,
                reason=m.reason,
                product_id=m.record.event.product_id,
                delta=m.delta,
                stock_after=m.stock_after,
                topic=m.record.topic,
                partition=m.record.partition,
                offset=m.record.offset,
            )
            for m in decisions.movements
        ]
    )
    for product_id, stock in decisions.stock.items():
        Product.objects.using(using).filter(product_id=product_id).update(stock=stock)


def product_snapshot(product: Product, *, deleted: bool = False) -> ProductSnapshot:
    changed = timezone.now() if deleted else product.updated_at
    return ProductSnapshot(
        product_id=product.product_id,
        product_name=product.product_name,
        unit_price=product.unit_price,
        active=product.active and not deleted,
        version=int(changed.timestamp() * 1_000_000),
    )


def product_send_snapshot(*, product: Product, using: str, deleted: bool = False) -> OutboxRow:
    """Record the product's snapshot in the catalog's outbox, inside the caller's
    transaction, and publish it once that commits."""
    return outbox_send(
        model=OutboxEvent,
        using=using,
        topic=settings.PRODUCTS_TOPIC,
        key=product.product_id,
        subject_id=product.product_id,
        payload=product_snapshot(product, deleted=deleted).to_json(),
        crash_point_name="catalog.after_commit",
    )


def products_publish_all() -> int:
    """Send every product's snapshot again (e.g. to fill a new order-service replica); return how many."""
    count = 0
    with transaction.atomic(using=CATALOG_DB):
        for product in Product.objects.using(CATALOG_DB).iterator():
            product_send_snapshot(product=product, using=CATALOG_DB)
            count += 1
    return count


def products_load_demo() -> list[str]:
    """Create the demo products that are missing; return the ids created. Never touches stock."""
    created = []
    for product_id, name, stock, price in DEMO_PRODUCTS:
        _, was_created = Product.objects.using(CATALOG_DB).get_or_create(
            product_id=product_id, defaults={"product_name": name, "stock": stock, "unit_price": price}
        )
        if was_created:
            created.append(product_id)
    return created
