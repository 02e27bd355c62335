"""The consumer's Python per event, step by step, in one process: no Kafka, no database.

    python -m bench.hot_path [--events 5000] [--heap 300000]

Builds ``--events`` order events as consumed messages (confluent-kafka ``Message``s) and
times each step the catalog's consumer takes on a batch of them, the mean of 20 runs, in
µs per event: decoding into records, the rules, the replies, the ledger's COPY text. Beside each
step it times what the step used to be, so a change's gain can be re-measured:

* decoding: msgspec Structs, against orjson plus our checks in Python into frozen
  dataclasses (the checks that now only word a refusal);
* the COPY text: ``ledger_copy``'s one string, against psycopg's ``write_row`` per row;
* a batch end to end, on a heap of ``--heap`` long-lived objects (what a consumer process
  holds): with the collector's defaults, and frozen with the first generation at
  ``GC_FIRST_GENERATION`` (``kafka_bridge.runner``).

What PostgreSQL and Kafka add is measured by ``bench.consumer``, against its ceiling.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bench.common import Row, print_table

RUNS = 20


def per_event(n: int, work: Callable[[], Any]) -> float:
    """µs per event of ``work`` over ``n`` events: the mean of ``RUNS`` runs. The mean, not
    the best: the collector's full collections come every few batches, and are part of
    what a batch costs."""
    started = time.perf_counter()
    for _ in range(RUNS):
        work()
    return (time.perf_counter() - started) / RUNS / n * 1e6


@dataclass(frozen=True, slots=True)
class FrozenEvent:
    """The order event as it was: a frozen dataclass (what decoding built before msgspec)."""

    product_id: str
    qty: int
    unit_price: int
    total_price: int
    order_id: str
    user_id: str
    event_type: str


@dataclass(frozen=True, slots=True)
class FrozenRecord:
    """A consumed record as it was: a frozen dataclass."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int | None
    key: bytes | None
    value: bytes | None
    event: FrozenEvent


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=5000, help="events in the batch (default: %(default)s)")
    parser.add_argument("--heap", type=int, default=300_000, help="long-lived objects (default: %(default)s)")
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()

    import orjson
    from confluent_kafka import Message
    from psycopg.adapt import Transformer
    from psycopg_binary._psycopg import format_row_text  # what Copy.write_row runs per row

    from catalog.consumers import OrderEventsHandler
    from catalog.reservations import ProductState, reserve_or_reject
    from catalog.stock_sql import ledger_rows, ledger_text
    from kafka_bridge.consumer import BatchConsumer
    from kafka_bridge.events import OrderEvent, _order_event_reason
    from kafka_bridge.runner import GC_FIRST_GENERATION

    n = args.events
    rng = random.Random(1)
    product_ids = [f"P-{i:05d}" for i in range(1000)]
    now_ms = int(time.time() * 1000)
    messages = []
    for offset in range(n):
        pid, qty = product_ids[rng.randrange(1000)], rng.randint(1, 5)
        event = OrderEvent(pid, qty, 100, qty * 100, str(uuid.UUID(int=rng.getrandbits(128))), "bench")
        messages.append(
            Message(
                topic="orders",
                partition=1,
                offset=offset,
                key=pid.encode(),
                value=event.to_json(),
                timestamp=(1, now_ms),
            )
        )
    handler = OrderEventsHandler()
    products = {pid: ProductState(10**12, True) for pid in product_ids}

    loop = BatchConsumer(handlers={"orders": handler}, group_id="bench-hot-path")

    def decode() -> list:  # the consume loop's own, positions included
        return loop._decode(messages).by_topic["orders"]

    def decode_before() -> list:
        out = []
        for m in messages:
            data = orjson.loads(m.value())
            _order_event_reason(data)  # every check, field by field
            event = FrozenEvent(
                data["productId"],
                data["qty"],
                data["unitPrice"],
                data["totalPrice"],
                data["orderId"],
                data["userId"],
                data.get("eventType", "OrderPlaced"),
            )
            out.append(
                FrozenRecord(m.topic(), m.partition(), m.offset(), m.timestamp()[1], m.key(), m.value(), event)  # type: ignore[arg-type]
            )
        return out

    records = decode()
    decisions = reserve_or_reject(records=records, products=products, decided={})
    rows = ledger_rows(decisions.movements)
    applied_at = datetime.now(UTC)
    transformer = Transformer()

    def copy_text() -> str | None:
        return ledger_text(rows, applied_at=applied_at)

    def copy_rows() -> bytearray:
        out = bytearray()
        for row in rows:
            format_row_text((*row, applied_at), transformer, out)
        return out

    def batch() -> None:  # the consumer's Python on one batch, end to end
        got = decode()
        decided = reserve_or_reject(records=got, products=products, decided={})
        [("t", r.order_id.encode(), r.to_json(), None) for r in decided.results]
        ledger_rows(decided.movements)

    heap = [{"n": [i]} for i in range(args.heap)]  # noqa: F841  what a consumer process holds
    defaults = per_event(n, batch)
    gc.freeze()
    threshold = gc.get_threshold()
    gc.set_threshold(GC_FIRST_GENERATION, *threshold[1:])
    table = [
        Row(
            "decode into records: msgspec",
            per_event(n, decode),
            "µs/event",
            settings="BatchConsumer._decode: OrderEvent.from_json, Record",
        ),
        Row("decode before: orjson + checks + frozen dataclasses", per_event(n, decode_before), "µs/event"),
        Row(
            "rules: reserve_or_reject",
            per_event(n, lambda: reserve_or_reject(records=records, products=products, decided={})),
            "µs/event",
        ),
        Row(
            "replies: (topic, key, JSON) per result",
            per_event(n, lambda: [(r.order_id.encode(), r.to_json()) for r in decisions.results]),
            "µs/event",
        ),
        Row(
            "ledger COPY text: one string",
            per_event(n, copy_text),
            "µs/event",
            settings="catalog.stock_sql.ledger_copy",
        ),
        Row(
            "ledger COPY text before: write_row per row",
            per_event(n, copy_rows),
            "µs/event",
            settings="psycopg's C format_row_text",
        ),
        Row(
            "a batch end to end, collector defaults", defaults, "µs/event", settings=f"{args.heap:,} long-lived objects"
        ),
        Row(
            "a batch end to end, heap frozen, first generation 50,000",
            per_event(n, batch),
            "µs/event",
            settings="kafka_bridge.runner",
        ),
    ]
    gc.set_threshold(*threshold)
    gc.unfreeze()
    print_table(f"The consumer's Python per event (python -m bench.hot_path), batch of {n:,}", table)


if __name__ == "__main__":
    main()
