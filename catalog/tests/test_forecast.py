"""The fast layer's forecast: batches decided ahead of their locks, written only
when what is read under the locks is what they assumed."""

import pytest
from django.db.models import Count

from catalog.fast import stock_sql
from catalog.fast.forecast import PAUSE_AFTER_MISS, StockForecaster
from catalog.fast.services import stock_apply_order_events_fast as stock_apply_order_events
from catalog.fast.stock_sql import ledger_ahead, read_lines
from catalog.models import Product, StockMovement
from catalog.reservations import (
    APPLIED,
    CANCELLED_FIRST,
    PRODUCT_INACTIVE,
    REFUSED,
    Decided,
    ProductState,
    reserve_or_reject,
)
from contracts.events import ORDER_CANCELLED
from testsupport.factories import order_records as batch


def outcomes(decisions):
    return [(m.record.event.order_id, m.outcome, m.reason, m.stock_after) for m in decisions.movements]


def learnt(forecaster, records, products):
    """The first batch: no forecast (nothing known); the applier decides and the forecaster learns."""
    forecast = forecaster.ahead(records)
    assert forecast.decisions is None
    decisions = reserve_or_reject(records=records, products=products, decided={})
    forecaster.settle(forecast, records, held=False, products=products, stock=decisions.stock)
    return decisions


def test_each_batch_is_forecast_from_the_stock_the_batches_before_it_leave():
    forecaster = StockForecaster()
    learnt(forecaster, batch(("a", "P", 4), ("x", "NOPE", 1)), {"P": ProductState(10, True)})  # P: 6 left
    second = forecaster.ahead(batch(("b", "P", 5), ("x2", "NOPE", 1), start=2))
    third_records = batch(("c", "P", 2), ("d", "P", 1), start=4)
    third = forecaster.ahead(third_records)  # made while the second is applied
    assert second.products == {"P": ProductState(6, True)}
    assert outcomes(second.decisions) == [("b", "applied", "", 1), ("x2", "rejected", "UNKNOWN_PRODUCT", None)]
    # The third assumes what the second leaves: 1 unit.
    assert third.products == {"P": ProductState(1, True)}
    assert outcomes(third.decisions) == [("c", "rejected", "INSUFFICIENT_STOCK", 1), ("d", "applied", "", 0)]
    assert forecaster.ready(third, third_records) is third  # nothing moved meanwhile
    # A product never seen: no forecast, until the applier has read it.
    assert forecaster.ahead(batch(("e", "NEW", 1), start=6)).decisions is None


def test_a_forecast_holds_only_if_the_products_and_the_ledger_read_are_what_it_assumed():
    forecaster = StockForecaster()
    learnt(forecaster, batch(("a", "P", 1)), {"P": ProductState(10, True)})
    forecast = forecaster.ahead(batch(("b", "P", 1), start=1))
    assert forecast.holds({"P": ProductState(9, True)}, {})
    assert not forecast.holds({"P": ProductState(8, True)}, {})  # another writer moved the stock
    assert not forecast.holds({"P": ProductState(9, False)}, {})  # taken off sale
    assert not forecast.holds({"P": ProductState(9, True)}, {("b", "cancel"): Decided("P", 0, "applied", "")})
    assert not forecast.holds({}, {})  # deleted


def test_after_a_wrong_forecast_what_was_forecast_on_it_is_made_again_once_known():
    forecaster = StockForecaster()
    learnt(forecaster, batch(("a", "P", 1)), {"P": ProductState(10, True)})
    second_records, third_records = batch(("b", "P", 2), start=1), batch(("c", "P", 3), start=2)
    second = forecaster.ahead(second_records)  # assumes 9
    third = forecaster.ahead(third_records)  # assumes 7
    # Under its locks the second reads 4 (a restock went the other way): decided again, 2 left.
    real = reserve_or_reject(records=second_records, products={"P": ProductState(4, True)}, decided={})
    forecaster.settle(second, second_records, held=False, products={"P": ProductState(4, True)}, stock=real.stock)
    # What was forecast on the second is not written: the applier decides it, and forecasts
    # pause for a while (consumers sharing products would miss every time).
    again = forecaster.ready(third, third_records)
    assert again is not third and again.decisions is None
    forecaster.settle(again, third_records, held=False, products={"P": ProductState(2, True)}, stock={})
    for i in range(PAUSE_AFTER_MISS):
        records = batch((f"o{i}", "P", 0), start=10 + i)
        paused = forecaster.ahead(records)
        assert paused.decisions is None
        forecaster.settle(paused, records, held=False, products={"P": ProductState(2, True)}, stock={})
    resumed = forecaster.ahead(batch(("f", "P", 2), start=20))
    assert resumed.products == {"P": ProductState(2, True)}
    assert outcomes(resumed.decisions) == [("f", "applied", "", 0)]


def test_batches_with_a_cancellation_and_batches_after_a_lone_record_are_not_forecast():
    forecaster = StockForecaster()
    learnt(forecaster, batch(("a", "P", 1)), {"P": ProductState(10, True)})
    assert forecaster.ahead(batch(("a", "P", 1, ORDER_CANCELLED), start=1)).decisions is None
    forecaster = StockForecaster()
    learnt(forecaster, batch(("a", "P", 1)), {"P": ProductState(10, True)})
    # A failed batch applied one record at a time, out of the forecaster's order: all forgotten.
    forecaster.settle(None, batch(("z", "P", 1), start=5), held=False, products={"P": ProductState(9, True)}, stock={})
    assert forecaster.ahead(batch(("b", "P", 1), start=6)).decisions is None


