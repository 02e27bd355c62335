"""One idempotent Kafka producer per process, with a thread that serves its callbacks.

Delivery reports arrive only when someone polls the producer. A web worker cannot wait
for them in the request, so a daemon thread polls and runs each message's
``on_delivery`` callback there; the caller learns the outcome through that callback.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any, cast

from confluent_kafka import KafkaError, Message, Producer
from django.conf import settings

from kafka_bridge.config import producer_config
from kafka_bridge.messages import Headers, Outgoing

logger = logging.getLogger(__name__)

DeliveryCallback = Callable[[KafkaError | None, Message], None]


class EventPublisher:
    """A producer plus the thread that polls it. ``publish`` never blocks on the network."""

    IDLE_SECONDS = 1.0
    # Under steady traffic, act on delivery reports (mark outbox rows sent: one UPDATE and
    # one commit) once a second rather than every few orders: at 0.05 s that was ~20
    # transactions a second per process. Far inside the relay's grace
    # (OUTBOX_RELAY_GRACE_SECONDS), so the relay never re-sends a row for the wait.
    AFTER_CALLBACKS_EVERY = 1.0

    def __init__(
        self,
        config: dict[str, Any],
        *,
        after_callbacks: Callable[[], None] | None = None,
        on_idle: Callable[[], None] | None = None,
    ) -> None:
        self._producer = Producer(config)
        self._after_callbacks = after_callbacks
        self._on_idle = on_idle
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._poll_forever, name="kafka-publisher", daemon=True)
        self._thread.start()

    def publish(
        self,
        *,
        topic: str,
        key: bytes,
        value: bytes,
        headers: Headers | None = None,
        on_delivery: DeliveryCallback | None = None,
    ) -> None:
        """Queue one message. Raises ``BufferError`` only if the local queue stays full for 5 s."""
        deadline = time.monotonic() + 5
        while True:
            try:
                self._producer.produce(topic, key=key, value=value, headers=headers, on_delivery=on_delivery)
                return
            except BufferError:
                # The queue drains as the broker acknowledges; give it a moment.
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def flush(self, timeout: float = 10) -> int:
        """Wait for queued messages; return how many are still undelivered."""
        return self._producer.flush(timeout)

    def close(self, timeout: float = 10) -> None:
        remaining = self.flush(timeout)
        if remaining:
            logger.warning(
                "publisher closed with %d undelivered message(s); the outbox relay will send them", remaining
            )
        self._stopping.set()
        self._thread.join(timeout=2)

    def _poll_forever(self) -> None:
        idle_since = last_round = time.monotonic()
        idle_called = True
        unreported = False  # callbacks served since after_callbacks last ran
        while not self._stopping.is_set():
            try:
                served = self._producer.poll(0.1)
                unreported = unreported or bool(served)
                # Under load reports trickle in a few at a time: act on them together, at
                # most every AFTER_CALLBACKS_EVERY seconds, and at once when they stop (a
                # poll with none: a lone order is marked within a tenth of a second).
                now = time.monotonic()
                if unreported and (not served or now - last_round >= self.AFTER_CALLBACKS_EVERY):
                    unreported, last_round = False, now
                    if self._after_callbacks:
                        self._after_callbacks()
            except Exception:  # a callback's bug must not kill the thread that serves all others
                logger.exception("delivery callback failed")
                served = 1
            now = time.monotonic()
            if served:
                idle_since, idle_called = now, False
            elif not idle_called and now - idle_since > self.IDLE_SECONDS and self._on_idle:
                self._on_idle()
                idle_called = True
        # close() flushed on its caller's thread, which served the last reports: act on them too.
        if self._after_callbacks:
            self._after_callbacks()
        if self._on_idle:  # the last reports may have opened connections: leave none behind
            self._on_idle()


_publisher: EventPublisher | None = None
_publisher_pid: int | None = None
_lock = threading.Lock()


def _close_thread_connections() -> None:
    # The poll thread writes delivery outcomes through its own database connection;
    # close it when idle so it does not linger (and block test database teardown).
    from django.db import connections

    connections.close_all()


def get_publisher(*, after_callbacks: Callable[[], None] | None = None) -> EventPublisher:
    """The process's publisher, created on first use (after a fork, a new one).

    ``after_callbacks`` runs on the publisher's thread after each round of delivery
    reports (to act on them together); it is taken from the call that creates it.
    """
    global _publisher, _publisher_pid
    with _lock:
        if _publisher is None or _publisher_pid != os.getpid():
            config = producer_config(**{"linger.ms": settings.KAFKA_PUBLISHER_LINGER_MS})
            _publisher = EventPublisher(config, after_callbacks=after_callbacks, on_idle=_close_thread_connections)
            _publisher_pid = os.getpid()
        return _publisher


def shutdown_publisher(timeout: float = 10) -> None:
    """Flush and stop the process's publisher, if one was started."""
    global _publisher
    with _lock:
        if _publisher is not None and _publisher_pid == os.getpid():
            _publisher.close(timeout)
        _publisher = None


