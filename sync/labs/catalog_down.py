"""The catalog goes down: orders are still taken, and each is decided once when it returns.

The first lesson of microservices: the order service does not wait for the catalog. Its
orders wait on Kafka (the consumer group's lag grows) until the catalog comes back and
catches up; the ledger makes sure no order is applied twice.
"""

from __future__ import annotations

from catalog.models import StockMovement
from sync.labs.toolkit import Lab

ORDERS = 10
PRODUCT, PRICE = "CATALOG-002", 1000


def run(lab: Lab) -> str:
    lab.ready()
    lab.step("Stop the catalog's consumer, as if the catalog service were down.")
    lab.stocksync("stop", "catalog-consumer")
    lab.watch("/live/: box 3–4, the lag of group catalog-service on example-catalog-topic, and the lag chart.")
    before = lab.catalog_lag()
    lab.say(f"lag now: {before}")

    lab.step(f"Place {ORDERS} orders for {PRODUCT} while it is down.")
    placed = [lab.place(PRODUCT, 1, PRICE) for _ in range(ORDERS)]
    answers = sorted({f"{code} {body.get('status', body)}" for code, body in placed})
    lab.check(answers == ["201 PENDING"], f"{ORDERS} orders answered: {', '.join(answers)} (accepted, not yet decided)")
    order_ids = [body["orderId"] for _, body in placed]

    lab.step("The events wait on the topic: the lag grows.")
    lab.wait("the lag to grow", lambda: lab.catalog_lag() >= before + ORDERS, timeout=30)
    grown = lab.catalog_lag()
    lab.check(grown >= before + ORDERS, f"lag {before} → {grown} (the orders' events are on Kafka, unread)")

    lab.step("Start the consumer again.")
    lab.stocksync("start", "catalog-consumer")
    lab.watch("/live/: the lag falls back to 0; box 7, the orders leave PENDING.")
    lab.wait("the backlog to drain", lambda: lab.catalog_lag() == 0, timeout=60)
    decided = [lab.api("GET", f"/api/orders/{order_id}/?wait=20")[1]["status"] for order_id in order_ids]
    lab.check(lab.catalog_lag() == 0, "lag 0: the backlog drained")
    lab.check(
        all(status in ("CONFIRMED", "REJECTED") for status in decided),
        f"statuses: {', '.join(f'{s} ×{decided.count(s)}' for s in sorted(set(decided)))}",
    )

    lab.step("Each order was decided exactly once: the catalog's ledger.")
    rows = StockMovement.objects.filter(order_id__in=order_ids, kind=StockMovement.Kind.ORDER).count()
    lab.check(rows == ORDERS, f"{rows} ledger rows for {ORDERS} orders (one each; redelivery would be skipped)")
    return f"{ORDERS} orders taken while the catalog was down, lag {grown} at its peak, all decided once"
