"""From one consumer to three under a steady stream of orders: the partitions spread over them.

A topic's partitions are its unit of parallelism: each partition is read by one member of
a consumer group at a time. With one member it reads all three; start two more and the
group moves partitions to them (cooperative-sticky: only those that must move), until
each member holds one. Nothing is read twice for it: the ledger says so.
"""

from __future__ import annotations

import threading
import time

from django.conf import settings

from catalog.models import StockMovement
from kafka_bridge.lag import GroupDescription, group_describe
from sync.labs.toolkit import Lab, LabFailed

PRODUCTS, RATE, PRICE = 12, 8, 100  # orders per second, over the products: their keys reach every partition


def describe(lab: Lab) -> GroupDescription:
    group = group_describe(group_id=settings.CATALOG_CONSUMER_GROUP)
    lab.say(f"group {settings.CATALOG_CONSUMER_GROUP}: {group.state.lower()}, {len(group.members)} member(s)")
    for member in group.members:
        held = ", ".join(f"{topic}[{partition}]" for topic, partition in member.partitions) or "nothing"
        lab.say(f"  {member.client_id:40} {held}")
    return group


def spread(group: GroupDescription, members: int) -> bool:
    """``members`` members, each holding at least one partition."""
    return len(group.members) == members and all(m.partitions for m in group.members)


class Stream:
    """Orders at a steady rate, in a thread, until stopped."""

    def __init__(self, lab: Lab, products: list[str]) -> None:
        self.lab, self.products = lab, products
        self.placed: list[str] = []
        self.refused: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        n = 0
        while not self._stop.wait(1 / RATE):
            code, body = self.lab.place(self.products[n % len(self.products)], 1, PRICE)
            (self.placed if code == 201 else self.refused).append(body.get("orderId") or f"{code} {body}")
            n += 1

    def __enter__(self) -> Stream:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(30)


def run(lab: Lab) -> str:
    lab.ready()
    partitions = len(lab.catalog_partitions())
    if partitions < 3:
        raise LabFailed(f"{settings.ORDER_EVENTS_TOPIC} has {partitions} partition(s); this lab needs 3 (make run's)")
    stamp = int(time.time())
    products = [f"LAB-SCALE-{stamp}-{n:02}" for n in range(PRODUCTS)]
    lab.step(f"{PRODUCTS} products to order, and one member in the catalog's consumer group.")
    lab.products_create(products, name="Scale-out lab", stock=10_000, price=PRICE)
    lab.stocksync("scale", "catalog-consumer=1")
    lab.wait(
        "one member to hold every partition",
        lambda: spread(group_describe(group_id=settings.CATALOG_CONSUMER_GROUP), 1),
        60,
    )
    one = describe(lab)
    lab.check(spread(one, 1), f"one member holds all {partitions} partitions")

    with Stream(lab, products) as stream:
        lab.step(f"A steady stream of orders starts: {RATE} per second.")
        time.sleep(5)
        lab.say(f"{len(stream.placed)} orders placed so far")

        lab.step("Scale the consumer to three members, while the orders keep coming.")
        lab.stocksync("scale", "catalog-consumer=3")
        lab.watch("/live/: the member column of example-catalog-topic changes; the lag stays low.")
        spread_out = lab.wait(
            "the partitions to spread", lambda: spread(group_describe(group_id=settings.CATALOG_CONSUMER_GROUP), 3), 60
        )
        three = describe(lab)
        lab.check(spread_out, "three members, one partition each")
        lab.say("as Kafka's own tool shows it:")
        for line in (
            lab.kafka(
                "kafka-consumer-groups",
                "--describe",
                "--group",
                settings.CATALOG_CONSUMER_GROUP,
                "--members",
                "--verbose",
            )
            .strip()
            .splitlines()
        ):
            lab.say("  " + line)
        time.sleep(5)
    lab.check(not stream.refused, f"{len(stream.placed)} orders placed, none refused")

    lab.step("The stream stops; the backlog drains.")
    drained = lab.wait("the lag to reach 0", lambda: lab.catalog_lag() == 0, timeout=60)
    lab.check(drained, "lag 0")
    decided = lab.wait(
        "every order to be in the ledger",
        lambda: StockMovement.objects.filter(order_id__in=stream.placed).count() >= len(stream.placed),
        timeout=60,
    )
    rows = lab.ledger_rows(stream.placed)
    lab.check(
        decided and rows == len(stream.placed),
        f"{rows} ledger rows for {len(stream.placed)} orders: nothing lost, nothing doubled",
    )

    lab.step("Back to one member (make run's default).")
    lab.stocksync("scale", "catalog-consumer=1")
    members = [m.client_id for m in three.members]
    return f"{len(stream.placed)} orders over 1 → 3 members ({', '.join(members)}), each decided once"
