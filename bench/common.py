"""What every benchmark shares: its own PostgreSQL and Kafka, the machine's description,
progress on a terminal, and the results table.

A benchmark starts its services, then Django (whose settings read the environment), so
import Django models only inside functions called after ``bench_stack()``.
"""

from __future__ import annotations

import os
import platform
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from testsupport.services import ROOT, KafkaBroker, KafkaCluster, Postgres, web_answers

# Where the charts go: the docs', unless told (the smoke tests draw theirs elsewhere).
IMG_DIR = Path(os.environ.get("BENCH_IMG_DIR") or ROOT / "docs" / "img")

T = TypeVar("T")


@dataclass
class Row:
    figure: str
    value: float
    unit: str
    baseline: float | None = None
    target: str = ""
    settings: str = ""

    @property
    def ratio(self) -> str:
        return f"{self.value / self.baseline:.2f}×" if self.baseline else ""


@contextmanager
def bench_stack(*, pg_port: int = 26432, kafka_port: int = 27092, cluster: bool = False):
    """PostgreSQL (databases orders, catalog) and Kafka of their own (one broker, or three
    with ``cluster``), with Django set up on them, in production mode. Ports stay below
    32768, where the kernel's ephemeral ports (other programs' outgoing connections) cannot
    take them."""
    # SIGTERM (Ctrl-C's cousin) must still stop the services below.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    home = Path(tempfile.mkdtemp(prefix="stocksync-bench-"))
    home.chmod(0o755)
    postgres = Postgres(dir=home / "pg", port=pg_port)
    broker = (
        KafkaCluster(port=kafka_port, home=home / "kafka-cluster")
        if cluster
        else KafkaBroker(port=kafka_port, home=home / "kafka", heap="-Xmx1G -Xms1G")
    )
    try:
        progress("starting PostgreSQL and Kafka")
        postgres.start()
        broker.start()
        # Production mode (DJANGO_DEBUG=false), as the product is deployed, unless the
        # caller chose otherwise: a throwaway key, local hosts.
        for name, value in (
            ("DJANGO_DEBUG", "false"),
            ("DJANGO_SECRET_KEY", secrets.token_urlsafe(50)),
            ("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost"),
            # Plain HTTP on the loopback: TLS is the proxy's job, and not what is measured.
            ("DJANGO_SECURE_SSL_REDIRECT", "false"),
            # One user places every order here: a limit that is checked (its cost is the
            # product's) but never reached.
            ("THROTTLE_ORDER_PLACEMENT", "1000000/second"),
        ):
            os.environ.setdefault(name, value)
        os.environ.update(
            ORDERS_DATABASE_URL=postgres.url("orders"),
            CATALOG_DATABASE_URL=postgres.url("catalog"),
            KAFKA_BOOTSTRAP_SERVERS=broker.bootstrap,
            DJANGO_SETTINGS_MODULE=os.environ.get("DJANGO_SETTINGS_MODULE", "config.settings"),
            LOG_LEVEL=os.environ.get("LOG_LEVEL", "WARNING"),
        )
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", verbosity=0)
        call_command("migrate", database="catalog", verbosity=0)
        yield home
    finally:
        progress("stopping PostgreSQL and Kafka")
        for service in (broker, postgres):
            try:
                service.stop()
            except RuntimeError as exc:
                print(exc, file=sys.stderr)
        shutil.rmtree(home, ignore_errors=True)
        progress("", end=True)


def cpu_seconds(roots: dict[str, list[int]]) -> dict[str, float]:
    """CPU time (user + system) used so far by each group's processes and all their
    descendants (gunicorn's workers, PostgreSQL's backends), exited ones included, read
    from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    parent, used = {}, {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # exited meanwhile
            continue
        pid = int(stat.parent.name)
        # utime + stime, and cutime + cstime: what its exited children used (PostgreSQL's
        # backends and autovacuum workers come and go during a measurement).
        parent[pid], used[pid] = int(fields[1]), sum(int(f) for f in fields[11:15]) / ticks
    totals = {}
    for name, pids in roots.items():
        tree, frontier = set(pids), set(pids)
        while frontier:
            frontier = {pid for pid, ppid in parent.items() if ppid in frontier} - tree
            tree |= frontier
        totals[name] = sum(used.get(pid, 0.0) for pid in tree)
    return totals


def cpu_during(roots: dict[str, list[int]], work: Callable[[], T]) -> tuple[T, dict[str, float]]:
    """Run ``work``; return its result and the CPU seconds each group of ``roots`` used meanwhile."""
    before = cpu_seconds(roots)
    result = work()
    after = cpu_seconds(roots)
    return result, {name: after[name] - before[name] for name in roots}


def service_pids(home: Path) -> dict[str, list[int]]:
    """The benchmark's own PostgreSQL and Kafka processes (their command lines name its home)."""
    found: dict[str, list[int]] = {"postgresql": [], "kafka": []}
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(home) in args:
            if args.split(" ", 1)[0].endswith("java"):
                found["kafka"].append(int(cmdline.parent.name))
            elif "bin/postgres " in args:
                found["postgresql"].append(int(cmdline.parent.name))
    return found


