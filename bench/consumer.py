"""Consumer apply throughput: events/s from Kafka into the catalog's ledger and stock.

    python -m bench.consumer [--events 200000] [--products 1000] [--baseline-events 5000] [--sweep]

Produces ``--events`` order events over ``--products`` products to a 3-partition topic,
then consumes them with: the one-at-a-time baseline (bench/baseline_consumer.py, on the
first ``--baseline-events``), then ``runconsumer`` with one and three processes, on the
default path and on the fast layer (``CONSUMER_FAST=true``), then an A/B in rounds.
``--sweep`` also measures one process at several batch sizes and draws
docs/img/consumer-throughput.png.

The ceiling is measured in the same run on the same database, before the consumers and
again after them (after a warm-up; the higher of the two counts): the same number of
ledger rows COPY'd straight into ``catalog_stockmovement`` (its real indexes), 5,000 rows
per transaction, one connection; no Kafka, no logic. Each consumer's rate is printed as a
ratio of it, because these machines change speed from one hour to the next.

Each rate is measured from the database: the ledger's row count is sampled every 10 ms;
rate = (events − rows at the first sample with any) / (time to all − time of that sample),
so process start-up and group joining are not counted, and the first batch is not
counted as free. ``runconsumer --processes N`` is still joining at its first row: the
first member to join holds every partition, and hands them over as the others join. Its
window opens at the first sample once the group has settled (the broker describes it as
stable, with N members that each hold partitions); how long that took, and how many
events were applied meanwhile, is printed. Over the same window it reads from /proc the
CPU each process used (the consumer and its children, PostgreSQL, the broker) and prints
it per event.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

from bench.common import (
    IMG_DIR,
    Row,
    bench_stack,
    cpu_seconds,
    print_table,
    progress,
    python,
    service_pids,
    wait_for,
)

TOPIC_PARTITIONS = 3


def setup_products(n: int) -> list[str]:
    from catalog.models import Product

    ids = [f"P-{i:05d}" for i in range(n)]
    Product.objects.bulk_create([Product(product_id=i, product_name=i, stock=10**12, unit_price=100) for i in ids])
    return ids


def produce_events(topic: str, product_ids: list[str], n: int) -> None:
    import random

    from confluent_kafka import Producer

    from contracts.events import OrderEvent
    from kafka_bridge.config import client_config

    producer = Producer(
        client_config(**{"linger.ms": 50, "batch.size": 1_000_000, "queue.buffering.max.messages": 1_000_000})
    )
    rng = random.Random(42)
    for i in range(n):
        pid = product_ids[rng.randrange(len(product_ids))]
        qty = rng.randint(1, 5)
        event = OrderEvent(pid, qty, 100, qty * 100, str(uuid.UUID(int=rng.getrandbits(128))), "bench")
        while True:
            try:
                producer.produce(topic, key=pid.encode(), value=event.to_json())
                break
            except BufferError:
                producer.poll(0.1)
        if i % 20000 == 0:
            progress(f"producing {i:,}/{n:,}")
    producer.flush(120)


def reset_catalog(*, checkpoint: bool = True) -> None:
    """An empty ledger, the products' stock restored; by default after a CHECKPOINT."""
    from django.db import connections

    with connections["catalog"].cursor() as cursor:
        cursor.execute("TRUNCATE catalog_stockmovement, catalog_outboxevent RESTART IDENTITY")
        cursor.execute("UPDATE catalog_product SET stock = 1000000000000")
        # Each run leaves ~40,000 dead versions of the product rows (a stock UPDATE per
        # batch): cleared, so that a later run does not lock and update through them.
        cursor.execute("VACUUM catalog_product")
        # PostgreSQL's own background work would land in a window at random and take a core
        # for a second or more: a checkpoint forced by the WAL of earlier runs (~140 MB each),
        # an autovacuum of the ledger. Each run starts just after a checkpoint, and the
        # ledger, emptied before every run, is not autovacuumed. The ceiling's runs start
        # here too.
        cursor.execute("ALTER TABLE catalog_stockmovement SET (autovacuum_enabled = off)")
        if checkpoint:
            cursor.execute("CHECKPOINT")


def ledger_rows() -> int:
    from django.db import connections

    with connections["catalog"].cursor() as cursor:
        cursor.execute("SELECT coalesce(max(id), 0) FROM catalog_stockmovement")
        return cursor.fetchone()[0]


