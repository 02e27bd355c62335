"""How the fast layer asks the ledger what it already decided, four ways, on one PostgreSQL.

    python -m bench.ledger_probe [--ledger 200000] [--batch 5000]

Fills the ledger with ``--ledger`` rows, then times, for a batch of ``--batch`` new
orderIds, the read that ``catalog.fast.stock_sql`` makes before deciding a batch: the ledger
probed for the batch's orderIds. Each way is timed by PostgreSQL (``EXPLAIN ANALYZE``'s
execution time, the best of 5), inside the same transaction as the consumer's:

* the cancellations only (``DECIDED_CANCELLATIONS``): what a large batch, assumed new,
  reads (a batch without cancellations: the second half reads nothing);
* ``= ANY(ARRAY(…))`` over the orderIds sent as one parameter, a line each: what a small
  batch reads, and a large one found to hold a redelivered order, one scan of the
  ledger's index for the batch;
* ``IN (…)`` over the same parameter: a nested loop starting an index scan per orderId;
* ``IN (…)`` over them sorted first.
"""

from __future__ import annotations

import argparse
import random
import re
import uuid
from datetime import UTC, datetime

from bench.common import Row, bench_stack, print_table

REPEATS = 5


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ledger", type=int, default=200_000, help="rows in the ledger (default: %(default)s)")
    parser.add_argument("--batch", type=int, default=5000, help="orderIds probed (default: %(default)s)")
    args = parser.parse_args(argv)

    with bench_stack():
        from django.db import connections, transaction

        from bench.consumer import setup_products
        from catalog.fast import stock_sql

        product_ids = setup_products(1000)
        rng = random.Random(3)
        now = datetime.now(UTC)
        rows = [
            (str(uuid.UUID(int=rng.getrandbits(128))), "order", "applied", "", product_ids[i % 1000], -1, 10, "bench")
            + (i % 3, i // 3)
            for i in range(args.ledger)
        ]
        for start in range(0, args.ledger, 5000):
            with transaction.atomic(using="catalog"), connections["catalog"].cursor() as cursor:
                stock_sql.ledger_copy(cursor, rows[start : start + 5000], applied_at=now)
        with connections["catalog"].cursor() as cursor:
            cursor.execute("ANALYZE catalog_stockmovement")
        orders = "\n".join(str(uuid.uuid4()) for _ in range(args.batch))  # new: none in the ledger
        lines = stock_sql.FROM_LINES["orders"]
        probe_in = stock_sql.DECIDED.replace("= ANY(ARRAY({orders}))", "IN ({orders})")
        assert probe_in != stock_sql.DECIDED, "catalog.fast.stock_sql.DECIDED changed: update the IN (...) rewrite"
        ways = {
            "cancellations only: a large batch's, assumed new": stock_sql.DECIDED_CANCELLATIONS.format(
                orders=lines, cancelled=lines
            ),
            "= ANY(ARRAY(...)): a small batch's, and a redelivered one's": stock_sql.DECIDED.format(orders=lines),
            "IN (...)": probe_in.format(orders=lines),
            "IN (...), orderIds sorted": probe_in.format(orders=f"SELECT o FROM ({lines}) AS s(o) ORDER BY 1"),
        }
        table = []
        for name, query in ways.items():
            best = float("inf")
            for _ in range(REPEATS):
                with transaction.atomic(using="catalog"), connections["catalog"].cursor() as cursor:
                    cursor.execute(stock_sql.PLAN)
                    params = [orders, ""] if query.count("%s") == 2 else [orders]  # no cancellations in the batch
                    cursor.execute("EXPLAIN ANALYZE " + query, params)
                    plan = "\n".join(r[0] for r in cursor.fetchall())
                best = min(best, float(re.search(r"Execution Time: ([\d.]+) ms", plan).group(1)))
            table.append(
                Row(
                    f"ledger probe, {name}",
                    best,
                    "ms",
                    settings=f"{args.batch:,} new orderIds, ledger of {args.ledger:,} rows; "
                    f"{best * 1000 / args.batch:.2f} µs each",
                )
            )
        print_table("The ledger probed for a batch's orderIds (python -m bench.ledger_probe)", table)


if __name__ == "__main__":
    main()
