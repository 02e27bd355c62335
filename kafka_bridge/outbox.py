"""The transactional outbox: how an event reaches Kafka even if we crash.

1. ``outbox_record``: the service writes the event (into its concrete ``OutboxEventBase``)
   in the transaction of the change it announces, so there is an event exactly when the
   change commits.
2. ``outbox_publish_on_commit``: after commit, the process's publisher sends it; the
   delivery report marks the row sent. (``outbox_send`` does 1 and 2: what services call.)
3. ``outbox_relay_pending`` (``manage.py runrelay``) publishes rows that stayed unsent:
   a crash between commit and delivery, a broker that was down.

With ``OUTBOX_RELAY=debezium``, 2 and 3 are Debezium's (``kafka_bridge.connect``): it reads
each insert from PostgreSQL's write-ahead log, and the row is deleted in the transaction
that wrote it, as Debezium's outbox pattern recommends: the log keeps the insert, the
table stays empty, and nothing marks rows sent.

An event may thus be published twice (relay and publisher racing after an outage);
every consumer of this project is idempotent, so the second copy is a no-op.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import timedelta
from typing import NamedTuple

from confluent_kafka import KafkaError, Message, Producer
from django.apps import apps
from django.conf import settings
from django.db import connections, router, transaction
from django.db.models import F
from django.utils import timezone

from kafka_bridge.config import producer_config
from kafka_bridge.faults import crash_point
from kafka_bridge.models import OutboxEventBase
from kafka_bridge.producer import deliver, get_publisher
from kafka_bridge.tracing import sampled, send_headers, traceparent_now

logger = logging.getLogger(__name__)


def outbox_models() -> list[tuple[type[OutboxEventBase], str]]:
    """Every service's outbox table and the database it lives in."""
    return [
        (model, router.db_for_write(model))
        for model in apps.get_models()
        if issubclass(model, OutboxEventBase) and not model._meta.abstract
    ]


class OutboxRow(NamedTuple):
    """What publishing an outbox row needs (no model instance: a consumer batch has thousands)."""

    pk: int
    topic: str
    key: str
    payload: bytes
    traceparent: str = ""  # the writer's trace context ("" with tracing off)


def outbox_record(
    *, model: type[OutboxEventBase], using: str, topic: str, key: str, subject_id: str, payload: bytes
) -> OutboxRow:
    """Write one event to ``model``'s outbox, inside the caller's transaction; return what
    publishing it needs."""
    traceparent = traceparent_now()
    event = model.objects.using(using).create(
        topic=topic, key=key, subject_id=subject_id, payload=payload, traceparent=traceparent
    )
    if traceparent and sampled(traceparent):  # the line that ties this event to its request's trace
        logger.info("outbox: %s event for %s", topic, subject_id)
    return OutboxRow(event.pk, topic, key, payload, traceparent)


def outbox_send(
    *,
    model: type[OutboxEventBase],
    using: str,
    topic: str,
    key: str,
    subject_id: str,
    payload: bytes,
    crash_point_name: str,
) -> OutboxRow:
    """Steps 1 and 2 together: record the event in the caller's transaction, publish it
    once that commits. What every service calls to announce a change."""
    row = outbox_record(model=model, using=using, topic=topic, key=key, subject_id=subject_id, payload=payload)
    outbox_publish_on_commit(model=model, rows=[row], using=using, crash_point_name=crash_point_name)
    return row


def outbox_publish_on_commit(
    *, model: type[OutboxEventBase], rows: list[OutboxRow], using: str, crash_point_name: str
) -> None:
    """Publish the rows once the current transaction commits — never for a rollback.
    Under Debezium, delete them in that transaction instead: it reads their inserts from
    the log (no relations, no signals: one DELETE)."""
    if settings.OUTBOX_RELAY == "debezium" and rows:
        model.objects.using(using).filter(pk__in=[row.pk for row in rows]).delete()
    if settings.OUTBOX_PUBLISH_ON_COMMIT and rows:
        transaction.on_commit(lambda: _publish_after_commit(model, rows, using, crash_point_name), using=using)


def _publish_after_commit(model: type[OutboxEventBase], rows: list[OutboxRow], using: str, point: str) -> None:
    crash_point(point)  # committed, not yet handed to Kafka: the relay's case
    outbox_publish(model=model, rows=rows, using=using)


