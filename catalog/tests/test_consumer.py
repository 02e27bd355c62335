"""runconsumer on the real broker and PostgreSQL: exactly-once effect, dead letters, shutdown."""

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
from kafka_bridge.config import client_config, dead_letter_topic
from kafka_bridge.consumer import BatchConsumer
from kafka_bridge.events import OrderEvent
from testsupport.helpers import ROOT, consume_orders, manage, produce, read_topic, stock_of

pytestmark = [pytest.mark.integration, pytest.mark.django_db(databases=["default", "catalog"], transaction=True)]

TUTORIAL_LINE = (
    '{"productId":"CATALOG-001","qty":10,"unitPrice":1000,"totalPrice":10000,'
    '"orderId":"test-order-id-dummy-id","userId":"8b2c437c-c8b2-42eb-b9ff-3aa8ee4cac1e"}'
)


def order(product_id="CATALOG-002", qty=1, order_id=None) -> bytes:
    return OrderEvent(product_id, qty, 1000, qty * 1000, order_id or str(uuid.uuid4()), "user-1").to_json()


def test_tutorial_console_producer_line_lowers_stock_once_however_often_pasted(topic, products, settings):
    # Kafka's own CLI tool, with the tutorial's arguments, the line pasted three times.
    subprocess.run(
        [
            ROOT / "bin" / "kafka-console-producer",
            "--bootstrap-server",
            settings.KAFKA_BOOTSTRAP_SERVERS,
            "--topic",
            topic,
        ],
        input=(TUTORIAL_LINE + "\n") * 3,
        text=True,
        check=True,
        timeout=60,
    )
    stats = consume_orders(topic)
    assert (stats.applied, stats.skipped) == (1, 2)
    assert stock_of("CATALOG-001") == 90
    movement = StockMovement.objects.get(order_id="test-order-id-dummy-id")
    assert (movement.delta, movement.stock_after, movement.topic) == (-10, 90, topic)


def test_duplicate_order_event_is_applied_once_even_across_runs(topic, products):
    produce(topic, [order(qty=4, order_id="order-a"), order(qty=4, order_id="order-a")], key=b"CATALOG-002")
    consume_orders(topic)
    # Redelivery, as after offsets were lost: a new group reads the topic again.
    produce(topic, [order(qty=4, order_id="order-a")], key=b"CATALOG-002")
    stats = consume_orders(topic)
    assert stats.applied == 0 and stats.skipped == 3
    assert stock_of("CATALOG-002") == 106
    assert StockMovement.objects.filter(order_id="order-a").count() == 1


def test_bad_message_is_dead_lettered_with_reason_and_the_next_ones_are_decided(topic, products):
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


def test_consumer_stopped_with_sigterm_mid_stream_and_restarted_applies_every_order_once(topic, products):
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
    consumer = manage(
        "runconsumer", "--topic", topic, "--group-id", group, "--batch-size", "10", stderr=subprocess.PIPE, text=True
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

    restarted = manage("runconsumer", "--topic", topic, "--group-id", group, "--exit-when-idle", "3")
    assert restarted.wait(120) == 0
    assert StockMovement.objects.count() == len(events)
    for pid, initial in (("CATALOG-001", 100), ("CATALOG-002", 110), ("CATALOG-003", 120)):
        assert stock_of(pid) == initial - total // 4


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--offset-reset", "middle"], "invalid choice: 'middle'"),
        (["--exit-when-idle", "-1"], "invalid positive number value"),
        (["--batch-size", "0"], "invalid positive integer value"),
        (["--topic", " "], "--topic must not be empty"),
        (["--no-such-flag"], "unrecognized arguments"),
    ],
)
def test_runconsumer_rejects_bad_flags_with_a_clear_message(args, message):
    process = manage("runconsumer", *args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, err = process.communicate(timeout=60)
    assert process.returncode != 0
    assert message in err
    assert "Traceback" not in err


def test_events_for_one_product_keep_their_order_through_the_ledger(topic, products):
    ids = [f"seq-{i}" for i in range(50)]
    produce(topic, [order(product_id="CATALOG-003", order_id=i) for i in ids], key=b"CATALOG-003")
    consume_orders(topic, batch_size=7)
    movements = list(StockMovement.objects.order_by("id").values_list("order_id", "stock_after"))
    assert [m[0] for m in movements] == ids
    assert [m[1] for m in movements] == list(range(119, 69, -1))


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