# -- in the database: what is written --------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(databases=["default", "catalog"], transaction=True)
@pytest.mark.parametrize("arrays_up_to", [0, 10**9], ids=["copy", "arrays"])
def test_a_forecast_that_holds_is_written_as_made_and_one_that_does_not_is_decided_again(
    products, monkeypatch, arrays_up_to
):
    monkeypatch.setattr(stock_sql, "ARRAYS_UP_TO", arrays_up_to)
    forecaster = StockForecaster()
    first = batch(("a", "CATALOG-001", 90), ("b", "CATALOG-002", 1))
    forecaster.settle(
        forecaster.ahead(first),
        first,
        held=False,
        products={"CATALOG-001": ProductState(100, True), "CATALOG-002": ProductState(110, True)},
        stock={},
    )  # as if applied: the forecaster knows 100 and 110 (nothing was written)
    second = batch(("c", "CATALOG-001", 60), ("d", "CATALOG-002", 10), start=2)
    forecast = forecaster.ahead(second)
    forecast.ledger, forecast.read = ledger_ahead(forecast.decisions), read_lines(second)  # as the handler does
    assert (forecast.ledger is None) == (forecast.read is None) == (arrays_up_to > 0)
    held = stock_apply_order_events(records=second, forecast=forecast)
    assert held.forecast_held and held.decided.results == forecast.decisions.results
    rows = list(StockMovement.objects.order_by("id").values_list("order_id", "outcome", "stock_after", "applied_at"))
    assert [r[:3] for r in rows] == [("c", "applied", 40), ("d", "applied", 100)]
    assert all(r[3] is not None for r in rows)  # the placeholder was filled in

    # Someone restocks CATALOG-001 under the consumer: the next forecast assumed 40.
    third = batch(("e", "CATALOG-001", 50), start=4)
    forecast = forecaster.ahead(third)
    forecast.read = read_lines(third)
    assert [m.outcome for m in forecast.decisions.movements] == ["rejected"]
    Product.objects.filter(product_id="CATALOG-001").update(stock=55)
    decided = stock_apply_order_events(records=third, forecast=forecast)
    assert not decided.forecast_held
    assert [(r.order_id, r.status) for r in decided.decided.results] == [("e", "CONFIRMED")]
    assert Product.objects.get(product_id="CATALOG-001").stock == 5
    assert not StockMovement.objects.values("order_id").annotate(n=Count("id")).filter(n__gt=1).exists()


@pytest.mark.postgres
@pytest.mark.django_db(databases=["default", "catalog"], transaction=True)
@pytest.mark.parametrize("arrays_up_to", [0, 10**9], ids=["copy", "arrays"])
@pytest.mark.parametrize(
    "moved, outcome, stock",
    [
        ("nothing", (APPLIED, ""), 10),
        ("restocked", (APPLIED, ""), 25),
        ("taken off sale", (REFUSED, PRODUCT_INACTIVE), 40),
        ("cancelled first", (REFUSED, CANCELLED_FIRST), 40),
        ("created", (APPLIED, ""), 10),
        ("redelivered", (APPLIED, ""), 10),
    ],
)
def test_a_forecast_is_written_only_if_nothing_it_assumed_moved(
    products, monkeypatch, arrays_up_to, moved, outcome, stock
):
    """Each thing the check under the locks must see, through the read and each writer: a
    batch decided ahead of it is decided again, as the rules decide it from what is there."""
    monkeypatch.setattr(stock_sql, "ARRAYS_UP_TO", arrays_up_to)
    Product.objects.filter(product_id="CATALOG-001").update(stock=40)
    forecaster = StockForecaster()
    order = ("e", "CATALOG-001", 30)
    new = ("f", "NEW-1", 1)  # not in the catalog when forecast: refused, unless created since
    if moved == "redelivered":  # e already decided: 40 → 10, and the forecaster knows it
        stock_apply_order_events(records=batch(order))
    known = Product.objects.get(product_id="CATALOG-001").stock
    learnt(forecaster, batch(("x", "CATALOG-001", 0)), {"CATALOG-001": ProductState(known, True)})
    learnt(forecaster, batch(("y", "NEW-1", 1)), {})
    records = batch(order, new, start=5)
    forecast = forecaster.ahead(records)
    forecast.read, forecast.ledger = read_lines(records), ledger_ahead(forecast.decisions)  # as the handler does
    assert (forecast.ledger is None) == (arrays_up_to > 0)

    if moved == "restocked":
        Product.objects.filter(product_id="CATALOG-001").update(stock=55)
    elif moved == "taken off sale":
        Product.objects.filter(product_id="CATALOG-001").update(active=False)
    elif moved == "cancelled first":
        stock_apply_order_events(records=batch(("e", "CATALOG-001", 30, ORDER_CANCELLED), start=3))
    elif moved == "created":
        Product.objects.create(product_id="NEW-1", product_name="new", stock=0, unit_price=10)
    decided = stock_apply_order_events(records=records, forecast=forecast)

    assert decided.forecast_held == (moved == "nothing")
    placed = StockMovement.objects.get(order_id="e", kind="order")
    assert (placed.outcome, placed.reason) == outcome
    assert Product.objects.get(product_id="CATALOG-001").stock == stock
    assert StockMovement.objects.filter(order_id="f").values_list("outcome", flat=True).get() == REFUSED
    assert not StockMovement.objects.values("order_id", "kind").annotate(n=Count("id")).filter(n__gt=1).exists()