def produce_queued(producer: Producer, message: Outgoing, *, on_delivery: DeliveryCallback | None = None) -> None:
    """Queue one message, waiting while librdkafka's local queue is full (acknowledgements
    drain it). Without ``on_delivery``, the producer's own ``on_delivery`` reports it."""
    topic, key, value, headers = message
    while True:
        try:
            if on_delivery is None:
                producer.produce(topic, key=key, value=value, headers=headers)
            else:
                producer.produce(topic, key=key, value=value, headers=headers, on_delivery=on_delivery)
            return
        except BufferError:
            producer.poll(0.1)


def deliver(
    producer: Producer, messages: list[Outgoing], *, should_stop: Callable[[], bool] = lambda: False
) -> list[KafkaError | None] | None:
    """Produce each message and wait for every delivery report.

    Returns each message's error (None: delivered), in order. Every report comes back
    within the producer's ``message.timeout.ms``; returns None only if ``should_stop()``
    turns true before they all have.
    """
    outcome: dict[int, KafkaError | None] = {}

    def reporter(index: int) -> DeliveryCallback:
        def report(err: KafkaError | None, _msg: Message) -> None:
            outcome[index] = err

        return report

    for index, message in enumerate(messages):
        produce_queued(producer, message, on_delivery=reporter(index))
    while len(outcome) < len(messages):
        producer.flush(1)
        if len(outcome) < len(messages) and should_stop():
            return None
    return [outcome[index] for index in range(len(messages))]


class ConfirmedPublisher:
    """Publishes messages and waits until the broker has every one, re-sending any it
    refused. For what must be on Kafka before a consumer's offsets move past the batch that
    produced it: dead letters, and a batch's replies (the catalog's order results)."""

    # It waits for what it sends (send() flushes, and a flush sends at once whatever
    # the linger), so lingering never delays a message here; it only lets a batch's
    # thousands of results be queued without waking the sender for each.
    LINGER_MS = 20
    QUEUE_MESSAGES = 100_000  # librdkafka's queue.buffering.max.messages (its default), set here

    def __init__(self) -> None:
        # Only failures are reported: a batch's thousands of successes cost no Python
        # callback each (flush() returning with nothing queued means every message has
        # been acknowledged or reported failed).
        self._failed: list[Message] = []
        self._producer = Producer(
            producer_config(
                **{
                    "linger.ms": self.LINGER_MS,
                    "queue.buffering.max.messages": self.QUEUE_MESSAGES,
                    "delivery.report.only.error": True,
                    "on_delivery": lambda err, message: self._failed.append(message),
                }
            )
        )

    def send(self, messages: list[Outgoing], *, should_stop: Callable[[], bool] = lambda: False) -> bool:
        """Publish and wait for every message; re-send failed ones until delivered.

        Returns False only when asked to stop with messages undelivered: the caller must
        then not commit the offsets of what produced them, so that it comes back after a
        restart.
        """
        to_send = list(messages)
        backoff = 0.5
        while to_send:
            self._failed.clear()
            self._queue(to_send)
            while self._producer.flush(1) > 0:
                if should_stop():
                    return False
            if self._failed:
                error = self._failed[0].error()
                logger.warning(
                    "%d message(s) not accepted by the broker (%s); retrying in %.1fs",
                    len(self._failed),
                    error,
                    backoff,
                )
                if should_stop():
                    return False
                time.sleep(backoff)
                backoff = min(backoff * 2, 30)
            to_send = [cast(Outgoing, (m.topic(), m.key(), m.value(), m.headers())) for m in self._failed]
        return True

    def _queue(self, messages: list[Outgoing]) -> None:
        """Hand the messages to librdkafka, in order."""
        for message in messages:
            produce_queued(self._producer, message)

    def close(self) -> None:
        self._producer.flush(10)
