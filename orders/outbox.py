"""The transactional outbox: how an order's event reaches Kafka even if we crash.

1. ``outbox_record_order_placed`` writes the event in the order's own transaction, so
   there is an event exactly when there is an order (never for a rollback).
2. After commit, ``outbox_publish`` hands it to the process's producer; the delivery
   report marks the row sent.
3. ``outbox_relay_pending`` (``manage.py runrelay``) publishes rows that stayed unsent:
   a crash between commit and delivery, a broker that was down.

An event may thus be published twice (relay and web process racing after an outage);
the catalog's ledger makes the second copy a no-op.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from datetime import timedelta

from confluent_kafka import KafkaError, Message, Producer
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from kafka_bridge.config import producer_config
from kafka_bridge.events import OrderEvent
from kafka_bridge.faults import crash_point
from kafka_bridge.producer import deliver, get_publisher
from orders.models import Order, OutboxEvent

logger = logging.getLogger(__name__)


def order_event(order: Order) -> OrderEvent:
    return OrderEvent(
        product_id=order.product_id,
        qty=order.qty,
        unit_price=order.unit_price,
        total_price=order.total_price,
        order_id=str(order.order_id),
        user_id=order.user_id,
    )


def outbox_record_order_placed(*, order: Order, using: str) -> OutboxEvent:
    """Write the order's event to the outbox, inside the caller's transaction."""
    return OutboxEvent.objects.using(using).create(
        topic=settings.ORDER_EVENTS_TOPIC,
        key=order.product_id,  # per-product ordering: one product, one partition
        subject_id=str(order.order_id),
        payload=order_event(order).to_json(),
    )


def outbox_publish_on_commit(*, event: OutboxEvent, using: str) -> None:
    """Publish the event once the current transaction commits — never for a rollback."""
    if settings.OUTBOX_PUBLISH_ON_COMMIT:
        transaction.on_commit(lambda: _publish_after_commit(event, using), using=using)


def _publish_after_commit(event: OutboxEvent, using: str) -> None:
    crash_point("web.after_commit")  # committed, not yet handed to Kafka: the relay's case
    outbox_publish(event=event, using=using)


class _SentMarks:
    """Delivery reports arrive one at a time on the publisher's thread; one UPDATE per
    round of reports marks them all sent (not one write, and one fsync, per order)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[str, list[int]] = defaultdict(list)

    def add(self, using: str, pk: int) -> None:
        with self._lock:
            self._pending[using].append(pk)

    def flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, defaultdict(list)
        now = timezone.now()
        for using, pks in pending.items():
            OutboxEvent.objects.using(using).filter(pk__in=pks, sent_at__isnull=True).update(sent_at=now)


_sent_marks = _SentMarks()


def outbox_publish(*, event: OutboxEvent, using: str = "default") -> None:
    """Queue one outbox event on the process's producer; the delivery report marks it sent.

    Never raises: if the event cannot even be queued, the relay will send it.
    """

    def on_delivery(err: KafkaError | None, msg: Message) -> None:
        if err is None:
            _sent_marks.add(using, event.pk)
        else:
            logger.warning("outbox event %s not delivered (%s); the relay will retry it", event.pk, err)

    try:
        get_publisher(after_callbacks=_sent_marks.flush).publish(
            topic=event.topic, key=event.key.encode(), value=bytes(event.payload), on_delivery=on_delivery
        )
    except Exception:
        logger.exception("could not queue outbox event %s; the relay will send it", event.pk)


def outbox_relay_pending(
    *, producer: Producer, older_than: timedelta, batch_size: int, using: str = "default"
) -> tuple[int, int]:
    """Publish one batch of outbox rows left unsent for longer than ``older_than``.

    Waits until the broker has acknowledged or refused each one (within the producer's
    ``message.timeout.ms``), marks the delivered rows sent and counts an attempt on the
    others. No transaction is held while waiting, so orders keep being accepted.
    Returns (delivered, failed).
    """
    cutoff = timezone.now() - older_than
    rows = list(
        OutboxEvent.objects.using(using)
        .filter(sent_at__isnull=True, created_at__lt=cutoff)
        .order_by("id")
        .values_list("id", "topic", "key", "payload")[:batch_size]
    )
    if not rows:
        return 0, 0
    errors = deliver(producer, [(topic, key.encode(), bytes(payload), None) for _, topic, key, payload in rows])
    crash_point("relay.after_send")  # on the topic, not yet marked sent: a duplicate is born
    delivered = [row[0] for row, err in zip(rows, errors, strict=True) if err is None]
    failed = {row[0]: str(err)[:1000] for row, err in zip(rows, errors, strict=True) if err is not None}
    OutboxEvent.objects.using(using).filter(pk__in=delivered, sent_at__isnull=True).update(sent_at=timezone.now())
    if failed:
        OutboxEvent.objects.using(using).filter(pk__in=failed).update(attempts=F("attempts") + 1)
        for pk, error in failed.items():
            OutboxEvent.objects.using(using).filter(pk=pk).update(last_error=error)
    return len(delivered), len(failed)


def relay_producer() -> Producer:
    """The relay's producer: it waits for every report, so failures must come back soon;
    it sends thousands at a time, so it lingers a little to fill larger requests."""
    return Producer(producer_config(**{"message.timeout.ms": 10000, "linger.ms": 20, "batch.size": 1_000_000}))
