"""The consumer's hot path on PostgreSQL: a batch read and written in five round trips.

``catalog.services.stock_apply_order_events`` uses this on PostgreSQL and the ORM
elsewhere (SQLite); both have the same effect, and the tests run both. The batch goes
in and out through ``COPY`` into temporary tables (the fastest way in), never as
thousands of bound parameters:

* ``stock_read_batch_sql``: COPY the batch's ids in; lock its products in productId
  order (so consumers sharing products queue instead of deadlocking) and read their
  stock; read what the ledger already decided for its orders. The ledger is read after
  the locks are held, so it includes whatever the previous holder committed.
* ``stock_write_decisions_sql``: COPY the decisions in; one statement writes the ledger
  rows, sets each product's stock to its last decision's ``stock_after`` and adds the
  results to the catalog's outbox, returning their ids.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import connections

from catalog.reservations import Decided, Decisions, ProductState
from kafka_bridge.consumer import Record
from kafka_bridge.events import OrderEvent
from kafka_bridge.outbox import OutboxRow

STAGING = """
CREATE TEMPORARY TABLE IF NOT EXISTS stock_batch (order_id text, product_id text) ON COMMIT DELETE ROWS;
CREATE TEMPORARY TABLE IF NOT EXISTS stock_decided (
    ord integer, order_id text, kind text, outcome text, reason text, product_id text,
    delta bigint, stock_after bigint, topic text, part integer, off bigint, payload bytea
) ON COMMIT DELETE ROWS
"""

# A batch is a few thousand rows probing a ledger of millions by its unique index: index
# lookups, always. Left alone, the planner may hash-join the whole ledger when its
# statistics are stale (they are, right after a burst), which grows with the ledger.
PLAN = "SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off"

LOCK_PRODUCTS = """
SELECT product_id, stock, active FROM catalog_product
WHERE product_id IN (SELECT product_id FROM stock_batch)
ORDER BY product_id
FOR UPDATE
"""

DECIDED = """
SELECT m.order_id, m.kind, m.product_id, m.delta FROM catalog_stockmovement m
WHERE m.order_id IN (SELECT order_id FROM stock_batch)
"""

WRITE = """
WITH ledger AS (
    INSERT INTO catalog_stockmovement
        (order_id, kind, outcome, reason, product_id, delta, stock_after, topic, "partition", "offset", applied_at)
    SELECT order_id, kind, outcome, reason, product_id, delta, stock_after, topic, part, off, clock_timestamp()
    FROM stock_decided ORDER BY ord
), stock AS (
    UPDATE catalog_product p SET stock = last.stock_after
    FROM (
        SELECT DISTINCT ON (product_id) product_id, stock_after FROM stock_decided
        WHERE stock_after IS NOT NULL ORDER BY product_id, ord DESC
    ) last
    WHERE p.product_id = last.product_id AND p.stock <> last.stock_after
)
INSERT INTO catalog_outboxevent (topic, key, subject_id, payload, created_at, attempts, last_error)
SELECT %s, order_id, order_id, payload, clock_timestamp(), 0, '' FROM stock_decided ORDER BY ord
RETURNING id
"""

_staged: weakref.WeakSet[Any] = weakref.WeakSet()  # connections that have the staging tables


def stock_read_batch_sql(
    *, records: list[Record[OrderEvent]], using: str
) -> tuple[dict[str, ProductState], dict[tuple[str, str], Decided]]:
    """Lock the batch's products and read them and the ledger's decisions on its orders
    (inside the caller's transaction on ``using``)."""

    def read(cursor):
        with cursor.copy("COPY stock_batch (order_id, product_id) FROM STDIN") as copy:
            for r in records:
                copy.write_row((r.event.order_id, r.event.product_id))
        cursor.execute(PLAN)
        cursor.execute(LOCK_PRODUCTS)
        products = {pid: ProductState(stock, active) for pid, stock, active in cursor.fetchall()}
        cursor.execute(DECIDED)
        decided = {(oid, kind): Decided(pid, delta) for oid, kind, pid, delta in cursor.fetchall()}
        return products, decided

    return _with_staging(using, read)


def stock_write_decisions_sql(*, decisions: Decisions, using: str) -> list[OutboxRow]:
    """Write the decisions (the batch's products already locked); return the outbox rows
    of their results, to publish after commit."""
    moves = decisions.movements
    if not moves:
        return []
    topic = settings.ORDER_RESULTS_TOPIC
    payloads = [m.result.to_json() for m in moves]

    def write(cursor):
        copy_sql = (
            "COPY stock_decided (ord, order_id, kind, outcome, reason, product_id, delta, stock_after, "
            "topic, part, off, payload) FROM STDIN"
        )
        with cursor.copy(copy_sql) as copy:
            for ord_, (m, payload) in enumerate(zip(moves, payloads, strict=True)):
                e, r = m.record.event, m.record
                copy.write_row(
                    (ord_, e.order_id, m.kind, m.outcome, m.reason, e.product_id, m.delta, m.stock_after)
                    + (r.topic, r.partition, r.offset, payload)
                )
        cursor.execute(WRITE, [topic])
        # Ids come from a sequence in insertion order, which is the batch's order.
        return sorted(row[0] for row in cursor.fetchall())

    ids = _with_staging(using, write)
    return [
        OutboxRow(pk, topic, m.record.event.order_id, payload)
        for pk, m, payload in zip(ids, moves, payloads, strict=True)
    ]


def _with_staging(using: str, work: Callable):
    connection = connections[using]
    connection.ensure_connection()
    raw = connection.connection
    try:
        with raw.cursor() as cursor:
            if raw not in _staged:
                cursor.execute(STAGING)
                _staged.add(raw)
            return work(cursor)
    except BaseException:
        # A rolled-back transaction takes just-created staging tables with it.
        _staged.discard(raw)
        raise
