"""End-to-end latency: from an order's commit to its stock change and to its CONFIRMED
status, at order rates set against the bare endpoint's capacity measured in the same run.

    python -m bench.latency [--rates 0.25x,half] [--seconds 20] [--warm-up 30]

Runs the real path — gunicorn (2 workers) serving the order API, the web process's
producer, one broker, ``runconsumer`` (the catalog) and ``runorderconsumer`` (the order
service's statuses) — and, after a warm-up at 200 orders/s (steady state is measured, not
the JVM's start), measures the bare DRF create-with-INSERT endpoint's capacity with wrk
(``bench.http``'s baseline, same server, same run). ``--rates`` are orders per second, or
fractions of that capacity (``0.25x``; ``half`` is 0.5x; the default is both). At each
rate orders are placed over HTTP (open loop: orders go out on schedule, each of 8 client
threads waiting only for its own last answer); where the machine cannot place them that
fast, the run takes longer and says so. Per order:

* commit → stock change: the ledger row's ``applied_at`` (PostgreSQL ``clock_timestamp()``
  as the row is written, just before its transaction commits) − the order's ``created_at``
  (set just before the order's INSERT, so a little before its commit): both ends are
  biased by about a millisecond, in opposite directions;
* commit → CONFIRMED: the order's ``status_changed_at`` (set as the result's transaction
  starts) − its ``created_at``;
* what a client feels: a ninth client places an order every 100 ms, and as soon as its
  201 arrives asks ``GET /api/orders/<orderId>/?wait=5``; the time from the 201 to the
  answer that says CONFIRMED.

A second table gives each process's CPU per order. Draws docs/img/latency.png.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import threading
import time

from bench.common import (
    IMG_DIR,
    Row,
    api_token,
    bench_stack,
    cpu_during,
    create_products,
    print_table,
    progress,
    python,
    service_pids,
    start_web,
    wait_for,
    warm_broker,
)
from bench.http import BARE, wrk

WEB_PORT = 27800
WARM_UP_RATE = 200
WATCH_EVERY = 0.1  # seconds between the watching client's orders


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


def rate_asked(text: str, capacity: float) -> float:
    """``--rates`` items: orders per second ("200"), a fraction of the bare endpoint's
    capacity ("0.25x"), or "half" (0.5x)."""
    text = text.strip()
    if text == "half":
        return capacity / 2
    if text.endswith("x"):
        return capacity * float(text[:-1])
    return float(text)


def latencies_ms() -> tuple[list[float], list[float]]:
    """Per order decided: commit → ledger row, and commit → status no longer PENDING."""
    from catalog.models import StockMovement
    from orders.models import Order

    orders = list(Order.objects.values_list("order_id", "created_at", "status_changed_at"))
    applied = dict(StockMovement.objects.values_list("order_id", "applied_at"))
    ledger = [(applied[str(o)] - c).total_seconds() * 1000 for o, c, _ in orders if str(o) in applied]
    status = [(s - c).total_seconds() * 1000 for _, c, s in orders if s is not None]
    return ledger, status


def watch_orders(seconds: float, product: str, token: str) -> list[float]:
    """Place an order every ``WATCH_EVERY`` s and wait for it as a client would (GET ?wait);
    milliseconds from each 201 to the answer saying CONFIRMED."""
    connection = http.client.HTTPConnection("127.0.0.1", WEB_PORT, timeout=10)
    headers = {"Content-Type": "application/json", "Authorization": f"Token {token}"}
    body = json.dumps({"productId": product, "qty": 1, "unitPrice": 100})
    felt = []
    next_at, end = time.monotonic(), time.monotonic() + seconds
    while next_at < end:
        time.sleep(max(0.0, next_at - time.monotonic()))
        next_at += WATCH_EVERY
        connection.request("POST", "/order-service/bench/orders", body, headers)
        response = connection.getresponse()
        order = json.loads(response.read())
        placed = time.monotonic()
        connection.request("GET", f"/api/orders/{order['orderId']}/?wait=5", headers=headers)
        response = connection.getresponse()
        status = json.loads(response.read())["status"]
        if status != "CONFIRMED":
            raise RuntimeError(f"order {order['orderId']} is {status} after 5 s")
        felt.append((time.monotonic() - placed) * 1000)
    return felt


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] if len(values) > 1 else values[0]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--rates",
        default="0.25x,half",
        help="orders per second, comma-separated; 0.25x: a quarter of the bare endpoint's capacity; half: 0.5x",
    )
    parser.add_argument("--seconds", type=float, default=20, help="seconds of load per rate")
    parser.add_argument(
        "--warm-up", type=float, default=30, help="seconds of load before measuring, after 3× that on the broker"
    )
    args = parser.parse_args(argv)

    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.http_settings"  # the product's, plus the bare endpoint
    with bench_stack() as home:
        from django.conf import settings
        from django.db import connections

        from kafka_bridge.topics import topics_ensure

        topics_ensure(names=[settings.ORDER_EVENTS_TOPIC, settings.ORDER_RESULTS_TOPIC], partitions=3)
        products = [f"P-{i:05d}" for i in range(1000)]
        create_products([*products, "CATALOG-001"], stock=10**9, unit_price=100)
        token = api_token()
        warm_broker(3 * args.warm_up)
        web = start_web(WEB_PORT)
        consumers = [python("manage.py", "runconsumer"), python("manage.py", "runorderconsumer")]
        results, cpu = {}, {}
        processes = {
            "web": [web.pid],
            "runconsumer": [consumers[0].pid],
            "runorderconsumer": [consumers[1].pid],
            **service_pids(home),
        }
        try:
            # Warm up: connections, the producer, the consumer groups, and the broker's
            # fetch path (its produce path was warmed above: see warm_broker; a fresh
            # broker's own produce-to-fetch latency is ~600 ms p50 in its first second and
            # ~3 ms once warm, measured with bare clients). The figures are steady state:
            # after a 10 s warm-up the broker still spent 7.0 ms of CPU per order in the
            # first rate measured and 2.0 ms in the last, hence 30 s.
            progress(f"warming up: {WARM_UP_RATE:g} orders/s for {args.warm_up:g} s")
            place_orders(WARM_UP_RATE, args.warm_up, products, token)
            progress("the bare endpoint's capacity: wrk for 8 s")
            wrk(BARE, 2, 8, token, port=WEB_PORT)  # its code path warmed
            capacity = wrk(BARE, 8, 8, token, port=WEB_PORT)
            rates = [rate_asked(r, capacity) for r in args.rates.split(",")]
            for rate in rates:
                with connections["default"].cursor() as c:
                    c.execute("TRUNCATE orders_order, orders_outboxevent, orders_idempotencykey")
                with connections["catalog"].cursor() as c:
                    c.execute("TRUNCATE catalog_stockmovement, catalog_outboxevent")
                progress(f"{rate:.0f} orders/s for {args.seconds:g} s")
                own = time.process_time()
                felt: list[float] = []
                watcher = threading.Thread(
                    target=lambda into=felt: into.extend(watch_orders(args.seconds, products[0], token))
                )
                watcher.start()
                (accepted, elapsed), used = cpu_during(
                    processes, lambda r=rate: place_orders(r - 1 / WATCH_EVERY, args.seconds, products, token)
                )
                watcher.join()
                accepted += len(felt)
                own = time.process_time() - own
                # Where each order's CPU went (the cores are shared: what one spends, the
                # others wait for); the load generator is this process.
                cpu[rate] = {
                    name: seconds / accepted * 1000 for name, seconds in {**used, "load generator": own}.items()
                }
                wait_for(
                    lambda a=accepted: all(len(v) >= a for v in latencies_ms()),
                    timeout=60,
                    interval=0.5,
                    what="all applied and answered",
                )
                ledger, status = latencies_ms()
                results[rate] = (
                    accepted / elapsed,
                    *(percentile(ledger, q) for q in (50, 90, 99)),
                    *(percentile(status, q) for q in (50, 99)),
                    *(percentile(felt, q) for q in (50, 99)),
                    len(felt),
                )
        finally:
            for process in (*consumers, web):
                process.terminate()
                process.wait(30)
        report(results, cpu, capacity, args)
        draw(results)


def report(results: dict, cpu: dict, capacity: float, args) -> None:
    from django.conf import settings

    rows = []
    for rate, (achieved, p50, p90, p99, s50, s99, f50, f99, watched) in results.items():
        # The figures belong to the rate achieved; say so when it fell short.
        short = " (short of the rate asked: the machine is saturated)" if achieved < 0.95 * rate else ""
        of_capacity = f"{rate / capacity:.2f} of the bare endpoint's {capacity:.0f}/s"
        half = abs(rate / capacity - 0.5) < 0.01
        rows += [
            Row(
                f"commit → stock change p50 @ {rate:.0f}/s",
                p50,
                "ms",
                target="≤ 5 ms" if half else "",
                settings=f"{achieved:.0f} orders/s achieved{short}, {of_capacity}; p90 {p90:.1f} ms; "
                f"publisher linger {settings.KAFKA_PUBLISHER_LINGER_MS} ms, "
                f"batch wait {settings.CONSUMER_BATCH_WAIT_SECONDS:g} s; after {args.warm_up:g} s warm-up",
            ),
            Row(f"commit → stock change p99 @ {rate:.0f}/s", p99, "ms", target="≤ 25 ms" if half else ""),
            Row(f"commit → CONFIRMED stored p50 @ {rate:.0f}/s", s50, "ms", settings="status_changed_at − created_at"),
            Row(f"commit → CONFIRMED stored p99 @ {rate:.0f}/s", s99, "ms"),
            Row(
                f"201 → GET ?wait says CONFIRMED p50 @ {rate:.0f}/s",
                f50,
                "ms",
                target="≤ 15 ms" if half else "",
                settings=f"{watched} orders, one every {WATCH_EVERY * 1000:.0f} ms, timed by the client",
            ),
            Row(f"201 → GET ?wait says CONFIRMED p99 @ {rate:.0f}/s", f99, "ms", target="≤ 60 ms" if half else ""),
        ]
    print_table(f"Order commit → stock change → CONFIRMED (python -m bench.latency --rates {args.rates})", rows)
    print_table(
        "CPU per order, by process (same runs)",
        [
            Row(
                f"cpu per order @ {rate:.0f} orders/s",
                sum(used.values()),
                "ms",
                settings=", ".join(f"{name} {ms:.1f}" for name, ms in used.items()) + " ms",
            )
            for rate, used in cpu.items()
        ],
    )


def draw(results: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    IMG_DIR.mkdir(parents=True, exist_ok=True)
    measures = ("commit → stock change", "commit → CONFIRMED stored", "201 → GET ?wait CONFIRMED")
    rates = sorted(results, key=lambda r: results[r][0])
    fig, ax = plt.subplots(figsize=(8, 4))
    width = 0.8 / (2 * len(rates))
    for n, rate in enumerate(rates):
        achieved, p50, _, p99, s50, s99, f50, f99, _ = results[rate]
        for k, (label, values) in enumerate((("p50", (p50, s50, f50)), ("p99", (p99, s99, f99)))):
            offset = (2 * n + k) * width - 0.4 + width / 2
            asked = f"{achieved:.0f} orders/s" + (f" (asked {rate:.0f})" if achieved < 0.95 * rate else "")
            bars = ax.bar([i + offset for i in range(3)], values, width, label=f"{label} @ {asked}")
            ax.bar_label(bars, fmt="%.1f", fontsize=8)
    ax.set_xticks(range(3), measures)
    ax.set_ylabel("milliseconds")
    ax.set_title("An order's way back to its client, at the rate achieved")
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(IMG_DIR / "latency.png", dpi=110)


if __name__ == "__main__":
    main()
