"""HTTP order creation: our endpoint (order + outbox row + publish) against a bare DRF
create-with-INSERT endpoint, on the same gunicorn, the same machine, in the same run; and
our endpoint again with an Idempotency-Key on every request (what a key costs). Ours is
measured twice: on the default path (the ORM) and on the fast layer (``CONSUMER_FAST``:
the order and its outbox row in one SQL statement), each on a web server of its own.

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

WEB_PORT = 27900  # the fast layer's web server (and the bare endpoint's); the default path's on the next port
OURS = "/order-service/bench/orders"
BARE = "/bench/bare-orders/bench"
# What is measured, round by round: (label, path, wrk script, port offset).
ENDPOINTS = {
    "bare": (BARE, "post.lua", 0),
    "default": (OURS, "post.lua", 1),
    "fast": (OURS, "post.lua", 0),
    "default + key": (OURS, "post_idempotent.lua", 1),
    "fast + key": (OURS, "post_idempotent.lua", 0),
}


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
        "--warm-up",
        type=float,
        default=20,
        help="seconds of load on each of ours before measuring, after 60 s on the broker",
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
        web = start_web(WEB_PORT, args.server, env={"CONSUMER_FAST": "true"})
        default_web = start_web(WEB_PORT + 1, args.server, env={"CONSUMER_FAST": "false"})
        try:
            # Warm up each (the broker itself was warmed above: see warm_broker).
            progress(f"warming up for {args.warm_up:g} s")
            wrk(OURS, args.warm_up, args.connections, token)
            wrk(OURS, args.warm_up, args.connections, token, port=WEB_PORT + 1)
            wrk(BARE, 2, args.connections, token)
            processes = {
                "web, fast layer": [web.pid],
                "web, default path": [default_web.pid],
                **service_pids(home),
            }
            rates: dict[str, list[float]] = {name: [] for name in ENDPOINTS}
            cpu: dict[str, dict[str, float]] = {name: {} for name in ENDPOINTS}  # endpoint -> process -> CPU s
            for round_ in range(args.rounds):
                for name, (path, script, offset) in ENDPOINTS.items():
                    progress(f"round {round_ + 1}/{args.rounds}: {name}")
                    rate, used = cpu_during(
                        processes,
                        lambda p=path, s=script, o=offset: wrk(
                            p, args.seconds, args.connections, token, s, WEB_PORT + o
                        ),
                    )
                    rates[name].append(rate)
                    for process, seconds in used.items():
                        cpu[name][process] = cpu[name].get(process, 0.0) + seconds
        finally:
            for server in (web, default_web):
                server.terminate()
                server.wait(30)
        report(rates, args)
        report_cpu(cpu, rates, args)


def report(rates: dict[str, list[float]], args) -> None:
    from django.conf import settings as django_settings

    settings = f"{args.server}, 2 workers, wrk -t1 -c{args.connections}, {args.rounds}×{args.seconds:g} s each"
    bare = rates["bare"]
    published = "publish on commit" if django_settings.OUTBOX_PUBLISH_ON_COMMIT else "not published (relay's job)"

    def rounds(name: str, against: list[float]) -> str:
        # Each round's ratio: on a shared VM one round can be far off the others.
        ratios = [o / b for o, b in zip(rates[name], against, strict=True)]
        return (
            f"rounds {', '.join(f'{o:.0f}' for o in rates[name])} "
            f"(ratio {', '.join(f'{r:.2f}' for r in ratios)}, median {statistics.median(ratios):.2f})"
        )

    table = [
        Row(
            "http: bare DRF create-with-INSERT (baseline)",
            statistics.mean(bare),
            "orders/s",
            settings=f"{settings}; rounds {', '.join(f'{b:.0f}' for b in bare)}",
        )
    ]
    for mode, how, target in (
        ("default", "the ORM: replica check, then order and outbox row in a transaction", ""),
        ("fast", "one statement: replica check, order and outbox row", "≥ 0.90× baseline"),
    ):
        table.append(
            Row(
                f"http: POST /order-service/<userId>/orders, {mode}",
                statistics.mean(rates[mode]),
                "orders/s",
                statistics.mean(bare),
                target,
                f"{how}, {published}; {rounds(mode, bare)}",
            )
        )
    for mode in ("default", "fast"):
        table.append(
            Row(
                f"http: the same with an Idempotency-Key, {mode}",
                statistics.mean(rates[f"{mode} + key"]),
                "orders/s",
                statistics.mean(rates[mode]),
                "≥ 0.85× without" if mode == "fast" else "",
                "a fresh key per request: its advisory lock, look-up and row in the order's transaction; "
                + rounds(f"{mode} + key", rates[mode]),
            )
        )
    print_table("HTTP order creation (python -m bench.http)", table)


def report_cpu(cpu: dict[str, dict[str, float]], rates: dict[str, list[float]], args) -> None:
    """Where each order's CPU goes: the two cores are shared, so what one process spends
    per order, the others cannot (the web server's figure includes its Kafka client)."""
    rows = []
    for name in ENDPOINTS:
        orders = sum(rates[name]) * args.seconds
        for process, seconds in cpu[name].items():
            if seconds / orders * 1000 >= 0.01:  # the idle web server of the other mode: left out
                rows.append(Row(f"cpu per order, {name}: {process}", seconds / orders * 1000, "ms"))
    print_table("CPU per order, by process (same runs)", rows)


if __name__ == "__main__":
    main()
