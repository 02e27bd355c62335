"""The broker goes down: orders are still taken, wait in the outbox, and all arrive when it returns.

The order service never waits on Kafka: an order and its event are written in one
database transaction (the transactional outbox), and the relay sends the event when it
can. While the broker is down the outbox's backlog grows; when it is back the relay
drains it, and every order is decided once.
"""

from __future__ import annotations

import re

from catalog.models import StockMovement
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
    placed = [lab.place(PRODUCT, 1) for _ in range(ORDERS)]
    answers = sorted({f"{code} {body.get('status', body)}" for code, body in placed})
    lab.check(
        answers == ["201 PENDING"], f"{ORDERS} orders answered: {', '.join(answers)} (the web never waits on Kafka)"
    )
    order_ids = [body["orderId"] for _, body in placed]

    lab.step("Their events wait in the outbox, in the orders database, with the orders.")
    waiting = unsent()
    lab.check(waiting >= before + ORDERS, f"outbox backlog {before} → {waiting} (the relay retries; see its log lines)")

    lab.step("Start the broker again.")
    lab.stocksync("start", "kafka")
    lab.watch("/live/: the outbox falls to 0, then the catalog's lag rises and falls, then the orders leave PENDING.")
    drained = lab.wait("the relay to drain the outbox", lambda: unsent() == 0, timeout=120)
    lab.check(drained, "outbox backlog 0: the relay sent every waiting event")
    decided = [lab.api("GET", f"/api/orders/{order_id}/?wait=30")[1]["status"] for order_id in order_ids]
    lab.check(
        all(status in ("CONFIRMED", "REJECTED") for status in decided),
        f"statuses: {', '.join(f'{s} ×{decided.count(s)}' for s in sorted(set(decided)))}",
    )

    lab.step("Nothing lost, nothing doubled: the catalog's ledger.")
    rows = StockMovement.objects.filter(order_id__in=order_ids, kind=StockMovement.Kind.ORDER).count()
    lab.check(rows == ORDERS, f"{rows} ledger rows for {ORDERS} orders (one each)")
    return f"{ORDERS} orders taken with the broker down, outbox backlog {waiting} at its peak, all decided once"
