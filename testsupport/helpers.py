"""Helpers for tests that talk to the real broker."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from confluent_kafka import Consumer, Message, Producer
from django.db import connections

from catalog.consumers import OrderEventsHandler
from kafka_bridge.config import client_config, consumer_config
from kafka_bridge.consumer import BatchConsumer, LoopStats

ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def group_member(*, group_id: str, topic: str, timeout: float = 30) -> Iterator[Consumer]:
    """A member of ``group_id`` on ``topic``, as a runconsumer is one (settings decide its
    protocol), held until the block ends, once it has its partitions."""
    member = Consumer(consumer_config(group_id=group_id, offset_reset="earliest"))
    try:
        member.subscribe([topic])
        deadline = time.monotonic() + timeout
        while not member.assignment() and time.monotonic() < deadline:
            member.poll(0.2)
        yield member
    finally:
        member.close()


def produce(topic: str, values: list[bytes | None], *, key: bytes | None = None) -> None:
    """Publish raw values and wait until the broker has them all."""
    producer = Producer(client_config(**{"acks": "all", "linger.ms": 0}))
    for value in values:
        producer.produce(topic, key=key, value=value)
    assert producer.flush(30) == 0, "broker did not acknowledge the test messages"


def read_topic(topic: str, *, expected: int, timeout: float = 30) -> list[Message]:
    """Read a topic from the beginning until ``expected`` messages arrived (or time ran out)."""
    consumer = Consumer(
        client_config(
            **{"group.id": f"test-reader-{uuid.uuid4()}", "auto.offset.reset": "earliest", "enable.auto.commit": False}
        )
    )
    consumer.subscribe([topic])
    messages: list[Message] = []
    deadline = time.monotonic() + timeout
    try:
        while len(messages) < expected and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is not None and message.error() is None:
                messages.append(message)
        # A little longer, to catch messages beyond those expected (duplicates).
        extra_deadline = time.monotonic() + 1.0
        while time.monotonic() < extra_deadline:
            message = consumer.poll(0.2)
            if message is not None and message.error() is None:
                messages.append(message)
    finally:
        consumer.close()
    return messages


def consume_orders(
    topic: str, *, group_id: str | None = None, idle: float = 3.0, batch_size: int = 500, fast: bool | None = None
) -> LoopStats:
    """Run the catalog's consumer in this process until the topic has been idle for ``idle``
    s: the default path, or (``fast``, by default ``CONSUMER_FAST``) the fast layer's
    pipelined loop and handler."""
    from django.conf import settings

    if fast if fast is not None else settings.CONSUMER_FAST:
        from catalog.fast.consumers import FastOrderEventsHandler
        from kafka_bridge.pipeline import PipelinedConsumer

        loop_class, handler = PipelinedConsumer, FastOrderEventsHandler()
    else:
        loop_class, handler = BatchConsumer, OrderEventsHandler()
    loop = loop_class(
        handlers={topic: handler},
        group_id=group_id or f"test-catalog-{uuid.uuid4()}",
        batch_size=batch_size,
        exit_when_idle=idle,
    )
    return loop.run()


def consume_results(*, group_id: str | None = None, idle: float = 3.0) -> LoopStats:
    """Run the order service's consumer (results and products) in this process until idle."""
    from django.conf import settings

    from orders.consumers import OrderResultsHandler, ProductSnapshotsHandler

    loop = BatchConsumer(
        handlers={
            settings.ORDER_RESULTS_TOPIC: OrderResultsHandler(),
            settings.PRODUCTS_TOPIC: ProductSnapshotsHandler(),
        },
        group_id=group_id or f"test-orders-{uuid.uuid4()}",
        exit_when_idle=idle,
    )
    return loop.run()


def manage_env(**extra: str) -> dict[str, str]:
    """Environment for a ``manage.py`` subprocess that uses this test session's databases,
    broker and topics."""
    from django.conf import settings

    env = dict(os.environ)
    for name in ("ORDER_EVENTS_TOPIC", "ORDER_RESULTS_TOPIC", "PRODUCTS_TOPIC", "OUTBOX_RELAY"):
        env[name] = getattr(settings, name)
    # Never a running make run's choices (manage.py reads them from its run dir's run.env).
    env.setdefault("STOCKSYNC_RUN_DIR", str(Path(tempfile.gettempdir()) / "stocksync-tests-no-make-run"))
    for alias, var in (("default", "ORDERS_DATABASE_URL"), ("catalog", "CATALOG_DATABASE_URL")):
        s = connections[alias].settings_dict
        if s["ENGINE"].endswith("postgresql"):
            env[var] = f"postgres://{s['USER']}@{s['HOST']}:{s['PORT']}/{s['NAME']}"
    env.update(extra)
    return env


def manage(*args: str, env: dict[str, str] | None = None, **popen) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), *args], env=env or manage_env(), cwd=ROOT, **popen
    )


def stock_of(product_id: str) -> int:
    from catalog.models import Product

    return Product.objects.get(product_id=product_id).stock


def api_client(username: str = "staff", *, staff: bool = True):
    """A DRF test client logged in as ``username`` (created if missing; staff by default,
    which may use any user's course route)."""
    from django.contrib.auth import get_user_model
    from rest_framework.test import APIClient

    user, _ = get_user_model().objects.get_or_create(username=username, defaults={"is_staff": staff})
    client = APIClient()
    client.force_authenticate(user)
    return client
