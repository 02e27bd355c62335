"""The fast layer's catalog writes on PostgreSQL: set-based SQL, a few round trips per batch.

``catalog.fast.services`` uses this; the default path (``catalog.services``) does the
same through the ORM. A property test (catalog/tests/test_fast_equals_simple.py) holds
both to the same ledger, stock and replies.

* ``stock_read_batch_sql``: lock the batch's products in productId order (so consumers
  sharing products queue instead of deadlocking) and read their stock; then read what
  the ledger already decided for the batch's orders — a second statement, so that its
  snapshot is taken after the locks are held and includes whatever the previous holder
  committed. A large batch assumes its orders are new and reads only what the ledger's
  unique index could not tell it (``DECIDED_CANCELLATIONS``); a redelivered order then
  fails the batch's COPY (``is_ledger_duplicate``), and ``catalog.services`` decides
  the batch again with the whole read.
* ``stock_write_decisions_sql``: write the ledger rows and set each product's stock to
  its last decision's ``stock_after``.

The batch reaches PostgreSQL in one of two ways:

* a small batch (a lone order under light load: the latency case) as one array
  parameter per column, bound server-side in binary, the read's statements pipelined,
  the write one statement — three round trips with COMMIT;
* a large one (a backlog: the throughput case): its orderIds and productIds for the read
  as two text parameters, a line per value (psycopg builds big array parameters in
  Python, which costs more), the read's statements pipelined; its ledger rows straight
  into the ledger by ``COPY``, the fastest way in for thousands of rows, then one
  ``UPDATE`` of the stock. Straight in, not through a temporary table and an
  ``INSERT … SELECT``: PostgreSQL would write each row twice that way. A batch with an
  identifier that holds a tab, a line break or a backslash (allowed, never seen) is read
  as arrays, and its ledger rows are escaped one by one by psycopg.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, NamedTuple

from django.db import connections
from django.utils import timezone
from psycopg import Cursor

from catalog.reservations import CANCEL, ORDER, Decided, Decisions, Movement, ProductState
from contracts.events import OrderEvent
from kafka_bridge.messages import Record

# Batches up to this many events go as arrays, larger ones through COPY.
ARRAYS_UP_TO = 200

# A batch is a few thousand rows probing a ledger of millions by its unique index: index
# lookups, always. Left alone, the planner may hash-join the whole ledger when its
# statistics are stale (they are, right after a burst), which grows with the ledger.
PLAN = "SELECT set_config('enable_hashjoin', 'off', true), set_config('enable_mergejoin', 'off', true)"

LOCK_PRODUCTS = """
SELECT product_id, stock, active FROM catalog_product
WHERE product_id IN ({products})
ORDER BY product_id
FOR UPDATE
"""

# "= ANY(ARRAY(…))", not "IN (…)": one scan of the ledger's index for the whole batch,
# where IN made a nested loop that started an index scan per orderId, twice the time
# (bench.ledger_probe measures both).
DECIDED = """
SELECT m.order_id, m.kind, m.product_id, m.delta, m.outcome, m.reason FROM catalog_stockmovement m
WHERE m.order_id = ANY(ARRAY({orders}))
"""

# A large batch, assumed new (a backlog is nearly always new events): the ledger is read
# only for what its unique (orderId, kind) index cannot reveal when the batch's rows go
# in. A cancellation decided earlier makes a later order a refusal, though the order's
# own row would not collide: so every cancellation of the batch's orders (a small partial
# index, ``stockmovement_cancel_idx``). A cancellation gives back what its order took: so
# the orders of the batch's cancellations. An order already decided (a redelivery) is
# left to the unique index: its COPY fails, the transaction rolls back, and the batch is
# decided again with ``DECIDED`` (catalog.services). The read costs a fifth of the whole
# probe of 5,000 orderIds (bench.ledger_probe).
DECIDED_CANCELLATIONS = f"""
SELECT m.order_id, m.kind, m.product_id, m.delta, m.outcome, m.reason FROM catalog_stockmovement m
WHERE m.kind = '{CANCEL}' AND m.order_id = ANY(ARRAY({{orders}}))
UNION ALL
SELECT m.order_id, m.kind, m.product_id, m.delta, m.outcome, m.reason FROM catalog_stockmovement m
WHERE m.kind = '{ORDER}' AND m.order_id = ANY(ARRAY({{cancelled}}))
"""
# The ledger's one row per (orderId, kind): what a redelivered event collides with.
LEDGER_UNIQUE = "stockmovement_one_per_order_kind"

# The stock update is a data-modifying CTE: PostgreSQL runs it to completion although the
# INSERT does not read it.
WRITE = """
WITH decided AS ({decided}), stock AS (
    UPDATE catalog_product p SET stock = last.stock_after
    FROM (
        SELECT DISTINCT ON (product_id) product_id, stock_after FROM decided
        WHERE stock_after IS NOT NULL ORDER BY product_id, ord DESC
    ) last
    WHERE p.product_id = last.product_id AND p.stock <> last.stock_after
)
INSERT INTO catalog_stockmovement
    (order_id, kind, outcome, reason, product_id, delta, stock_after, topic, "partition", "offset", applied_at)
