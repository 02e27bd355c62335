"""The stock writer process (catalog/stock_writer.py), on the real PostgreSQL: it writes a
forecast batch only if nothing the forecast assumed moved, never one queued behind a batch
it did not write, and the consumer applies what it did not write, in order."""

import uuid

import psycopg
import pytest
from django.db import connections
from django.db.models import Count

from catalog import stock_writer
from catalog.consumers import OrderEventsHandler
from catalog.forecast import StockForecaster
from catalog.models import Product, StockMovement
from catalog.reservations import ProductState
from catalog.services import stock_apply_order_events
from catalog.stock_sql import ledger_ahead, read_lines
from catalog.stock_writer import StockWriter
from config.routers import CATALOG_DB
from kafka_bridge.consumer import BatchConsumer
from kafka_bridge.events import OrderEvent
from testsupport.factories import order_records
from testsupport.helpers import produce, read_topic

pytestmark = [pytest.mark.integration, pytest.mark.django_db(databases=["default", "catalog"], transaction=True)]


@pytest.fixture
def writer():
    writer = StockWriter(CATALOG_DB)
    yield writer
    writer.close()


def forecast_for(forecaster, records):
    """A forecast as the handler builds it ahead: decisions, the read's lines, the COPY text."""
    forecast = forecaster.ahead(records)
    assert forecast.decisions is not None
    forecast.read, forecast.ledger = read_lines(records), ledger_ahead(forecast.decisions)
    assert forecast.read is not None and forecast.ledger is not None  # large: the writer's kind
    return forecast


def many(product_id, n, *, start=0):
    """``n`` orders of one unit for one product: large enough a batch to go by COPY."""
    return order_records(*[(f"{product_id}-{start + i}", product_id, 1) for i in range(n)], start=start)


def knowing(products):
    """A forecaster that knows the demo products as they are in the database."""
    forecaster = StockForecaster()
    first = order_records(*[(f"seen-{p}", p, 0) for p in products])
    states = {p.product_id: ProductState(p.stock, p.active) for p in Product.objects.all()}
    forecaster.settle(forecaster.ahead(first), first, held=False, products=states, stock={})
    return forecaster


def test_a_batch_is_written_only_if_nothing_it_assumed_moved(products, writer):
    forecaster = knowing(products)
    records = many("CATALOG-003", 300)
    writer.send(forecast_for(forecaster, records))
    assert writer.receive()
    assert Product.objects.get(product_id="CATALOG-003").stock == 0  # 120 taken, 180 refused
    assert StockMovement.objects.count() == 300

    # Someone restocks CATALOG-003 under the consumer: the next forecast assumed 0.
    records = many("CATALOG-003", 250, start=300)
    forecast = forecast_for(forecaster, records)
    Product.objects.filter(product_id="CATALOG-003").update(stock=10)
    writer.send(forecast)
    assert not writer.receive()
    assert StockMovement.objects.count() == 300  # nothing of it written
    decided = stock_apply_order_events(records=records, forecast=forecast)  # the consumer applies it
    assert not decided.forecast_held and decided.applied == 10
    assert Product.objects.get(product_id="CATALOG-003").stock == 0


def test_a_batch_queued_behind_one_not_written_is_not_written(products, writer):
    forecaster = knowing(products)
    first, second = many("CATALOG-001", 250), many("CATALOG-002", 250, start=250)
    behind = forecast_for(forecaster, first), forecast_for(forecaster, second)
    Product.objects.filter(product_id="CATALOG-001").update(stock=7)  # the first's forecast will not hold
    for forecast in behind:
        writer.send(forecast)
    assert [writer.receive(), writer.receive()] == [False, False]
    # The second's own forecast held (CATALOG-002 did not move), yet it was not written
    # ahead of the first: the consumer applies both, in order.
    assert StockMovement.objects.count() == 0
    assert writer.takes_more  # both received: the writer takes batches again
    for records, forecast in zip((first, second), behind, strict=True):
        stock_apply_order_events(records=records, forecast=forecast)
    ledger = list(StockMovement.objects.order_by("id").values_list("product_id", flat=True))
    assert ledger == ["CATALOG-001"] * 250 + ["CATALOG-002"] * 250

    third = many("CATALOG-002", 250, start=500)
    forecaster = knowing(products)
    writer.send(forecast_for(forecaster, third))
    assert writer.receive()
    assert StockMovement.objects.count() == 750