class _SentMarks:
    """Delivery reports arrive one at a time on the publisher's thread; one UPDATE per
    round of reports marks them all sent (not one write, and one fsync, per event)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[tuple[type[OutboxEventBase], str], list[int]] = defaultdict(list)

    def add(self, model: type[OutboxEventBase], using: str, pk: int) -> None:
        with self._lock:
            self._pending[model, using].append(pk)

    def flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, defaultdict(list)
        for (model, using), pks in pending.items():
            outbox_mark_sent(model=model, using=using, pks=pks)


_sent_marks = _SentMarks()


def outbox_mark_sent(*, model: type[OutboxEventBase], using: str, pks: list[int]) -> None:
    """Mark these rows sent (those not marked already), in one statement.

    On PostgreSQL the ids travel as one array parameter: ``pk__in`` would spell out
    thousands of placeholders that Django compiles and psycopg splits on every call —
    most of the relay's own CPU when it drains a backlog (bench.relay measures it).
    """
    if not pks:
        return
    connection = connections[using]
    if connection.vendor != "postgresql":
        model.objects.using(using).filter(pk__in=pks, sent_at__isnull=True).update(sent_at=timezone.now())
        return
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET sent_at = %s WHERE id = ANY(%s) AND sent_at IS NULL",  # noqa: S608 - our table name
            [timezone.now(), pks],
        )


def outbox_publish(*, model: type[OutboxEventBase], rows: list[OutboxRow], using: str) -> None:
    """Queue outbox rows on the process's publisher; each delivery report marks its row sent.

    Never raises: what cannot even be queued, the relay will send.
    """
    publisher = get_publisher(after_callbacks=_sent_marks.flush)
    for row in rows:

        def on_delivery(err: KafkaError | None, msg: Message, pk: int = row.pk) -> None:
            if err is None:
                _sent_marks.add(model, using, pk)
            else:
                logger.warning("%s %s not delivered (%s); the relay will retry it", model._meta.label, pk, err)

        try:
            publisher.publish(
                topic=row.topic,
                key=row.key.encode(),
                value=row.payload,
                headers=send_headers(row.traceparent, row.topic),
                on_delivery=on_delivery,
            )
        except Exception:
            logger.exception("could not queue %s %s; the relay will send it", model._meta.label, row.pk)
            return


def outbox_relay_pending(
    *,
    model: type[OutboxEventBase],
    using: str,
    producer: Producer,
    older_than: timedelta,
    batch_size: int,
    should_stop: Callable[[], bool] = lambda: False,
) -> tuple[int, int]:
    """Publish the ``model`` rows left unsent for longer than ``older_than``, a batch at a time.

    Per batch: wait until the broker has acknowledged or refused each row (within the
    producer's ``message.timeout.ms``), mark the delivered ones sent, count an attempt on
    the others. No transaction is held while waiting, so the service keeps writing. A
    batch with failures ends the pass (the broker is likely down: the caller retries later).
    Returns (delivered, failed).

    On PostgreSQL, a batch's sent-marks (an UPDATE of thousands of rows) are written on a
    second connection while the next batch is read and sent, so the relay's two slow
    halves overlap (bench.relay measures it). The pass walks forward by id from where it
    started, so it never re-reads a batch whose marks are still being written.
    """
    cutoff = timezone.now() - older_than
    overlap = connections[using].vendor == "postgresql"  # SQLite allows one writer at a time
    after_id = delivered_total = failed_total = 0
    marking: Future | None = None
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="outbox-marks") as marker:
        try:
            while not should_stop():
                rows = list(
                    model.objects.using(using)
                    .filter(sent_at__isnull=True, created_at__lt=cutoff, id__gt=after_id)
                    .order_by("id")
                    .values_list("id", "topic", "key", "payload", "traceparent")[:batch_size]
                )
                if not rows:
                    break
                after_id = rows[-1][0]
                errors = deliver(
                    producer,
                    [
                        (topic, key.encode(), bytes(payload), send_headers(traceparent, topic))
                        for _, topic, key, payload, traceparent in rows
                    ],
                )
                assert errors is not None  # no should_stop: every report comes back
                crash_point("relay.after_send")  # on the topic, not yet marked sent: a duplicate is born
                delivered = [row[0] for row, err in zip(rows, errors, strict=True) if err is None]
                failed = {row[0]: str(err)[:1000] for row, err in zip(rows, errors, strict=True) if err is not None}
                if marking is not None:
                    marking.result()  # at most one batch's marks in flight (and its errors raised here)
                    marking = None
                if overlap:
                    marking = marker.submit(outbox_mark_sent, model=model, using=using, pks=delivered)
                else:
                    outbox_mark_sent(model=model, using=using, pks=delivered)
                delivered_total += len(delivered)
                failed_total += len(failed)
                if failed:
                    model.objects.using(using).filter(pk__in=failed).update(attempts=F("attempts") + 1)
                    for pk, error in failed.items():
                        model.objects.using(using).filter(pk=pk).update(last_error=error)
                    break
        finally:
            try:
                if marking is not None:
                    marking.result()
            finally:
                marker.submit(connections.close_all).result()  # the marker thread's own connection
    return delivered_total, failed_total


def relay_producer() -> Producer:
    """The relay's producer: it waits for every report, so failures must come back soon;
    it sends thousands at a time, so it lingers a little to fill larger requests."""
    return Producer(producer_config(**{"message.timeout.ms": 10000, "linger.ms": 20, "batch.size": 1_000_000}))
