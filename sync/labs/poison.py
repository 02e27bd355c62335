"""Bad messages on the topic: each is dead-lettered with its reason, and the good one after them applies.

Anyone can write to a topic: the tutorial itself types events into the console producer.
The catalog's consumer checks every event before it touches stock; one it can never apply
goes to the dead-letter topic (example-catalog-topic.DLT) with the reason in its headers,
its offset is committed, and the events behind it go on. A poison message never stalls
the consumer.
"""

from __future__ import annotations

import io
import time
import uuid

from django.conf import settings
from django.core.management import call_command

from catalog.models import Product, StockMovement
from kafka_bridge.config import dead_letter_topic
from kafka_bridge.lag import topic_size
from sync.labs.toolkit import Lab, order_line

QTY, PRICE, STOCK = 2, 1000, 10


def event(product_id: str, order_id: str, *, total: int) -> str:
    """An order event as the tutorial types it (its JSON line)."""
    return order_line(product_id, order_id, qty=QTY, unit_price=PRICE, total=total)


def deadletters(lab: Lab, *args: str) -> str:
    lab.say("$ python manage.py deadletters " + " ".join(args))
    out = io.StringIO()
    call_command("deadletters", *args, stdout=out)
    return out.getvalue()


def run(lab: Lab) -> str:
    lab.ready()
    dlt = dead_letter_topic(settings.ORDER_EVENTS_TOPIC)
    product_id = f"LAB-POISON-{int(time.time())}"
    lab.step(f"A product to order, {product_id}, with {STOCK} units.")
    lab.products_create([product_id], name="Poison lab", stock=STOCK, price=PRICE)
    before = topic_size(topic=dlt)
    lab.say(f"{dlt} holds {before} message(s)")

    malformed = '{"productId":"' + product_id + '","qty":'  # cut short: not JSON
    fixed_later, good = str(uuid.uuid4()), str(uuid.uuid4())
    inconsistent = event(product_id, fixed_later, total=999)  # 2 × 1000 is not 999
    lab.step("Type three lines into the console producer, as the tutorial does: broken, inconsistent, good.")
    lines = [malformed, inconsistent, event(product_id, good, total=QTY * PRICE)]
    lab.kafka("kafka-console-producer", "--topic", settings.ORDER_EVENTS_TOPIC, stdin="\n".join(lines) + "\n")
    lab.watch("/live/: the dead letters of example-catalog-topic.DLT rise by 2; the ledger by 1.")

    lab.step("The good line behind them is applied: the bad ones did not stall the consumer.")
    applied = lab.wait("the good line to be applied", StockMovement.objects.filter(order_id=good).exists, timeout=60)
    row = StockMovement.objects.filter(order_id=good).first()
    lab.check(applied and row.outcome == "applied", f"ledger: order {good[:8]}… {row.outcome if row else 'missing'}")

    lab.step("The two bad ones are on the dead-letter topic, each with its reason.")
    lab.wait("both to be dead-lettered", lambda: topic_size(topic=dlt) >= before + 2, timeout=30)
    listing = deadletters(lab, "list")
    new = [
        line for line in listing.splitlines() if product_id in line or "not JSON" in line or "totalPrice 999" in line
    ]
    for line in listing.splitlines()[:2] + new[-2:]:
        lab.say(line)
    lab.check(topic_size(topic=dlt) == before + 2, f"{dlt}: {before} → {topic_size(topic=dlt)} message(s)")
    lab.check(
        any("not JSON" in line for line in new)
        and any("totalPrice 999 is not qty × unitPrice" in line for line in new),
        "reasons: not JSON; totalPrice 999 is not qty × unitPrice (2 × 1000)",
    )

    lab.step("Send the inconsistent one back unchanged: the rule has not changed, so it is refused again.")
    letter_id = next(line.split()[0] for line in reversed(new) if "totalPrice 999" in line)
    deadletters(lab, "replay", letter_id)
    again = lab.wait(
        "it to come back to the dead-letter topic", lambda: topic_size(topic=dlt) >= before + 3, timeout=30
    )
    lab.check(
        again,
        f"dead-lettered again ({dlt}: {topic_size(topic=dlt)}): a replay is for after a fix on the consumer's side",
    )

    lab.step("The fix is the producer's: it sends the order's event again, with the right total.")
    lab.kafka(
        "kafka-console-producer",
        "--topic",
        settings.ORDER_EVENTS_TOPIC,
        stdin=event(product_id, fixed_later, total=QTY * PRICE) + "\n",
    )
    fixed = lab.wait(
        "the fixed event to be applied", StockMovement.objects.filter(order_id=fixed_later).exists, timeout=60
    )
    lab.check(fixed, f"ledger: order {fixed_later[:8]}… applied")
    stock = Product.objects.get(product_id=product_id).stock
    lab.check(stock == STOCK - 2 * QTY, f"stock {STOCK} → {stock}: the good line and the fixed one, once each")
    return f"2 bad lines dead-lettered with their reasons, the good line and the fixed one applied, stock {stock}"
