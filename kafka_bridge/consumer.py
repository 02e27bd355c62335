"""The consume loop shared by every consumer command: one batch at a time.

Each turn of the loop:

1. fetch a batch and decode each message (one that cannot be decoded becomes a dead letter);
2. hand each topic's records to its handler, which applies them in one database transaction;
3. publish the dead letters and the handler's replies, and wait until the broker has them;
4. only then record the batch's offsets, to be committed.

So a crash anywhere before step 4 redelivers the batch, and the handler's ledger makes
redelivery harmless (at-least-once delivery, exactly-once effect); a reply lost with a
crash is given again when its event is redelivered. A message that can never be applied
is dead-lettered with its reason and the loop goes on: a poison message never stalls a
partition. A transient failure (database unreachable) is retried with backoff, never
skipped. ``stop()`` (SIGINT/SIGTERM) lets the batch in hand finish and commit.

``kafka_bridge.offsets`` commits the offsets. ``kafka_bridge.pipeline`` (the opt-in fast
layer) runs the same steps with the database work on a thread of its own.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition
from django.conf import settings

from kafka_bridge import tracing
from kafka_bridge.config import consumer_config
from kafka_bridge.deadletters import dead_letter_message
from kafka_bridge.faults import crash_point
from kafka_bridge.heartbeat import Heartbeat
from kafka_bridge.messages import (
    Batch,
    BatchHandler,
    BatchResult,
    DeadLetter,
    LoopStats,
    Record,
    SourceMessage,
    position,
)
from kafka_bridge.metrics import CONSUMED, observe_applied
from kafka_bridge.offsets import Offsets, commit_failed
from kafka_bridge.producer import ConfirmedPublisher
from kafka_bridge.tracing import consuming

logger = logging.getLogger(__name__)


class StopRequested(Exception):
    """Stopping while waiting: the batch in hand is not committed, and will be redelivered."""


class BatchConsumer:
    """Runs one member of a consumer group until ``stop()`` or, optionally, idleness."""

    JOIN_TIMEOUT_SECONDS = 60.0
    SUMMARY_EVERY_SECONDS = 5.0

    def __init__(
        self,
        *,
        handlers: dict[str, BatchHandler],
        group_id: str,
        offset_reset: str = "earliest",
        batch_size: int = 500,
        batch_wait: float = 0.0,
        exit_when_idle: float | None = None,
        commit_interval: float | None = None,
        heartbeat: Heartbeat | None = None,
    ) -> None:
        self.handlers = handlers  # one per topic
        self.group_id = group_id
        self.batch_size = batch_size
        self.batch_wait = batch_wait
        self.exit_when_idle = exit_when_idle
        self.commit_interval = settings.CONSUMER_COMMIT_INTERVAL_SECONDS if commit_interval is None else commit_interval
        self.heartbeat = heartbeat
        self.stats = LoopStats()
        self._stopping = False
        self._config = consumer_config(group_id=group_id, offset_reset=offset_reset)
        self._config["on_commit"] = commit_failed
        self._assigned_once = False
        self._last_activity = time.monotonic()
        self._summarised_at = 0.0

    def stop(self) -> None:
        """Ask the loop to finish the batch in hand, commit it and return."""
        self._stopping = True

    def run(self) -> LoopStats:
        self.consumer = consumer = Consumer(self._config)
        self.publisher = ConfirmedPublisher()  # dead letters and replies
        self.offsets = Offsets(consumer, interval=self.commit_interval)
        consumer.subscribe(list(self.handlers), on_assign=self._on_assign, on_revoke=self._on_revoke)
        logger.info("consuming %s as group %r", ", ".join(self.handlers), self.group_id)
        try:
            while not self._stopping:
                if self.heartbeat:
                    self.heartbeat.beat()
                batch = self._fetch()
                if batch is not None:
                    self._last_activity = time.monotonic()
                    self.take(batch)
                elif self.busy():
                    self.finish()  # nothing new: what is in hand need not wait for more
                else:
                    self.offsets.commit(now=True)  # quiet: commit what was applied
                    if self._idle_too_long():
                        break
        except StopRequested:
            logger.info("stopping before the batch's offsets were committed; it will be redelivered")
        finally:
            self._close()
        return self.stats

    # -- one batch: the steps a subclass may run differently -------------------------------

    def take(self, batch: Batch) -> None:
        """Apply a batch, publish what it produced, then move its offsets."""
        self.publish(batch, self.apply_batch(batch))

    def busy(self) -> bool:
        """Whether a batch is still being worked on (never, one batch at a time)."""
        return False

    def finish(self) -> None:
        """Finish any batch in hand (before partitions go, or the loop stops)."""

    def apply_batch(self, batch: Batch) -> BatchResult:
        """Each topic's records, applied by its handler in one transaction."""
        result = BatchResult()
        for topic, records in batch.by_topic.items():
            started = time.monotonic()
            with consuming(topic, records):  # the records' spans (tracing on; else nothing)
                applied = self.apply(self.handlers[topic], records)
            observe_applied(topic, records, started, applied)
            result += applied
        crash_point("consumer.after_db_commit")
        return result

    def apply(self, handler: BatchHandler, records: list[Record], call: Callable | None = None) -> BatchResult:
        """``call(records)`` (by default ``handler.apply``), retried while the database is
        away; a batch that fails otherwise is applied record by record, and a record that
        fails alone is dead-lettered."""
        backoff = 0.5
        while True:
            try:
                return (call or handler.apply)(records)
            except handler.transient_errors as exc:
                first_line = (str(exc).strip().splitlines() or [""])[0]
                logger.warning(
                    "waiting for the database (%s: %s); retrying %d record(s) from %s in %.1fs",
                    *(type(exc).__name__, first_line, len(records), records[0].where, backoff),
                    extra=records[0].log_fields,
                )
                self._sleep(backoff)
                backoff = min(backoff * 2, 30)
            except Exception as exc:
                if len(records) == 1:
                    logger.exception("could not apply %s", records[0].where, extra=records[0].log_fields)
                    letter = DeadLetter(records[0], f"could not be applied: {exc}", type(exc).__name__)
                    return BatchResult(dead_letters=[letter])
                logger.warning("batch of %d failed (%s); applying its records one by one", len(records), exc)
                total = BatchResult()
                for record in records:
                    total += self.apply(handler, [record])
                return total

    def publish(self, batch: Batch, result: BatchResult) -> None:
        """Publish the batch's dead letters and replies, wait until the broker has them
        all, then record its offsets."""
        letters = batch.letters + result.dead_letters
        for letter in letters:
            where, why = letter.source.where, f"{letter.reason} ({letter.exception})"
            logger.warning("dead-lettering %s: %s", where, why, extra=letter.source.log_fields)
        outgoing = [dead_letter_message(letter) for letter in letters] + result.replies
        if outgoing and not self.publisher.send(outgoing, should_stop=lambda: self._stopping):
            raise StopRequested
        for letter in letters:
            CONSUMED.labels(letter.source.topic, "dead_lettered").inc()
        self.offsets.applied(batch.ends)
        crash_point("consumer.after_offset_commit")
        self.stats.add(result, len(letters))
        if time.monotonic() - self._summarised_at >= self.SUMMARY_EVERY_SECONDS:
            self._summarised_at = time.monotonic()
            logger.info("so far: %s", self.stats)

    # -- fetching ------------------------------------------------------------------------

    def _fetch(self) -> Batch | None:
        # Wait for the first message (a lone order is applied at once), then take whatever
        # else has already arrived, up to a batch (librdkafka prefetches under load).
        wait = 0.0 if self.busy() else min(1.0, self.exit_when_idle or 1.0)
        first = self.consumer.poll(wait)
        if first is None:
            return None
        messages = [first]
        if self.batch_size > 1:
            messages += self.consumer.consume(num_messages=self.batch_size - 1, timeout=self.batch_wait)
        batch = Batch({}, [], {})
        for message in messages:
            error = message.error()
            if error is not None:
                if error.fatal():
                    raise KafkaException(error)
                if error.code() != KafkaError._PARTITION_EOF:
                    logger.warning("consumer error (will keep trying): %s", error)
                continue
            self._decode(message, batch)
        return batch if batch.ends else None

    def _decode(self, message: Message, batch: Batch) -> None:
        topic, partition, offset = position(message)
        batch.ends[topic, partition] = offset + 1  # a fetch holds each partition's messages in order
        if tracing.ENABLED:
            tracing.remember(topic, partition, offset, message.headers())
        value = message.value()
        try:
            event = self.handlers[topic].decode(value)
        except ValueError as exc:  # the handler's word: this message can never be applied
            batch.letters.append(DeadLetter(SourceMessage.of(message), str(exc), type(exc).__name__))
            return
        record = Record(topic, partition, offset, message.timestamp()[1], message.key(), value, event)
        batch.by_topic.setdefault(topic, []).append(record)

    # -- group membership ----------------------------------------------------

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._last_activity = time.monotonic()
        self._assigned_once = True
        if partitions:
            logger.info("assigned %s", ", ".join(f"{tp.topic}[{tp.partition}]" for tp in partitions))

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # Partitions moving elsewhere: finish the batch in hand, then commit their offsets.
        self.finish()
        self.offsets.commit_and_forget([(tp.topic, tp.partition) for tp in partitions])
        if partitions:
            logger.info("revoked %s", ", ".join(f"{tp.topic}[{tp.partition}]" for tp in partitions))

    def _idle_too_long(self) -> bool:
        """With ``exit_when_idle``: no message for that long (joining the group takes longer)."""
        if self.exit_when_idle is None:
            return False
        joined = self._assigned_once
        limit = self.exit_when_idle if joined else max(self.exit_when_idle, self.JOIN_TIMEOUT_SECONDS)
        if time.monotonic() - self._last_activity <= limit:
            return False
        logger.info("idle for %.1fs, exiting" if joined else "no partitions assigned within %.0fs, exiting", limit)
        return True

    def _sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self._stopping:
                raise StopRequested
            if self.heartbeat:  # waiting on purpose is not being stuck
                self.heartbeat.beat()
            time.sleep(min(0.1, deadline - time.monotonic()))

    def _close(self) -> None:
        try:
            self.finish()  # the batch in hand goes first
        except StopRequested:
            logger.info("stopping before the batch's offsets were committed; it will be redelivered")
        finally:
            if self.heartbeat:
                self.heartbeat.stop()
            self.publisher.close()
            self.offsets.commit_and_forget()
            self.consumer.close()
            logger.info("consumer closed: %s", self.stats)
