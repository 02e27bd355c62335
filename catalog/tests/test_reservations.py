"""The catalog's decision rules, without a database."""

from catalog.reservations import Decided, ProductState, reserve_or_reject
from contracts.events import ORDER_CANCELLED, ORDER_PLACED, OrderEvent
from testsupport.factories import record


def event(order_id, qty=1, product="P", kind=ORDER_PLACED, offset=0):
    return record(OrderEvent(product, qty, 1, qty, order_id, "u", kind), offset=offset)


def decide(*records, stock=10, active=True, decided=None):
    return reserve_or_reject(records=list(records), products={"P": ProductState(stock, active)}, decided=decided or {})


def outcomes(decisions):
    return [(m.record.event.order_id, m.kind, m.outcome, m.reason, m.delta, m.stock_after) for m in decisions.movements]


def test_orders_reserve_until_stock_runs_out_and_never_below_zero():
    d = decide(event("a", 6), event("b", 6), event("c", 4), stock=10)
    assert outcomes(d) == [
        ("a", "order", "applied", "", -6, 4),
        ("b", "order", "rejected", "INSUFFICIENT_STOCK", 0, 4),
        ("c", "order", "applied", "", -4, 0),
    ]
    assert d.stock == {"P": 0}
    assert [m.result.status for m in d.movements] == ["CONFIRMED", "REJECTED", "CONFIRMED"]


def test_unknown_and_inactive_products_are_rejected_with_their_reason():
    d = decide(event("a", product="NOPE"), event("b"), active=False)
    assert [(m.reason, m.stock_after) for m in d.movements] == [("UNKNOWN_PRODUCT", None), ("PRODUCT_INACTIVE", 10)]
    assert d.stock == {}


def test_cancellation_gives_back_what_the_ledger_says_was_taken_once():
    d = decide(
        event("a", 3, kind=ORDER_CANCELLED),
        event("a", 3, kind=ORDER_CANCELLED),
        decided={("a", "order"): Decided("P", -3, "applied", "")},
    )
    assert outcomes(d) == [("a", "cancel", "applied", "", 3, 13)]
    assert d.skipped == 1
    assert d.movements[0].result.status == "CANCELLED"


def test_cancelling_a_rejected_order_gives_nothing_back():
    d = decide(event("a", 50), event("a", 50, kind=ORDER_CANCELLED), stock=10)
    assert outcomes(d) == [
        ("a", "order", "rejected", "INSUFFICIENT_STOCK", 0, 10),
        ("a", "cancel", "applied", "", 0, 10),
    ]


def test_a_cancellation_that_overtakes_its_order_makes_the_order_rejected():
    d = decide(event("a", 2, kind=ORDER_CANCELLED), event("a", 2))
    assert outcomes(d) == [
        ("a", "cancel", "applied", "CANCELLED_FIRST", 0, 10),
        ("a", "order", "rejected", "CANCELLED_FIRST", 0, 10),
    ]


def test_orders_already_decided_are_skipped():
    d = decide(event("a"), event("b"), event("b"), decided={("a", "order"): Decided("P", -1, "applied", "")})
    assert [m.record.event.order_id for m in d.movements] == ["b"]
    assert d.skipped == 2


def test_every_event_is_answered_and_a_repeat_gets_the_first_answer_again():
    d = decide(
        event("old"),  # rejected in an earlier batch, redelivered: answered as then, not decided again
        event("a", 4),
        event("a", 4),  # repeated in the batch: the same answer
        event("b", 9),
        decided={("old", "order"): Decided("P", 0, "rejected", "INSUFFICIENT_STOCK")},
        stock=10,
    )
    assert [(r.order_id, r.status, r.reason, r.stock_delta) for r in d.results] == [
        ("old", "REJECTED", "INSUFFICIENT_STOCK", 0),
        ("a", "CONFIRMED", "", -4),
        ("a", "CONFIRMED", "", -4),
        ("b", "REJECTED", "INSUFFICIENT_STOCK", 0),
    ]
    assert d.skipped == 2


def test_cancellation_naming_another_product_is_dead_lettered():
    d = decide(event("a", kind=ORDER_CANCELLED, product="Q"), decided={("a", "order"): Decided("P", -1, "applied", "")})
    assert d.movements == []
    assert [r.exception for r in d.dead_letters] == ["ProductMismatch"]
