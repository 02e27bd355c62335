"""Read the whole topic again (the tutorial's --from-beginning): every event comes back, stock does not move.

Kafka keeps the events after they are read; a consumer group's offsets only say where it
is. Moving them back to the start redelivers everything. The catalog's ledger already
holds each order's decision, so every redelivered event is skipped (and answered again as
first decided): at-least-once delivery, exactly-once effect.
"""

from __future__ import annotations

import subprocess
import time

from django.conf import settings

from catalog.models import Product, StockMovement
from sync.labs.toolkit import ROOT, Lab, LabFailed


def reset_to_earliest(lab: Lab) -> str:
    command = [
        str(ROOT / "bin" / "kafka-consumer-groups"),
        "--bootstrap-server",
        settings.KAFKA_BOOTSTRAP_SERVERS,
        "--group",
        settings.CATALOG_CONSUMER_GROUP,
        "--topic",
        settings.ORDER_EVENTS_TOPIC,
        "--reset-offsets",
        "--to-earliest",
        "--execute",
    ]
    lab.say("$ bin/kafka-consumer-groups " + " ".join(command[1:]))
    deadline = time.monotonic() + 60
    while True:
        run = subprocess.run(command, capture_output=True, text=True, timeout=120)
        moved = [line for line in run.stdout.splitlines() if line.split()[:1] == [settings.CATALOG_CONSUMER_GROUP]]
        if run.returncode == 0 and moved and "Error" not in run.stdout:
            return run.stdout
        # Refused while the group is not yet empty: a member that just left is still
        # leaving (the group rebalances first).
        if time.monotonic() > deadline:
            raise LabFailed(f"the offset reset was refused for 60 s: {(run.stderr or run.stdout).strip()[-300:]}")
        time.sleep(2)


def run(lab: Lab) -> str:
    lab.ready()
    lab.step("What the catalog holds now: stock and ledger.")
    stock = dict(Product.objects.values_list("product_id", "stock"))
    ledger = StockMovement.objects.count()
    lab.say(f"stock {stock}; {ledger} ledger rows")

    lab.step("Stop the consumer: a group's offsets can be moved only while it has no members.")
    lab.stocksync("stop", "catalog-consumer")

    lab.step("Move the group's offsets back to the start of the topic.")
    for line in reset_to_earliest(lab).strip().splitlines():
        lab.say(line)
    backlog = lab.catalog_lag()
    lab.check(backlog > 0, f"lag {backlog}: every event still on the topic will be delivered again")

    lab.step("Start the consumer: it reads the whole topic again.")
    lab.stocksync("start", "catalog-consumer")
    lab.watch("/live/: the lag jumps to the topic's size and falls to 0, while the ledger and the stock stay still.")
    drained = lab.wait("the topic to be read again", lambda: lab.catalog_lag() == 0, timeout=120)
    lab.check(drained, f"{backlog} events redelivered and read (lag 0)")

    lab.step("Nothing moved: each event was already in the ledger, so each was skipped.")
    after = dict(Product.objects.values_list("product_id", "stock"))
    lab.check(after == stock, f"stock {after}: the same")
    lab.check(StockMovement.objects.count() == ledger, f"{StockMovement.objects.count()} ledger rows: the same")
    return f"{backlog} events delivered twice, stock and ledger unchanged"
