"""From an order's commit to the topic: the outbox, the publisher and the relay (real broker, PostgreSQL)."""

import time

import orjson
import pytest
from django.db import transaction
from django.test import override_settings
from django.utils import timezone

from kafka_bridge.producer import shutdown_publisher
from orders.models import Order, OutboxEvent
from orders.services import order_create
from testsupport.helpers import api_client, consume_orders, manage, read_topic, stock_of

pytestmark = [pytest.mark.integration, pytest.mark.django_db(databases=["default", "catalog"], transaction=True)]


def wait_until(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_order_placed_through_api_is_published_as_tutorial_json_and_lowers_stock(topic, replica):
    response = api_client().post(
        "/order-service/8b2c437c-c8b2-42eb-b9ff-3aa8ee4cac1e/orders",
        {"productId": "CATALOG-001", "qty": 10, "unitPrice": 1000},
        format="json",
    )
    assert response.status_code == 201
    order_id = response.json()["orderId"]

    [message] = read_topic(topic, expected=1)
    assert message.key() == b"CATALOG-001"
    assert message.value() == (
        b'{"productId":"CATALOG-001","qty":10,"unitPrice":1000,"totalPrice":10000,'
        b'"orderId":"' + order_id.encode() + b'","userId":"8b2c437c-c8b2-42eb-b9ff-3aa8ee4cac1e"}'
    )
    assert wait_until(lambda: OutboxEvent.objects.get().sent_at is not None), (
        "delivery report never marked the row sent"
    )

    stats = consume_orders(topic)
    assert stats.applied == 1
    assert stock_of("CATALOG-001") == 90


def test_rolled_back_order_publishes_nothing(topic, replica):
    with pytest.raises(RuntimeError), transaction.atomic():
        order_create(user_id="u", product_id="CATALOG-002", qty=5, unit_price=1000)
        raise RuntimeError("the request failed after the insert")
    # A committed order after it, to know the topic is readable and the first never came.
    order_create(user_id="u", product_id="CATALOG-003", qty=1, unit_price=2000)

    messages = read_topic(topic, expected=2, timeout=10)
    assert [orjson.loads(m.value())["productId"] for m in messages] == ["CATALOG-003"]
    assert Order.objects.count() == 1 and OutboxEvent.objects.count() == 1
    consume_orders(topic)
    assert stock_of("CATALOG-002") == 110


@override_settings(OUTBOX_PUBLISH_ON_COMMIT=False)
def test_outbox_row_written_by_hand_reads_back_as_the_model_would_have_written_it(topic, replica):
    # outbox_record writes its INSERT out (the order path's CPU): the row must be what
    # OutboxEvent.objects.create() would have stored, unsent, for the relay to find.
    before = timezone.now()
    order = order_create(user_id="u", product_id="CATALOG-002", qty=2, unit_price=1000)
    event = OutboxEvent.objects.get()
    assert (event.topic, event.key, event.subject_id) == (topic, "CATALOG-002", str(order.order_id))
    assert orjson.loads(bytes(event.payload))["orderId"] == str(order.order_id)
    assert before <= event.created_at <= timezone.now()
    assert (event.sent_at, event.attempts, event.last_error) == (None, 0, "")


def test_broker_down_order_is_accepted_and_delivered_once_broker_is_back(topic, replica, kafka_broker):
    kafka_broker.stop()
    try:
        response = api_client().post(
            "/order-service/user-1/orders", {"productId": "CATALOG-003", "qty": 7, "unitPrice": 2000}, format="json"
        )
        assert response.status_code == 201
        # As if the web process died now: whatever it had in hand is gone, and nothing
        # reached the broker, so the row must still be unsent.
        shutdown_publisher(timeout=0)
        assert OutboxEvent.objects.get().sent_at is None
    finally:
        kafka_broker.start()
    # Only the relay is left to send it.

    relay = manage("runrelay", "--once", "--grace", "0")
    assert relay.wait(120) == 0
    assert OutboxEvent.objects.get().sent_at is not None

    consume_orders(topic)
    assert stock_of("CATALOG-003") == 120 - 7
    # However many copies reached the topic, the ledger applied one.
    from catalog.models import StockMovement

    assert StockMovement.objects.filter(order_id=response.json()["orderId"]).count() == 1