SELECT order_id, kind, outcome, reason, product_id, delta, stock_after, topic, part, off, clock_timestamp()
FROM decided ORDER BY ord
"""
# A large batch: its ledger rows COPY'd into the ledger (applied_at: when the batch is
# written), then the stock of each product it changed.
LEDGER_COLUMNS = (
    'order_id, kind, outcome, reason, product_id, delta, stock_after, topic, "partition", "offset", applied_at'
)
LEDGER_COPY = f"COPY catalog_stockmovement ({LEDGER_COLUMNS}) FROM STDIN"
STOCK_FROM_ARRAYS = """
UPDATE catalog_product p SET stock = s.stock
FROM unnest(%s::text[], %s::bigint[]) AS s(product_id, stock)
WHERE p.product_id = s.product_id AND p.stock <> s.stock
"""
DECIDED_COLUMNS = "ord, order_id, kind, outcome, reason, product_id, delta, stock_after, topic, part, off"

# The batch as arrays (one parameter each) ...
FROM_ARRAYS = {
    "products": "SELECT unnest(%s::text[])",
    "orders": "SELECT unnest(%s::text[])",
    "decided": f"""
        SELECT {DECIDED_COLUMNS} FROM unnest(
            %s::text[], %s::text[], %s::text[], %s::text[], %s::text[],
            %s::bigint[], %s::bigint[], %s::text[], %s::int[], %s::bigint[]
        ) WITH ORDINALITY
        AS d(order_id, kind, outcome, reason, product_id, delta, stock_after, topic, part, off, ord)
    """,
}
# ... or, a large batch whose identifiers hold no line break (nearly always), one text
# parameter each, a line per value: "\n".join is C, where psycopg builds a big array
# parameter in Python ...
FROM_LINES = {
    "products": "SELECT unnest(string_to_array(%s, E'\\n'))",
    "orders": "SELECT unnest(string_to_array(%s, E'\\n'))",
}


class ReadLines(NamedTuple):
    """A large batch's identifiers as the read sends them: a line each."""

    products: str  # sorted: the locks are taken in this order
    orders: str
    cancelled: str  # the orders of its cancellations


def read_lines(records: list[Record[OrderEvent]]) -> ReadLines | None:
    """The read's parameters for a large batch, built ahead (the pipelined consumer builds
    them on its loop's thread); None for a small batch, or one whose identifiers hold a
    line break, a tab or a backslash (it is read as arrays)."""
    if len(records) <= ARRAYS_UP_TO:
        return None
    pairs = [(r.event.order_id, r.event.product_id) for r in records]
    if not _plain(pairs):
        return None
    return ReadLines(
        "\n".join(sorted({p for _, p in pairs})),
        "\n".join({o for o, _ in pairs}),
        "\n".join({r.event.order_id for r in records if r.event.is_cancellation}),
    )


