"""Two versions of the consumer, alternating on one stack: a before/after in one run.

    python -m bench.ab [--rounds 2] [--events 200000] NAME=PATH/manage.py NAME=PATH/manage.py ...

Each NAME=PATH is a work tree's ``manage.py`` (``git worktree add /tmp/before HEAD~1``
makes one). Produces ``--events`` order events to a 3-partition topic, warms up, then runs
``manage.py runconsumer`` (the defaults; ``--processes`` 1 unless told) from each tree in turn, ``--rounds``
times, the order reversed every other round; all share one PostgreSQL, one broker and the
same events. Prints each round's events/s against the COPY ceiling measured before and
after (the higher of the two), as ``bench.consumer`` does. Environment variables given
to this command reach every tree, so ``CONSUMER_PIPELINE=false python -m bench.ab …``
compares two trees with the pipeline off.
"""

from __future__ import annotations

import argparse
import uuid

from bench.common import Row, bench_stack, print_table

PRODUCTS = 1000


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("trees", nargs="+", metavar="NAME=PATH", help="a name and a work tree's manage.py")
    parser.add_argument("--rounds", type=int, default=2, help="(default: %(default)s)")
    parser.add_argument("--events", type=int, default=200_000, help="(default: %(default)s)")
    parser.add_argument("--batch-size", type=int, default=5000, help="(default: %(default)s)")
    parser.add_argument("--processes", type=int, default=1, help="runconsumer --processes (default: %(default)s)")
    args = parser.parse_args(argv)
    trees = []
    for tree in args.trees:
        name, sep, path = tree.partition("=")
        if not sep or not name or not path.endswith("manage.py"):
            parser.error(f"{tree!r}: expected NAME=PATH/manage.py")
        trees.append((name, path))

    with bench_stack() as home:
        from bench.consumer import TOPIC_PARTITIONS, copy_ceiling, measure, produce_events, setup_products
        from kafka_bridge.topics import topics_ensure

        topic = f"bench-ab-{uuid.uuid4().hex[:6]}"
        topics_ensure(names=[topic], partitions=TOPIC_PARTITIONS, replication_factor=1)
        product_ids = setup_products(PRODUCTS)
        copy_ceiling(product_ids, args.events)  # warm-up
        first = copy_ceiling(product_ids, args.events)
        produce_events(topic, product_ids, args.events)
        common = ["runconsumer", "--topic", topic, "--exit-when-idle", "5", "--batch-size", str(args.batch_size)]
        common += ["--processes", str(args.processes)]

        def run(path: str) -> float:
            group = f"bench-ab-{uuid.uuid4().hex[:8]}"
            return measure(path, [path, *common, "--group-id", group], args.events, home).rate

        run(trees[0][1])  # warm-up: the broker's page cache, the first group join
        results = []
        for round_ in range(1, args.rounds + 1):
            for name, path in trees if round_ % 2 else list(reversed(trees)):
                results.append((round_, name, run(path)))
        last = copy_ceiling(product_ids, args.events)
        ceiling = max(first, last)
        rows = [
            Row(
                "ceiling: bare COPY into catalog_stockmovement",
                ceiling,
                "rows/s",
                settings=f"the higher of {first:,.0f} (first) and {last:,.0f} (last)",
            )
        ]
        rows += [Row(f"round {r}: {name}", rate, "events/s", ceiling) for r, name, rate in results]
        print_table(f"Before and after, alternating (python -m bench.ab, --processes {args.processes})", rows)


if __name__ == "__main__":
    main()
