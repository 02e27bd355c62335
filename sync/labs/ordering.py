"""Why the key is the productId: one product's events stay in order, on one partition.

Kafka keeps order within a partition, not across them. Every order event is keyed by
its productId, so all of one product's events land on the same partition, in the order
they were placed, and the catalog applies them in that order.
"""

from __future__ import annotations

from django.conf import settings

from catalog.models import StockMovement
from sync.labs.toolkit import Lab

ORDERS = 20
PRODUCT, PRICE = "CATALOG-003", 2000


def run(lab: Lab) -> str:
    lab.ready()
    lab.step(f"Place {ORDERS} orders for {PRODUCT}, one after another.")
    order_ids = []
    for _ in range(ORDERS):
        code, body = lab.place(PRODUCT, 1, PRICE)
        if code != 201:
            lab.check(False, f"an order was answered {code}: {body}")
        order_ids.append(body["orderId"])
    lab.say(f"{ORDERS} orders placed, first {order_ids[0]}, last {order_ids[-1]}")
    for order_id in order_ids:
        lab.api("GET", f"/api/orders/{order_id}/?wait=30")

    lab.step("Where they landed: the topic, partition and offset the catalog read each from (its ledger).")
    rows = {r.order_id: r for r in StockMovement.objects.filter(order_id__in=order_ids, kind=StockMovement.Kind.ORDER)}
    lab.check(len(rows) == ORDERS, f"{len(rows)} of {ORDERS} decided")
    in_order = [rows[order_id] for order_id in order_ids]
    partitions = sorted({r.partition for r in in_order})
    where = ", ".join(map(str, partitions))
    lab.check(len(partitions) == 1, f"all on partition {where} of {in_order[0].topic} (same key, same partition)")
    offsets = [r.offset for r in in_order]
    lab.check(
        offsets == sorted(offsets), f"offsets {offsets[0]}..{offsets[-1]}, rising in the order the orders were placed"
    )
    lab.watch(
        f"bin/kafka-console-consumer --bootstrap-server {settings.KAFKA_BOOTSTRAP_SERVERS} --topic {in_order[0].topic} "
        f"--partition {partitions[0]} --offset {offsets[0]} --max-messages {ORDERS} --property print.key=true"
    )

    lab.step("The catalog applied them in that order: the stock after each falls one by one.")
    after = [r.stock_after for r in in_order]
    steps_ok = all(b == a - 1 for a, b in zip(after, after[1:], strict=False))
    lab.check(steps_ok, f"stock after each: {after[0]} → {after[-1]}, one unit per order, in order")
    return f"{ORDERS} events of {PRODUCT} on partition {partitions[0]}, in order, applied in order"
