"""The catalog goes down: orders are still taken, and each is decided once when it returns.

The first lesson of microservices: the order service does not wait for the catalog. Its
orders wait on Kafka (the consumer group's lag grows) until the catalog comes back and
catches up; the ledger makes sure no order is applied twice.
"""

from __future__ import annotations

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
    order_ids = lab.place_pending(PRODUCT, ORDERS, why="accepted, not yet decided", unit_price=PRICE)

    lab.step("The events wait on the topic: the lag grows.")
    lab.wait("the lag to grow", lambda: lab.catalog_lag() >= before + ORDERS, timeout=30)
    grown = lab.catalog_lag()
    lab.check(grown >= before + ORDERS, f"lag {before} → {grown} (the orders' events are on Kafka, unread)")

    lab.step("Start the consumer again.")
    lab.stocksync("start", "catalog-consumer")
    lab.watch("/live/: the lag falls back to 0; box 7, the orders leave PENDING.")
    lab.wait("the backlog to drain", lambda: lab.catalog_lag() == 0, timeout=60)
    lab.check(lab.catalog_lag() == 0, "lag 0: the backlog drained")
    lab.check_decided(order_ids, wait=20)

    lab.step("Each order was decided exactly once: the catalog's ledger.")
    rows = lab.ledger_rows(order_ids)
    lab.check(rows == ORDERS, f"{rows} ledger rows for {ORDERS} orders (one each; redelivery would be skipped)")
    return f"{ORDERS} orders taken while the catalog was down, lag {grown} at its peak, all decided once"