def stock_read_batch_sql(
    *, records: list[Record[OrderEvent]], using: str, assume_new: bool = False, lines: ReadLines | None = None
) -> tuple[dict[str, ProductState], dict[tuple[str, str], Decided]]:
    """Lock the batch's products and read them and the ledger's decisions on its orders
    (inside the caller's transaction on ``using``). ``assume_new``: a large batch reads
    only ``DECIDED_CANCELLATIONS`` and leaves redeliveries to the ledger's unique index;
    its write then raises an ``IntegrityError`` that ``is_ledger_duplicate``. ``lines``:
    ``read_lines(records)``, if built already."""
    lines = lines or read_lines(records)
    if lines is None:  # a small batch, or one whose identifiers need escaping: as arrays
        with _raw(using) as raw, Cursor(raw) as plan, Cursor(raw) as lock, Cursor(raw) as ledger:
            with raw.pipeline():  # the three statements (and BEGIN) in one round trip
                plan.execute(PLAN, binary=True)
                lock.execute(
                    LOCK_PRODUCTS.format(**FROM_ARRAYS), [sorted({r.event.product_id for r in records})], binary=True
                )
                ledger.execute(DECIDED.format(**FROM_ARRAYS), [list({r.event.order_id for r in records})], binary=True)
            return _read_results(lock, ledger)

    with _raw(using) as raw, Cursor(raw) as plan, Cursor(raw) as lock, Cursor(raw) as ledger:
        with raw.pipeline():
            plan.execute(PLAN)
            lock.execute(LOCK_PRODUCTS.format(**FROM_LINES), [lines.products])
            if assume_new:
                each = FROM_LINES["orders"]
                ledger.execute(
                    DECIDED_CANCELLATIONS.format(orders=each, cancelled=each), [lines.orders, lines.cancelled]
                )
            else:
                ledger.execute(DECIDED.format(**FROM_LINES), [lines.orders])
        return _read_results(lock, ledger)


def is_ledger_duplicate(exc: BaseException) -> bool:
    """Whether a write failed on the ledger's one row per (orderId, kind): a batch read
    with ``assume_new`` held an event already decided."""
    diag = getattr(exc.__cause__, "diag", None)
    return getattr(diag, "constraint_name", None) == LEDGER_UNIQUE


def _read_results(lock, ledger) -> tuple[dict[str, ProductState], dict[tuple[str, str], Decided]]:
    products = {pid: ProductState(stock, active) for pid, stock, active in lock.fetchall()}
    decided = {
        (oid, kind): Decided(pid, delta, outcome, reason)
        for oid, kind, pid, delta, outcome, reason in ledger.fetchall()
    }
    return products, decided


def stock_write_decisions_sql(*, decisions: Decisions, using: str, ledger: str | None = None) -> None:
    """Write the decisions (the batch's products already locked). ``ledger``: their COPY
    text, built ahead (``ledger_ahead``)."""
    moves = decisions.movements
    if not moves:
        return
    if len(moves) <= ARRAYS_UP_TO:
        with _raw(using) as raw, Cursor(raw) as cursor:
            columns = [list(column) for column in zip(*ledger_rows(moves), strict=True)]  # one array per column
            cursor.execute(WRITE.format(**FROM_ARRAYS), columns, binary=True)
        return

    # A large batch's ledger rows go straight into the ledger by COPY, in the batch's order
    # (the ids follow it); then one UPDATE sets each product's stock to its last decision.
    with _raw(using) as raw, raw.cursor() as cursor:
        if ledger is None:
            ledger_copy(cursor, ledger_rows(moves), applied_at=timezone.now())
            _write_stock(cursor, decisions.stock)
        else:
            _write_large(cursor, ledger, decisions.stock)


def _write_large(cursor: Cursor, ledger: str, stock: dict[str, int]) -> None:
    """COPY a ledger text built ahead (``ledger_ahead``), its ``applied_at`` filled in now;
    then set the stock."""
    with cursor.copy(LEDGER_COPY) as copy:
        copy.write(ledger.replace(_LATER, f"\t{timezone.now().isoformat()}\n"))
    _write_stock(cursor, stock)