def ceiling_ledger_rows(product_ids: list[str], n: int) -> list[tuple]:
    """The ceiling's ``n`` ledger rows (``LEDGER_COLUMNS`` but ``applied_at``), as the
    consumer writes them: new orders, the products in turn."""
    import random

    rng = random.Random(7)
    return [
        (
            str(uuid.UUID(int=rng.getrandbits(128))),
            "order",
            "applied",
            "",
            product_ids[i % len(product_ids)],
            -1,
            10**12 - i,
            "bench",
            i % 3,
            i // 3,
        )
        for i in range(n)
    ]


def copy_ceiling(product_ids: list[str], n: int, *, per_transaction: int = 5000) -> float:
    """Rows/s of a bare COPY of ``n`` ledger rows, as the consumer would write them: the
    rows and their COPY text built beforehand, so that only the COPYs and their commits are
    timed (bench.ceiling: building the text in the window costs a tenth). Leaves the
    ledger empty."""
    from django.db import connections, transaction

    from catalog.fast.stock_sql import LEDGER_COPY, ledger_text  # the consumer's own COPY: same columns, same text

    reset_catalog()
    now = datetime.now(UTC)
    rows = ceiling_ledger_rows(product_ids, n)
    texts = [ledger_text(rows[i : i + per_transaction], applied_at=now) for i in range(0, n, per_transaction)]
    started = time.monotonic()
    for i, text in enumerate(texts):
        with transaction.atomic(using="catalog"), connections["catalog"].cursor() as cursor:
            with cursor.copy(LEDGER_COPY) as copy:
                copy.write(text)
        progress(f"ceiling: {(i + 1) * per_transaction:,}/{n:,} rows COPY'd")
    elapsed = time.monotonic() - started
    reset_catalog()
    return n / elapsed


class Measured(NamedTuple):
    rate: float  # events/s over the window
    cpu: dict[str, float]  # µs of CPU per event over the window, by process group
    joining: str = ""  # N processes: how the group settled, and the rate from the first row


