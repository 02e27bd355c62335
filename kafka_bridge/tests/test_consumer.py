"""The consume loop (kafka_bridge/consumer.py) on the real broker and PostgreSQL, driving the
catalog's handler: dead letters without stalling, a clean SIGTERM, offsets committed per interval."""

import signal
import subprocess
import threading
import time
import uuid

import pytest
from confluent_kafka import Consumer, TopicPartition

import kafka_bridge.consumer
from catalog.consumers import OrderEventsHandler
from catalog.models import StockMovement
from contracts.events import OrderEvent
from kafka_bridge.config import client_config, dead_letter_topic
from kafka_bridge.consumer import BatchConsumer
from testsupport.helpers import consume_orders, group_member, manage, manage_env, produce, read_topic, stock_of

pytestmark = [pytest.mark.integration, pytest.mark.django_db(databases=["default", "catalog"], transaction=True)]


def order(product_id="CATALOG-002", qty=1, order_id=None) -> bytes:
    return OrderEvent(product_id, qty, 1000, qty * 1000, order_id or str(uuid.uuid4()), "user-1").to_json()


@pytest.fixture(params=[False, True], ids=["default", "fast"])
def fast(request, settings):
    """The loop as it runs by default (one batch at a time, the ORM) and the fast layer
    (pipelined, set-based SQL: CONSUMER_FAST)."""
    settings.CONSUMER_FAST = request.param
    return request.param


def test_bad_message_is_dead_lettered_with_reason_and_the_next_ones_are_decided(topic, products, fast):
    produce(
        topic,
        [b"not json", order(product_id="CATALOG-404", order_id="order-x"), order(qty=3, order_id="order-good")],
        key=b"k",
    )
    stats = consume_orders(topic)
    assert (stats.applied, stats.refused, stats.dead_lettered) == (1, 1, 1)
    assert stock_of("CATALOG-002") == 107
    refused = StockMovement.objects.get(order_id="order-x")
    assert (refused.outcome, refused.reason, refused.delta) == ("rejected", "UNKNOWN_PRODUCT", 0)

    letters = read_topic(dead_letter_topic(topic), expected=2, timeout=5)
    assert [m.value() for m in letters] == [b"not json"]
    headers = {m.value(): dict(m.headers()) for m in letters}
    bad_json = headers[b"not json"]
    assert bad_json["dlt.reason"].startswith(b"not JSON")
    assert bad_json["dlt.exception"] == b"InvalidEvent"
    assert bad_json["dlt.original.topic"] == topic.encode()
    assert int(bad_json["dlt.original.offset"]) == 0


def test_consumer_stopped_with_sigterm_mid_stream_and_restarted_applies_every_order_once(topic, products, fast):
    total = 400
    events = [
        order(product_id=pid, qty=1) for pid in ("CATALOG-001", "CATALOG-002", "CATALOG-003") for _ in range(total // 4)
    ]
    group = f"test-sigterm-{uuid.uuid4()}"

    def produce_slowly():
        for start in range(0, len(events), 20):
            produce(topic, events[start : start + 20])
            time.sleep(0.05)

    producer = threading.Thread(target=produce_slowly)
    producer.start()
    env = manage_env(CONSUMER_FAST=str(fast).lower())
    consumer = manage(
        "runconsumer",
        "--topic",
        topic,
        "--group-id",
        group,
        "--batch-size",
        "10",
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while StockMovement.objects.count() == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    consumer.send_signal(signal.SIGTERM)
    _, log = consumer.communicate(timeout=60)
    assert consumer.returncode == 0, log
    assert "consumer closed" in log
    applied_before_restart = StockMovement.objects.count()
    assert 0 < applied_before_restart
    producer.join()

    restarted = manage("runconsumer", "--topic", topic, "--group-id", group, "--exit-when-idle", "3", env=env)
    assert restarted.wait(120) == 0
    assert StockMovement.objects.count() == len(events)
    for pid, initial in (("CATALOG-001", 100), ("CATALOG-002", 110), ("CATALOG-003", 120)):
        assert stock_of(pid) == initial - total // 4


def test_offsets_are_committed_once_per_interval_and_all_of_them_before_exit(topic, products, monkeypatch):
    sent: list[int] = []  # highest offset in each commit the loop sent

    class RecordingConsumer(Consumer):
        def commit(self, *args, **kwargs):
            sent.append(max(tp.offset for tp in kwargs["offsets"]))
            return super().commit(*args, **kwargs)

    monkeypatch.setattr(kafka_bridge.consumer, "Consumer", RecordingConsumer)
    produce(topic, [order(product_id="CATALOG-003") for _ in range(60)], key=b"CATALOG-003")
    group = f"test-commits-{uuid.uuid4()}"

    def run(commit_interval: float):
        loop = BatchConsumer(
            handlers={topic: OrderEventsHandler()},
            group_id=group,
            batch_size=5,
            exit_when_idle=1,
            commit_interval=commit_interval,
        )
        return loop.run()

    stats = run(commit_interval=3600)
    assert stats.applied == 60 and stats.batches >= 6
    # The first batch's, one when the topic went quiet, and the closing one: not one per batch.
    assert len(sent) <= 3 < stats.batches, sent
    assert sent[-1] == 60
    reader = Consumer(client_config(**{"group.id": group}))
    try:
        committed = reader.committed([TopicPartition(topic, p) for p in range(3)], timeout=10)
    finally:
        reader.close()
    assert sum(max(tp.offset, 0) for tp in committed) == 60  # everything applied is committed
    # With no interval, every batch commits (what the interval saves).
    sent.clear()
    produce(topic, [order(product_id="CATALOG-003") for _ in range(30)], key=b"CATALOG-003")
    stats = run(commit_interval=0)
    assert stats.applied == 30 and len(sent) >= stats.batches
    assert stock_of("CATALOG-003") == 120 - 90


@pytest.mark.parametrize("protocol", ["consumer", "classic"])
def test_either_group_protocol_applies_every_event_and_the_broker_runs_the_group_on_it(topic, products, protocol):
    from django.test import override_settings

    from kafka_bridge.lag import group_describe

    produce(topic, [order(qty=2), order(qty=1)], key=b"k")
    group = f"test-protocol-{protocol}-{uuid.uuid4().hex[:6]}"
    with override_settings(KAFKA_GROUP_PROTOCOL=protocol):
        assert consume_orders(topic, group_id=group, idle=2).applied == 2
        with group_member(group_id=group, topic=topic):
            described = group_describe(group_id=group)
    assert described.protocol == protocol
    assert len(described.members) == 1 and len(described.members[0].partitions) == 3
    assert stock_of("CATALOG-002") == 110 - 3