def _write_stock(cursor: Cursor, stock: dict[str, int]) -> None:
    if stock:
        cursor.execute(STOCK_FROM_ARRAYS, [list(stock), list(stock.values())], binary=True)


def ledger_rows(movements: list[Movement]) -> list[tuple]:
    """The decisions as ledger rows: ``LEDGER_COLUMNS`` but ``applied_at``, in order."""
    return [
        (
            m.record.event.order_id,
            m.kind,
            m.outcome,
            m.reason,
            m.record.event.product_id,
            m.delta,
            m.stock_after,
            m.record.topic,
            m.record.partition,
            m.record.offset,
        )
        for m in movements
    ]


def ledger_copy(cursor: Cursor, rows: list[tuple], *, applied_at: datetime) -> None:
    """COPY ledger rows (``LEDGER_COLUMNS`` but ``applied_at``, which is given) into the
    ledger. The consumer's way in for a large batch; the benchmark's floor writes through
    it too, and its ceiling COPYs the same text, so that all three send PostgreSQL the
    same bytes."""
    with cursor.copy(LEDGER_COPY) as copy:
        text = ledger_text(rows, applied_at=applied_at)
        if text is not None:
            copy.write(text)
        else:
            for row in rows:
                copy.write_row((*row, applied_at))


def ledger_ahead(decisions: Decisions) -> str | None:
    """The decisions' COPY text, built before they are written (the pipelined consumer
    builds it on its loop's thread while the batch before is written), with their
    ``applied_at`` filled in when they are; None if they would not be written by COPY."""
    if len(decisions.movements) <= ARRAYS_UP_TO:
        return None
    return ledger_text(ledger_rows(decisions.movements), applied_at=None)


def ledger_text(rows: list[tuple], *, applied_at: datetime | None) -> str | None:
    """The rows in COPY's text format, as one string; None if an identifier (orderId,
    productId, topic) holds a character that format escapes. ``applied_at`` None: a
    placeholder, for ``stock_write_decisions_sql`` to fill in."""
    if not _plain((row[0], row[4], row[7]) for row in rows):
        return None
    at = _LATER_FIELD if applied_at is None else applied_at.isoformat()
    return "".join(
        [
            f"{order}\t{kind}\t{outcome}\t{reason}\t{product}\t{delta}\t"
            f"{NULL if after is None else after}\t{topic}\t{part}\t{offset}\t{at}\n"
            for order, kind, outcome, reason, product, delta, after, topic, part, offset in rows
        ]
    )


# COPY's text format escapes four characters; our own values (kinds, outcomes, reasons,
# numbers, times) never contain them, an event's identifiers almost never. A batch whose
# strings have none is written as one string built by f-strings (~0.4 µs a row), the
# rest row by row by psycopg's write_row (~1.8 µs a row, which escapes).
NULL = "\\N"
# The placeholder of a text built ahead: its last field, "@", on each line. Only the last
# field is followed by a line break, and a plain text has no other tab or line break.
_LATER_FIELD = "@"
_LATER = f"\t{_LATER_FIELD}\n"
_ESCAPED = ("\\", "\t", "\n", "\r")


def _plain(values: Iterable[tuple[str, ...]]) -> bool:
    """Whether none of these strings holds a character COPY's text format escapes."""
    text = "".join(["".join(v) for v in values])
    return not any(c in text for c in _ESCAPED)


@contextmanager
def _raw(using: str) -> Iterator[Any]:
    """The psycopg connection under Django's, for what Django's cursors cannot do (COPY,
    binary parameters, pipelines). Its errors are turned into Django's, as Django's own
    cursors do: the consumer tells a lost connection (``OperationalError``: retry the
    batch) from a bad batch by Django's exception classes."""
    connection = connections[using]
    with connection.wrap_database_errors:
        connection.ensure_connection()
        yield connection.connection
