"""The floor under any consumer written in Python: fetch, parse each event, COPY a row.

For each batch of up to ``--batch-size`` messages: ``orjson.loads`` each value, write one
ledger row per event into ``catalog_stockmovement`` with ``COPY``, commit. Nothing else:
no validation, no product locks, no duplicate check, no decision, no stock, no results
on Kafka, no offset commits. It is not a consumer anyone should run (it would double
every event redelivered); ``bench.consumer`` measures it to show how much of the bare
``COPY`` ceiling Kafka and one Python process leave to the real consumer's work.

    python -m bench.floor_consumer --topic T --group-id G --limit N [--batch-size 5000]
"""

import argparse
import os
from datetime import UTC, datetime

import django


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--topic", required=True)
    parser.add_argument("--group-id", required=True)
    parser.add_argument("--limit", type=int, required=True)
    parser.add_argument("--batch-size", type=int, default=5000)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()

    import orjson
    from confluent_kafka import Consumer
    from django.db import connections, transaction

    from catalog.fast.stock_sql import ledger_copy  # the consumer's own COPY: same columns, same text
    from kafka_bridge.config import consumer_config

    consumer = Consumer(consumer_config(group_id=args.group_id, offset_reset="earliest"))
    consumer.subscribe([args.topic])
    done = 0
    try:
        while done < args.limit:
            messages = [m for m in consumer.consume(args.batch_size, timeout=1.0) if not m.error()]
            if not messages:
                continue
            now = datetime.now(UTC)
            rows = []
            for message in messages:
                event = orjson.loads(message.value())
                rows.append(
                    (
                        event["orderId"],
                        "order",
                        "applied",
                        "",
                        event["productId"],
                        -event["qty"],
                        0,
                        message.topic(),
                        message.partition(),
                        message.offset(),
                    )
                )
            with transaction.atomic(using="catalog"), connections["catalog"].cursor() as cursor:
                ledger_copy(cursor, rows, applied_at=now)
            done += len(messages)
    finally:
        consumer.close()


if __name__ == "__main__":
    main()
