"""THE FOIL of lab dual-write: how NOT to publish an order's event. Not used by the services.

It writes the order and publishes its event as two separate writes, to the database and to
Kafka, with nothing tying them together: the "dual write". A crash between the two leaves
them disagreeing, whichever goes first:

* publish-then-commit: the event is on the topic, then the process dies before the order
  commits. A phantom: the catalog takes stock for an order that does not exist.
* commit-then-publish (the usual "fix": publish after commit, e.g. in on_commit): the order
  commits, then the process dies before the event has left it. A lost event: the order
  stays PENDING, and the catalog never hears of it.

``outbox`` is the project's own path (orders.services.order_create), for comparison: the
order and its event are one database transaction; the relay (or Debezium) sends the event.

Each run is one order, in a process of its own, so that a crash point
(``STOCKSYNC_CRASH_POINTS``, kafka_bridge/faults.py) kills it and not the lab:

    python -m sync.labs.naive_publisher ORDERING PRODUCT_ID UNIT_PRICE USER_ID
"""

from __future__ import annotations

import os
import sys


def place(ordering: str, product_id: str, unit_price: int, user_id: str) -> None:
    from confluent_kafka import Producer
    from django.conf import settings
    from django.db import transaction

    from kafka_bridge.config import producer_config
    from kafka_bridge.faults import crash_point
    from orders.models import Order
    from orders.outbox import order_event
    from orders.services import order_create

    if ordering == "outbox":
        order_create(user_id=user_id, product_id=product_id, qty=1, unit_price=unit_price)
        crash_point("web.after_commit")  # (under Debezium nothing is published on commit)
        return

    # A web process lingers a little to send in batches; 50 ms is ample for the crash to come first.
    producer = Producer(producer_config(**{"linger.ms": 50}))
    order = Order(user_id=user_id, product_id=product_id, qty=1, unit_price=unit_price, total_price=unit_price)

    def publish() -> None:
        # The event, as the order service would send it; produce() only queues it in the
        # client, which sends it from a thread of its own a few milliseconds later.
        producer.produce(settings.ORDER_EVENTS_TOPIC, key=product_id.encode(), value=order_event(order).to_json())

    if ordering == "publish-then-commit":
        with transaction.atomic():
            Order.objects.bulk_create([order])  # bulk_create: no post_save, so no outbox row
            publish()
            producer.flush(10)  # even waiting for Kafka's acknowledgement does not help
            crash_point("foil.after_publish")
    elif ordering == "commit-then-publish":
        with transaction.atomic():
            Order.objects.bulk_create([order])
        publish()
        crash_point("foil.after_commit")  # the event is still in this process's memory
    else:
        raise SystemExit(f"unknown ordering {ordering!r}")
    producer.flush(10)


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    import manage

    manage.make_run_settings()
    import django

    django.setup()
    ordering, product_id, unit_price, user_id = sys.argv[1:5]
    place(ordering, product_id, int(unit_price), user_id)