def test_a_redelivered_batch_is_not_written_and_is_skipped_by_the_consumer(products, writer):
    records = many("CATALOG-002", 220)
    stock_apply_order_events(records=records[:1])  # its first order already decided
    forecaster = knowing(products)
    forecast = forecast_for(forecaster, records)
    writer.send(forecast)
    assert not writer.receive()  # the ledger's unique index: rolled back
    decided = stock_apply_order_events(records=records, forecast=forecast)
    assert decided.skipped == 1
    assert not StockMovement.objects.values("order_id", "kind").annotate(n=Count("id")).filter(n__gt=1).exists()
    assert StockMovement.objects.count() == 220


def test_batches_queued_in_a_writer_that_dies_come_back_not_written_and_a_new_one_takes_the_next(products, writer):
    forecaster = knowing(products)
    # The first two wait on CATALOG-001's lock; the third, on CATALOG-002, would not.
    batches = [many(p, 210, start=i * 210) for i, p in enumerate(["CATALOG-001"] * 2 + ["CATALOG-002"] * 2)]
    forecasts = [forecast_for(forecaster, records) for records in batches]
    blocker = psycopg.connect(**connections[CATALOG_DB].get_connection_params())
    try:  # the writer waits on CATALOG-001's lock with two batches queued, and is killed
        blocker.execute("SELECT 1 FROM catalog_product WHERE product_id = 'CATALOG-001' FOR UPDATE")
        writer.send(forecasts[0])
        writer.send(forecasts[1])
        writer._process.kill()
        writer._process.join()
        writer.send(forecasts[2])  # behind them: not given to a new writer ahead of them
    finally:
        blocker.close()
    assert [writer.receive() for _ in range(3)] == [False, False, False]
    assert StockMovement.objects.count() == 0
    for records, forecast in zip(batches[:3], forecasts[:3], strict=True):  # the consumer applies them
        stock_apply_order_events(records=records, forecast=forecast)
    writer.send(forecasts[3])  # a new writer
    assert writer.receive()
    assert StockMovement.objects.count() == 840


def test_a_writer_that_does_not_start_in_time_is_given_up(products, writer, monkeypatch):
    monkeypatch.setattr(stock_writer, "START_TIMEOUT_SECONDS", 0.001)
    writer.send(forecast_for(knowing(products), many("CATALOG-001", 210)))
    assert not writer.receive()
    assert not writer.takes_more  # the consumer applies every batch from now on
    assert StockMovement.objects.count() == 0


def test_the_pipelined_consumer_has_its_backlog_written_by_the_writer(topics, products, settings):
    """On the broker: a backlog, consumed pipelined. Most batches are written by the writer
    process; every order is decided once, in order per product, and answered."""
    settings.CONSUMER_PIPELINE = True
    settings.CONSUMER_STOCK_WRITER = True
    topic = topics["ORDER_EVENTS_TOPIC"]
    Product.objects.update(stock=1_000_000)
    ids = {p: [f"{p}-{uuid.uuid4()}" for _ in range(1000)] for p in products}
    for product_id, orders in ids.items():
        produce(
            topic,
            [OrderEvent(product_id, 1, 1000, 1000, o, "user-1").to_json() for o in orders],
            key=product_id.encode(),
        )
    handler = OrderEventsHandler()
    assert handler.writer is not None
    loop = BatchConsumer(
        handlers={topic: handler}, group_id=f"test-writer-{uuid.uuid4()}", batch_size=500, exit_when_idle=3
    )
    stats = loop.run()

    assert stats.applied == 3000
    assert handler.writer.written >= 2
    for product_id, orders in ids.items():
        ledger = list(
            StockMovement.objects.filter(product_id=product_id).order_by("id").values_list("order_id", "stock_after")
        )
        assert [order_id for order_id, _ in ledger] == orders
        assert [after for _, after in ledger] == list(range(999_999, 998_999, -1))
        assert Product.objects.get(product_id=product_id).stock == 999_000
    answers = read_topic(topics["ORDER_RESULTS_TOPIC"], expected=3000)
    assert len(answers) == 3000
