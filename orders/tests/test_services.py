"""The order service's writes, without Kafka: statuses only move up, the replica keeps the
newest version of each product, and an order is checked against the replica. Each write
both ways: the default path's ORM and the fast layer's SQL (orders/fast/)."""

import orjson
import pytest
from django.db.models.signals import post_save
from django.test import override_settings

from contracts.events import OrderResult, ProductSnapshot
from orders import services
from orders.fast.services import order_apply_results_fast, order_create_fast
from orders.models import Order, OutboxEvent, ProductReplica
from orders.services import OrderRefused, replica_apply_snapshots
from testsupport.factories import records

pytestmark = pytest.mark.django_db(databases=["default", "catalog"])


PATH = {"placement": "orm", "statuses": "orm"}  # the default path's, unless a test picks the fast layer's


def order_create(**kwargs):
    return (services.order_create if PATH["placement"] == "orm" else order_create_fast)(**kwargs)


def order_apply_results(**kwargs):
    return (services.order_apply_results if PATH["statuses"] == "orm" else order_apply_results_fast)(**kwargs)


@pytest.fixture(params=[pytest.param("statement", marks=pytest.mark.postgres), "orm"])
def placement(request, monkeypatch):
    """How an order is placed: one SQL statement (the fast layer) or the ORM."""
    monkeypatch.setitem(PATH, "placement", request.param)
    return request.param


@pytest.fixture(params=[pytest.param("sql", marks=pytest.mark.postgres), "orm"])
def statuses_writer(request, monkeypatch):
    """How the catalog's answers are read and written: plain SQL (the fast layer) or the ORM."""
    monkeypatch.setitem(PATH, "statuses", request.param)
    return request.param


def result(order: Order, status: str, reason: str = "") -> OrderResult:
    return OrderResult(str(order.order_id), status, reason, order.product_id, 0)


def snapshot(version: int, *, price: int = 1000, active: bool = True, product_id: str = "P-1") -> ProductSnapshot:
    return ProductSnapshot(
        product_id=product_id, product_name=f"v{version}", unit_price=price, active=active, version=version
    )


def status_of(order: Order) -> tuple[str, str]:
    order.refresh_from_db()
    return order.status, order.reason


@pytest.fixture
def order():
    replica_apply_snapshots(records=records([snapshot(1)]))
    return order_create(user_id="u", product_id="P-1", qty=1, unit_price=1000)


def test_a_result_moves_a_pending_order_and_a_late_or_repeated_one_changes_nothing(order, statuses_writer):
    applied = order_apply_results(records=records([result(order, "CONFIRMED")]))
    assert (applied.applied, applied.skipped) == (1, 0)
    assert status_of(order) == ("CONFIRMED", "")

    late = order_apply_results(
        records=records([result(order, "REJECTED", "INSUFFICIENT_STOCK"), result(order, "CONFIRMED")])
    )
    assert (late.applied, late.skipped) == (0, 2)
    assert status_of(order) == ("CONFIRMED", "")


def test_cancelled_outranks_a_decision_and_nothing_moves_it_back(order, statuses_writer):
    order_apply_results(records=records([result(order, "CANCELLED"), result(order, "CONFIRMED")]))
    assert status_of(order) == ("CANCELLED", "")
    order_apply_results(records=records([result(order, "REJECTED", "CANCELLED_FIRST")]))
    assert status_of(order) == ("CANCELLED", "")


def test_one_batch_moves_each_of_its_orders_with_its_own_reason(order, statuses_writer):
    other = order_create(user_id="u", product_id="P-1", qty=2, unit_price=1000)
    untouched = order_create(user_id="u", product_id="P-1", qty=3, unit_price=1000)
    batch = [result(order, "REJECTED", "INSUFFICIENT_STOCK"), result(other, "CONFIRMED"), result(order, "CONFIRMED")]
    applied = order_apply_results(records=records(batch))
    assert (applied.applied, applied.skipped) == (2, 1)
    assert status_of(order) == ("REJECTED", "INSUFFICIENT_STOCK")
    assert status_of(other) == ("CONFIRMED", "")
    assert status_of(untouched) == ("PENDING", "")
    assert order.status_changed_at is not None and order.status_changed_at == other.status_changed_at
    assert untouched.status_changed_at is None


