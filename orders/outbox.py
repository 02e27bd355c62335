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
from datetime import timedelta

from confluent_kafka import KafkaError, Message, Producer
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from kafka_bridge.config import producer_config
from kafka_bridge.events import OrderEvent
from kafka_bridge.faults import crash_point
from kafka_bridge.producer import get_publisher
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


def outbox_publish(*, event: OutboxEvent, using: str = "default") -> None:
    """Queue one outbox event on the process's producer; the delivery report marks it sent.

    Never raises: if the event cannot even be queued, the relay will send it.
    """

    def on_delivery(err: KafkaError | None, msg: Message) -> None:
        if err is None:
            OutboxEvent.objects.using(using).filter(pk=event.pk, sent_at__isnull=True).update(sent_at=timezone.now())
        else:
            logger.warning("outbox event %s not delivered (%s); the relay will retry it", event.pk, err)

    try:
        get_publisher().publish(
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
        OutboxEvent.objects.using(using).filter(sent_at__isnull=True, created_at__lt=cutoff).order_by("id")[:batch_size]
    )
    if not rows:
        return 0, 0
    outcome: dict[int, KafkaError | None] = {}
    for row in rows:
        while True:
            try:
                producer.produce(
                    row.topic,
                    key=row.key.encode(),
                    value=bytes(row.payload),
                    on_delivery=lambda err, _msg, pk=row.pk: outcome.__setitem__(pk, err),
                )
                break
            except BufferError:
                producer.poll(0.1)
    while len(outcome) < len(rows):
        producer.flush(1)
    crash_point("relay.after_send")  # on the topic, not yet marked sent: a duplicate is born
    delivered = [pk for pk, err in outcome.items() if err is None]
    failed = [row for row in rows if outcome[row.pk] is not None]
    OutboxEvent.objects.using(using).filter(pk__in=delivered, sent_at__isnull=True).update(sent_at=timezone.now())
    for row in failed:
        row.attempts += 1
        row.last_error = str(outcome[row.pk])[:1000]
    OutboxEvent.objects.using(using).bulk_update(failed, ["attempts", "last_error"])
    return len(delivered), len(failed)


def relay_producer() -> Producer:
    """The relay's producer: it waits for every report, so failures must come back soon."""
    return Producer(producer_config(**{"message.timeout.ms": 10000}))
