"""Would two overlapping transactions let PostgreSQL take batches faster? PostgreSQL alone.

    python -m bench.overlap_probe [--rows 200000] [--rounds 2] [--load none|process|thread]

Builds the ceiling's ``--rows`` ledger rows (``bench.consumer.ceiling_ledger_rows``) over
1,000 products, 5,000 to a batch, as the consumer's ``COPY`` text (built beforehand: only
the database work is timed), then, in each round, takes them into the ledger three ways
and prints rows/s and the ratio to the first:

* the ceiling: ``COPY``, commit (``bench.consumer``'s ceiling);
* sequential: lock the batch's products, ``UPDATE`` their stock, ``COPY``, commit, on one
  connection: the consumer's writes and locks, less its reads (what one applier does);
* overlapped: two connections, batch N+1's ``COPY`` while batch N locks, updates and
  commits; N+1 locks its products only once N has committed, so the locked steps still
  go one batch after the other.

``--load`` keeps a core two-thirds busy beside it (30 ms of work, 15 ms of sleep), as the
consumer's loop thread does beside its applier: a separate ``process``, or a ``thread`` in
this one (which also holds the GIL that long). docs/BENCHMARKS.md, "Twelfth pass", has
what it showed.
"""

from __future__ import annotations

import argparse
import threading
import time
from datetime import UTC, datetime

from bench.common import Row, bench_stack, print_table, python

BATCH = 5000
PRODUCTS = 1000
BUSY, IDLE = 0.030, 0.015  # the load's duty cycle: two-thirds of a core


def busy_forever() -> None:
    while True:
        started = time.monotonic()
        while time.monotonic() - started < BUSY:
            sum(range(100))
        time.sleep(IDLE)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=200_000, help="ledger rows per way (default: %(default)s)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of the three ways (default: %(default)s)")
    parser.add_argument("--load", choices=["none", "process", "thread"], default="none")
    args = parser.parse_args(argv)
    if args.rows < 2 * BATCH or args.rows % BATCH:
        parser.error(f"--rows must be a multiple of {BATCH:,}, at least two batches")

    with bench_stack():
        import psycopg
        from django.db import connections

        from bench.consumer import reset_catalog, setup_products
        from catalog import stock_sql

        product_ids = setup_products(PRODUCTS)
        batches = build_batches(product_ids, args.rows)
        params = connections["catalog"].get_connection_params()
        params.pop("cursor_factory", None)
        params.pop("context", None)

        def connect() -> psycopg.Connection:
            return psycopg.connect(**params)

        lock = stock_sql.LOCK_PRODUCTS.format(products=stock_sql.FROM_LINES["products"])

        def copy_text(cursor, text: str) -> None:
            with cursor.copy(stock_sql.LEDGER_COPY) as copy:
                copy.write(text)

        def apply(conn, batch, *, copy_first: bool = False, turn: threading.Event | None = None) -> None:
            text, lines, products, stock = batch
            with conn.cursor() as cursor:
                if copy_first:
                    copy_text(cursor, text)
                    if turn is not None:
                        turn.wait()  # the batch before has committed
                cursor.execute(stock_sql.PLAN)
                cursor.execute(lock, [lines])
                cursor.fetchall()
                cursor.execute(stock_sql.STOCK_FROM_ARRAYS, [products, stock], binary=True)
                if not copy_first:
                    copy_text(cursor, text)
            conn.commit()

        def timed(work) -> float:
            reset_catalog()
            started = time.monotonic()
            work()
            return args.rows / (time.monotonic() - started)

        def ceiling() -> None:
            with connect() as conn:
                for text, *_ in batches:
                    with conn.cursor() as cursor:
                        copy_text(cursor, text)
                    conn.commit()

        def sequential() -> None:
            with connect() as conn:
                for batch in batches:
                    apply(conn, batch)

        def overlapped() -> None:
            committed = [threading.Event() for _ in batches]
            failures: list[BaseException] = []

            def every_other(first: int) -> None:
                try:
                    with connect() as conn:
                        for i in range(first, len(batches), 2):
                            apply(conn, batches[i], copy_first=True, turn=committed[i - 1] if i else None)
                            committed[i].set()
                except BaseException as exc:  # reported below, once the other worker ends
                    failures.append(exc)
                    for event in committed:
                        event.set()

            workers = [threading.Thread(target=every_other, args=(first,)) for first in (0, 1)]
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join()
            if failures:
                raise failures[0]

        load = start_load(args.load)
        try:
            timed(ceiling)  # warm-up
            rows = []
            for round_ in range(1, args.rounds + 1):
                top = timed(ceiling)
                settings = f"round {round_}, {args.rows:,} rows, {BATCH:,} a batch, load beside it: {args.load}"
                rows.append(Row("ceiling: COPY, commit", top, "rows/s", settings=settings))
                rows.append(Row("sequential: lock, UPDATE, COPY, commit", timed(sequential), "rows/s", top))
                rows.append(
                    Row("overlapped: two connections, next COPY while locked", timed(overlapped), "rows/s", top)
                )
        finally:
            if load is not None:
                load.kill()
        print_table(
            f"Overlapping transactions, PostgreSQL alone (python -m bench.overlap_probe --load {args.load})", rows
        )


def build_batches(product_ids: list[str], n: int) -> list[tuple[str, str, list[str], list[int]]]:
    """The ceiling's rows (``bench.consumer.ceiling_ledger_rows``) in batches. Each: its COPY
    text, its products as lines (sorted: the lock order) and as a list, and the stock to
    set them to."""
    from bench.consumer import ceiling_ledger_rows
    from catalog.stock_sql import ledger_text

    all_rows = ceiling_ledger_rows(product_ids, n)
    now = datetime.now(UTC)
    batches = []
    for first in range(0, n, BATCH):
        rows = all_rows[first : first + BATCH]
        text = ledger_text(rows, applied_at=now)
        assert text is not None
        products = sorted({row[4] for row in rows})
        batches.append((text, "\n".join(products), products, [10**12 - first - 1] * len(products)))
    return batches


def start_load(kind: str):
    """A core kept two-thirds busy; returns what to kill (a process), or None."""
    if kind == "thread":
        threading.Thread(target=busy_forever, daemon=True).start()
    elif kind == "process":
        return python("-c", "from bench.overlap_probe import busy_forever; busy_forever()")
    return None


if __name__ == "__main__":
    main()
