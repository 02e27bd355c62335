"""The baseline: the tutorial's consumer, one event at a time.

For each message: parse it, find the product, lower its stock, save, write the ledger
row, commit the transaction, commit the offset. Exactly-once in effect like ours (the
ledger row), but one transaction, one fsync and one synchronous offset commit per event.
It lives here, not in the product.

    python -m bench.baseline_consumer --topic T --group-id G --limit N
"""

import argparse
import json
import os

import django


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--topic", required=True)
    parser.add_argument("--group-id", required=True)
    parser.add_argument("--limit", type=int, required=True)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()

    from confluent_kafka import Consumer
    from django.db import transaction

    from catalog.models import Product, StockMovement
    from kafka_bridge.config import consumer_config

    consumer = Consumer(consumer_config(group_id=args.group_id, offset_reset="earliest"))
    consumer.subscribe([args.topic])
    done = 0
    try:
        while done < args.limit:
            message = consumer.poll(1.0)
            if message is None or message.error():
                continue
            event = json.loads(message.value())
            with transaction.atomic(using="catalog"):
                if not StockMovement.objects.filter(order_id=event["orderId"]).exists():
                    product = Product.objects.select_for_update().get(product_id=event["productId"])
                    product.stock -= event["qty"]
                    product.save(update_fields=["stock"])
                    StockMovement.objects.create(
                        order_id=event["orderId"],
                        product_id=product.product_id,
                        delta=-event["qty"],
                        stock_after=product.stock,
                        topic=message.topic(),
                        partition=message.partition(),
                        offset=message.offset(),
                    )
            consumer.commit(message=message, asynchronous=False)
            done += 1
    finally:
        consumer.close()


if __name__ == "__main__":
    main()
