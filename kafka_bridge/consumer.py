"""The consume loop shared by every consumer command.

One loop, one job: fetch a batch, decode each message, hand the good ones to their
topic's handler (which applies them in one database transaction), dead-letter the bad ones,
publish the handler's replies, and only then record the batch's offsets for commit. Hence:

* a crash anywhere before the offset commit redelivers the batch, and the handler's
  ledger makes redelivery harmless (at-least-once delivery, exactly-once effect);
* a reply (the catalog's result for an order) is on Kafka before its event's offset is
  committed; if a crash loses it, the redelivered event is answered again from the ledger;
* a message that can never be applied is dead-lettered with its reason and the loop
  goes on: a poison message never stalls a partition;
* a transient failure (database unreachable) is retried with backoff, never
  dead-lettered and never committed past;
* ``stop()`` (SIGINT/SIGTERM) lets the current batch finish and commit, then closes.

Offsets go to the broker at most every ``commit_interval`` seconds (and at once when
the loop goes quiet, loses partitions or stops), not after every batch: under light
load a batch is one event, and a commit per batch was one more broker request per order.
A crash redelivers what was applied since the last commit, which the ledger skips.

The loop can run as a two-stage pipeline (``pipeline=True``, settings ``CONSUMER_PIPELINE``;
on unless set false, and ``runconsumer --processes N`` sets its members false): one thread
applies batch N+1 in the database while this one publishes batch N's replies, waits for
their acknowledgements, records N's offsets, and fetches, decodes and prepares batch N+2
(a handler's ``prepare``: the catalog decides it ahead, catalog/forecast.py). Batches still
apply one after the other, in order, on one connection; N+1 is handed over as soon as N
is applied, a reply is published only once its batch is committed, and a batch's offsets
are recorded only once its replies are acknowledged. A rebalance that takes partitions
away waits for the batch in flight, and its replies, before committing. Both are tested;
docs/BENCHMARKS.md ("Eleventh pass") has what each gives on two cores.

A handler may instead have a batch written outside this process (``submit``: the
catalog's stock writer, catalog/stock_writer.py). Then N+2 is queued behind N+1 before
N+1 is done, and a batch the writer did not write is applied here, in order, by the same
path as any other (docs/BENCHMARKS.md, "Fifteenth pass").
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition
from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connections

from kafka_bridge.config import consumer_config
from kafka_bridge.deadletters import dead_letter_message
from kafka_bridge.events import InvalidEvent
from kafka_bridge.faults import crash_point
from kafka_bridge.heartbeat import Heartbeat
from kafka_bridge.messages import BatchHandler, BatchResult, DeadLetter, Record, SourceMessage, position
from kafka_bridge.metrics import CONSUMED, observe_batch
from kafka_bridge.producer import ConfirmedPublisher

logger = logging.getLogger(__name__)

R = TypeVar("R")


class DatabaseBatchHandler:
    """Base of handlers that apply a batch in one transaction on the database ``using``.

    A database unreachable or restarting, a lock or statement timeout: transient — the
    loop retries the batch, never skips it. After any database error the connection is
    closed, so that the retry starts with a fresh one.
    """

    transient_errors: tuple[type[BaseException], ...] = (OperationalError, InterfaceError)
    using = "default"

    def run(self, apply: Callable[..., R], records: list, **kwargs: Any) -> R:
        """``apply(records=records, **kwargs)``; on a database error, close the connection first."""
        try:
            return apply(records=records, **kwargs)
        except DatabaseError:
            connections[self.using].close()
            raise


@dataclass
class LoopStats:
    batches: int = 0
    applied: int = 0
    refused: int = 0
    skipped: int = 0
    dead_lettered: int = 0

    def add(self, result: BatchResult, dead_lettered: int) -> None:
        self.batches += 1
        self.applied += result.applied
        self.refused += result.refused
        self.skipped += result.skipped
        self.dead_lettered += dead_lettered


class _StopRequested(Exception):
    pass


@dataclass
class _Decoded:
    """A fetched batch, decoded: its good records by topic, what could not be decoded, and
    where it ends on each partition."""

    by_topic: dict[str, list[Record]]
    letters: list[DeadLetter]
    ends: dict[tuple[str, int], int]  # (topic, partition): the offset after the batch's last message
    prepared: dict[str, Any] = field(default_factory=dict)  # by topic: what its handler's prepare() gave


@dataclass
class _Submitted:
    """A batch handed to its handler's writer; ``result()`` as a Future's from the applier."""

    loop: BatchConsumer
    batch: _Decoded
    topic: str
    wait: Callable[[], bool]

    def result(self) -> _Applied:
        return self.loop._written_or_applied(self.batch, self.topic, self.wait)


@dataclass
class _Applied:
    """A batch applied: once its replies and dead letters are acknowledged, its offsets may move."""

    ends: dict[tuple[str, int], int]
    result: BatchResult
    letters: list[DeadLetter]  # the batch's own and the handlers'


class BatchConsumer:
    """Runs one member of a consumer group until ``stop()`` or, optionally, idleness."""

    SUMMARY_EVERY_SECONDS = 5.0
    JOIN_TIMEOUT_SECONDS = 60.0

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
        config_overrides: dict | None = None,
        heartbeat: Heartbeat | None = None,
        pipeline: bool | None = None,
    ) -> None:
        self.handlers = handlers  # one per topic
        self.topics = list(handlers)
        self.group_id = group_id
        self.batch_size = batch_size
        self.batch_wait = batch_wait
        self.exit_when_idle = exit_when_idle
        self.commit_interval = settings.CONSUMER_COMMIT_INTERVAL_SECONDS if commit_interval is None else commit_interval
        self.heartbeat = heartbeat
        self.stats = LoopStats()
        self._stopping = False
        self._config = consumer_config(group_id=group_id, offset_reset=offset_reset, **(config_overrides or {}))
        self._config["on_commit"] = self._on_commit
        self._positions: dict[tuple[str, int], int] = {}  # next offset per partition, applied
        self._uncommitted = False  # positions moved since the last commit was sent
        self._committed_at = 0.0  # when it was sent (monotonic)
        # CONSUMER_PIPELINE None (auto): pipelined; `runconsumer --processes N` sets its members false.
        self.pipeline = settings.CONSUMER_PIPELINE is not False if pipeline is None else pipeline
        self._inflight: Future[_Applied] | _Submitted | None = None  # the batch being applied (pipeline)
        self._applier: ThreadPoolExecutor | None = None
        self._publisher: ConfirmedPublisher

    def stop(self) -> None:
        """Ask the loop to finish the batch in hand, commit it and return."""
        self._stopping = True

    def run(self) -> LoopStats:
        consumer = Consumer(self._config)
        self._publisher = publisher = ConfirmedPublisher()  # dead letters and replies
        # One thread applies (its own database connection); this one fetches, decodes and
        # publishes.
        self._applier = applier = ThreadPoolExecutor(1, thread_name_prefix="apply") if self.pipeline else None
        if applier is not None:
            self._each_handler("open")
        self._last_activity = time.monotonic()
        self._assigned_once = False
        consumer.subscribe(self.topics, on_assign=self._on_assign, on_revoke=self._on_revoke)
        logger.info(
            "consuming %s as group %r from %s", ", ".join(self.topics), self.group_id, self._config["bootstrap.servers"]
        )
        last_summary, summarised = time.monotonic(), LoopStats()
        try:
            while not self._stopping:
                if self.heartbeat:
                    self.heartbeat.beat()
                busy = self._inflight is not None  # a batch being applied: the loop is not quiet yet
                try:
                    messages = self._fetch(consumer)
                    decoded = self._decode(messages) if messages else None
                    if decoded is not None:
                        self._last_activity = time.monotonic()
                    if applier is None:
                        if decoded is not None:
                            self._publish(consumer, self._apply_batch(decoded))
                    else:
                        if decoded is not None:
                            self._prepare(decoded)  # while batch N is applied
                        # Batch N+1 goes to the applier as soon as N is applied; N's replies
                        # are published, and its offsets move, while N+1 is applied.
                        self._finish_inflight(consumer, then_apply=decoded)
                except _StopRequested:
                    logger.info("stopping before the batch's offsets were committed; it will be redelivered")
                    break
                if decoded is None and not busy:
                    self._commit_pending(consumer, now=True)  # quiet: nothing to wait for
                    if self._idle_too_long():
                        break
                if (
                    time.monotonic() - last_summary > self.SUMMARY_EVERY_SECONDS
                    and self.stats.batches != summarised.batches
                ):
                    self._log_summary(summarised)
                    last_summary, summarised = time.monotonic(), LoopStats(**vars(self.stats))
        finally:
            try:
                self._finish_inflight(consumer)  # stopping: the batch in hand finishes first
            except _StopRequested:
                logger.info("stopping before the batch's offsets were committed; it will be redelivered")
            finally:
                if applier is not None:
                    applier.submit(connections.close_all).result()  # the applier's own connection
                    applier.shutdown()
                    self._each_handler("close")
                if self.heartbeat:
                    self.heartbeat.stop()
                if self.stats.batches != summarised.batches:
                    self._log_summary(summarised)
                publisher.close()
                self._commit_now(consumer, list(self._positions))
                consumer.close()
                logger.info(
                    "consumer closed: %d applied, %d refused, %d duplicate(s) skipped, %d dead-lettered",
                    self.stats.applied,
                    self.stats.refused,
                    self.stats.skipped,
                    self.stats.dead_lettered,
                )
        return self.stats

    def _each_handler(self, hook: str) -> None:
        """Call each handler's ``hook`` (``open``, ``close``), if it has one."""
        for handler in self.handlers.values():
            call = getattr(handler, hook, None)
            if call is not None:
                call()

    def _idle_too_long(self) -> bool:
        if self.exit_when_idle is None:
            return False
        idle = time.monotonic() - self._last_activity
        # Joining the group takes a moment; idleness counts once partitions are ours.
        if not self._assigned_once:
            if idle > max(self.exit_when_idle, self.JOIN_TIMEOUT_SECONDS):
                logger.warning("no partitions assigned within %.0fs, exiting", idle)
                return True
            return False
        if idle > self.exit_when_idle:
            logger.info("idle for %.1fs, exiting", self.exit_when_idle)
            return True
        return False

    # -- one batch -------------------------------------------------------------------

    def _fetch(self, consumer: Consumer) -> list[Message]:
        # Wait for the first message (low latency when traffic is light), then take
        # whatever else has already arrived, up to a batch (throughput when it is heavy:
        # librdkafka prefetches, so under load the batch fills without waiting).
        # A batch being applied (pipelined) is not kept waiting for its replies by a quiet topic.
        first = consumer.poll(0 if self._inflight is not None else min(1.0, self.exit_when_idle or 1.0))
        if first is None:
            return []
        messages = [first]
        if self.batch_size > 1:
            messages += consumer.consume(num_messages=self.batch_size - 1, timeout=self.batch_wait)
        good = []
        for message in messages:
            error = message.error()
            if error is None:
                good.append(message)
            elif error.code() == KafkaError._PARTITION_EOF:
                continue
            elif error.fatal():
                raise KafkaException(error)
            else:
                logger.warning("consumer error (will keep trying): %s", error)
        return good

    def _decode(self, messages: list[Message]) -> _Decoded:
        # The loop's hot path: each message's coordinates are read once (each a call into
        # confluent-kafka), for its record and for the batch's end on its partition.
        by_topic: dict[str, list[Record]] = {}
        letters: list[DeadLetter] = []
        ends: dict[tuple[str, int], int] = {}
        for message in messages:
            topic, partition, offset = position(message)
            ends[topic, partition] = offset + 1  # a fetch holds each partition's messages in offset order
            value = message.value()
            try:
                event = self.handlers[topic].decode(value)
            except InvalidEvent as exc:
                letters.append(DeadLetter(SourceMessage.of(message), str(exc), type(exc).__name__))
                continue
            record = Record(topic, partition, offset, message.timestamp()[1], message.key(), value, event)
            records = by_topic.get(topic)
            if records is None:
                by_topic[topic] = records = []
            records.append(record)
        return _Decoded(by_topic, letters, ends)

    def _apply_batch(self, batch: _Decoded) -> _Applied:
        """Apply a decoded batch: each topic's records in one transaction (the applier
        thread, when pipelined)."""
        result = BatchResult()
        for topic, records in batch.by_topic.items():
            started = time.monotonic()
            applied = self._apply(self.handlers[topic], records, batch.prepared.get(topic))
            _observe(topic, records, started, applied)
            result += applied
        crash_point("consumer.after_db_commit")
        return _Applied(batch.ends, result, batch.letters + result.dead_letters)

    def _publish(self, consumer: Consumer, applied: _Applied) -> None:
        """Publish an applied batch's dead letters and replies, wait for the broker to have
        them all, then move its offsets."""
        letters = applied.letters
        for letter in letters:
            logger.warning(
                "dead-lettering %s: %s (%s)",
                letter.source.where,
                letter.reason,
                letter.exception,
                extra=letter.source.log_fields,
            )
        # One wait for the broker per batch, for its dead letters and its replies together.
        outgoing = [dead_letter_message(letter) for letter in letters] + applied.result.replies
        if outgoing and not self._publisher.send(outgoing, should_stop=lambda: self._stopping):
            raise _StopRequested
        for letter in letters:
            CONSUMED.labels(letter.source.topic, "dead_lettered").inc()
        self._mark_applied(consumer, applied.ends)
        crash_point("consumer.after_offset_commit")
        self.stats.add(applied.result, len(letters))

    def _finish_inflight(self, consumer: Consumer, *, then_apply: _Decoded | None = None) -> None:
        """Wait for the batch being applied, if any; hand ``then_apply`` to the applier;
        then publish the first's replies and move its offsets (pipelined). A batch going to
        a handler's writer (``submit``) is queued there before the one in flight is done,
        if that one went there too: the writer starts it the moment the first commits."""
        inflight, self._inflight = self._inflight, None
        queued: Future[_Applied] | _Submitted | None = None
        if then_apply is not None and isinstance(inflight, _Submitted):
            queued = self._inflight = self._submit(then_apply)  # waited for on stopping, if this wait raises
        applied = inflight.result() if inflight is not None else None
        if then_apply is not None:
            assert self._applier is not None
            if queued is None:
                queued = self._submit(then_apply) or self._applier.submit(self._apply_batch, then_apply)
            self._inflight = queued
        if applied is not None:
            self._publish(consumer, applied)

    def _submit(self, batch: _Decoded) -> _Submitted | None:
        """Make the batch ready (each handler's ``ready``), then hand it to its handler's
        writer, if it has one that takes it (a batch of one topic; ``BatchHandler``)."""
        for topic, prepared in batch.prepared.items():  # what the batch assumed may have moved
            ready = getattr(self.handlers[topic], "ready", None)
            if ready is not None:
                batch.prepared[topic] = ready(batch.by_topic[topic], prepared)
        if len(batch.by_topic) != 1:
            return None
        ((topic, records),) = batch.by_topic.items()
        submit = getattr(self.handlers[topic], "submit", None)
        prepared = batch.prepared.get(topic)
        wait = submit(records, prepared) if submit is not None and prepared is not None else None
        return _Submitted(self, batch, topic, wait) if wait is not None else None

    def _written_or_applied(self, batch: _Decoded, topic: str, wait: Callable[[], bool]) -> _Applied:
        """A submitted batch, once its writer is done with it: what it did, or, if it was
        not written, what applying it here (in order: nothing after it was written) did."""
        started = time.monotonic()
        handler, records, prepared = self.handlers[topic], batch.by_topic[topic], batch.prepared[topic]
        if wait():
            result = handler.written(records, prepared)  # type: ignore[attr-defined]
        else:
            result = self._apply(handler, records, prepared)
        _observe(topic, records, started, result)
        crash_point("consumer.after_db_commit")
        return _Applied(batch.ends, result, batch.letters + result.dead_letters)

    def _prepare(self, batch: _Decoded) -> None:
        """Let each handler that can work on its records ahead of applying them
        (``prepare``, then ``ready`` just before they go to the applier) do so."""
        for topic, records in batch.by_topic.items():
            prepare = getattr(self.handlers[topic], "prepare", None)
            if prepare is not None:
                batch.prepared[topic] = prepare(records)

    def _apply(self, handler: BatchHandler, records: list[Record], prepared: Any = None) -> BatchResult:
        backoff = 0.5
        while True:
            try:
                return handler.apply(records) if prepared is None else handler.apply(records, prepared)  # type: ignore[call-arg]
            except handler.transient_errors as exc:
                logger.warning(
                    "waiting for the database (%s: %s); retrying %d record(s) from %s in %.1fs",
                    type(exc).__name__,
                    str(exc).strip().splitlines()[0] if str(exc).strip() else "",
                    len(records),
                    records[0].where,
                    backoff,
                    extra=records[0].log_fields,
                )
                self._sleep(backoff)
                backoff = min(backoff * 2, 30)
            except Exception as exc:
                if len(records) == 1:
                    logger.exception("could not apply %s", records[0].where, extra=records[0].log_fields)
                    return BatchResult(
                        dead_letters=[DeadLetter(records[0], f"could not be applied: {exc}", type(exc).__name__)]
                    )
                # Find the culprit: apply one at a time, so the good ones still go through.
                logger.warning("batch of %d failed (%s); applying its records one by one", len(records), exc)
                total = BatchResult()
                for record in records:
                    total += self._apply(handler, [record])
                return total

    def _sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self._stopping:
                raise _StopRequested
            if self.heartbeat:  # waiting on purpose is not being stuck
                self.heartbeat.beat()
            time.sleep(min(0.1, deadline - time.monotonic()))

    def _mark_applied(self, consumer: Consumer, ends: dict[tuple[str, int], int]) -> None:
        """Note a batch's offsets as applied (and commit them if the interval is up)."""
        positions = self._positions
        for where, end in ends.items():
            if end > positions.get(where, 0):
                positions[where] = end
        self._uncommitted = True
        self._commit_pending(consumer)

    def _commit_pending(self, consumer: Consumer, *, now: bool = False) -> None:
        """Commit every applied position, if any moved, at most every ``commit_interval``
        seconds (``now``: whatever the interval).

        Asynchronous: the database already holds the batches, so a commit that fails or is
        lost only means redelivery, which the ledger skips; not waiting for it saves a
        broker round trip. Revocation and shutdown commit synchronously (``_commit_now``).
        """
        if not self._uncommitted or (not now and time.monotonic() - self._committed_at < self.commit_interval):
            return
        self._uncommitted, self._committed_at = False, time.monotonic()
        # Partitions revoked meanwhile were committed and forgotten by _on_revoke.
        offsets = [TopicPartition(t, p, o) for (t, p), o in self._positions.items()]
        if not offsets:
            return
        try:
            consumer.commit(offsets=offsets, asynchronous=True)
        except KafkaException as exc:
            logger.warning("offsets not committed (%s); the last batches will be redelivered and skipped", exc)

    def _commit_now(self, consumer: Consumer, partitions: list[tuple[str, int]]) -> None:
        """Commit what has been applied on these partitions, and wait for it."""
        offsets = [
            TopicPartition(t, p, self._positions.pop((t, p))) for t, p in partitions if (t, p) in self._positions
        ]
        if not offsets:
            return
        try:
            consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as exc:
            # Typically the partitions already belong to another member. The database
            # holds the batches; their redelivery will be skipped by the ledger.
            logger.warning("offsets not committed (%s); the last batches will be redelivered and skipped", exc)

    def _on_commit(self, err, partitions) -> None:
        if err is not None:
            logger.warning("offset commit failed (%s); those batches will be redelivered and skipped", err)

    # -- group membership ------------------------------------------------------------

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._last_activity = time.monotonic()
        self._assigned_once = True
        if partitions:
            logger.info("assigned %s", _describe(partitions))

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # The batch in flight finishes first (its offsets recorded); nothing else fetched
        # is held, so all that is left to do for partitions moving elsewhere is make sure
        # their offsets are committed.
        self._finish_inflight(consumer)
        self._commit_now(consumer, [(tp.topic, tp.partition) for tp in partitions])
        if partitions:
            logger.info("revoked %s", _describe(partitions))

    def _log_summary(self, since: LoopStats) -> None:
        logger.info(
            "applied %d event(s), refused %d, skipped %d duplicate(s), dead-lettered %d (totals: %d / %d / %d / %d)",
            self.stats.applied - since.applied,
            self.stats.refused - since.refused,
            self.stats.skipped - since.skipped,
            self.stats.dead_lettered - since.dead_lettered,
            self.stats.applied,
            self.stats.refused,
            self.stats.skipped,
            self.stats.dead_lettered,
        )


def _observe(topic: str, records: list[Record], started: float, result: BatchResult) -> None:
    """A topic's share of a batch, applied or written since ``started``, in the metrics."""
    observe_batch(
        topic,
        seconds=time.monotonic() - started,
        timestamps_ms=[r.timestamp_ms for r in records],
        counts={"applied": result.applied, "refused": result.refused, "skipped": result.skipped},
    )


def _describe(partitions: list[TopicPartition]) -> str:
    return ", ".join(f"{tp.topic}[{tp.partition}]" for tp in partitions)
