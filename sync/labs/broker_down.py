"""The broker goes down: orders are still taken, wait in the outbox, and all arrive when it returns.

The order service never waits on Kafka: an order and its event are written in one
database transaction (the transactional outbox), and the relay sends the event when it
can. While the broker is down the outbox's backlog grows; when it is back the relay
drains it, and every order is decided once.
"""

from __future__ import annotations

import re

from orders.models import OutboxEvent
from sync.labs.toolkit import Lab, LabFailed

ORDERS = 8
PRODUCT = "CATALOG-003"


def unsent() -> int:
    return OutboxEvent.objects.filter(sent_at__isnull=True).count()


def run(lab: Lab) -> str:
    lab.ready()
    if not re.search(r"^kafka\s+RUNNING", lab.stocksync("status"), re.M):
        raise LabFailed("make run is using a broker it did not start (KAFKA_BOOTSTRAP_SERVERS): this lab stops its own")
    lab.step("Stop the broker, as if its machine went away.")
    lab.stocksync("stop", "kafka")
    lab.watch("/live/: the figures read from Kafka go stale and the page says it cannot reach Kafka.")
    before = unsent()
    lab.say(f"events waiting in the order service's outbox: {before}")

    lab.step(f"Place {ORDERS} orders for {PRODUCT} while it is down.")
    order_ids = lab.place_pending(PRODUCT, ORDERS, why="the web never waits on Kafka")

    lab.step("Their events wait in the outbox, in the orders database, with the orders.")
    waiting = unsent()
    lab.check(waiting >= before + ORDERS, f"outbox backlog {before} → {waiting} (the relay retries; see its log lines)")

    lab.step("Start the broker again.")
    lab.stocksync("start", "kafka")
    lab.watch("/live/: the outbox falls to 0, then the catalog's lag rises and falls, then the orders leave PENDING.")
    drained = lab.wait("the relay to drain the outbox", lambda: unsent() == 0, timeout=120)
    lab.check(drained, "outbox backlog 0: the relay sent every waiting event")
    lab.check_decided(order_ids, wait=30)

    lab.step("Nothing lost, nothing doubled: the catalog's ledger.")
    rows = lab.ledger_rows(order_ids)
    lab.check(rows == ORDERS, f"{rows} ledger rows for {ORDERS} orders (one each)")
    return f"{ORDERS} orders taken with the broker down, outbox backlog {waiting} at its peak, all decided once"
