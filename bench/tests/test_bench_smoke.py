"""Each benchmark, run with tiny sizes: it still works and prints its table.

No timing is asserted here: numbers belong in docs/BENCHMARKS.md, not in tests.
"""

import os
import re
import subprocess
import sys
import tempfile

import pytest

from testsupport.helpers import ROOT

pytestmark = pytest.mark.integration


def run_bench(*args: str) -> str:
    charts = tempfile.mkdtemp(prefix="bench-charts-")  # not over the docs' charts
    env = {**os.environ, "BENCH_IMG_DIR": charts}
    run = subprocess.run([sys.executable, "-m", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "machine: " in run.stdout and "| figure" in run.stdout
    return run.stdout


def value(table: str, figure: str) -> float:
    """The number in a figure's "value" column (e.g. "| 21,677 events/s |" → 21677)."""
    row = next(line for line in table.splitlines() if line.startswith(f"| {figure}"))
    cell = row.split("|")[2].strip()
    return float(re.match(r"[\d,.]+", cell).group(0).replace(",", ""))


def test_consumer_benchmark():
    out = run_bench(
        "bench.consumer", "--events", "4000", "--baseline-events", "50", "--batch-size", "500", "--ab-rounds", "1"
    )
    assert value(out, "consumer: one event at a time (baseline)") > 0
    assert value(out, "ceiling: bare COPY into catalog_stockmovement") > 0
    assert value(out, "floor: fetch from Kafka, parse, COPY; no logic") > 0
    for mode in ("default", "fast"):
        assert value(out, f"consumer: runconsumer --processes 1, {mode}") > 0
        assert value(out, f"consumer: runconsumer --processes 3, {mode}") > 0
    # Three members: how the group settled (or not, in so short a run) and the rate from the first row.
    assert "from the first row" in out
    assert value(out, "A/B: runconsumer --processes 1, fast, pipeline off") > 0
    assert value(out, "cpu per event, runconsumer --processes 1, default") > 0


def test_relay_benchmark():
    out = run_bench("bench.relay", "--backlog", "2000")
    assert value(out, "relay: backlog drained") > 0


def test_relays_benchmark():
    # Both relays, Debezium's on a Kafka Connect worker of the benchmark's own.
    run = subprocess.run(
        [sys.executable, "-m", "bench.relays", "--backlog", "1000", "--trickle", "20"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    rows = {line.split("|")[1].strip(): line for line in run.stdout.splitlines() if line.startswith("| ")}
    assert {"polling", "polling + on-commit", "debezium", "debezium + on-commit"} <= set(rows)
    assert rows["debezium"].rstrip(" |").endswith("1.00")  # one copy per event
    assert rows["debezium + on-commit"].rstrip(" |").endswith("2.00")  # both publish: two


def test_latency_benchmark():
    # half: half of the bare endpoint's capacity, measured in the run (its figures are
    # labelled with the rate it came to, unknown here).
    out = run_bench("bench.latency", "--rates", "half", "--seconds", "2", "--warm-up", "1")
    assert value(out, "commit → stock change p50 @ ") > 0
    assert value(out, "commit → CONFIRMED stored p99 @ ") > 0
    assert value(out, "201 → GET ?wait says CONFIRMED p50 @ ") > 0
    assert "orders/s achieved" in out and "of the bare endpoint's" in out
    assert value(out, "cpu per order @ ") > 0


def test_http_benchmark():
    out = run_bench("bench.http", "--seconds", "1", "--rounds", "1", "--connections", "2", "--warm-up", "1")
    assert value(out, "http: bare DRF create-with-INSERT (baseline)") > 0
    for mode in ("default", "fast"):
        assert value(out, f"http: POST /order-service/<userId>/orders, {mode}") > 0
        assert value(out, f"http: the same with an Idempotency-Key, {mode}") > 0


def test_ceiling_benchmark():
    out = run_bench("bench.ceiling", "--rows", "10000", "--rounds", "1")
    assert value(out, "after a CHECKPOINT, text built before (bench.consumer's ceiling)") > 0
    assert value(out, "warm: no CHECKPOINT just before") > 0
    assert value(out, "after a CHECKPOINT, no secondary indexes (not honest)") > 0


def test_ledger_probe_benchmark():
    out = run_bench("bench.ledger_probe", "--ledger", "2000", "--batch", "100")
    assert value(out, "ledger probe, cancellations only: a large batch's, assumed new") > 0
    assert value(out, "ledger probe, = ANY(ARRAY(...)): a small batch's, and a redelivered one's") > 0
    assert value(out, "ledger probe, IN (...), orderIds sorted") > 0


def test_ab_benchmark():
    out = run_bench("bench.ab", "before=manage.py", "after=manage.py", "--events", "2000", "--rounds", "1")
    assert value(out, "ceiling: bare COPY into catalog_stockmovement") > 0
    assert value(out, "round 1: before") > 0
    assert value(out, "round 1: after") > 0
