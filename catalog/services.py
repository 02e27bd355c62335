"""How order events change the catalog's stock."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from catalog.models import OutboxEvent, Product, StockMovement
from catalog.reservations import APPLIED, Decided, Decisions, ProductState, reserve_or_reject
from config.routers import CATALOG_DB
from contracts.events import OrderEvent, OrderResult, ProductSnapshot
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

    @classmethod
    def of(cls, decisions: Decisions) -> StockDecided:
        """What these decisions did once written."""
        applied = sum(1 for m in decisions.movements if m.outcome == APPLIED)
        return cls(
            applied=applied,
            refused=len(decisions.movements) - applied,
            skipped=decisions.skipped,
            results=decisions.results,
            dead_letters=decisions.dead_letters,
        )


def stock_apply_order_events(*, records: list[Record[OrderEvent]]) -> StockDecided:
    """Decide a batch of order events in one catalog transaction, exactly once per order.

    1. Lock the batch's products (``select_for_update``, in productId order, so consumers
       sharing products queue instead of deadlocking) and read them.
    2. Read what the ledger already decided for the batch's orders. It is read after the
       locks are held, so it includes whatever the previous holder committed.
    3. Let ``catalog.reservations`` decide each event: reserve, reject (stock never below
       zero) or give back. A redelivered event is skipped, and answered as first decided.
    4. Write each decision as a ledger row (``StockMovement``) and the new stock, in the
       same transaction.

    Every event's ``OrderResult`` comes back in ``StockDecided.results``. The handler
    (``catalog.consumers``) makes them the batch's replies, which the consume loop
    publishes before the batch's offsets may be committed: a result lost with a crash is
    given again when its event is redelivered.
    """
    with transaction.atomic(using=CATALOG_DB):
        products = (
            Product.objects.using(CATALOG_DB)
            .select_for_update()
            .filter(product_id__in={r.event.product_id for r in records})
            .order_by("product_id")
            .in_bulk(field_name="product_id")
        )
        decided = stock_decided_before(records=records)
        states = {pid: ProductState(p.stock, p.active) for pid, p in products.items()}
        decisions = reserve_or_reject(records=records, products=states, decided=decided)
        stock_write_decisions(decisions=decisions, products=products)
        crash_point("consumer.before_db_commit")
    return StockDecided.of(decisions)


def stock_decided_before(*, records: list[Record[OrderEvent]]) -> dict[tuple[str, str], Decided]:
    """What the ledger already decided for the batch's orders, by (orderId, kind)."""
    return {
        (order_id, kind): Decided(product_id, delta, outcome, reason)
        for order_id, kind, product_id, delta, outcome, reason in StockMovement.objects.using(CATALOG_DB)
        .filter(order_id__in={r.event.order_id for r in records})
        .values_list("order_id", "kind", "product_id", "delta", "outcome", "reason")
    }


def stock_write_decisions(*, decisions: Decisions, products: dict[str, Product]) -> None:
    """Write the decisions' ledger rows, then the stock of the products they changed (one
    statement each: ``bulk_create`` and ``bulk_update``)."""
    StockMovement.objects.using(CATALOG_DB).bulk_create(
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
    changed = []
    for product_id, stock in decisions.stock.items():
        products[product_id].stock = stock
        changed.append(products[product_id])
    Product.objects.using(CATALOG_DB).bulk_update(changed, ["stock"])


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
