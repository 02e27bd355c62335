"""The broker goes down: orders are still taken, wait in the outbox, and all arrive when it returns.

The order service never waits on Kafka: an order and its event are written in one
database transaction (the transactional outbox), and the relay sends the event when it
can. While the broker is down the outbox's backlog grows; when it is back the relay
drains it, and every order is decided once.
"""

from __future__ import annotations

import re

from django.conf import settings

from kafka_bridge.connect import connectors_status
from orders.models import OutboxEvent
from sync.labs.toolkit import Lab, LabFailed

ORDERS = 8
PRODUCT = "CATALOG-003"
DEBEZIUM_DRAINED_BYTES = 64 * 1024


def backlog() -> int:
    """What waits for the relay: unsent outbox rows; under Debezium, the bytes of log its
    replication slot holds that it has not yet confirmed sent."""
    if settings.OUTBOX_RELAY == "debezium":
        return sum(c.lag_bytes or 0 for c in connectors_status())
    return OutboxEvent.objects.filter(sent_at__isnull=True).count()


def drained(level: int) -> bool:
    if settings.OUTBOX_RELAY == "debezium":  # heartbeats keep a few hundred bytes in flight
        return level < DEBEZIUM_DRAINED_BYTES
    return level == 0


def run(lab: Lab) -> str:
    lab.ready()
    if not re.search(r"^kafka\s+RUNNING", lab.stocksync("status"), re.M):
        raise LabFailed("make run is using a broker it did not start (KAFKA_BOOTSTRAP_SERVERS): this lab stops its own")
    lab.step("Stop the broker, as if its machine went away.")
    lab.stocksync("stop", "kafka")
    lab.watch("/live/: the figures read from Kafka go stale and the page says it cannot reach Kafka.")
    unit = "bytes of log" if settings.OUTBOX_RELAY == "debezium" else "events"
    before = backlog()
    lab.say(f"{unit} waiting for the relay ({settings.OUTBOX_RELAY}): {before}")

    lab.step(f"Place {ORDERS} orders for {PRODUCT} while it is down.")
    order_ids = lab.place_pending(PRODUCT, ORDERS, why="the web never waits on Kafka")

    if settings.OUTBOX_RELAY == "debezium":
        lab.step("Their events wait in PostgreSQL's log: the outbox rows are gone, Debezium's slot holds the inserts.")
        lab.wait("the slot to hold them", lambda: backlog() > before, timeout=30)
        waiting = backlog()
        lab.check(waiting > before, f"log held by the slots {before} → {waiting} bytes (Connect retries; /live/)")
    else:
        lab.step("Their events wait in the outbox, in the orders database, with the orders.")
        waiting = backlog()
        grew = f"outbox backlog {before} → {waiting} (the relay retries; see its log lines)"
        lab.check(waiting >= before + ORDERS, grew)

    lab.step("Start the broker again.")
    lab.stocksync("start", "kafka")
    lab.watch("/live/: the outbox falls to 0, then the catalog's lag rises and falls, then the orders leave PENDING.")
    emptied = lab.wait("the relay to drain its backlog", lambda: drained(backlog()), timeout=120)
    lab.check(emptied, f"backlog {backlog()} {unit}: the relay sent every waiting event")
    lab.check_decided(order_ids, wait=30)

    lab.step("Nothing lost, nothing doubled: the catalog's ledger.")
    rows = lab.ledger_rows(order_ids)
    lab.check(rows == ORDERS, f"{rows} ledger rows for {ORDERS} orders (one each)")
    return f"{ORDERS} orders taken with the broker down, backlog {waiting} {unit} at its peak, all decided once"
