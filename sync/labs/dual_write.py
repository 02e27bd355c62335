"""Why the outbox: write the database and Kafka separately, and a crash between loses or invents an event.

The foil (sync/labs/naive_publisher.py) places an order the way many first versions do:
one write to the database, one to Kafka, nothing tying them together. The lab kills it,
with the project's fault injection, between the two writes, in both orders:

* publish, then commit: the event is on the topic, the order never committed (a phantom);
* commit, then publish: the order committed, the event never left the process (lost).

Then the same two crashes against the order service's own path, where the order and its
event are one database transaction (the outbox): nothing is lost and nothing invented.
The lab counts orders in the database and events on the topic, per case.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid

from django.conf import settings

from catalog.models import StockMovement
from orders.models import Order
from sync.labs.toolkit import ROOT, Lab, LabFailed

PRICE = 500
CASES = [  # (ordering, crash point, what the lab expects: orders in the database, events on the topic)
    ("publish-then-commit", "foil.after_publish", (0, 1)),
    ("commit-then-publish", "foil.after_commit", (1, 0)),
    ("outbox", "web.before_commit", (0, 0)),
    ("outbox", "web.after_commit", (1, 1)),
]


def crash(lab: Lab, ordering: str, point: str, product_id: str, user_id: str) -> None:
    """One order by the foil (or the order service's path), killed at ``point``."""
    env = {**os.environ, "STOCKSYNC_CRASH_POINTS": f"{point}=1", "STOCKSYNC_CRASH_LOG": ""}
    command = [sys.executable, "-m", "sync.labs.naive_publisher", ordering, product_id, str(PRICE), user_id]
    lab.say(f"$ STOCKSYNC_CRASH_POINTS={point}=1 python -m sync.labs.naive_publisher {ordering} {product_id} …")
    run = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    if run.returncode != -signal.SIGKILL:
        why = f"exit {run.returncode}: {run.stderr[-500:]}"
        raise LabFailed(f"the {ordering} process was not killed at {point} ({why})")
    lab.say(f"killed at {point}")


def run(lab: Lab) -> str:
    lab.ready()
    product_id = f"LAB-DUAL-{uuid.uuid4().hex[:6].upper()}"
    lab.step(f"A product of the lab's own, {product_id}: what goes wrong stays with it.")
    lab.products_create([product_id], name="Dual-write lab", stock=10, price=PRICE)

    topic = settings.ORDER_EVENTS_TOPIC
    mark = lab.topic_mark(topic)
    users = {}
    for ordering, point, _ in CASES:
        where = "the order service's own path (the outbox)" if ordering == "outbox" else f"the foil, {ordering}"
        lab.step(f"One order by {where}; the process dies at {point}.")
        users[point] = f"lab-dual-write-{uuid.uuid4().hex[:8]}"
        crash(lab, ordering, point, product_id, users[point])

    lab.step("Wait for the relay: an outbox event left unsent by a crash is its to send.")
    lab.watch("/live/: the outbox's backlog rises by one and falls again (or, under Debezium, nothing waits).")
    relayed = lab.wait(
        "the outbox's event on the topic",
        lambda: any(m.get("userId") == users["web.after_commit"] for m in lab.messages_since(topic, mark)),
        timeout=90,
    )
    lab.check(relayed, "the event of the order committed before the crash reached the topic")

    lab.step("Count, per case, the orders in the database and the events on the topic.")
    events = lab.messages_since(topic, mark)
    seen = {}
    for ordering, point, expected in CASES:
        orders = Order.objects.filter(user_id=users[point]).count()
        sent = sum(1 for m in events if m.get("userId") == users[point])
        seen[point] = (orders, sent)
        verdict = {
            (0, 1): "a PHANTOM: an event for an order that does not exist",
            (1, 0): "a LOST event: the order waits for a decision that will never come",
            (0, 0): "nothing: the order and its event rolled back together",
            (1, 1): "the order and its one event",
        }.get((orders, sent), "unexpected")
        seen_line = f"{ordering:20} killed at {point:19} {orders} order(s), {sent} event(s): {verdict}"
        lab.check((orders, sent) == expected, seen_line)

    phantom = next(m["orderId"] for m in events if m.get("userId") == users["foil.after_publish"])
    lab.step("The phantom did harm: the catalog took stock for it.")
    taken = lab.wait(
        "the catalog to decide the phantom",
        lambda: StockMovement.objects.filter(order_id=phantom).exists(),
        timeout=60,
    )
    lab.check(taken, f"the catalog's ledger has a row for order {phantom}, which the order service never had")

    lab.step("The lost order is removed, so that `manage.py reconcile` has nothing to report.")
    Order.objects.filter(user_id=users["foil.after_commit"]).delete()
    return (
        f"publish-then-commit: {seen['foil.after_publish'][1]} event, 0 orders (a phantom); "
        f"commit-then-publish: {seen['foil.after_commit'][0]} order, 0 events (lost); "
        "the outbox under the same crashes: 0 and 0, then 1 and 1"
    )
