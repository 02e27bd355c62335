"""The relay (kafka_bridge/outbox.py, manage.py runrelay) on the real broker and PostgreSQL:
what stayed unsent in an outbox is published once, and young rows are left to the web process."""

import orjson
import pytest
from django.test import override_settings

from orders.models import OutboxEvent
from orders.services import order_create
from testsupport.helpers import consume_orders, manage, read_topic, stock_of

pytestmark = [pytest.mark.integration, pytest.mark.django_db(databases=["default", "catalog"], transaction=True)]


def test_relay_drains_a_backlog_of_many_batches_each_event_once(topic):
    # Three batches and a half: each batch's sent-marks are written while the next one is
    # sent (kafka_bridge.outbox), so this is where an overlap that lost or repeated a row
    # would show.
    from datetime import timedelta

    from kafka_bridge.outbox import outbox_relay_pending, relay_producer

    OutboxEvent.objects.bulk_create(
        [OutboxEvent(topic=topic, key=f"k{i % 7}", subject_id=f"e{i}", payload=b'{"n":%d}' % i) for i in range(700)]
    )
    producer = relay_producer()
    sent = outbox_relay_pending(
        model=OutboxEvent, using="default", producer=producer, older_than=timedelta(0), batch_size=200
    )
    assert sent == (700, 0)
    assert not OutboxEvent.objects.filter(sent_at__isnull=True).exists()
    again = outbox_relay_pending(
        model=OutboxEvent, using="default", producer=producer, older_than=timedelta(0), batch_size=200
    )
    assert again == (0, 0)
    numbers = sorted(orjson.loads(m.value())["n"] for m in read_topic(topic, expected=700))
    assert numbers == list(range(700))


@override_settings(OUTBOX_PUBLISH_ON_COMMIT=False)
def test_relay_publishes_events_left_unsent(topic, replica):
    # As after a crash between the order's commit and its publication.
    orders = [order_create(user_id="u", product_id="CATALOG-002", qty=q, unit_price=1000) for q in (1, 2, 3)]
    assert OutboxEvent.objects.filter(sent_at__isnull=True).count() == 3

    relay = manage("runrelay", "--once", "--grace", "0")
    assert relay.wait(60) == 0
    assert OutboxEvent.objects.filter(sent_at__isnull=True).count() == 0

    messages = read_topic(topic, expected=3)
    assert sorted(orjson.loads(m.value())["orderId"] for m in messages) == sorted(str(o.order_id) for o in orders)
    consume_orders(topic)
    assert stock_of("CATALOG-002") == 110 - 6


def test_relay_leaves_young_events_to_the_web_process(topic, replica):
    with override_settings(OUTBOX_PUBLISH_ON_COMMIT=False):
        order_create(user_id="u", product_id="CATALOG-002", qty=1, unit_price=1000)
    relay = manage("runrelay", "--once", "--grace", "3600")
    assert relay.wait(60) == 0
    assert OutboxEvent.objects.get().sent_at is None
