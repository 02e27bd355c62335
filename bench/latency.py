"""End-to-end latency: from an order's commit to its stock change, at steady order rates.

    python -m bench.latency [--rates 50,100,200,400] [--seconds 15] [--warm-up 30]

Runs the real path — gunicorn (2 workers) serving the order API, the web process's
producer, one broker, ``runconsumer`` — and, after a warm-up at 200 orders/s (steady
state is measured, not the JVM's start), places orders over HTTP at each rate (open
loop: orders go out on schedule, each of 8 client threads waiting only for its own last
answer). Each rate's row gives the rate achieved — where the machine cannot place orders
that fast, the run takes longer and says so — and a second table each process's CPU
per order. Per order,
latency = the ledger row's ``applied_at`` (PostgreSQL ``clock_timestamp()`` as the row is
written, just before its transaction commits) − the order's ``created_at`` (set just
before the order's INSERT, so a little before its commit): both ends are biased by about
a millisecond, in opposite directions. Draws docs/img/latency.png.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import threading
import time

from bench.common import (
    IMG_DIR,
    ROOT,
    Row,
    api_token,
    bench_stack,
    cpu_during,
    create_products,
    print_table,
    progress,
    service_pids,
    start_web,
    wait_for,
    warm_broker,
)

WEB_PORT = 27800
WARM_UP_RATE = 200


def place_orders(rate: float, seconds: float, products: list[str], token: str, threads: int = 8) -> tuple[int, float]:
    """Open-loop load: each thread sends on its own schedule. Returns how many got a 201,
    and the seconds it took to send them all: more than ``seconds`` when the machine
    cannot keep up (each thread waits for its answer before it sends again, so a late
    schedule shows as a longer run, not as a queue the figures would hide)."""
    accepted = [0] * threads

    def worker(n: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", WEB_PORT, timeout=10)
        interval = threads / rate
        next_at = time.monotonic() + n * interval / threads
        end = time.monotonic() + seconds
        i = 0
        while next_at < end:
            time.sleep(max(0.0, next_at - time.monotonic()))
            body = json.dumps({"productId": products[(n * 7919 + i) % len(products)], "qty": 1, "unitPrice": 100})
            headers = {"Content-Type": "application/json", "Authorization": f"Token {token}"}
            connection.request("POST", "/order-service/bench/orders", body, headers)
            response = connection.getresponse()
            response.read()
            if response.status == 201:
                accepted[n] += 1
            i += 1
            next_at += interval

    workers = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    started = time.monotonic()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return sum(accepted), time.monotonic() - started


def latencies_ms() -> list[float]:
    from catalog.models import StockMovement
    from orders.models import Order

    created = {str(o): c for o, c in Order.objects.values_list("order_id", "created_at")}
    applied = dict(StockMovement.objects.values_list("order_id", "applied_at"))
    return [(applied[o] - c).total_seconds() * 1000 for o, c in created.items() if o in applied]


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] if len(values) > 1 else values[0]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rates", default="50,100,200,400", help="orders per second, comma-separated")
    parser.add_argument("--seconds", type=float, default=15, help="seconds of load per rate")
    parser.add_argument(
        "--warm-up", type=float, default=30, help="seconds of load before measuring, after 3× that on the broker"
    )
    args = parser.parse_args(argv)
    rates = [float(r) for r in args.rates.split(",")]

    with bench_stack() as home:
        from django.conf import settings
        from django.db import connections

        from kafka_bridge.topics import topics_ensure

        topics_ensure(names=[settings.ORDER_EVENTS_TOPIC, settings.ORDER_RESULTS_TOPIC], partitions=3)
        products = [f"P-{i:05d}" for i in range(1000)]
        create_products(products, stock=10**9, unit_price=100)
        token = api_token()
        warm_broker(3 * args.warm_up)
        web = start_web(WEB_PORT)
        consumer = subprocess.Popen([sys.executable, "manage.py", "runconsumer"], cwd=ROOT, env=dict(os.environ))
        results, cpu = {}, {}
        processes = {"web": [web.pid], "runconsumer": [consumer.pid], **service_pids(home)}
        try:
            # Warm up: connections, the producer, the consumer group, and the broker's
            # fetch path (its produce path was warmed above: see warm_broker; a fresh
            # broker's own produce-to-fetch latency is ~600 ms p50 in its first second and
            # ~3 ms once warm, measured with bare clients). The figures are steady state:
            # after a 10 s warm-up the broker still spent 7.0 ms of CPU per order in the
            # first rate measured and 2.0 ms in the last (docs/BENCHMARKS.md), hence 30 s.
            progress(f"warming up: {WARM_UP_RATE:g} orders/s for {args.warm_up:g} s")
            place_orders(WARM_UP_RATE, args.warm_up, products, token)
            for rate in rates:
                with connections["default"].cursor() as c:
                    c.execute("TRUNCATE orders_order, orders_outboxevent, orders_idempotencykey")
                with connections["catalog"].cursor() as c:
                    c.execute("TRUNCATE catalog_stockmovement, catalog_outboxevent")
                progress(f"{rate:g} orders/s for {args.seconds:g} s")
                own = time.process_time()
                (accepted, elapsed), used = cpu_during(
                    processes, lambda r=rate: place_orders(r, args.seconds, products, token)
                )
                own = time.process_time() - own
                # Where each order's CPU went (the cores are shared: what one spends, the
                # others wait for); the load generator is this process.
                cpu[rate] = {
                    name: seconds / accepted * 1000 for name, seconds in {**used, "load generator": own}.items()
                }
                wait_for(lambda a=accepted: len(latencies_ms()) >= a, timeout=60, interval=0.5, what="all applied")
                values = latencies_ms()
                results[rate] = (accepted / elapsed, *(percentile(values, q) for q in (50, 90, 99)))
        finally:
            for process in (consumer, web):
                process.terminate()
                process.wait(30)
        rows = []
        linger = settings.KAFKA_PUBLISHER_LINGER_MS
        for rate, (achieved, p50, p90, p99) in results.items():
            target = "p50 ≤ 10 ms, p99 ≤ 50 ms" if rate == 200 else ""
            # The figures belong to the rate achieved; say so when it fell short.
            short = " (short of the rate asked: the machine is saturated)" if achieved < 0.95 * rate else ""
            settings = (
                f"{achieved:.0f} orders/s achieved{short}; p90 {p90:.1f} ms; linger {linger} ms, batch wait 0; "
                f"after {args.warm_up:g} s warm-up"
            )
            rows.append(Row(f"latency p50 @ {rate:g} orders/s", p50, "ms", target=target, settings=settings))
            rows.append(Row(f"latency p99 @ {rate:g} orders/s", p99, "ms", target=target))
        print_table(f"Order commit → stock change (python -m bench.latency --rates {args.rates})", rows)
        print_table(
            "CPU per order, by process (same runs)",
            [
                Row(
                    f"cpu per order @ {rate:g} orders/s",
                    sum(used.values()),
                    "ms",
                    settings=", ".join(f"{name} {ms:.1f}" for name, ms in used.items()) + " ms",
                )
                for rate, used in cpu.items()
            ],
        )
        draw(results)


def draw(results: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    IMG_DIR.mkdir(parents=True, exist_ok=True)
    # Plotted where each rate's figures belong: at the rate achieved, in that order (rates
    # asked beyond what the machine can place all land near its limit).
    rates = sorted(results, key=lambda r: results[r][0])
    achieved = [results[r][0] for r in rates]
    fig, ax = plt.subplots(figsize=(7, 4))
    for index, label in ((1, "p50"), (2, "p90"), (3, "p99")):
        ax.plot(achieved, [results[r][index] for r in rates], marker="o", label=label)
    for rate in rates:
        ax.annotate(
            f"asked {rate:g}",
            (results[rate][0], results[rate][1]),
            textcoords="offset points",
            xytext=(0, -14),
            ha="center",
            fontsize=8,
        )
    ax.set_xlabel("orders per second achieved (HTTP, open loop)")
    ax.set_ylabel("order commit → stock change (ms)")
    ax.set_title("End-to-end latency percentiles vs order rate")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(IMG_DIR / "latency.png", dpi=110)


if __name__ == "__main__":
    main()
