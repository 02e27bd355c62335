"""The two relays (README, "Two relays"): our polling relay and Debezium on Kafka Connect
put the same message on the topic, byte for byte, from the same outbox row; on the real
broker, PostgreSQL and a Connect worker."""

import json
from datetime import timedelta

import pytest
from django.db import transaction
from django.test import override_settings

from kafka_bridge.connect import connectors_delete, connectors_register, connectors_running, connectors_status
from kafka_bridge.outbox import outbox_relay_pending, outbox_send, relay_producer
from orders.models import OutboxEvent
from orders.outbox import order_event
from orders.services import order_create
from testsupport.helpers import read_topic

pytestmark = [pytest.mark.integration, pytest.mark.django_db(databases=["default", "catalog"], transaction=True)]

TUTORIAL_KEYS = ["productId", "qty", "unitPrice", "totalPrice", "orderId", "userId"]


@pytest.fixture
def debezium(connect_worker):
    """Debezium is the relay for the test: its connectors run on the test databases, and
    are removed afterwards with their replication slots."""
    with override_settings(OUTBOX_RELAY="debezium", CONNECT_URL=connect_worker.url, OUTBOX_PUBLISH_ON_COMMIT=False):
        connectors_register()
        assert connectors_running(within=60), f"the connectors did not start: {connectors_status()}"
        try:
            yield
        finally:
            connectors_delete()


def record(topic: str, *, key: str, payload: bytes) -> None:
    with transaction.atomic():
        outbox_send(
            model=OutboxEvent,
            using="default",
            topic=topic,
            key=key,
            subject_id="same-row",
            payload=payload,
            crash_point_name="test",
        )


def test_both_relays_put_the_same_message_on_the_topic(topic, replica, request):
    order = order_create(user_id="u", product_id="CATALOG-001", qty=10, unit_price=1000)
    payload = order_event(order).to_json()
    read_topic(topic, expected=1)  # the order's own event, published on commit; not compared

    # 1. The polling relay: the row waits in the outbox until runrelay's pass sends it.
    with override_settings(OUTBOX_PUBLISH_ON_COMMIT=False):
        record(topic, key=order.product_id, payload=payload)
    delivered = outbox_relay_pending(
        model=OutboxEvent, using="default", producer=relay_producer(), older_than=timedelta(0), batch_size=10
    )
    assert delivered == (1, 0)

    # 2. Debezium: the same row, deleted in its own transaction, read from the log.
    request.getfixturevalue("debezium")
    with override_settings(OUTBOX_RELAY="debezium", OUTBOX_PUBLISH_ON_COMMIT=False):
        record(topic, key=order.product_id, payload=payload)
    assert not OutboxEvent.objects.filter(subject_id="same-row", sent_at__isnull=True).exists()

    _, polling, cdc = read_topic(topic, expected=3, timeout=60)
    assert cdc.value() == polling.value() == payload  # the tutorial's JSON, no envelope
    assert list(json.loads(cdc.value())) == TUTORIAL_KEYS
    assert cdc.key() == polling.key() == b"CATALOG-001"
    assert cdc.partition() == polling.partition()  # murmur2 of the key, in both clients
    assert cdc.headers() == polling.headers()  # none, with tracing off


def test_under_debezium_an_order_reaches_the_topic_and_leaves_no_outbox_row(topic, replica, debezium):
    with override_settings(OUTBOX_RELAY="debezium", OUTBOX_PUBLISH_ON_COMMIT=False):
        orders = [order_create(user_id="u", product_id="CATALOG-002", qty=q, unit_price=1000) for q in (1, 2, 3)]
    assert OutboxEvent.objects.count() == 0  # deleted in the transaction that wrote it

    messages = read_topic(topic, expected=3, timeout=60)
    assert sorted(json.loads(m.value())["orderId"] for m in messages) == sorted(str(o.order_id) for o in orders)
    assert {m.key() for m in messages} == {b"CATALOG-002"}
    status = {s.name: s for s in connectors_status()}
    assert all(s.state == "RUNNING" and s.lag_bytes is not None for s in status.values()), status
