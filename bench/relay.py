"""Outbox relay drain: a backlog of unsent events published and marked sent, events/s.

    python -m bench.relay [--backlog 100000]

Writes ``--backlog`` outbox rows as the web process would have (the order's JSON, keyed by
productId), unsent, then runs the relay's own loop (``orders.outbox.outbox_relay_pending``
with ``relay_producer()``, as ``manage.py runrelay --once --grace 0`` does) until none is
left, and times it.
"""

from __future__ import annotations

import argparse
import time
import uuid

from bench.common import Row, bench_stack, print_table, progress


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backlog", type=int, default=100_000)
    args = parser.parse_args(argv)

    with bench_stack():
        from datetime import timedelta

        from django.conf import settings

        from contracts.events import OrderEvent
        from kafka_bridge.outbox import outbox_relay_pending, relay_producer
        from kafka_bridge.topics import topics_ensure
        from orders.models import OutboxEvent

        topic = f"bench-relay-{uuid.uuid4().hex[:6]}"
        topics_ensure(names=[topic], partitions=3)
        progress(f"writing {args.backlog:,} unsent outbox rows")
        rows = []
        for i in range(args.backlog):
            pid = f"P-{i % 1000:05d}"
            event = OrderEvent(pid, 1, 100, 100, str(uuid.uuid4()), "bench")
            rows.append(OutboxEvent(topic=topic, key=pid, subject_id=event.order_id, payload=event.to_json()))
        OutboxEvent.objects.bulk_create(rows, batch_size=5000)

        producer = relay_producer()
        started = time.monotonic()
        sent = 0
        while True:
            delivered, failed = outbox_relay_pending(
                model=OutboxEvent,
                using="default",
                producer=producer,
                older_than=timedelta(0),
                batch_size=settings.OUTBOX_RELAY_BATCH_SIZE,
            )
            if failed:
                raise RuntimeError(f"{failed} events not delivered")
            if not delivered:
                break
            sent += delivered
            progress(f"relayed {sent:,}/{args.backlog:,}")
        elapsed = time.monotonic() - started
        assert sent == args.backlog and not OutboxEvent.objects.filter(sent_at__isnull=True).exists()
        print_table(
            "Outbox relay drain (python -m bench.relay)",
            [
                Row(
                    "relay: backlog drained",
                    sent / elapsed,
                    "events/s",
                    target="≥ 20,000/s",
                    settings=f"{args.backlog:,} events, batch {settings.OUTBOX_RELAY_BATCH_SIZE:,}, "
                    f"linger 20 ms, acks=all, idempotent; {elapsed:.1f} s",
                )
            ],
        )


if __name__ == "__main__":
    main()
