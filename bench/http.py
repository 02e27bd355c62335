"""HTTP order creation: our endpoint (order + outbox row + publish) against a bare DRF
create-with-INSERT endpoint, on the same gunicorn, the same machine, in the same run; and
our endpoint again with an Idempotency-Key on every request (what a key costs).

    python -m bench.http [--seconds 10] [--rounds 2] [--connections 8] [--warm-up 20] [--server granian]

Load from wrk (Debian package ``wrk``: C, one thread — not the bottleneck), keep-alive,
alternating the two endpoints round by round. gunicorn: 2 sync workers (one per core),
``config.wsgi`` with ``bench.http_settings`` (the product's settings plus the bare route).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess

from bench.common import (
    ROOT,
    WEB_SERVERS,
    Row,
    api_token,
    bench_stack,
    cpu_during,
    create_products,
    print_table,
    progress,
    service_pids,
    start_web,
    warm_broker,
)

WEB_PORT = 27900
OURS = "/order-service/bench/orders"
BARE = "/bench/bare-orders/bench"
KEYED = "ours with an Idempotency-Key"


def wrk(
    path: str, seconds: float, connections: int, token: str, script: str = "post.lua", port: int = WEB_PORT
) -> float:
    """Requests per second that ``wrk`` got from ``path`` (keep-alive, one thread, POSTs of ``script``)."""
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{seconds:g}s",
            "-s",
            str(ROOT / "bench" / script),
            "-H",
            f"Authorization: Token {token}",
            f"http://127.0.0.1:{port}{path}",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non_2xx:
        raise RuntimeError(f"{path}: {non_2xx.group(1)} failed requests\n{out}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument(
        "--server", choices=sorted(WEB_SERVERS), default="gunicorn", help="the WSGI server (default: %(default)s)"
    )
    parser.add_argument(
        "--warm-up", type=float, default=20, help="seconds of load on ours before measuring, after 60 s on the broker"
    )
    args = parser.parse_args(argv)
    if not shutil.which("wrk"):
        raise SystemExit("bench.http needs wrk (Debian: apt-get install wrk)")

    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.http_settings"
    with bench_stack() as home:
        from django.conf import settings

        from kafka_bridge.topics import topics_ensure

        topics_ensure(names=[settings.ORDER_EVENTS_TOPIC], partitions=3)
        create_products(["CATALOG-001"], stock=10**12, unit_price=1000)
        token = api_token()
        warm_broker(3 * args.warm_up)
        web = start_web(WEB_PORT, args.server)
        try:
            # Warm up both (the broker itself was warmed above: see warm_broker).
            progress(f"warming up for {args.warm_up:g} s")
            wrk(OURS, args.warm_up, args.connections, token)
            wrk(BARE, 2, args.connections, token)
            processes = {f"web ({args.server})": [web.pid], **service_pids(home)}
            ours, bare, keyed = [], [], []
            cpu: dict[str, dict[str, float]] = {OURS: {}, BARE: {}, KEYED: {}}  # endpoint -> process -> CPU s

            def measure(endpoint: str, rates: list[float]) -> None:
                path, script = (OURS, "post_idempotent.lua") if endpoint == KEYED else (endpoint, "post.lua")
                rate, used = cpu_during(processes, lambda: wrk(path, args.seconds, args.connections, token, script))
                rates.append(rate)
                for name, seconds in used.items():
                    cpu[endpoint][name] = cpu[endpoint].get(name, 0.0) + seconds

            for round_ in range(args.rounds):
                for endpoint, rates in ((OURS, ours), (BARE, bare), (KEYED, keyed)):
                    progress(f"round {round_ + 1}/{args.rounds}: {endpoint}")
                    measure(endpoint, rates)
        finally:
            web.terminate()
            web.wait(30)
        report(ours, bare, keyed, args)
        report_cpu(cpu, {OURS: ours, BARE: bare, KEYED: keyed}, args)


def report(ours: list[float], bare: list[float], keyed: list[float], args) -> None:
    from django.conf import settings as django_settings

    settings = f"{args.server}, 2 workers, wrk -t1 -c{args.connections}, {args.rounds}×{args.seconds:g} s each"
    # Each round's rate: on a shared VM one round can be far off the others.
    ratios = ", ".join(f"{o / b:.2f}" for o, b in zip(ours, bare, strict=True))
    median_ratio = statistics.median(o / b for o, b in zip(ours, bare, strict=True))
    print_table(
        "HTTP order creation (python -m bench.http)",
        [
            Row(
                "http: bare DRF create-with-INSERT (baseline)",
                statistics.mean(bare),
                "orders/s",
                settings=f"{settings}; rounds {', '.join(f'{b:.0f}' for b in bare)}",
            ),
            Row(
                "http: POST /order-service/<userId>/orders",
                statistics.mean(ours),
                "orders/s",
                statistics.mean(bare),
                "≥ 0.90× baseline",
                "replica check, order and outbox row in one statement, "
                + ("publish on commit" if django_settings.OUTBOX_PUBLISH_ON_COMMIT else "not published (relay's job)")
                + f"; rounds {', '.join(f'{o:.0f}' for o in ours)} (ratio {ratios}, median {median_ratio:.2f})",
            ),
            Row(
                "http: the same with an Idempotency-Key",
                statistics.mean(keyed),
                "orders/s",
                statistics.mean(ours),
                "",
                "a fresh key per request: the key's advisory lock, look-up and row in the order's "
                + f"transaction; rounds {', '.join(f'{k:.0f}' for k in keyed)}",
            ),
        ],
    )


def report_cpu(cpu: dict[str, dict[str, float]], rates: dict[str, list[float]], args) -> None:
    """Where each order's CPU goes: the two cores are shared, so what one process spends
    per order, the others cannot (the web server's figure includes its Kafka client)."""
    rows = []
    for path, label in ((BARE, "bare"), (OURS, "ours"), (KEYED, "ours + key")):
        orders = sum(rates[path]) * args.seconds
        for name, seconds in cpu[path].items():
            rows.append(Row(f"cpu per order, {label}: {name}", seconds / orders * 1000, "ms"))
    print_table("CPU per order, by process (same runs)", rows)


if __name__ == "__main__":
    main()
