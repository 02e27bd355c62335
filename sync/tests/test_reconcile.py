"""manage.py reconcile: finds what is out of sync and says what to do (PostgreSQL)."""

import json
import uuid
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import override_settings

from catalog.models import Product, StockMovement
from catalog.services import stock_apply_order_events
from orders.outbox import order_event
from orders.services import order_apply_results, order_create
from testsupport.factories import record, records

pytestmark = pytest.mark.django_db(databases=["default", "catalog"], transaction=True)


def reconcile(*args):
    out = StringIO()
    try:
        call_command("reconcile", "--older-than", "0", *args, stdout=out)
        status = 0
    except SystemExit as exit:
        status = exit.code
    return status, out.getvalue()


def apply(*orders, results_reach_orders=True):
    """What runconsumer and runorderconsumer would do with these orders' events."""
    applied = stock_apply_order_events(records=records(order_event(o) for o in orders))
    if results_reach_orders:
        order_apply_results(records=records(applied.results, topic="r"))


@override_settings(OUTBOX_PUBLISH_ON_COMMIT=False)
def test_in_sync_exits_0(replica):
    apply(order_create(user_id="u", product_id="CATALOG-001", qty=2, unit_price=1000))
    status, out = reconcile()
    assert status == 0
    assert "IN SYNC" in out


@override_settings(OUTBOX_PUBLISH_ON_COMMIT=False)
def test_unapplied_order_is_reported_with_its_outbox_state(replica):
    order = order_create(user_id="u", product_id="CATALOG-001", qty=2, unit_price=1000)
    status, out = reconcile()
    assert status == 1
    assert "1 ORDER(S) NOT APPLIED" in out
    assert str(order.order_id) in out and "unsent (0 relay attempt(s))" in out
    assert "runrelay" in out


@override_settings(OUTBOX_PUBLISH_ON_COMMIT=False)
def test_young_orders_are_not_reported_as_missing(replica):
    order_create(user_id="u", product_id="CATALOG-001", qty=2, unit_price=1000)
    out = StringIO()
    call_command("reconcile", "--older-than", "3600", stdout=out)
    assert "IN SYNC" in out.getvalue()


def test_ledger_row_without_order_is_reported(replica):
    StockMovement.objects.create(
        order_id="test-order-id-dummy-id",
        product_id="CATALOG-001",
        delta=-10,
        stock_after=90,
        topic="t",
        partition=0,
        offset=0,
    )
    Product.objects.filter(product_id="CATALOG-001").update(stock=90)
    status, out = reconcile()
    assert status == 1
    assert "1 LEDGER ROW(S) WITH NO ORDER" in out and "test-order-id-dummy-id" in out


@override_settings(OUTBOX_PUBLISH_ON_COMMIT=False)
def test_stock_changed_outside_the_ledger_is_reported_as_json(replica):
    apply(order_create(user_id="u", product_id="CATALOG-002", qty=5, unit_price=1000))
    Product.objects.filter(product_id="CATALOG-002").update(stock=1)
    status, out = reconcile("--json")
    assert status == 1
    report = json.loads(out)
    assert report["in_sync"] is False
    assert report["mismatches"] == [
        {"product_id": "CATALOG-002", "stock": 1, "expected": 105, "detail": "stock is 1, its last ledger row says 105"}
    ]


def test_broken_ledger_chain_is_reported(replica):
    for order_id, delta, after in ((str(uuid.uuid4()), -1, 99), (str(uuid.uuid4()), -1, 97)):
        StockMovement.objects.create(
            order_id=order_id,
            product_id="CATALOG-001",
            delta=delta,
            stock_after=after,
            topic="t",
            partition=0,
            offset=0,
        )
    Product.objects.filter(product_id="CATALOG-001").update(stock=97)
    status, out = reconcile("--json")
    assert status == 1
    [mismatch] = json.loads(out)["mismatches"]
    assert "goes 99 -1 → 97, not 98" in mismatch["detail"]


@override_settings(OUTBOX_PUBLISH_ON_COMMIT=False)
def test_order_still_pending_after_the_catalog_decided_is_reported(replica):
    order = order_create(user_id="u", product_id="CATALOG-001", qty=500, unit_price=1000)
    apply(order, results_reach_orders=False)  # rejected: not enough stock
    status, out = reconcile("--json")
    assert status == 1
    assert json.loads(out)["statuses"] == [
        {
            "order_id": str(order.order_id),
            "status": "PENDING",
            "catalog_says": "REJECTED",
            "detail": "the catalog's result has not reached the order",
        }
    ]


@override_settings(OUTBOX_PUBLISH_ON_COMMIT=False)
def test_cancellation_not_applied_is_reported_and_in_sync_once_it_is(replica):
    from contracts.events import ORDER_CANCELLED
    from orders.services import order_cancel

    order = order_create(user_id="u", product_id="CATALOG-001", qty=5, unit_price=1000)
    apply(order)
    order = order_cancel(order=order)
    status, out = reconcile()
    assert status == 1
    assert "cancellation not applied by the catalog" in out
    stock_apply_order_events(records=[record(order_event(order, event_type=ORDER_CANCELLED), offset=9)])
    status, out = reconcile()
    assert status == 0, out
    assert Product.objects.get(product_id="CATALOG-001").stock == 100
