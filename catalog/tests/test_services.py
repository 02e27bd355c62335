"""stock_apply_order_events on PostgreSQL, with every writer: the default path's ORM, and
the fast layer's set-based SQL taking the batch as arrays (small batches) or through
COPY (large ones)."""

import threading

import orjson
import pytest
from django.conf import settings
from django.db import connections
from django.utils import timezone

from catalog import services
from catalog.consumers import OrderEventsHandler
from catalog.fast import stock_sql
from catalog.fast.consumers import FastOrderEventsHandler
from catalog.fast.services import stock_apply_order_events_fast
from catalog.models import OutboxEvent, Product, StockMovement
from contracts.events import ORDER_CANCELLED
from testsupport.factories import order_records

pytestmark = pytest.mark.django_db(databases=["default", "catalog"], transaction=True)


WRITER = {"name": "orm"}  # the default path, unless a test picks another


def use_writer(name, monkeypatch):
    if name == "copy":  # the fast layer, every batch through COPY, however small
        monkeypatch.setattr(stock_sql, "ARRAYS_UP_TO", 0)
    elif name == "arrays":  # the fast layer, every batch as arrays, however large
        monkeypatch.setattr(stock_sql, "ARRAYS_UP_TO", 10**9)
    monkeypatch.setitem(WRITER, "name", name)


def stock_apply_order_events(*, records):
    """The writer in use: ``orm`` is the default path's service, the others the fast layer's."""
    if WRITER["name"] == "orm":
        return services.stock_apply_order_events(records=records)
    return stock_apply_order_events_fast(records=records).decided


def make_handler():
    return OrderEventsHandler() if WRITER["name"] == "orm" else FastOrderEventsHandler()


@pytest.fixture(
    params=[pytest.param("arrays", marks=pytest.mark.postgres), pytest.param("copy", marks=pytest.mark.postgres), "orm"]
)
def writer(request, monkeypatch):
    use_writer(request.param, monkeypatch)
    return request.param


def records(*events, start=0):
    """(orderId, productId, qty[, eventType]) → records on orders[1], from offset ``start``."""
    return order_records(*events, partition=1, start=start)


def stocks():
    return dict(Product.objects.values_list("product_id", "stock"))


def answers(*decided):
    """The order results the batches hand back, as they go on the wire, in order."""
    return [orjson.loads(result.to_json()) for batch in decided for result in batch.results]


def test_the_handler_publishes_each_answer_on_the_results_topic_keyed_by_order(products):
    batch = OrderEventsHandler().apply(records(("a", "CATALOG-001", 2), ("b", "CATALOG-404", 1)))
    assert [(topic, key, orjson.loads(value)["status"]) for topic, key, value, _ in batch.replies] == [
        (settings.ORDER_RESULTS_TOPIC, b"a", "CONFIRMED"),
        (settings.ORDER_RESULTS_TOPIC, b"b", "REJECTED"),
    ]
    assert (batch.applied, batch.refused) == (1, 1)


def test_batch_lowers_stock_writes_ledger_rows_and_results(writer, products):
    result = stock_apply_order_events(
        records=records(("a", "CATALOG-001", 2), ("b", "CATALOG-002", 3), ("c", "CATALOG-001", 4))
    )
    assert (result.applied, result.refused, result.skipped, result.dead_letters) == (3, 0, 0, [])
    assert stocks() == {"CATALOG-001": 94, "CATALOG-002": 107, "CATALOG-003": 120}
    ledger = list(StockMovement.objects.order_by("id").values_list("order_id", "delta", "stock_after", "offset"))
    assert ledger == [("a", -2, 98, 0), ("b", -3, 107, 1), ("c", -4, 94, 2)]
    assert [(r["orderId"], r["status"], r["stockDelta"]) for r in answers(result)] == [
        ("a", "CONFIRMED", -2),
        ("b", "CONFIRMED", -3),
        ("c", "CONFIRMED", -4),
    ]


def test_orders_already_in_ledger_or_repeated_in_batch_are_skipped_and_answered_as_first_decided(writer, products):
    first = stock_apply_order_events(records=records(("a", "CATALOG-001", 2), ("z", "CATALOG-001", 500)))
    result = stock_apply_order_events(
        records=records(
            ("a", "CATALOG-001", 2), ("z", "CATALOG-001", 1), ("b", "CATALOG-001", 1), ("b", "CATALOG-001", 9)
        )
    )
    assert (result.applied, result.skipped) == (1, 3)
    assert stocks()["CATALOG-001"] == 97
    assert StockMovement.objects.get(order_id="b").delta == -1
    assert StockMovement.objects.count() == 3
    # A redelivered event's answer is given again, as the ledger has it (its first answer
    # may have been lost in a crash before it reached Kafka): z stays rejected for 500.
    assert answers(result)[:2] == answers(first)
    assert [(r["orderId"], r["status"], r["reason"], r["stockDelta"]) for r in answers(result)] == [
        ("a", "CONFIRMED", "", -2),
        ("z", "REJECTED", "INSUFFICIENT_STOCK", 0),
        ("b", "CONFIRMED", "", -1),
        ("b", "CONFIRMED", "", -1),
    ]