def test_a_result_for_an_order_this_service_never_made_is_skipped(statuses_writer):
    dummy = OrderResult("test-order-id-dummy-id", "CONFIRMED", "", "CATALOG-001", -10)  # the tutorial's hand-typed one
    assert order_apply_results(records=records([dummy])).skipped == 1


def test_the_replica_keeps_the_newest_version_whatever_the_order_of_arrival():
    replica_apply_snapshots(records=records([snapshot(3, price=1300), snapshot(2, price=1200)]))
    assert ProductReplica.objects.values_list("unit_price", "version").get() == (1300, 3)

    older = replica_apply_snapshots(records=records([snapshot(1, price=1100)]))
    assert (older.applied, older.skipped) == (0, 1)
    assert ProductReplica.objects.values_list("unit_price", "version").get() == (1300, 3)

    replica_apply_snapshots(records=records([snapshot(4, active=False)]))
    assert ProductReplica.objects.values_list("active", "version").get() == (False, 4)


@pytest.mark.parametrize(
    ("snapshots", "product_id", "unit_price", "field", "message"),
    [
        ([], "P-1", 1000, "productId", "Unknown product 'P-1'."),
        ([snapshot(1, active=False)], "P-1", 1000, "productId", "P-1 is not for sale."),
        ([snapshot(1, price=1500)], "P-1", 1000, "unitPrice", "The price of P-1 is 1500, not 1000."),
    ],
)
def test_an_order_the_replica_cannot_vouch_for_is_refused_and_not_stored(
    snapshots, product_id, unit_price, field, message, placement
):
    replica_apply_snapshots(records=records(snapshots))
    with pytest.raises(OrderRefused) as refused:
        order_create(user_id="u", product_id=product_id, qty=1, unit_price=unit_price)
    assert refused.value.errors == {field: [message]}
    assert not Order.objects.exists() and not OutboxEvent.objects.exists()


@override_settings(OUTBOX_PUBLISH_ON_COMMIT=False)
def test_an_order_is_stored_with_its_event_the_same_way_in_one_statement_or_through_the_orm(placement):
    replica_apply_snapshots(records=records([snapshot(1, price=700)]))
    saved = []

    def receiver(sender, instance, created, **kwargs):
        saved.append((instance.pk, created))

    post_save.connect(receiver, sender=Order)
    try:
        order = order_create(user_id="alice", product_id="P-1", qty=3, unit_price=700)
    finally:
        post_save.disconnect(receiver, sender=Order)

    # The ORM's save fires post_save, whose receiver writes the outbox row; the statement
    # writes both rows itself and fires no signal.
    assert saved == ([(order.pk, True)] if placement == "orm" else [])
    stored = Order.objects.get()
    assert stored.pk == order.pk and not order._state.adding
    fields = ("order_id", "user_id", "product_id", "qty", "unit_price", "total_price", "status", "reason")
    assert [getattr(stored, f) for f in fields] == [getattr(order, f) for f in fields]
    assert (stored.total_price, stored.status, stored.reason, stored.status_changed_at) == (2100, "PENDING", "", None)
    assert stored.created_at == order.created_at
    event = OutboxEvent.objects.get()  # one row: the signal did not write a second
    assert (event.key, event.subject_id, event.sent_at, event.attempts) == ("P-1", str(order.order_id), None, 0)
    assert orjson.loads(bytes(event.payload)) == {
        "productId": "P-1",
        "qty": 3,
        "unitPrice": 700,
        "totalPrice": 2100,
        "orderId": str(order.order_id),
        "userId": "alice",
    }