def measure(
    label: str,
    command: list[str],
    expected: int,
    home: Path,
    timeout: float = 900,
    profile: Path | None = None,
    env: dict[str, str] | None = None,
) -> Measured:
    """Run a consumer (``python <command>``); return its apply rate (events/s), sampled from
    the ledger, and the CPU each process spent per event (µs) over the same window.
    ``profile``: run it under py-spy (sampling, non-blocking), its raw stacks to that file."""
    reset_catalog()
    process = python(*command, env={**os.environ, **(env or {})})
    spy = None
    roots = {"consumer": [process.pid], **service_pids(home)}
    members = int(_option(command, "--processes") or 1)

    def started() -> int:
        if process.poll() is not None:
            raise RuntimeError(f"{label}: exited with {process.returncode} before applying anything")
        return ledger_rows()

    try:
        first_rows = first = wait_for(started, timeout=120, what=f"{label}: first ledger row")
        first_at, waited = time.monotonic(), None
        if members > 1:
            first, waited = _settled(_option(command, "--group-id"), members, first, expected)
        if profile is not None:  # the steady state only: attached once it applies
            spy = subprocess.Popen(
                [str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(process.pid), "--nonblocking"]
                + ["--rate", "200", "--format", "raw", "--output", str(profile)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        t0, cpu0 = time.monotonic(), cpu_seconds(roots)
        while (rows := ledger_rows()) < expected:
            if process.poll() is not None and ledger_rows() < expected:
                raise RuntimeError(f"{label}: exited with {process.returncode} after {rows} of {expected} events")
            if time.monotonic() - t0 > timeout:
                raise TimeoutError(f"{label}: {rows} of {expected} after {timeout}s")
            progress(f"{label}: {rows:,}/{expected:,}")
            time.sleep(0.01)
        done_at, cpu1 = time.monotonic(), cpu_seconds(roots)
    finally:
        if spy is not None:  # Ctrl-C: it writes what it sampled
            spy.send_signal(signal.SIGINT)
            spy.wait(60)
        # It may be a slow run measured on the first events only: stop it (SIGTERM: clean exit).
        process.terminate()
        process.wait(120)
    if first >= expected:  # all in the first sample: fall back to the whole run
        raise RuntimeError(f"{label}: too few events to measure ({expected}); use more --events")
    events = expected - first
    joining = ""
    if members > 1:
        joining = (
            f"group settled {waited:.1f}s after the first row, {first:,} events in"
            if waited is not None
            else "group not settled before 90% of the events: timed from the first row"
        )
        joining += f"; from the first row {(expected - first_rows) / (done_at - first_at):,.0f}/s"
        print(f"{label}: {joining}", file=sys.stderr, flush=True)
    cpu = {name: (cpu1[name] - cpu0[name]) / events * 1e6 for name in roots}
    return Measured(events / (done_at - t0), cpu, joining)


def _option(command: list[str], name: str) -> str | None:
    return command[command.index(name) + 1] if name in command else None


def _settled(group_id: str | None, members: int, first: int, expected: int) -> tuple[int, float | None]:
    """Wait until the group has settled (stable, ``members`` members each holding
    partitions); return the ledger's rows then, and how long it took. Gives up (rows
    ``first``, None) if the backlog is 90% done first."""
    from kafka_bridge.lag import group_describe

    assert group_id is not None, "a runconsumer --processes command names its --group-id"
    started = time.monotonic()
    while ledger_rows() < expected * 0.9:
        group = group_describe(group_id=group_id)
        if group.state == "STABLE" and len(group.members) == members and all(m.partitions for m in group.members):
            return ledger_rows(), time.monotonic() - started
        time.sleep(0.02)
    return first, None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--products", type=int, default=1000)
    parser.add_argument("--baseline-events", type=int, default=5000)
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--sweep", action="store_true", help="also measure batch sizes and draw the chart")
    parser.add_argument(
        "--ab-rounds",
        type=int,
        default=2,
        help="rounds of the A/B (default path, fast layer without and with its pipeline), alternating "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--ab-processes",
        default="1",
        help="runconsumer --processes for those rounds, comma-separated (default: %(default)s; e.g. 1,3)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also run one process under py-spy and print where its time goes (by function, self and total)",
    )
    parser.add_argument(
        "--cluster",
        action="store_true",
        help="three brokers, the topic with 6 partitions x 3 replicas (min.insync.replicas=2); "
        "measures 1, 2 and 3 consumer processes",
    )
    args = parser.parse_args(argv)
    partitions = 6 if args.cluster else TOPIC_PARTITIONS

    with bench_stack(cluster=args.cluster) as home:
        from kafka_bridge.topics import topics_ensure

        topic = f"bench-orders-{uuid.uuid4().hex[:6]}"
        topics_ensure(
            names=[topic],
            partitions=partitions,
            replication_factor=3 if args.cluster else 1,
            config={"min.insync.replicas": "2"} if args.cluster else None,
        )
        product_ids = setup_products(args.products)
        # The ceiling's first COPY into a new database came out below the floor's (which writes
        # the same rows, and more): a warm-up first, not counted; then it is measured here and
        # again after the consumers, and the higher of the two is the ceiling.
        copy_ceiling(product_ids, args.events)
        ceiling = ceiling_first = copy_ceiling(product_ids, args.events)
        produce_events(topic, product_ids, args.events)

        group = lambda: f"bench-{uuid.uuid4().hex[:8]}"  # noqa: E731  a fresh group reads from the start
        common = ["--topic", topic, "--exit-when-idle", "30"]  # stopped once measured
        baseline, baseline_cpu, _ = measure(
            "baseline (one at a time)",
            [
                "-m",
                "bench.baseline_consumer",
                "--topic",
                topic,
                "--group-id",
                group(),
                "--limit",
                str(args.baseline_events),
            ],
            args.baseline_events,
            home,
        )
        settings = f"{args.events:,} events, {args.products:,} products, {partitions} partitions"
        if args.cluster:
            settings += ", 3 brokers, replication 3, min.insync.replicas 2"
        rows = [
            Row(
                "consumer: one event at a time (baseline)",
                baseline,
                "events/s",
                settings=f"{args.baseline_events:,} events, 1 transaction + offset commit each",
            )
        ]
        cpu_rows = [cpu_row("one event at a time (baseline)", baseline_cpu)]
        ceiling_rows = [
            Row(
                "ceiling: bare COPY into catalog_stockmovement",
                ceiling,
                "rows/s",
                settings=f"{args.events:,} rows, 5,000 per transaction, one connection, same database, same run",
            )
        ]
        # The floor under any Python consumer (bench/floor_consumer.py): fetch, parse, COPY,
        # nothing else. What it leaves below the ceiling is Kafka's and Python's share.
        floor, floor_cpu, _ = measure(
            "floor (fetch, parse, COPY)",
            ["-m", "bench.floor_consumer", "--topic", topic, "--group-id", group(), "--limit", str(args.events)]
            + ["--batch-size", str(args.batch_size)],
            args.events,
            home,
        )
        cpu_rows.append(cpu_row("floor: fetch, parse, COPY (no logic)", floor_cpu))
        ceiling_rows.append(
            Row(
                "floor: fetch from Kafka, parse, COPY; no logic",
                floor,
                "events/s",
                ceiling,
                settings="bench/floor_consumer.py: no checks, decisions, stock, results or offset commits",
            )
        )
        # The first consumer run of a bench comes out 10–25% slower than later runs of the
        # same code: one run, not counted, before those that are.
        measure(
            "warm-up (not counted)",
            ["manage.py", "runconsumer", *common, "--group-id", group(), "--batch-size", str(args.batch_size)],
            args.events,
            home,
        )
        # Each mode at one and three processes: the default path (the ORM, one batch at a
        # time) and the fast layer (CONSUMER_FAST: set-based SQL, pipelined in one process).
        targets = {("fast", 1): "≥ 80× baseline"}
        ceiling_targets = {
            ("default", 1): "≥ 0.10 of the ceiling",
            ("fast", 1): "≥ 0.50 of the ceiling",
            ("fast", 3): "≥ 0.70 of the ceiling",
        }
        modes = {"default": {"CONSUMER_FAST": "false"}, "fast": {"CONSUMER_FAST": "true"}}
        for mode, env in modes.items():
            for processes in (1, 2, 3) if args.cluster else (1, TOPIC_PARTITIONS):
                label = f"runconsumer --processes {processes}, {mode}"
                rate, cpu, joining = measure(
                    label,
                    ["manage.py", "runconsumer", *common, "--group-id", group(), "--batch-size", str(args.batch_size)]
                    + ["--processes", str(processes)],
                    args.events,
                    home,
                    env=env,
                )
                cpu_rows.append(cpu_row(label, cpu))
                target = "" if args.cluster else ceiling_targets.get((mode, processes), "")
                ceiling_rows.append(Row(f"consumer: {label}", rate, "events/s", ceiling, target, joining))
                rows.append(
                    Row(
                        f"consumer: {label}",
                        rate,
                        "events/s",
                        baseline,
                        "" if args.cluster else targets.get((mode, processes), ""),
                        f"{settings}, batch {args.batch_size:,}",
                    )
                )
        # Same-run A/Bs, alternating so that neither side gets the later (warmer) place:
        # the default path against the fast layer, and inside the fast layer, its pipeline
        # (CONSUMER_PIPELINE) on and off.
        sides = {
            "default": {"CONSUMER_FAST": "false"},
            "fast, pipeline off": {"CONSUMER_FAST": "true", "CONSUMER_PIPELINE": "false"},
            "fast": {"CONSUMER_FAST": "true", "CONSUMER_PIPELINE": "true"},
        }
        compared: dict[tuple[int, str], list[float]] = {}
        for round_ in range(args.ab_rounds):
            for processes in (int(n) for n in args.ab_processes.split(",")):
                for side, env in sides.items():
                    rate, _, _ = measure(
                        f"{processes} process(es), {side}, round {round_ + 1}",
                        ["manage.py", "runconsumer", *common, "--group-id", group(), "--processes", str(processes)]
                        + ["--batch-size", str(args.batch_size)],
                        args.events,
                        home,
                        env=env,
                    )
                    compared.setdefault((processes, side), []).append(rate)
        for (processes, side), rates in compared.items():
            ceiling_rows.append(
                Row(
                    f"A/B: runconsumer --processes {processes}, {side}",
                    statistics.median(rates),
                    "events/s",
                    ceiling,
                    settings=f"median of {len(rates)}, alternating; rounds {', '.join(f'{r:,.0f}' for r in rates)}",
                )
            )
        if args.sweep:
            sizes = [1, 10, 100, 500, 1000, 2000, 5000, 10000]
            sweep = {}
            for size in sizes:
                # Small batches are slow; their rate settles within a few thousand events.
                events = min(args.events, max(3000, size * 2000))
                sweep[size] = measure(
                    f"batch {size}",
                    ["manage.py", "runconsumer", *common, "--group-id", group(), "--batch-size", str(size)],
                    events,
                    home,
                ).rate
                rows.append(
                    Row(
                        f"  1 process, batch {size:,}",
                        sweep[size],
                        "events/s",
                        baseline,
                        settings=f"first {events:,} events" if events != args.events else "",
                    )
                )
            draw_sweep(sweep, baseline)
        if args.profile:
            for mode, env in modes.items():
                stacks = Path(tempfile.mkdtemp(prefix="stocksync-profile-")) / f"runconsumer-{mode}.txt"
                measure(
                    f"runconsumer under py-spy, {mode}",
                    ["manage.py", "runconsumer", *common, "--group-id", group(), "--batch-size", str(args.batch_size)],
                    args.events,
                    home,
                    profile=stacks,
                    env=env,
                )
                print_profile(stacks, mode)
        ceiling_last = copy_ceiling(product_ids, args.events)
        ceiling = max(ceiling_first, ceiling_last)
        for row in ceiling_rows[1:]:  # the rows measured against the first ceiling
            row.baseline = ceiling
        ceiling_rows[0].value = ceiling
        ceiling_rows[0].settings += f"; the higher of {ceiling_first:,.0f} (first) and {ceiling_last:,.0f} (last)"
        flags = (" --sweep" if args.sweep else "") + (" --cluster" if args.cluster else "")
        print_table(f"Consumer apply throughput (python -m bench.consumer{flags})", rows)
        print_table("Against the ceiling (ratio = events/s ÷ bare COPY rows/s, same run)", ceiling_rows)
        print_table("CPU per event, by process (same runs)", cpu_rows)


def short(frame: str) -> str:
    """``func (/path/to/file.py:12)`` → ``func (file.py)``: one entry per function."""
    match = re.match(r"^(.*) \((?:.*/)?([^/:]+)(?::\d+)?\)$", frame)
    return f"{match[1]} ({match[2]})" if match else frame


def print_profile(stacks: Path, mode: str, top: int = 30) -> None:
    """py-spy's raw stacks ("frame;frame;… count" per line) summed by function: the share
    of samples in which it was running (self) and on the stack (total), idle threads out."""
    self_time: Counter[str] = Counter()
    total_time: Counter[str] = Counter()
    samples = 0
    for line in stacks.read_text().splitlines():
        frames_text, _, count_text = line.rpartition(" ")
        if not frames_text or not count_text.isdigit():
            continue
        frames = [short(frame) for frame in frames_text.split(";")]
        count = int(count_text)
        samples += count
        self_time[frames[-1]] += count
        for frame in set(frames):
            total_time[frame] += count
    print(
        f"\nWhere one runconsumer's time goes, {mode} (py-spy, {samples:,} samples of its active threads; {stacks})\n"
    )
    print(f"{'self':>6} {'total':>6}  function (file)")
    for frame, count in self_time.most_common(top):
        print(f"{count / samples:6.1%} {total_time[frame] / samples:6.1%}  {frame}")
    print("\nOn the stack the longest (total):")
    for frame, count in total_time.most_common(top):
        print(f"{count / samples:6.1%}  {frame}")
    print(flush=True)


def cpu_row(label: str, cpu: dict[str, float]) -> Row:
    parts = ", ".join(f"{name} {us:,.1f}" for name, us in cpu.items())
    return Row(f"cpu per event, {label}", sum(cpu.values()), "µs", settings=f"{parts} µs")


def draw_sweep(sweep: dict[int, float], baseline: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    IMG_DIR.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(list(sweep), list(sweep.values()), marker="o", label="runconsumer, 1 process")
    ax.axhline(baseline, color="grey", linestyle="--", label="one event at a time (baseline)")
    ax.set_xscale("log")
    ax.set_xlabel("batch size (events per transaction)")
    ax.set_ylabel("events applied per second")
    ax.set_title("Consumer throughput vs batch size (PostgreSQL, ledger row per event)")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(IMG_DIR / "consumer-throughput.png", dpi=110)


if __name__ == "__main__":
    main()