def test_orders_beyond_stock_and_for_unknown_products_are_refused_and_change_nothing(writer, products):
    result = stock_apply_order_events(
        records=records(("x", "NOPE", 1), ("y", "CATALOG-003", 100), ("z", "CATALOG-003", 21), ("w", "CATALOG-003", 20))
    )
    assert (result.applied, result.refused, result.dead_letters) == (2, 2, [])
    assert stocks()["CATALOG-003"] == 0
    assert [(r["orderId"], r["status"], r["reason"]) for r in answers(result)] == [
        ("x", "REJECTED", "UNKNOWN_PRODUCT"),
        ("y", "CONFIRMED", ""),
        ("z", "REJECTED", "INSUFFICIENT_STOCK"),
        ("w", "CONFIRMED", ""),
    ]
    assert StockMovement.objects.get(order_id="x").stock_after is None


def test_cancellation_restores_stock_exactly_once(writer, products):
    order = stock_apply_order_events(records=records(("a", "CATALOG-001", 30)))
    cancel = records(("a", "CATALOG-001", 30, ORDER_CANCELLED), start=1)
    cancelled = stock_apply_order_events(records=cancel)
    again = stock_apply_order_events(records=cancel)
    assert again.skipped == 1
    assert stocks()["CATALOG-001"] == 100
    assert [(r["status"], r["stockDelta"]) for r in answers(order, cancelled, again)] == [
        ("CONFIRMED", -30),
        ("CANCELLED", 30),
        ("CANCELLED", 30),
    ]


@pytest.mark.postgres
def test_every_writer_agrees_on_a_mixed_batch(products, monkeypatch):
    batch = [
        ("o1", "CATALOG-001", 5),
        ("o2", "NOPE", 1),
        ("o1", "CATALOG-001", 5),
        ("o3", "CATALOG-002", 700),
        ("o1", "CATALOG-001", 5, ORDER_CANCELLED),
        ("o4", "CATALOG-002", 7, ORDER_CANCELLED),
        ("o4", "CATALOG-002", 7),
    ]

    def run():
        result = stock_apply_order_events(records=records(*batch))
        rows = list(
            StockMovement.objects.order_by("id").values_list("order_id", "kind", "outcome", "reason", "stock_after")
        )
        return (
            (result.applied, result.refused, result.skipped),
            stocks(),
            rows,
            answers(result),
        )

    outcomes = {}
    for name in ("arrays", "copy", "orm"):
        with monkeypatch.context() as patch:
            use_writer(name, patch)
            outcomes[name] = run()
        StockMovement.objects.all().delete()
        Product.objects.filter(product_id="CATALOG-001").update(stock=100)
    assert outcomes["arrays"][0] == (3, 3, 1)  # applied, refused, skipped: a batch worth comparing
    assert outcomes["copy"] == outcomes["arrays"]
    assert outcomes["orm"] == outcomes["arrays"]


