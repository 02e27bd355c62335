"""The two relays side by side, in one run, on one PostgreSQL and one broker (README, "Two
relays: polling and change data capture").

    python -m bench.relays [--burst 20000] [--trickle 200]

Each way an outbox event can reach Kafka is measured the same way:

* backlog: ``--backlog`` events committed (1,000 to a transaction) while the relay is
  stopped (runrelay not started, the connectors paused); events/s from the relay's start
  (or resume) until a consumer here has read the last, and the relay's CPU meanwhile;
* trickle: ``--trickle`` events, one per transaction, 20 a second; for each, the time from
  its commit to the moment the consumer here reads it (p50, p99); and the share of a core
  the relay and PostgreSQL used meanwhile (PostgreSQL's includes the writer's own work,
  the same in every way but for Debezium's delete);
* the relay's peak resident memory (runrelay's process, or Connect's JVM);
* copies: messages on the topic per event in the trickle (more than 1: published twice).

The ways: ``polling`` (``runrelay`` alone, its 1 s interval, no grace), ``polling +
on-commit`` (make run's default: the writer publishes after commit, the relay is the
safety net), ``debezium`` (the row deleted in its transaction; Connect reads the log), and
``debezium + on-commit`` (both publish: what the README says we chose against).
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from bench.common import bench_stack, cpu_seconds, machine, progress, python, service_pids

CONNECT_PORT = 27083
TRICKLE_PER_SECOND = 20


@dataclass
class Reader:
    """Reads a topic from its start in a thread; when each event (by orderId) arrived."""

    topic: str
    arrivals: dict[str, list[float]] = field(default_factory=dict)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        import orjson
        from confluent_kafka import Consumer

        from kafka_bridge.config import client_config

        consumer = Consumer(client_config(**{"group.id": f"bench-{uuid.uuid4()}", "auto.offset.reset": "earliest"}))
        consumer.subscribe([self.topic])
        try:
            while not self.stop.is_set():
                message = consumer.poll(0.1)
                if message is not None and message.error() is None:
                    order_id = orjson.loads(message.value())["orderId"]
                    self.arrivals.setdefault(order_id, []).append(time.time())
        finally:
            consumer.close()

    def read(self, order_ids: list[str]) -> int:
        return sum(1 for order_id in order_ids if order_id in self.arrivals)


def write(topic: str, count: int, per_transaction: int) -> dict[str, float]:
    """``count`` outbox events, ``per_transaction`` to a transaction; each one's commit time."""
    from django.db import transaction

    from contracts.events import OrderEvent
    from kafka_bridge.outbox import outbox_send
    from orders.models import OutboxEvent

    committed: dict[str, float] = {}
    for start in range(0, count, per_transaction):
        ids = []
        with transaction.atomic():
            for i in range(start, min(count, start + per_transaction)):
                event = OrderEvent(f"P-{i % 100:03d}", 1, 100, 100, str(uuid.uuid4()), "bench")
                outbox_send(
                    model=OutboxEvent,
                    using="default",
                    topic=topic,
                    key=event.product_id,
                    subject_id=event.order_id,
                    payload=event.to_json(),
                    crash_point_name="bench",
                )
                ids.append(event.order_id)
        now = time.time()
        committed.update(dict.fromkeys(ids, now))
    return committed


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def measure(way: str, *, relay: str, on_commit: bool, backlog: int, trickle: int, home: Path) -> dict:
    from django.test import override_settings

    from kafka_bridge.connect import connectors_pause
    from kafka_bridge.producer import shutdown_publisher
    from kafka_bridge.topics import topics_ensure

    results: dict = {"way": way}
    process = None

    def start_relay() -> int:
        nonlocal process
        if relay == "debezium":
            connectors_pause(paused=False)
            return service_pids_connect()[0]
        # Alone, it sends at once; beside the on-commit publisher, it waits make run's
        # grace (OUTBOX_RELAY_GRACE_SECONDS) so as not to race it.
        if process is None:
            process = python("manage.py", "runrelay", "--grace", "10" if on_commit else "0")
        return process.pid

    with override_settings(OUTBOX_RELAY=relay, OUTBOX_PUBLISH_ON_COMMIT=on_commit):
        # The backlog: written while the relay is stopped (runrelay not started, the
        # connectors paused), then drained. Only where the relay sends everything.
        phases = [("trickle", trickle, 1)] if on_commit else [("backlog", backlog, 1000), ("trickle", trickle, 1)]
        for phase, count, per_transaction in phases:
            topic = f"bench-relays-{uuid.uuid4().hex[:6]}"
            topics_ensure(names=[topic], partitions=3)
            reader = Reader(topic)
            thread = threading.Thread(target=reader.run, daemon=True)
            if phase == "trickle":
                relay_pid = start_relay()  # (started before the window, not in it)
            thread.start()
            time.sleep(3)  # the reader has its partitions
            if phase == "backlog":
                if relay == "debezium":
                    connectors_pause(paused=True)
                    time.sleep(3)
                write(topic, count, per_transaction)
                progress(f"{way}: {count:,} events written, relay stopped")
                relay_pid = start_relay()
            roots = {"relay": [relay_pid], **service_pids(home)}
            before = cpu_seconds(roots)
            started = time.time()
            committed: dict[str, float] = {}
            if phase == "trickle":
                for _ in range(count):
                    committed.update(write(topic, 1, 1))
                    time.sleep(1 / TRICKLE_PER_SECOND)
            deadline = time.monotonic() + 300
            expected = count
            while len(reader.arrivals) < expected and time.monotonic() < deadline:
                time.sleep(0.05)
            finished = time.time()
            time.sleep(3 if on_commit else 1)  # a second copy, if one is coming
            after = cpu_seconds(roots)
            reader.stop.set()
            thread.join()
            shutdown_publisher(timeout=10)
            arrivals = reader.arrivals
            assert len(arrivals) == count, f"{way}, {phase}: {len(arrivals)} of {count} events on the topic"
            if phase == "backlog":
                results["drain_per_s"] = count / (finished - started)
                results["relay_cpu_backlog"] = (after["relay"] - before["relay"]) / count * 1e6  # ms per 1,000
            else:
                # At 20 events/s, the share of one core each used over the window.
                window = time.time() - started
                results["relay_cpu_trickle"] = (after["relay"] - before["relay"]) / window * 100
                results["postgres_cpu_trickle"] = (after["postgresql"] - before["postgresql"]) / window * 100
                waits = sorted((min(arrivals[o]) - committed[o]) * 1000 for o in committed)
                results["p50_ms"] = statistics.median(waits)
                results["p99_ms"] = waits[int(len(waits) * 0.99) - 1]
            results[f"copies_{phase}"] = sum(len(v) for v in arrivals.values()) / count
        results["relay_rss_mib"] = peak_rss_mib(relay_pid)
        if process is not None:
            process.terminate()
            process.wait(30)
    return results


