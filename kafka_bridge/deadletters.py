"""Dead-letter topic: where a message goes when it can never be applied.

The original key and value are kept byte for byte; headers say why and where from, so
the message can be found, fixed and replayed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition

from kafka_bridge.config import client_config, dead_letter_topic, producer_config
from kafka_bridge.messages import DeadLetter, Headers, Outgoing, position
from kafka_bridge.producer import deliver

logger = logging.getLogger(__name__)


def dead_letter_headers(letter: DeadLetter) -> Headers:
    source = letter.source
    return [
        ("dlt.reason", letter.reason.encode()),
        ("dlt.exception", letter.exception.encode()),
        ("dlt.original.topic", source.topic.encode()),
        ("dlt.original.partition", str(source.partition).encode()),
        ("dlt.original.offset", str(source.offset).encode()),
        ("dlt.original.timestamp", str(source.timestamp_ms if source.timestamp_ms is not None else "").encode()),
    ]


def dead_letter_message(letter: DeadLetter) -> Outgoing:
    """The letter as it goes to its dead-letter topic: the original key and value, and why."""
    source = letter.source
    return (dead_letter_topic(source.topic), source.key, source.value, dead_letter_headers(letter))


@dataclass(frozen=True)
class StoredDeadLetter:
    """A message as it sits on a dead-letter topic."""

    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: dict[str, str]

    @property
    def id(self) -> str:
        return f"{self.partition}:{self.offset}"

    @property
    def reason(self) -> str:
        return self.headers.get("dlt.reason", "")

    @property
    def original_topic(self) -> str:
        return self.headers.get("dlt.original.topic", "")

    @property
    def original(self) -> str:
        topic, partition, offset = (
            self.headers.get(f"dlt.original.{k}", "?") for k in ("topic", "partition", "offset")
        )
        return f"{topic}[{partition}]@{offset}"


def dead_letters_read(*, topic: str, timeout: float = 10) -> list[StoredDeadLetter]:
    """Every message now on the dead-letter ``topic``, oldest first per partition.

    Reads with a plain assignment (no consumer group), so it commits nothing and
    leaves no trace on the broker.
    """
    consumer = Consumer(client_config(**{"group.id": "stocksync-deadletters-reader", "enable.auto.commit": False}))
    try:
        metadata = consumer.list_topics(topic, timeout=timeout).topics.get(topic)
        if metadata is None or metadata.error is not None:
            return []
        ends: dict[int, int] = {}
        assignment = []
        for partition in sorted(metadata.partitions):
            low, high = _watermarks(consumer, TopicPartition(topic, partition), timeout)
            if high > low:
                ends[partition] = high
                assignment.append(TopicPartition(topic, partition, low))
        if not assignment:
            return []
        consumer.assign(assignment)
        letters: list[StoredDeadLetter] = []
        deadline = time.monotonic() + timeout + sum(ends.values()) / 10000
        remaining = dict(ends)
        while remaining and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None or message.error() is not None:
                continue
            _, partition, offset = position(message)
            headers = cast(list[tuple[str, bytes | None]], message.headers() or [])
            letters.append(
                StoredDeadLetter(
                    partition=partition,
                    offset=offset,
                    key=message.key(),
                    value=message.value(),
                    headers={k: (v or b"").decode(errors="replace") for k, v in headers},
                )
            )
            if offset + 1 >= remaining.get(partition, 0):
                remaining.pop(partition, None)
        return sorted(letters, key=lambda letter: (letter.partition, letter.offset))
    finally:
        consumer.close()


REPLAY_CHUNK = 1000  # letters sent, and acknowledged, at a time (a progress bar's step)


def dead_letters_replay(letters: list[StoredDeadLetter], *, progress: Callable[[int], None] | None = None) -> int:
    """Send dead letters back to their original topic, key and value unchanged.

    Safe to repeat: consumers apply by id, so an event already applied is skipped; one
    still bad comes back to the dead-letter topic with its reason.
    """
    unknown = [letter.id for letter in letters if not letter.original_topic]
    if unknown:
        raise ValueError(f"dead letter(s) {', '.join(unknown)} have no dlt.original.topic header; cannot replay them")
    producer = Producer(producer_config(**{"linger.ms": 0}))
    errors: list[KafkaError | None] = []
    for start in range(0, len(letters), REPLAY_CHUNK):
        chunk = letters[start : start + REPLAY_CHUNK]
        sent = deliver(
            producer,
            [
                (letter.original_topic, letter.key, letter.value, [("dlt.replayed-from", letter.id.encode())])
                for letter in chunk
            ],
        )
        assert sent is not None  # no should_stop: every report comes back
        errors += sent
        if progress:
            progress(len(chunk))
    failures = [f"{letter.id}: {err}" for letter, err in zip(letters, errors, strict=True) if err is not None]
    if failures:
        raise RuntimeError(f"replay not acknowledged by the broker: {', '.join(failures)}")
    return len(letters)


def _watermarks(consumer: Consumer, partition: TopicPartition, timeout: float) -> tuple[int, int]:
    # Right after a topic is created (or a leader moves) the broker can answer "not
    # leader" for a moment; that is worth a retry, not an error.
    deadline = time.monotonic() + timeout
    while True:
        try:
            return consumer.get_watermark_offsets(partition, timeout=timeout)
        except KafkaException as exc:
            error = exc.args[0]
            settling = error.code() in (KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError.LEADER_NOT_AVAILABLE)
            if not (settling or error.retriable()) or time.monotonic() > deadline:
                raise
            time.sleep(0.2)