@pytest.mark.postgres
def test_every_writer_sees_what_earlier_batches_decided(products, monkeypatch, caplog):
    # A large batch reads only the ledger's cancellations and leaves redelivered orders to
    # the ledger's unique index: their COPY fails and the batch is decided again with the
    # whole read. Every writer must agree on batches that meet earlier decisions.
    earlier = [("o1", "CATALOG-001", 5), ("o2", "CATALOG-001", 3, ORDER_CANCELLED), ("o3", "CATALOG-002", 4)]
    new = [("o2", "CATALOG-001", 3), ("o3", "CATALOG-002", 4, ORDER_CANCELLED), ("o5", "CATALOG-001", 1)]
    redelivered = [("o5", "CATALOG-001", 1), ("o6", "CATALOG-002", 2), ("o1", "CATALOG-001", 5)]

    def run():
        decided = [stock_apply_order_events(records=records(*batch)) for batch in (earlier, new, redelivered)]
        rows = list(StockMovement.objects.order_by("id").values_list("order_id", "kind", "outcome", "reason", "delta"))
        return [(d.applied, d.refused, d.skipped) for d in decided], stocks(), rows, answers(*decided)

    outcomes, redone, initial = {}, {}, stocks()
    for name in ("arrays", "copy", "orm"):
        caplog.clear()
        with monkeypatch.context() as patch, caplog.at_level("INFO", logger="catalog.fast.services"):
            use_writer(name, patch)
            outcomes[name] = run()
        redone[name] = sum("deciding them again" in r.getMessage() for r in caplog.records)
        StockMovement.objects.all().delete()
        for product_id, stock in initial.items():
            Product.objects.filter(product_id=product_id).update(stock=stock)
    assert outcomes["arrays"][0] == [(3, 0, 0), (2, 1, 0), (1, 0, 2)]
    assert [(r["status"], r["reason"], r["productId"], r["stockDelta"]) for r in outcomes["arrays"][3][3:6]] == [
        ("REJECTED", "CANCELLED_FIRST", "CATALOG-001", 0),
        ("CANCELLED", "", "CATALOG-002", 4),
        ("CONFIRMED", "", "CATALOG-001", -1),
    ]
    assert outcomes["copy"] == outcomes["arrays"]
    assert outcomes["orm"] == outcomes["arrays"]
    assert redone == {"arrays": 0, "copy": 1, "orm": 0}  # only the COPY path assumes a batch is new


@pytest.mark.postgres
@pytest.mark.parametrize("plain", [True, False], ids=["plain", "with-escapes"])
def test_copy_stores_identifiers_and_times_as_sent(products, monkeypatch, plain):
    # A large batch is COPY'd as one string when no identifier holds a character COPY's
    # text format escapes, row by row (escaped) otherwise: both store exactly what came.
    use_writer("copy", monkeypatch)
    Product.objects.create(product_id="CAT\\ALOG\t9", product_name="odd", stock=50, unit_price=10)
    ids = ["o-1", "o-2"] if plain else ["o\t1", "o\\2\n"]
    product = "CATALOG-001" if plain else "CAT\\ALOG\t9"
    before = timezone.now()
    result = stock_apply_order_events(records=records((ids[0], product, 2), (ids[1], "NOPE", 1)))
    assert (result.applied, result.refused) == (1, 1)
    rows = list(StockMovement.objects.order_by("id").values_list("order_id", "product_id", "stock_after", "applied_at"))
    assert [r[:3] for r in rows] == [(ids[0], product, 98 if plain else 48), (ids[1], "NOPE", None)]
    assert all(before <= r[3] <= timezone.now() for r in rows)


@pytest.mark.postgres
def test_concurrent_orders_for_the_last_units_never_oversell(products):
    # Four consumers, one order each per call, all for CATALOG-001's last 100 units.
    errors = []

    def consume(prefix):
        try:
            for n in range(40):
                stock_apply_order_events(records=records((f"{prefix}-{n}", "CATALOG-001", 1)))
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=consume, args=(f"c{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    assert stocks()["CATALOG-001"] == 0
    assert StockMovement.objects.filter(outcome="applied").count() == 100
    assert StockMovement.objects.filter(outcome="rejected", reason="INSUFFICIENT_STOCK").count() == 60


@pytest.mark.postgres
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


def test_saving_a_product_republishes_it_only_when_the_replica_would_change(products):
    def snapshots():
        return OutboxEvent.objects.filter(topic__contains="product").count()

    before = snapshots()
    product = Product.objects.get(product_id="CATALOG-001")
    product.stock = 5
    product.save()
    assert snapshots() == before
    product.unit_price = 1200
    product.save()
    product.save()
    assert snapshots() == before + 1
    payload = orjson.loads(bytes(OutboxEvent.objects.filter(topic__contains="product").latest("id").payload))
    assert (payload["productId"], payload["unitPrice"], payload["active"]) == ("CATALOG-001", 1200, True)


@pytest.mark.postgres
def test_a_lost_database_connection_is_a_transient_error(products, writer):
    # The consumer retries a batch on OperationalError and splits it (then dead-letters)
    # on anything else: a database restart must be the former, whichever writer is in use.
    handler = make_handler()
    handler.apply(records(("o1", "CATALOG-001", 1)))
    backend = connections["catalog"].connection.info.backend_pid
    other = connections.create_connection("catalog")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s, 5000)", [backend])
    finally:
        other.close()

    with pytest.raises(handler.transient_errors):
        handler.apply(records(("o2", "CATALOG-001", 1), start=1))
    assert handler.apply(records(("o2", "CATALOG-001", 1), start=1)).applied == 1  # a new connection
    assert stocks()["CATALOG-001"] == 98
