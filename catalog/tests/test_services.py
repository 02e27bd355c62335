"""stock_apply_order_events, both ways (set-based SQL and ORM), on PostgreSQL."""

import threading

import pytest
from django.db import connections, transaction

from catalog.models import Product, StockMovement
from catalog.services import stock_apply_order_events, stock_apply_order_events_orm
from config.routers import CATALOG_DB
from kafka_bridge.consumer import Record
from kafka_bridge.events import OrderEvent

pytestmark = pytest.mark.django_db(databases=["default", "catalog"], transaction=True)


def orm(*, records):
    with transaction.atomic(using=CATALOG_DB):
        return stock_apply_order_events_orm(records=records)


@pytest.fixture(params=["sql", "orm"])
def apply(request):
    return stock_apply_order_events if request.param == "sql" else orm


def records(*events, start=0):
    return [
        Record("orders", 1, start + i, None, None, None, event=OrderEvent(pid, qty, 10, qty * 10, oid, "u"))
        for i, (oid, pid, qty) in enumerate(events)
    ]


def stocks():
    return dict(Product.objects.values_list("product_id", "stock"))


def test_batch_lowers_stock_and_writes_one_ledger_row_per_order(apply, products):
    result = apply(records=records(("a", "CATALOG-001", 2), ("b", "CATALOG-002", 3), ("c", "CATALOG-001", 4)))
    assert (result.applied, result.skipped, result.rejected) == (3, 0, [])
    assert stocks() == {"CATALOG-001": 94, "CATALOG-002": 107, "CATALOG-003": 120}
    ledger = list(StockMovement.objects.order_by("id").values_list("order_id", "delta", "stock_after", "offset"))
    assert ledger == [("a", -2, 98, 0), ("b", -3, 107, 1), ("c", -4, 94, 2)]


def test_orders_already_in_ledger_or_repeated_in_batch_are_skipped(apply, products):
    apply(records=records(("a", "CATALOG-001", 2)))
    result = apply(records=records(("a", "CATALOG-001", 2), ("b", "CATALOG-001", 1), ("b", "CATALOG-001", 9)))
    assert (result.applied, result.skipped) == (1, 2)
    assert stocks()["CATALOG-001"] == 97
    assert StockMovement.objects.get(order_id="b").delta == -1


def test_unknown_product_is_rejected_and_changes_nothing(apply, products):
    result = apply(records=records(("x", "NOPE", 1), ("y", "CATALOG-003", 1)))
    assert result.applied == 1
    assert [(r.record.event.order_id, r.reason, r.exception) for r in result.rejected] == [
        ("x", "unknown productId 'NOPE'", "UnknownProduct")
    ]
    assert not StockMovement.objects.filter(order_id="x").exists()


def test_both_ways_agree_on_a_mixed_batch(products):
    batch = [("o1", "CATALOG-001", 5), ("o2", "NOPE", 1), ("o1", "CATALOG-001", 5), ("o3", "CATALOG-002", 7)]
    sql = stock_apply_order_events(records=records(*batch))
    after_sql = (stocks(), list(StockMovement.objects.order_by("id").values_list("order_id", "stock_after")))
    StockMovement.objects.all().delete()
    Product.objects.filter(product_id="CATALOG-001").update(stock=100)
    Product.objects.filter(product_id="CATALOG-002").update(stock=110)
    via_orm = orm(records=records(*batch))
    after_orm = (stocks(), list(StockMovement.objects.order_by("id").values_list("order_id", "stock_after")))
    assert (sql.applied, sql.skipped, len(sql.rejected)) == (via_orm.applied, via_orm.skipped, len(via_orm.rejected))
    assert after_sql == after_orm


def test_concurrent_batches_on_shared_products_neither_deadlock_nor_lose_updates(products):
    # Two consumers, the same products in opposite orders: the locks are taken by productId.
    errors = []

    def consume(prefix, product_ids):
        try:
            for n in range(20):
                stock_apply_order_events(records=records(*[(f"{prefix}-{n}-{p}", p, 1) for p in product_ids]))
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=consume, args=("fwd", ["CATALOG-001", "CATALOG-002", "CATALOG-003"])),
        threading.Thread(target=consume, args=("rev", ["CATALOG-003", "CATALOG-002", "CATALOG-001"])),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert stocks() == {"CATALOG-001": 60, "CATALOG-002": 70, "CATALOG-003": 80}
    assert StockMovement.objects.count() == 120
