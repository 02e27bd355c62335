"""The commit-order gap: a poller that reads `id > last_seen` skips a row that committed late, for good.

Ids are handed out when a row is inserted, but rows become visible when their transaction
commits. Two orders: the first one's transaction is held open (a slow request), the second
commits at once. A poller that remembers the highest id it has read (the foil here; the
JDBC source connector's `incrementing` mode) reads the second, moves past the first's id,
and never reads the first. `runrelay` reads what is unsent, whatever its id, and Debezium
reads the write-ahead log in commit order: both deliver both. Needs PostgreSQL (SQLite
lets one transaction write at a time, so the gap cannot open): make run DB=postgres.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time

from django.conf import settings
from django.db import connection, connections, transaction
from django.test import override_settings

from orders.models import OutboxEvent, ProductReplica
from orders.services import order_create
from sync.labs.toolkit import DEMO_USER, ROOT, Lab, LabFailed

PRODUCT = "CATALOG-001"


class NaivePoller:
    """THE FOIL: `SELECT … WHERE id > last_seen`, every 100 ms, as incrementing mode does."""

    def __init__(self) -> None:
        self.last_seen = OutboxEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
        self.read: list[str] = []  # subject ids (orderIds), in the order it read them
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        try:
            while not self._stop.is_set():
                for pk, subject_id in (
                    OutboxEvent.objects.filter(id__gt=self.last_seen).order_by("id").values_list("id", "subject_id")
                ):
                    self.read.append(subject_id)
                    self.last_seen = pk
                time.sleep(0.1)
        finally:
            connections.close_all()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def run(lab: Lab) -> str:
    lab.ready()
    if connection.vendor != "postgresql":
        raise LabFailed("this lab needs PostgreSQL (on SQLite one transaction writes at a time): make run DB=postgres")
    debezium = settings.OUTBOX_RELAY == "debezium"
    price = ProductReplica.objects.values_list("unit_price", flat=True).get(product_id=PRODUCT)
    mark = lab.topic_mark(settings.ORDER_EVENTS_TOPIC)

    lab.step("Start the foil: a poller that reads the outbox `WHERE id > last_seen`.")
    foil = NaivePoller()
    foil.start()
    lab.say(f"last_seen = {foil.last_seen}")

    # The web process would publish each one on commit; here the relays alone must.
    with override_settings(OUTBOX_PUBLISH_ON_COMMIT=False, OUTBOX_RELAY="polling"):
        lab.step("Order A: its transaction inserts the order and its event, then stays open (a slow request).")
        a_inserted, a_release, orders = threading.Event(), threading.Event(), {}

        def slow_order() -> None:
            try:
                with transaction.atomic():
                    orders["A"] = order_create(user_id=DEMO_USER, product_id=PRODUCT, qty=1, unit_price=price)
                    a_inserted.set()
                    a_release.wait(60)
            finally:
                connections.close_all()

        slow = threading.Thread(target=slow_order)
        slow.start()
        if not a_inserted.wait(30):
            raise LabFailed("order A was not inserted within 30 s")
        lab.say(f"order A {orders['A'].order_id}: not committed, so nobody else sees its outbox row yet")

        lab.step("Order B, placed after A, commits at once.")
        orders["B"] = order_create(user_id=DEMO_USER, product_id=PRODUCT, qty=1, unit_price=price)
        b_row = OutboxEvent.objects.get(subject_id=str(orders["B"].order_id))
        lab.say(f"order B {orders['B'].order_id}: outbox row id {b_row.id}")
        seen_b = lab.wait("the foil to read B", lambda: str(orders["B"].order_id) in foil.read, timeout=10)
        lab.check(seen_b, f"the foil read B and moved last_seen to {foil.last_seen}")

        lab.step("A commits now, with the smaller id.")
        a_release.set()
        slow.join()
        a_id = OutboxEvent.objects.get(subject_id=str(orders["A"].order_id)).id
        lab.say(f"order A's outbox row id {a_id} < {b_row.id}: below last_seen, where the foil no longer looks")
        time.sleep(1)  # ten more polls
        foil.stop()

    ids = {name: str(order.order_id) for name, order in orders.items()}
    foil_count = sum(1 for order_id in ids.values() if order_id in foil.read)
    skipped_a = foil_count == 1 and ids["A"] not in foil.read
    lab.check(skipped_a, f"the foil delivered {foil_count} of 2: it skipped A for good")

    def on_topic() -> int:
        events = lab.messages_since(settings.ORDER_EVENTS_TOPIC, mark)
        return len({m.get("orderId") for m in events} & set(ids.values()))

    delivered = {"foil": foil_count}
    if debezium:
        lab.step("Debezium reads the write-ahead log, where A's insert is, committed.")
        got = lab.wait("Debezium to send both", lambda: on_topic() == 2, timeout=60)
        lab.check(got, "Debezium delivered 2 of 2")
        delivered["Debezium"] = 2
        lab.step("runrelay, once, by hand (Debezium is this run's relay): it reads what is unsent, whatever its id.")
        lab.say("$ python manage.py runrelay --once --grace 0")
        relay = [sys.executable, "manage.py", "runrelay", "--once", "--grace", "0"]
        subprocess.run(relay, cwd=ROOT, check=True, timeout=120)
    else:
        lab.step("runrelay reads what is unsent, whatever its id (after its grace of a few seconds).")
        lab.watch("/live/: the outbox's backlog shows 2, then 0.")
    sent = lab.wait(
        "runrelay to send both",
        lambda: OutboxEvent.objects.filter(subject_id__in=ids.values(), sent_at__isnull=False).count() == 2,
        timeout=90,
    )
    lab.check(sent and on_topic() == 2, "runrelay delivered 2 of 2")
    delivered["runrelay"] = 2
    lab.check_decided(list(ids.values()), wait=30)
    return ", ".join(f"{who} delivered {n} of 2" for who, n in delivered.items())