def service_pids_connect() -> list[int]:
    """Connect's JVM: the java process whose command line names ConnectDistributed."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "ConnectDistributed" in args and f"node-{CONNECT_PORT}" in args:
            found.append(int(cmdline.parent.name))
    return found


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backlog", type=int, default=20_000)
    parser.add_argument("--trickle", type=int, default=200)
    args = parser.parse_args(argv)

    with bench_stack() as home:
        from django.conf import settings
        from django.test import override_settings

        from kafka_bridge.connect import connectors_delete, connectors_register, connectors_running, connectors_status
        from testsupport.services import ConnectWorker

        rows = []
        for way, on_commit in (("polling", False), ("polling + on-commit", True)):
            rows.append(measure(way, relay="polling", on_commit=on_commit, **vars(args), home=home))
        worker = ConnectWorker(port=CONNECT_PORT, bootstrap=settings.KAFKA_BOOTSTRAP_SERVERS)
        progress("starting Kafka Connect")
        worker.start()
        try:
            with override_settings(OUTBOX_RELAY="debezium", CONNECT_URL=worker.url):
                connectors_register()
                if not connectors_running(within=120):
                    raise RuntimeError(f"the connectors did not start: {connectors_status()}")
                for way, on_commit in (("debezium", False), ("debezium + on-commit", True)):
                    rows.append(measure(way, relay="debezium", on_commit=on_commit, **vars(args), home=home))
                connectors_delete()
        finally:
            worker.stop()
        on = machine()  # (asks PostgreSQL its version: before the stack stops)

    print(f"\nThe two relays (python -m bench.relays --backlog {args.backlog} --trickle {args.trickle})")
    print(f"machine: {on}\n")
    header = "| way | backlog drained | relay CPU per 1,000 drained | commit → read, p50 / p99 "
    header += "| CPU at 20 events/s: relay / PostgreSQL | relay peak memory | copies per event |"
    print(header)
    print("|" + "---|" * 7)
    for r in rows:
        drain = f"{r['drain_per_s']:,.0f} events/s" if "drain_per_s" in r else "(the writer sends)"
        drain_cpu = f"{r['relay_cpu_backlog']:,.0f} ms" if "drain_per_s" in r else "–"
        print(
            f"| {r['way']} | {drain} | {drain_cpu} | {r['p50_ms']:,.0f} / {r['p99_ms']:,.0f} ms "
            f"| {r['relay_cpu_trickle']:.1f}% / {r['postgres_cpu_trickle']:.1f}% of a core "
            f"| {r['relay_rss_mib']:,.0f} MiB | {r['copies_trickle']:.2f} |"
        )


if __name__ == "__main__":
    main()
