"""A consumer's applied offsets, and when they are committed to the broker.

Offsets go to the broker at most every ``interval`` seconds, and at once when the loop
goes quiet, loses partitions or stops: under light load a batch is one event, and a
commit per batch would be one more broker request per order. A crash redelivers what was
applied since the last commit, which the handlers' ledgers skip.
"""

from __future__ import annotations

import logging
import time

from confluent_kafka import Consumer, KafkaException, TopicPartition

logger = logging.getLogger(__name__)

LOST = "offsets not committed (%s); the last batches will be redelivered and skipped"


class Offsets:
    """The next offset to read on each partition, for batches whose work is done."""

    def __init__(self, consumer: Consumer, *, interval: float) -> None:
        self.consumer = consumer
        self.interval = interval
        self._positions: dict[tuple[str, int], int] = {}
        self._moved = False  # since the last commit was sent
        self._sent_at = 0.0

    def applied(self, ends: dict[tuple[str, int], int]) -> None:
        """A batch is done: ``ends`` maps (topic, partition) to the offset after its last message."""
        for where, end in ends.items():
            self._positions[where] = max(end, self._positions.get(where, 0))
        self._moved = True
        self.commit()

    def commit(self, *, now: bool = False) -> None:
        """Commit every position, if any moved, at most every ``interval`` seconds (``now``:
        whatever the interval). Not waited for: the database already holds the batches, so
        a commit that is lost only means redelivery."""
        if not self._moved or (not now and time.monotonic() - self._sent_at < self.interval):
            return
        self._moved, self._sent_at = False, time.monotonic()
        offsets = [TopicPartition(t, p, o) for (t, p), o in self._positions.items()]
        if offsets:
            try:
                self.consumer.commit(offsets=offsets, asynchronous=True)
            except KafkaException as exc:
                logger.warning(LOST, exc)

    def commit_and_forget(self, partitions: list[tuple[str, int]] | None = None) -> None:
        """Commit these partitions' positions (all: None) and wait for it; they are no
        longer ours (revoked, or the loop stops)."""
        wanted = list(self._positions) if partitions is None else partitions
        offsets = [TopicPartition(*tp, self._positions.pop(tp)) for tp in wanted if tp in self._positions]
        if offsets:
            try:
                self.consumer.commit(offsets=offsets, asynchronous=False)
            except KafkaException as exc:  # typically: the partitions are another member's already
                logger.warning(LOST, exc)


def commit_failed(err, partitions) -> None:
    """librdkafka's ``on_commit``: an asynchronous commit's outcome."""
    if err is not None:
        logger.warning("offset commit failed (%s); those batches will be redelivered and skipped", err)
