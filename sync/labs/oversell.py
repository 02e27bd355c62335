"""Fifty orders race for the last five units: exactly five are confirmed, stock never below zero.

The catalog decides each batch of events under its products' row locks, in order, so
no number of concurrent orders can take more than there is; the rest are rejected with
their reason (INSUFFICIENT_STOCK), and the ledger says so.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from catalog.models import Product, StockMovement
from sync.labs.toolkit import Lab

ORDERS, UNITS, PRICE = 50, 5, 500


def run(lab: Lab) -> str:
    lab.ready()
    product_id = f"LAB-LAST-{int(time.time())}"
    lab.step(f"A new product, {product_id}, with {UNITS} units left (as if added in the admin).")
    lab.products_create([product_id], name="The last five", stock=UNITS, price=PRICE)

    lab.step(f"{ORDERS} clients order one unit each, at the same time.")
    with ThreadPoolExecutor(max_workers=10) as pool:
        placed = list(pool.map(lambda _: lab.place(product_id, 1, PRICE), range(ORDERS)))
    answers = sorted({f"{code} {body.get('status', body)}" for code, body in placed})
    lab.check(answers == ["201 PENDING"], f"{ORDERS} orders answered: {', '.join(answers)}")
    lab.watch(f"/live/: {product_id}'s stock in the Stock panel; the admin's product page for its ledger.")

    lab.step("The catalog decides them, one batch at a time, under the product's row lock.")
    finals = [lab.api("GET", f"/api/orders/{body['orderId']}/?wait=30")[1] for _, body in placed]
    confirmed = sum(1 for o in finals if o["status"] == "CONFIRMED")
    rejected = sum(1 for o in finals if (o["status"], o["reason"]) == ("REJECTED", "INSUFFICIENT_STOCK"))
    lab.check(confirmed == UNITS, f"{confirmed} CONFIRMED (there were {UNITS} units)")
    lab.check(rejected == ORDERS - UNITS, f"{rejected} REJECTED with reason INSUFFICIENT_STOCK")

    lab.step("The stock and the ledger agree.")
    stock = Product.objects.get(product_id=product_id).stock
    rows = StockMovement.objects.filter(product_id=product_id)
    lowest = min(r.stock_after for r in rows if r.stock_after is not None)
    lab.check(stock == 0 and lowest == 0, f"stock {stock}, never below {lowest}; {rows.count()} ledger rows")
    return f"{confirmed} of {ORDERS} confirmed for {UNITS} units, stock 0, never negative"
