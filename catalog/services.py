"""How order events change the catalog's stock."""

from __future__ import annotations

import logging

from django.db import connections, transaction

from catalog.models import Product, StockMovement
from catalog.stock_sql import stock_apply_order_events_sql
from config.routers import CATALOG_DB
from kafka_bridge.consumer import BatchResult, Record, Rejection
from kafka_bridge.events import OrderEvent
from kafka_bridge.faults import crash_point

logger = logging.getLogger(__name__)

DEMO_PRODUCTS = [
    # productId, productName, stock, unitPrice: the Spring Cloud course's catalog.
    ("CATALOG-001", "Berlin", 100, 1500),
    ("CATALOG-002", "Tokyo", 110, 1000),
    ("CATALOG-003", "Stockholm", 120, 2000),
]


def stock_apply_order_events(*, records: list[Record[OrderEvent]]) -> BatchResult:
    """Lower stock for each order event in one catalog transaction, exactly once per order.

    Each applied order gets a ledger row (``StockMovement``) in the same transaction as
    its stock change. An orderId already in the ledger — or earlier in this batch — is
    skipped, so a redelivered batch changes nothing. An event for a product the catalog
    does not have is rejected (to be dead-lettered) and changes nothing.

    On PostgreSQL the batch goes through set-based SQL (``catalog.stock_sql``: the
    consumer's hot path); elsewhere through the ORM, with the same effect.
    """
    with transaction.atomic(using=CATALOG_DB):
        if connections[CATALOG_DB].vendor == "postgresql":
            result = stock_apply_order_events_sql(records=records, using=CATALOG_DB)
        else:
            result = stock_apply_order_events_orm(records=records)
        crash_point("consumer.before_db_commit")
    return result


def stock_apply_order_events_orm(*, records: list[Record[OrderEvent]]) -> BatchResult:
    """The ORM version of ``stock_apply_order_events``; call it inside a catalog transaction."""
    result = BatchResult()
    order_ids = {r.event.order_id for r in records}
    seen = set(
        StockMovement.objects.using(CATALOG_DB).filter(order_id__in=order_ids).values_list("order_id", flat=True)
    )
    # Locked in a fixed order, so that two consumers sharing products cannot deadlock.
    products = {
        p.product_id: p
        for p in Product.objects.using(CATALOG_DB)
        .select_for_update()
        .filter(product_id__in={r.event.product_id for r in records})
        .order_by("product_id")
    }
    movements: list[StockMovement] = []
    changed: dict[str, Product] = {}
    for record in records:
        event = record.event
        if event.order_id in seen:
            result.skipped += 1
            continue
        product = products.get(event.product_id)
        if product is None:
            result.rejected.append(Rejection(record, f"unknown productId {event.product_id!r}", "UnknownProduct"))
            continue
        seen.add(event.order_id)
        product.stock -= event.qty
        changed[product.product_id] = product
        movements.append(
            StockMovement(
                order_id=event.order_id,
                product_id=product.product_id,
                delta=-event.qty,
                stock_after=product.stock,
                topic=record.topic,
                partition=record.partition,
                offset=record.offset,
            )
        )
    StockMovement.objects.using(CATALOG_DB).bulk_create(movements)
    Product.objects.using(CATALOG_DB).bulk_update(list(changed.values()), ["stock"])
    result.applied = len(movements)
    return result


def catalog_load_demo_products() -> list[str]:
    """Create the demo products that are missing; return the ids created. Never touches stock."""
    created = []
    for product_id, name, stock, price in DEMO_PRODUCTS:
        _, was_created = Product.objects.using(CATALOG_DB).get_or_create(
            product_id=product_id, defaults={"product_name": name, "stock": stock, "unit_price": price}
        )
        if was_created:
            created.append(product_id)
    return created
