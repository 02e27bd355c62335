"""The fault-injection suite: ``python -m chaos.run`` (``make chaos``).

Drives orders through the HTTP API at a steady rate (cancelling some of them, and
ordering one product until it runs out) while it breaks the stack at random moments,
then restarts everything, drains, and checks the claim that matters: every order was
decided exactly once, its status says what the catalog decided, and stock moved by
exactly the confirmed orders' quantities — never below zero. The clients send each order
with an Idempotency-Key and retry it after a dropped connection or a 5xx, as a careful
client would: each must learn its order's outcome, and no retry may place a second order.

    python -m chaos.run [--seed N] [--duration 180] [--rate 40] [--fault-every 6] [--fast]
                        [--relay debezium]

``--fast`` runs every service on the fast layer (``CONSUMER_FAST=true``). ``--relay
debezium`` carries the outboxes with Debezium on Kafka Connect; its SIGKILL is the relay's. Each run prints
its seed; ``--seed`` replays the same schedule of faults (the timing of the processes
themselves is not replayable). Exits 1 if any order was lost or doubled.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from chaos.stack import GROUP, ROOT, TOPIC, Ports, Stack

FAULTS = [
    "kill_consumer",
    "kill_order_consumer",
    "kill_relay",
    "kill_web_worker",
    "restart_broker",
    "catalog_db_outage",
    "redeliver_all",
]
# On a three-broker cluster (--cluster): lose a broker, lose a member of the group.
CLUSTER_FAULTS = ["kill_broker_node", "kill_consumer"]
# Crash points (kafka_bridge/faults.py) and their probability per pass: the exact moments
# around the database commit and the offset commit that a random SIGKILL rarely hits.
CRASH_POINTS = {
    "consumer.before_db_commit": 0.01,
    "consumer.after_db_commit": 0.01,
    "consumer.after_offset_commit": 0.01,
    "relay.after_send": 0.2,
    "web.after_commit": 0.003,
    "catalog.after_commit": 0.01,
}
CANCEL_SHARE = 0.05  # of accepted orders, cancelled right away
# On the cluster, the stalls are measured over this many seconds after each fault, and no
# other fault strikes meanwhile (nor before the cluster is whole again: Chaos.settle).
STALL_WINDOW = 15


# A client that lost its answer sends the same request again with the same key, for this
# long at most; these answers are final (anything else — a dropped connection, a 5xx, 409
# "still in flight", 429 — is retried).
RETRY_FOR_SECONDS = 60
FINAL = {"201", "400", "403", "404", "422"}


@dataclass
class Load:
    """Places orders over HTTP at a steady rate from a few threads, each with an
    Idempotency-Key, retrying with the same key until it learns the outcome; counts what it saw."""

    port: int
    rate: float
    products: list[str]
    rng: random.Random
    token: str
    stop: threading.Event = field(default_factory=threading.Event)
    outcomes: Counter = field(default_factory=Counter)  # every HTTP answer, retries included
    accepted_at: list[float] = field(default_factory=list)  # time.time() of each 201
    learned: dict[str, set[str]] = field(default_factory=dict)  # key → the orderIds its answers named
    unknown: set[str] = field(default_factory=set)  # keys whose outcome the client never learned
    retries: int = 0
    replayed: int = 0  # 201s marked Idempotent-Replayed: a retry answered with the first order
    lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self, threads: int = 4) -> list[threading.Thread]:
        workers = [
            threading.Thread(target=self._worker, args=(random.Random(self.rng.random()),), daemon=True)
            for _ in range(threads)
        ]
        for w in workers:
            w.start()
        return workers

    def _worker(self, rng: random.Random, threads: int = 4) -> None:
        interval = threads / self.rate
        next_at = time.monotonic()
        while not self.stop.is_set():
            body = json.dumps({"productId": rng.choice(self.products), "qty": rng.randint(1, 5), "unitPrice": 100})
            key = str(uuid.UUID(int=rng.getrandbits(128)))
            order_id = self._place(f"/order-service/chaos-{rng.randint(1, 20)}/orders", body, key)
            if order_id is not None and rng.random() < CANCEL_SHARE:
                self._cancel(order_id)
            next_at += interval
            time.sleep(max(0.0, next_at - time.monotonic()))

    def _place(self, path: str, body: str, key: str) -> str | None:
        """Send the order until a final answer; the orderId if it was placed."""
        headers = {"Content-Type": "application/json", "Authorization": f"Token {self.token}", "Idempotency-Key": key}
        give_up, pause, attempt = time.monotonic() + RETRY_FOR_SECONDS, 0.1, 0
        while True:
            outcome, order_id, replayed = self._send("POST", path, body, headers)
            with self.lock:
                self.outcomes[outcome] += 1
                self.retries += attempt > 0
                self.replayed += replayed
                if outcome == "201":
                    self.accepted_at.append(time.time())
                    self.learned.setdefault(key, set()).add(order_id)
            if outcome in FINAL:
                return order_id
            if time.monotonic() > give_up:
                with self.lock:
                    self.unknown.add(key)
                return None
            attempt += 1
            time.sleep(pause)
            pause = min(pause * 2, 2.0)

    def _cancel(self, order_id: str) -> None:
        outcome, *_ = self._send(
            "POST", f"/api/orders/{order_id}/cancel/", None, {"Authorization": f"Token {self.token}"}
        )
        with self.lock:
            self.outcomes[f"cancel {outcome}"] += 1

    def _send(self, method: str, path: str, body: str | None, headers: dict[str, str]) -> tuple[str, str, bool]:
        """(the status or the exception's name, the orderId of a placed order, whether it was a replay)."""
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            try:
                conn.request(method, path, body, headers)
                response = conn.getresponse()
                status, answer = str(response.status), response.read()
                replayed = response.getheader("Idempotent-Replayed") == "true"
            finally:
                conn.close()
        except (OSError, http.client.HTTPException) as exc:
            return type(exc).__name__, "", False
        placed = status == "201" and body is not None
        return status, json.loads(answer)["orderId"] if placed else "", replayed

    def duplicates(self, orders_url: str) -> int:
        """Orders placed twice for one client request: a key whose answers named two orders,
        and orders in the database that no answer named and no unlearned key can account for."""
        with psycopg.connect(orders_url) as db:
            key_of = dict(
                db.execute(
                    "SELECT o.order_id::text, k.key FROM orders_order o"
                    " LEFT JOIN orders_idempotencykey k ON k.order_id = o.id"
                )
            )
        named = set().union(*self.learned.values()) if self.learned else set()
        strays = [oid for oid, key in key_of.items() if oid not in named and key not in self.unknown]
        return sum(len(ids) - 1 for ids in self.learned.values()) + len(strays)


class Chaos:
    def __init__(self, stack: Stack, rng: random.Random, log) -> None:
        self.stack, self.rng, self.log = stack, rng, log
        self.injected: Counter = Counter()
        self.moments: list[tuple[str, float]] = []  # (fault, time.time() it struck)
        self.held: dict[int, list[int]] = {}  # a consumer kill's index in moments → its partitions

    def inject(self, fault: str) -> None:
        self.log(f"fault: {fault}")
        self.moments.append((fault, time.time()))
        getattr(self, fault)()
        self.injected[fault] += 1

    def settle(self, timeout: float = 90) -> int:
        """Wait until every replica of the order-events topic is back in sync and the group
        has all its members again, so that the next fault strikes a whole cluster. Returns
        how many dead processes the supervisor started again meanwhile."""
        from confluent_kafka.admin import AdminClient

        admin = AdminClient({"bootstrap.servers": self.stack.env["KAFKA_BOOTSTRAP_SERVERS"]})
        deadline, restarts = time.monotonic() + timeout, 0
        while time.monotonic() < deadline:
            restarts += self.stack.supervise()
            try:
                topic = admin.list_topics(TOPIC, timeout=5).topics[TOPIC]
                in_sync = all(len(p.isrs) == len(p.replicas) for p in topic.partitions.values())
                members = self.stack.describe_group(timeout=5).members
                if in_sync and len(members) == self.stack.consumers:
                    return restarts
            except Exception:  # a broker is still coming back
                pass
            time.sleep(0.5)
        self.log(f"the cluster was not whole again within {timeout:g} s; going on")
        return restarts

    def kill_consumer(self) -> None:
        # The supervisor starts another in its place.
        name = self.rng.choice(self.stack.consumer_names)
        if self.stack.cluster:  # which partitions lose their reader, to follow them
            try:
                self.held[len(self.moments) - 1] = self.stack.member_partitions(name)
            except Exception as exc:  # the group is rebalancing after an earlier fault
                self.log(f"could not describe the group before the kill: {exc}")
            self.moments[-1] = ("kill_consumer", time.time())  # the kill, not the look before it
        self.stack.kill(name)

    def kill_broker_node(self) -> None:
        node = self.rng.randint(1, 3)
        self.stack.broker.kill(node)
        time.sleep(self.rng.uniform(3, 6))
        self.stack.broker.start()

    def kill_order_consumer(self) -> None:
        self.stack.kill("orderconsumer")

    def kill_relay(self) -> None:
        # Under Debezium the relay is the Connect worker: SIGKILL its JVM. It starts from
        # the position it last saved, so what it sent since is sent again (the ledger skips it).
        self.stack.kill("connect" if self.stack.relay == "debezium" else "relay")

    def kill_web_worker(self) -> None:
        workers = self.stack.web_workers()
        if workers:
            import os

            os.kill(self.rng.choice(workers), signal.SIGKILL)

    def restart_broker(self) -> None:
        self.stack.broker.stop()
        time.sleep(self.rng.uniform(1, 4))
        self.stack.broker.start()

    def catalog_db_outage(self) -> None:
        self.stack.db("catalog").stop()
        time.sleep(self.rng.uniform(2, 5))
        self.stack.db("catalog").start()

    def redeliver_all(self) -> None:
        # Offsets back to the start of the topic: every event is delivered again.
        for name in self.stack.consumer_names:
            self.stack.stop(name)
        deadline = time.monotonic() + 60
        command = [ROOT / "bin" / "kafka-consumer-groups", "--bootstrap-server", self.stack.broker.bootstrap]
        command += ["--group", GROUP, "--topic", TOPIC, "--reset-offsets", "--to-earliest", "--execute"]
        while True:
            result = subprocess.run(command, capture_output=True, text=True, timeout=60)
            reset = [line.split() for line in result.stdout.splitlines() if line.startswith(GROUP)]
            if result.returncode == 0 and reset:
                self.log("offsets reset to earliest: " + ", ".join(f"[{p[2]}] {p[3]}" for p in reset))
                break
            # Refused while the group has members: one killed a moment ago still counts
            # until its session times out.
            if time.monotonic() > deadline:
                self.log(f"offset reset refused for 60 s: {(result.stderr or result.stdout).strip()[:300]}")
                break
            time.sleep(2)
        for name in self.stack.consumer_names:
            self.stack.start(name)


def applied_times(stack: Stack) -> list[float]:
    with psycopg.connect(stack.env["CATALOG_DATABASE_URL"]) as db:
        return [t for (t,) in db.execute("SELECT extract(epoch FROM applied_at)::float FROM catalog_stockmovement")]


def longest_gap(times: list[float], start: float, end: float) -> float:
    """The longest wait between events in [start, end], counting from ``start``."""
    points = [start, *sorted(t for t in times if start <= t <= end)]
    return max((b - a for a, b in zip(points, points[1:], strict=False)), default=end - start)


def stalls(
    moments: list[tuple[str, float]], accepted: list[float], applied: list[float], window: float = 30
) -> list[tuple[str, float, float]]:
    """For each fault: the longest wait, from the fault on (within ``window`` s), for the
    next accepted order and for the next stock change. In steady state both are about
    1/rate; anything longer is the fault's stall."""
    return [
        (fault, longest_gap(accepted, at, at + window), longest_gap(applied, at, at + window)) for fault, at in moments
    ]


def applied_by_partition(stack: Stack) -> dict[int, list[float]]:
    with psycopg.connect(stack.env["CATALOG_DATABASE_URL"]) as db:
        rows = db.execute(
            "SELECT partition, extract(epoch FROM applied_at)::float FROM catalog_stockmovement"
            " WHERE topic = %s ORDER BY 2",
            [TOPIC],
        )
        by_partition: dict[int, list[float]] = {}
        for partition, at in rows:
            by_partition.setdefault(partition, []).append(at)
        return by_partition


def partition_stalls(
    moments: list[tuple[str, float]],
    held: dict[int, list[int]],
    applied: dict[int, list[float]],
    window: float = STALL_WINDOW,
) -> list[tuple[str, str]]:
    """Per fault, per partition: the longest wait between applies in the ``window`` s after
    it, beside the same in the ``window`` s before it (what that partition's traffic alone
    gives). A consumer kill separates the partitions its member held (their resume time) from
    the others (which must not pause)."""
    rows = []
    for i, (fault, at) in enumerate(moments):
        after = {p: longest_gap(times, at, at + window) for p, times in sorted(applied.items())}
        before = {p: longest_gap(times, at - window, at) for p, times in sorted(applied.items())}

        def show(parts: list[int], after: dict[int, float] = after, before: dict[int, float] = before) -> str:
            # A partition no product's key hashes to has nothing applied, before or after.
            cells = [
                f"[{p}] {after[p]:.2f} s (before {before[p]:.2f})" if p in after else f"[{p}] no events" for p in parts
            ]
            return ", ".join(cells) or "none"

        if fault == "kill_consumer" and i in held:
            mine = held[i]
            others = [p for p in after if p not in mine]
            rows.append(
                (
                    f"{fault} #{i + 1}: partitions of the killed member",
                    show(mine) + "  (longest wait: its resume)",
                )
            )
            rows.append((f"{fault} #{i + 1}: the other members' partitions", show(others)))
        else:
            rows.append((f"{fault} #{i + 1}: every partition", show(list(after))))
    return rows


def check(*, orders_url: str, catalog_url: str, initial: dict[str, int]) -> dict:
    """The invariants, straight from both databases.

    Every order has one catalog decision (ledger row of kind ``order``) and, if cancelled,
    one cancellation; its status says what was decided; and per product, initial − current
    stock = the quantities of the orders that hold stock (applied, not cancelled).
    """
    with psycopg.connect(orders_url) as orders_db:
        orders = {
            str(oid): (pid, qty, status)
            for oid, pid, qty, status in orders_db.execute("SELECT order_id, product_id, qty, status FROM orders_order")
        }
        unsent = orders_db.execute("SELECT count(*) FROM orders_outboxevent WHERE sent_at IS NULL").fetchone()[0]
    with psycopg.connect(catalog_url) as catalog_db:
        ledger = Counter(catalog_db.execute("SELECT order_id, kind, outcome FROM catalog_stockmovement").fetchall())
        stock = dict(catalog_db.execute("SELECT product_id, stock FROM catalog_product"))
        unsent += catalog_db.execute("SELECT count(*) FROM catalog_outboxevent WHERE sent_at IS NULL").fetchone()[0]
    decided = {(oid, kind): outcome for (oid, kind, outcome) in ledger}
    held: Counter = Counter()  # stock units the orders hold, per product
    wrong_status = 0
    for oid, (pid, qty, status) in orders.items():
        outcome = decided.get((oid, "order"))
        cancelled = (oid, "cancel") in decided
        if outcome == "applied" and not cancelled:
            held[pid] += qty
        if status == "CANCELLED" or outcome is None:
            continue
        if status != "PENDING" and status != {"applied": "CONFIRMED", "rejected": "REJECTED"}[outcome]:
            wrong_status += 1
    taken = {p: initial[p] - stock[p] for p in initial}
    return {
        "orders": len(orders),
        "confirmed": sum(1 for *_, status in orders.values() if status == "CONFIRMED"),
        "rejected": sum(1 for *_, status in orders.values() if status == "REJECTED"),
        "cancelled": sum(1 for *_, status in orders.values() if status == "CANCELLED"),
        "ledger_rows": sum(ledger.values()),
        "lost": sum(1 for oid in orders if (oid, "order") not in decided),
        "cancellations_lost": sum(
            1 for oid, (*_, status) in orders.items() if status == "CANCELLED" and (oid, "cancel") not in decided
        ),
        "pending": sum(1 for *_, status in orders.values() if status == "PENDING"),
        "wrong_status": wrong_status,
        "applied_twice": sum(n - 1 for n in ledger.values() if n > 1),
        "ledger_without_order": len({oid for oid, _ in decided if oid not in orders}),
        "stock_units_doubled": sum(max(0, taken[p] - held[p]) for p in initial),
        "stock_units_missing": sum(max(0, held[p] - taken[p]) for p in initial),
        "negative_stock": sum(1 for p in initial if stock[p] < 0),
        "outbox_unsent": unsent,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, help="replay a run's schedule of faults")
    parser.add_argument("--duration", type=float, default=180, help="seconds of load and faults (default: %(default)s)")
    parser.add_argument("--rate", type=float, default=40, help="orders per second (default: %(default)s)")
    parser.add_argument(
        "--fault-every", type=float, default=6, help="mean seconds between faults (default: %(default)s)"
    )
    parser.add_argument(
        "--drain-timeout", type=float, default=180, help="seconds allowed to drain (default: %(default)s)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the run's folder (logs, data) for a post-mortem")
    parser.add_argument(
        "--cluster",
        action="store_true",
        help="three Kafka brokers, 6 partitions x 3 replicas, several consumers; faults: a broker "
        "SIGKILLed and brought back, a consumer SIGKILLed and replaced. Reports the stalls around each.",
    )
    parser.add_argument("--consumers", type=int, help="consumer processes in the group (default: 1, 3 with --cluster)")
    parser.add_argument(
        "--relay",
        choices=["polling", "debezium"],
        default="polling",
        help="who carries the outboxes to Kafka: runrelay (default), or Debezium on Kafka Connect",
    )
    parser.add_argument(
        "--fast",
        action="store_true",
        help="run every service on the fast layer (CONSUMER_FAST=true); default: the default path",
    )
    args = parser.parse_args(argv)
    args.consumers = args.consumers or (3 if args.cluster else 1)
    faults = CLUSTER_FAULTS if args.cluster else FAULTS
    for name in ("duration", "rate", "fault_every", "drain_timeout"):
        if getattr(args, name) <= 0:
            parser.error(f"--{name.replace('_', '-')} must be positive")

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the stack on the way out
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**32)
    rng = random.Random(seed)
    started = time.monotonic()

    def log(message: str) -> None:
        print(f"[chaos {time.monotonic() - started:6.1f}s] {message}", flush=True)

    log(
        f"seed {seed}  (replay: python -m chaos.run --seed {seed} --duration {args.duration:g} "
        f"--rate {args.rate:g} --fault-every {args.fault_every:g}"
        + (f" --cluster --consumers {args.consumers}" if args.cluster else "")
        + (" --fast" if args.fast else "")
        + (f" --relay {args.relay}" if args.relay != "polling" else "")
        + ")"
    )
    home = Path(tempfile.mkdtemp(prefix="stocksync-chaos-"))
    # On the cluster the suite measures stalls: crash points would blur them.
    crash_points = "" if args.cluster else ",".join(f"{k}={v}" for k, v in CRASH_POINTS.items())
    stack = Stack(
        home=home,
        ports=Ports(),
        crash_points=crash_points,
        cluster=args.cluster,
        consumers=args.consumers,
        fast=args.fast,
        relay=args.relay,
    )
    products = {f"CHAOS-{i:03d}": 1_000_000 for i in range(1, 11)}
    products["CHAOS-001"] = 150  # runs out during the run: later orders for it are rejected
    try:
        log(f"starting the stack in {home}")
        stack.up(products)
        stack.wait_web()
        chaos = Chaos(stack, rng, log)
        # Every kind several times, in a shuffled order, at jittered moments.
        count = max(len(faults), int(args.duration / args.fault_every))
        schedule = [faults[i % len(faults)] for i in range(count)]
        if args.cluster:  # spaced out, only the first few fit: alternate kinds, so each shows up
            first = rng.randrange(len(faults))
            schedule = schedule[first:] + schedule[:first]
        else:
            rng.shuffle(schedule)
        times = sorted(rng.uniform(2, args.duration - 2) for _ in schedule)

        load = Load(port=stack.ports.web, rate=args.rate, products=list(products), rng=rng, token=stack.api_token)
        workers = load.run()
        log(f"load: {args.rate:g} orders/s for {args.duration:g}s; {len(schedule)} faults scheduled")
        t0 = time.monotonic()
        restarts = 0
        not_before = 0.0  # on the cluster: each fault strikes a whole cluster, and alone in its window
        for fault, at in zip(schedule, times, strict=True):
            if args.cluster and not_before > args.duration - STALL_WINDOW:
                break  # spaced out, fewer faults fit: the rest would fall after the load
            while time.monotonic() - t0 < max(at, not_before):
                restarts += stack.supervise()
                time.sleep(0.2)
            chaos.inject(fault)
            if args.cluster:
                restarts += chaos.settle()
                not_before = time.monotonic() - t0 + STALL_WINDOW
        while time.monotonic() - t0 < args.duration:
            restarts += stack.supervise()
            time.sleep(0.2)
        load.stop.set()
        for w in workers:  # the last orders' retries run their course: their outcome is learned
            w.join(RETRY_FOR_SECONDS + 15)
        log(f"load stopped: {dict(load.outcomes)}")

        def current() -> dict:
            return check(
                orders_url=stack.env["ORDERS_DATABASE_URL"],
                catalog_url=stack.env["CATALOG_DATABASE_URL"],
                initial=products,
            )

        # Drain: everything up, then wait until every order is in the ledger.
        drain_start = time.monotonic()
        stack.supervise()
        for name in stack.process_names:
            if stack.procs[name].poll() is not None:
                stack.start(name)
        result = current()
        while (
            result["lost"] or result["cancellations_lost"] or result["pending"] or result["outbox_unsent"]
        ) and time.monotonic() - drain_start < args.drain_timeout:
            time.sleep(1)
            restarts += stack.supervise()
            result = current()
        drain_seconds = time.monotonic() - drain_start
        time.sleep(3)  # anything still in flight would show up as doubled now
        result = current()
        reconcile = subprocess.run(
            [sys.executable, "manage.py", "reconcile", "--older-than", "0"],
            cwd=ROOT,
            env=stack.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        duplicates = load.duplicates(stack.env["ORDERS_DATABASE_URL"])
        crashes = Counter(home.joinpath("crashes.log").read_text().split()) if stack.crash_log.exists() else Counter()

        rows = [
            ("seed", seed),
            ("orders placed (in the orders database)", result["orders"]),
            ("HTTP responses", ", ".join(f"{k}: {v}" for k, v in sorted(load.outcomes.items()))),
        ]
        rows += [(f"fault: {name}", chaos.injected[name]) for name in faults]
        if not args.cluster:
            rows += [(f"crash point: {name}", crashes[name]) for name in CRASH_POINTS]
        else:
            rows += [
                (f"stall after {fault} #{i}", f"order acceptance {accept:.2f} s, stock application {apply:.2f} s")
                for i, (fault, accept, apply) in enumerate(
                    stalls(chaos.moments, load.accepted_at, applied_times(stack)), 1
                )
            ]
            rows += [
                (f"longest wait between applies, {name}", value)
                for name, value in partition_stalls(chaos.moments, chaos.held, applied_by_partition(stack))
            ]
        rows += [
            ("processes restarted after dying", restarts),
            (
                "orders confirmed / rejected / cancelled",
                f"{result['confirmed']} / {result['rejected']} / {result['cancelled']}",
            ),
            (
                "client retries (same Idempotency-Key)",
                f"{load.retries} ({load.replayed} answered with the first order)",
            ),
            ("orders whose client never learned the outcome", len(load.unknown)),
            ("duplicate orders from client retries", duplicates),
            ("events lost (order without ledger row)", result["lost"]),
            ("cancellations lost", result["cancellations_lost"]),
            ("orders still PENDING / with a wrong status", f"{result['pending']} / {result['wrong_status']}"),
            ("events applied twice (ledger)", result["applied_twice"]),
            ("stock units doubled / missing", f"{result['stock_units_doubled']} / {result['stock_units_missing']}"),
            ("ledger rows without order", result["ledger_without_order"]),
            ("products with negative stock", result["negative_stock"]),
            ("outbox rows unsent at the end", result["outbox_unsent"]),
            ("time to drain", f"{drain_seconds:.1f} s"),
            (
                "manage.py reconcile",
                "in sync (exit 0)" if reconcile.returncode == 0 else f"exit {reconcile.returncode}",
            ),
        ]
        width = max(len(k) for k, _ in rows)
        print("\n" + "\n".join(f"  {k:<{width}}  {v}" for k, v in rows) + "\n")
        failed = (
            result["lost"]
            or result["cancellations_lost"]
            or result["pending"]
            or result["wrong_status"]
            or result["negative_stock"]
            or result["applied_twice"]
            or result["stock_units_doubled"]
            or result["stock_units_missing"]
            or result["ledger_without_order"]
            or load.unknown
            or duplicates
            or reconcile.returncode != 0
        )
        if failed:
            print(reconcile.stdout[-3000:])
            print(f"FAILED: something was lost or doubled (see the table). Logs kept in {home}")
            args.keep = True
            return 1
        if result["orders"] == 0:
            print(f"FAILED: no order was placed; see {home}/web.log")
            args.keep = True
            return 1
        print("PASSED: nothing lost, nothing doubled.")
        return 0
    finally:
        stack.down()
        if not args.keep:
            shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