def warm_broker(seconds: float) -> None:
    """Send the broker one-message produce requests, one after another, for ``seconds``.

    A fresh JVM broker compiles its request path as it serves it: its CPU per produce
    request measured 2.5 ms after 30 s of traffic and 0.9 ms after 60 s on this machine
    (one message per request, acks=all, idempotent: what a web worker sends). The
    benchmarks that send single events measure the broker warm, as it runs in production.
    """
    from confluent_kafka import Producer

    from kafka_bridge.config import producer_config
    from kafka_bridge.topics import topics_ensure

    topics_ensure(names=["bench-warm-up"], partitions=3)
    producer = Producer(producer_config(**{"linger.ms": 0}))
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        progress(f"warming up the broker: {deadline - time.monotonic():.0f} s")
        for _ in range(100):
            producer.produce("bench-warm-up", key=b"k", value=b"x" * 200)
            producer.flush(5)


def progress(message: str, *, end: bool = False) -> None:
    """One updating status line on a terminal; nothing when output goes to a file."""
    if sys.stderr.isatty():
        sys.stderr.write("\r\033[K" + message + ("\n" if end and message else ""))
        sys.stderr.flush()


def machine() -> str:
    import confluent_kafka
    import django
    from django.db import connections

    database = "no PostgreSQL"  # bench.hot_path: in-process, no database
    if connections["catalog"].vendor == "postgresql":
        with connections["catalog"].cursor() as cursor:
            cursor.execute("SHOW server_version")
            database = f"PostgreSQL {cursor.fetchone()[0].split()[0]}"
    kafka = next(
        (
            p.name.removeprefix("kafka_2.13-").removesuffix(".jar")
            for p in (ROOT / ".cache" / "kafka" / "libs").glob("kafka_2.13-*.jar")
        ),
        "?",
    )
    return (
        f"{os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}, "
        f"Django {django.__version__}, "
        f"{database}, Apache Kafka {kafka}, confluent-kafka {confluent_kafka.version()[0]} "
        f"(librdkafka {confluent_kafka.libversion()[0]})"
    )


def print_table(title: str, rows: list[Row]) -> None:
    headers = ["figure", "value", "baseline", "ratio", "target", "settings"]
    cells = [headers] + [
        [
            r.figure,
            f"{r.value:,.0f} {r.unit}" if r.value >= 100 else f"{r.value:,.1f} {r.unit}",
            f"{r.baseline:,.0f} {r.unit}" if r.baseline else "",
            r.ratio,
            r.target,
            r.settings,
        ]
        for r in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    line = lambda row: "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"  # noqa: E731
    print(f"\n{title}\nmachine: {machine()}\n")
    print(line(cells[0]))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in cells[1:]:
        print(line(row))
    print(flush=True)


def wait_for(predicate, *, timeout: float, interval: float = 0.01, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")


def python(*args: str, **popen) -> subprocess.Popen:
    """``python ARGS`` in the project's folder with this benchmark's environment (its databases, its broker)."""
    return subprocess.Popen([sys.executable, *args], cwd=ROOT, env=popen.pop("env", dict(os.environ)), **popen)


WEB_SERVERS = {
    # 2 workers each, one per core; both serve config.wsgi (WSGI).
    "gunicorn": lambda port: (
        [sys.executable, "-m", "gunicorn", "config.wsgi", "--workers", "2"] + ["--bind", f"127.0.0.1:{port}"]
    ),
    "granian": lambda port: (
        [str(Path(sys.executable).parent / "granian"), "--interface", "wsgi", "--workers", "2"]
        + ["--blocking-threads", "1", "--host", "127.0.0.1", "--port", str(port), "config.wsgi:application"]
    ),
}


def start_web(port: int, server: str = "gunicorn", env: dict[str, str] | None = None) -> subprocess.Popen:
    """The web server (``WEB_SERVERS``: gunicorn, 2 sync workers, unless told), on this
    benchmark's databases and broker, with ``env`` added to the environment; returns once
    it answers."""
    web = subprocess.Popen(
        WEB_SERVERS[server](port),
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        stderr=subprocess.DEVNULL,
    )
    wait_for(lambda: web_answers(port), timeout=60, interval=0.2, what="the web server")
    return web


def create_products(ids: list[str], *, stock: int, unit_price: int) -> None:
    """Catalog products, and the order service's replica of them as the products topic
    would fill it (benchmarks time orders, not replication)."""
    from catalog.models import Product
    from orders.models import ProductReplica

    Product.objects.bulk_create(
        [Product(product_id=i, product_name=i, stock=stock, unit_price=unit_price) for i in ids]
    )
    ProductReplica.objects.bulk_create(
        [ProductReplica(product_id=i, product_name=i, unit_price=unit_price, active=True, version=0) for i in ids]
    )


def api_token(username: str = "bench") -> str:
    """A staff user's API token: the benchmarks' clients log in like any client."""
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    user, _ = get_user_model().objects.get_or_create(username=username, defaults={"is_staff": True})
    return Token.objects.get_or_create(user=user)[0].key
