"""The consumer's hot path on PostgreSQL: a whole batch of order events in three statements.

``catalog.services.stock_apply_order_events`` uses this on PostgreSQL and the ORM
elsewhere (SQLite); both have the same effect, and the tests run both. Per batch:

1. COPY the batch into a temporary staging table (the fastest way in);
2. lock the batch's products, in productId order, so that consumers sharing products
   queue instead of deadlocking, and learn which products exist;
3. one statement: keep the first event of each orderId not yet in the ledger, number
   each product's events in batch order to compute ``stock_after``, insert the ledger
   rows (``ON CONFLICT DO NOTHING`` as the last word on duplicates) and lower each
   product's stock by the sum of what was inserted.

Statement 3 takes its snapshot after the locks of statement 2 are held, so it sees every
ledger row committed by whoever held them before.
"""

from __future__ import annotations

import weakref

from django.db import connections

from kafka_bridge.consumer import BatchResult, Record, Rejection
from kafka_bridge.events import OrderEvent

STAGING = """
CREATE TEMPORARY TABLE IF NOT EXISTS stock_batch (
    ord integer, order_id text, product_id text, qty bigint, topic text, part integer, off bigint
) ON COMMIT DELETE ROWS
"""

# A batch is a few thousand rows probing a ledger of millions by its unique index: index
# lookups, always. Left alone, the planner may hash-join the whole ledger when its
# statistics are stale (they are, right after a burst), which grows with the ledger.
PLAN = "SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off"

LOCK_PRODUCTS = """
SELECT product_id FROM catalog_product
WHERE product_id IN (SELECT DISTINCT product_id FROM stock_batch)
ORDER BY product_id
FOR UPDATE
"""

APPLY = """
WITH fresh AS (
    SELECT DISTINCT ON (b.order_id) b.*
    FROM stock_batch b
    JOIN catalog_product p ON p.product_id = b.product_id
    WHERE NOT EXISTS (SELECT 1 FROM catalog_stockmovement m WHERE m.order_id = b.order_id)
    ORDER BY b.order_id, b.ord
), numbered AS (
    SELECT f.*, p.stock - sum(f.qty) OVER (PARTITION BY f.product_id ORDER BY f.ord) AS stock_after
    FROM fresh f JOIN catalog_product p ON p.product_id = f.product_id
), inserted AS (
    INSERT INTO catalog_stockmovement
        (order_id, product_id, delta, stock_after, topic, "partition", "offset", applied_at)
    SELECT order_id, product_id, -qty, stock_after, topic, part, off, clock_timestamp()
    FROM numbered
    ORDER BY ord
    ON CONFLICT (order_id) DO NOTHING
    RETURNING product_id, delta
), updated AS (
    UPDATE catalog_product p SET stock = p.stock + t.delta
    FROM (SELECT product_id, sum(delta) AS delta FROM inserted GROUP BY product_id) t
    WHERE p.product_id = t.product_id
    RETURNING 1
)
SELECT (SELECT count(*) FROM inserted), (SELECT count(*) FROM updated)
"""


_staged = weakref.WeakSet()  # connections that have the staging table


def stock_apply_order_events_sql(*, records: list[Record[OrderEvent]], using: str) -> BatchResult:
    """Apply a batch inside the caller's transaction on ``using`` (PostgreSQL)."""
    connection = connections[using]
    connection.ensure_connection()
    raw = connection.connection
    try:
        with raw.cursor() as cursor:
            if raw not in _staged:
                cursor.execute(STAGING)
                _staged.add(raw)
            with cursor.copy("COPY stock_batch (ord, order_id, product_id, qty, topic, part, off) FROM STDIN") as copy:
                for ord_, r in enumerate(records):
                    e = r.event
                    copy.write_row((ord_, e.order_id, e.product_id, e.qty, r.topic, r.partition, r.offset))
            cursor.execute(PLAN)
            cursor.execute(LOCK_PRODUCTS)
            known = {row[0] for row in cursor.fetchall()}
            cursor.execute(APPLY)
            applied, _ = cursor.fetchone()
    except BaseException:
        # A rolled-back transaction takes a just-created staging table with it.
        _staged.discard(raw)
        raise
    rejected = [
        Rejection(r, f"unknown productId {r.event.product_id!r}", "UnknownProduct")
        for r in records
        if r.event.product_id not in known
    ]
    return BatchResult(applied=applied, skipped=len(records) - len(rejected) - applied, rejected=rejected)
