"""ConfirmedPublisher (kafka_bridge/producer.py) on the real broker: what the consume loop
relies on before it moves a batch's offsets."""

import pytest
from confluent_kafka import KafkaException

from kafka_bridge.producer import ConfirmedPublisher
from testsupport.helpers import read_topic

pytestmark = pytest.mark.integration


def test_every_message_arrives_once_in_order_per_key_with_its_headers(topics, monkeypatch):
    results, letters = topics["ORDER_RESULTS_TOPIC"], topics["ORDER_EVENTS_TOPIC"] + "-dlt"
    # A small queue, so that one send fills it and waits for room (acknowledgements) midway.
    monkeypatch.setattr(ConfirmedPublisher, "QUEUE_MESSAGES", 150)
    publisher = ConfirmedPublisher()
    outgoing = []
    for i in range(600):
        if i % 100 == 50:  # a dead letter, with headers, between runs of replies
            outgoing.append((letters, None, f"letter-{i}".encode(), [("dlt.reason", b"why")]))
        outgoing.append((results, f"order-{i % 7}".encode(), f"{i}".encode(), None))
    try:
        assert publisher.send(outgoing)
    finally:
        publisher.close()

    got = read_topic(results, expected=600)
    assert len(got) == 600
    for key in {m.key() for m in got}:
        sent = [int(v) for _, k, v, _ in outgoing if k == key]
        assert [int(m.value()) for m in got if m.key() == key] == sent  # each key's order kept
    dead = read_topic(letters, expected=6)
    assert sorted(m.value() for m in dead) == sorted(f"letter-{i}".encode() for i in range(50, 600, 100))
    assert all(m.headers() == [("dlt.reason", b"why")] for m in dead)


def test_a_message_librdkafka_refuses_raises_instead_of_being_dropped(topics):
    publisher = ConfirmedPublisher()
    too_large = b"x" * 2_000_000  # over message.max.bytes
    try:
        with pytest.raises(KafkaException, match="(?i)too large"):
            publisher.send([(topics["ORDER_RESULTS_TOPIC"], b"k", too_large, None)])
    finally:
        publisher.close()
