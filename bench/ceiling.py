"""Why one bare COPY is faster than another: the consumer benchmark's ceiling, taken apart.

    python -m bench.ceiling [--rows 200000] [--rounds 2]

The consumer's rates are ratios of a ceiling measured in the same run: its ledger rows
COPY'd straight into ``catalog_stockmovement``, 5,000 per transaction. Each line below
changes one thing about that COPY, alternating in rounds on one PostgreSQL, so that the
table says what each costs:

* ``after a CHECKPOINT``: the ledger emptied, then a CHECKPOINT, as every consumer run
  starts; the first change to each page after a checkpoint writes the whole page to the WAL;
* ``warm``: the same, the ledger emptied, but no CHECKPOINT just before;
* ``text built in the window``: COPY's text is built from the rows inside the timing
  (as the consumer builds it), not before it;
* ``no secondary indexes``: only the primary key (not honest: the consumer writes
  through all of them; it shows what the indexes cost);
* ``orderIds in order``: sequential orderIds instead of random UUIDs (not honest either:
  the tutorial's orderIds are random UUIDs, so each row lands on another index page).
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, datetime

from bench.common import Row, bench_stack, print_table, progress

PER_TRANSACTION = 5000


def copy_rate(rows: list[tuple], *, checkpoint: bool, prebuilt: bool) -> float:
    """Rows/s of COPYing ``rows`` into the emptied ledger, ``PER_TRANSACTION`` per transaction."""
    from django.db import connections, transaction

    from bench.consumer import reset_catalog
    from catalog.fast.stock_sql import LEDGER_COPY, ledger_text

    reset_catalog(checkpoint=checkpoint)
    now = datetime.now(UTC)
    chunks = [rows[i : i + PER_TRANSACTION] for i in range(0, len(rows), PER_TRANSACTION)]
    texts = [ledger_text(chunk, applied_at=now) for chunk in chunks] if prebuilt else None
    started = time.monotonic()
    for i, chunk in enumerate(chunks):
        text = texts[i] if texts is not None else ledger_text(chunk, applied_at=now)
        with transaction.atomic(using="catalog"), connections["catalog"].cursor() as cursor:
            with cursor.copy(LEDGER_COPY) as copy:
                copy.write(text)
    return len(rows) / (time.monotonic() - started)


def drop_secondary_indexes() -> list[str]:
    """Drop the ledger's indexes but its primary key; return the statements that make them again."""
    from django.db import connections

    with connections["catalog"].cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'catalog_stockmovement'"
            " AND indexname NOT LIKE '%%_pkey'"
        )
        found = cursor.fetchall()
        cursor.execute(
            "SELECT conname FROM pg_constraint WHERE conrelid = 'catalog_stockmovement'::regclass AND contype = 'u'"
        )
        constraints = [name for (name,) in cursor.fetchall()]
        for name in constraints:
            cursor.execute(f"ALTER TABLE catalog_stockmovement DROP CONSTRAINT {name}")
        for name, _ in found:
            cursor.execute(f"DROP INDEX IF EXISTS {name}")
    return [definition for _, definition in found]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--products", type=int, default=1000)
    args = parser.parse_args(argv)

    with bench_stack():
        from django.db import connections

        from bench.consumer import ceiling_ledger_rows, setup_products

        product_ids = setup_products(args.products)
        random_ids = ceiling_ledger_rows(product_ids, args.rows)
        in_order = [(f"order-{i:012d}", *row[1:]) for i, row in enumerate(random_ids)]
        variants = {
            "after a CHECKPOINT, text built before (bench.consumer's ceiling)": (random_ids, True, True),
            "warm: no CHECKPOINT just before": (random_ids, False, True),
            "after a CHECKPOINT, text built in the window": (random_ids, True, False),
            "after a CHECKPOINT, orderIds in order (not honest)": (in_order, True, True),
        }
        copy_rate(random_ids, checkpoint=True, prebuilt=True)  # warm-up, not counted
        rates: dict[str, list[float]] = {name: [] for name in variants}
        rates["after a CHECKPOINT, no secondary indexes (not honest)"] = []
        for round_ in range(args.rounds):
            for name, (rows, checkpoint, prebuilt) in variants.items():
                progress(f"round {round_ + 1}: {name}")
                rates[name].append(copy_rate(rows, checkpoint=checkpoint, prebuilt=prebuilt))
            recreate = drop_secondary_indexes()
            progress(f"round {round_ + 1}: no secondary indexes")
            rates["after a CHECKPOINT, no secondary indexes (not honest)"].append(
                copy_rate(random_ids, checkpoint=True, prebuilt=True)
            )
            with connections["catalog"].cursor() as cursor:
                cursor.execute("TRUNCATE catalog_stockmovement")
                for statement in recreate:
                    cursor.execute(statement)
                cursor.execute(
                    "ALTER TABLE catalog_stockmovement ADD CONSTRAINT stockmovement_one_per_order_kind"
                    " UNIQUE USING INDEX stockmovement_one_per_order_kind"
                )
        first = statistics.median(rates[next(iter(variants))])
        table = [
            Row(
                name,
                statistics.median(found),
                "rows/s",
                first,
                settings=f"median of {len(found)}: {', '.join(f'{r:,.0f}' for r in found)}",
            )
            for name, found in rates.items()
        ]
        print_table(
            f"A bare COPY of {args.rows:,} ledger rows, {PER_TRANSACTION:,} per transaction (python -m bench.ceiling)",
            table,
        )


if __name__ == "__main__":
    main()
