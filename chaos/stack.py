"""The real stack the fault-injection suite breaks: every part a separate process.

Two PostgreSQL clusters (orders, catalog: one can be down while the other serves), one
Apache Kafka broker, gunicorn with two workers, the relay, the catalog's consumer(s) and
the order service's consumer. All on 127.0.0.1, on ports of their own, in one temporary
folder.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from testsupport.services import ROOT, KafkaBroker, KafkaCluster, Postgres, run, web_answers

TOPIC = "chaos-orders"
GROUP = "catalog-service"


@dataclass
class Ports:
    orders_db: int = 25433
    catalog_db: int = 25434
    kafka: int = 29092
    web: int = 28000
    connect: int = 28083  # Kafka Connect's REST API (--relay debezium)


@dataclass
class Stack:
    home: Path
    ports: Ports = field(default_factory=Ports)
    crash_points: str = ""
    cluster: bool = False  # three brokers (bin/kafka-cluster) instead of one
    consumers: int = 1  # members of the consumer group, one process each
    fast: bool = False  # the fast layer (CONSUMER_FAST) in every process
    relay: str = "polling"  # or "debezium": Kafka Connect with Debezium carries the outboxes
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)
    api_token: str = ""  # the staff user's, for the load generator
    held_down: set[str] = field(default_factory=set)  # stopped on purpose: do not restart

    @property
    def crash_log(self) -> Path:
        return self.home / "crashes.log"

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "ORDERS_DATABASE_URL": f"postgres://stocksync@127.0.0.1:{self.ports.orders_db}/orders",
            "CATALOG_DATABASE_URL": f"postgres://stocksync@127.0.0.1:{self.ports.catalog_db}/catalog",
            "KAFKA_BOOTSTRAP_SERVERS": self.broker.bootstrap,
            "ORDER_EVENTS_TOPIC": TOPIC,
            "CATALOG_CONSUMER_GROUP": GROUP,
            "ORDER_RESULTS_TOPIC": "chaos-results",
            "PRODUCTS_TOPIC": "chaos-products",
            # The relay steps in soon: faults are frequent here.
            "OUTBOX_RELAY_GRACE_SECONDS": "3",
            # The load generator is one client placing every order: not a runaway loop.
            "THROTTLE_ORDER_PLACEMENT": "off",
            "KAFKA_PRODUCER_MESSAGE_TIMEOUT_MS": "15000",
            "STOCKSYNC_CRASH_POINTS": self.crash_points,
            "STOCKSYNC_CRASH_LOG": str(self.crash_log),
            "PYTHONUNBUFFERED": "1",
            "CONSUMER_FAST": "true" if self.fast else "false",
            "OUTBOX_RELAY": self.relay,
            "CONNECT_PORT": str(self.ports.connect),
            "CONNECT_URL": f"http://127.0.0.1:{self.ports.connect}",
        }

    # -- infrastructure -------------------------------------------------------------

    def db(self, which: str) -> Postgres:
        port = self.ports.orders_db if which == "orders" else self.ports.catalog_db
        return Postgres(dir=self.home / f"pg-{which}", port=port)

    @property
    def broker(self) -> KafkaBroker | KafkaCluster:
        if self.cluster:
            return KafkaCluster(port=self.ports.kafka, home=self.home / "kafka-cluster")
        return KafkaBroker(port=self.ports.kafka, home=self.home / "kafka")

    @property
    def consumer_names(self) -> list[str]:
        return [f"consumer-{i}" for i in range(1, self.consumers + 1)]

    def manage(self, *args: str, timeout: float = 120) -> str:
        """Run a one-off command (setup, reconcile) on the stack. Crash points are for the
        service processes under test, not for the harness's own commands: a setup step
        killed at ``catalog.after_commit`` would fail the run before it starts."""
        env = {**self.env, "STOCKSYNC_CRASH_POINTS": ""}
        return run([sys.executable, ROOT / "manage.py", *args], env=env, timeout=timeout)

    def up(self, products: dict[str, int]) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self.home.chmod(0o755)
        self.db("orders").start()
        self.db("catalog").start()
        self.broker.start()
        self.manage("migrate", "--noinput", "-v0")
        self.manage("migrate", "--database=catalog", "--noinput", "-v0")
        users = self.manage("createdemousers")
        self.api_token = next(line.split("token ")[1].strip() for line in users.splitlines() if "(staff" in line)
        if self.cluster:
            self.manage("createtopics", "--partitions", "6", "--replication-factor", "3", "--min-insync-replicas", "2")
        else:
            self.manage("createtopics", "--partitions", "3")
        if self.relay == "debezium":  # reading the log before anything is written to an outbox
            self.start("connect")
            self.wait_connect()
            self.manage("connectors", "--register", "--wait", "120", timeout=180)
        rows = ",".join(f"('{pid}','{pid}',{stock},100,now())" for pid, stock in products.items())
        run(
            [
                "psql",
                "-h",
                "127.0.0.1",
                "-p",
                self.ports.catalog_db,
                "-U",
                "stocksync",
                "-d",
                "catalog",
                "-qc",
                f"INSERT INTO catalog_product (product_id, product_name, stock, unit_price, created_at) VALUES {rows}",
            ]
        )
        self.manage("publishproducts")
        for name in self.process_names:
            if name not in self.procs:
                self.start(name)
        self.wait_replica(len(products))

    @property
    def process_names(self) -> list[str]:
        relay = "connect" if self.relay == "debezium" else "relay"
        return ["web", relay, "orderconsumer", *self.consumer_names]

    def wait_connect(self, timeout: float = 120) -> None:
        import urllib.request

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{self.env['CONNECT_URL']}/connectors", timeout=2)
                return
            except OSError:
                time.sleep(0.5)
        raise RuntimeError(f"Kafka Connect did not answer; see {self.home / 'connect.log'}")

    def wait_replica(self, count: int, timeout: float = 90) -> None:
        """Orders are refused until the order service knows the products: wait for them."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with psycopg.connect(self.env["ORDERS_DATABASE_URL"]) as db:
                if db.execute("SELECT count(*) FROM orders_productreplica").fetchone()[0] >= count:
                    return
            time.sleep(0.5)
        raise RuntimeError(f"the order service never learnt the products; see {self.home / 'orderconsumer.log'}")

    def down(self) -> None:
        for name in list(self.procs):
            self.stop(name, sig=signal.SIGKILL)
        for service in (self.broker, self.db("orders"), self.db("catalog")):
            try:
                service.stop()
            except RuntimeError:
                pass

    # -- the application's processes -------------------------------------------------

    COMMANDS = {
        "web": lambda self: [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi",
            "--workers",
            "2",
            "--bind",
            f"127.0.0.1:{self.ports.web}",
            "--graceful-timeout",
            "5",
            "--access-logfile",
            "-",
        ],
        "relay": lambda self: [sys.executable, "manage.py", "runrelay"],
        "connect": lambda self: [ROOT / "bin" / "connect-server", "run"],  # --relay debezium: the JVM itself
        "consumer": lambda self: [sys.executable, "manage.py", "runconsumer"],  # consumer-1, consumer-2, …
        "orderconsumer": lambda self: [sys.executable, "manage.py", "runorderconsumer"],
    }

    def start(self, name: str) -> None:
        log = open(self.home / f"{name}.log", "ab")
        command = self.COMMANDS[name.split("-")[0]](self)
        self.procs[name] = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=log, stderr=log)
        self.held_down.discard(name)

    def stop(self, name: str, *, sig: int = signal.SIGTERM, timeout: float = 30) -> None:
        self.held_down.add(name)
        proc = self.procs.get(name)
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def describe_group(self, timeout: float = 10):
        """The catalog's consumer group as its coordinator describes it (the harness runs
        without Django, so not through kafka_bridge.lag)."""
        from confluent_kafka.admin import AdminClient

        admin = AdminClient({"bootstrap.servers": self.env["KAFKA_BOOTSTRAP_SERVERS"]})
        return admin.describe_consumer_groups([GROUP], request_timeout=timeout)[GROUP].result(timeout)

    def member_partitions(self, name: str) -> list[int]:
        """The partitions of the order-events topic that consumer ``name`` holds now (its
        client id ends with its pid: kafka_bridge.config.consumer_config)."""
        proc = self.procs.get(name)
        if proc is None:
            return []
        group = self.describe_group()
        return sorted(
            tp.partition
            for member in group.members
            if member.client_id.endswith(f":{proc.pid}") and member.assignment
            for tp in member.assignment.topic_partitions
            if tp.topic == TOPIC
        )

    def kill(self, name: str) -> None:
        """SIGKILL, and let the supervisor bring it back."""
        proc = self.procs.get(name)
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()

    def web_workers(self) -> list[int]:
        master = self.procs["web"].pid
        children = Path(f"/proc/{master}/task/{master}/children")
        return [int(p) for p in children.read_text().split()] if children.exists() else []

    def supervise(self) -> int:
        """Restart processes that died (SIGKILL, crash point) unless held down; return how many."""
        restarted = 0
        for name, proc in list(self.procs.items()):
            if proc.poll() is not None and name not in self.held_down:
                self.start(name)
                restarted += 1
        return restarted

    def wait_web(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if web_answers(self.ports.web):
                return
            time.sleep(0.2)
        raise RuntimeError(f"web server not answering; see {self.home / 'web.log'}")
