"""A schema change: an optional field passes, a rename is refused, and how a rename is really done.

The order service and the catalog are deployed apart; they agree only on the shape of the
message. Each topic keeps a compatibility rule (contracts/topics.py), and
`manage.py contracts --check` (in `make lint`) holds every new schema version to it.
This lab changes the order event three ways, in a copy of contracts/schemas/ (your tree
is not touched), and sends the new shapes to the running catalog with Kafka's console
producer.
"""

from __future__ import annotations

import io
import json
import shutil
import tempfile
import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import msgspec
from django.conf import settings
from django.core.management import call_command

from catalog.models import Product, StockMovement
from contracts import registry
from contracts.events import OrderEvent, Quantity
from contracts.topics import ORDER_EVENTS
from kafka_bridge.config import dead_letter_topic
from kafka_bridge.lag import topic_size
from sync.labs.toolkit import Lab, order_line

QTY, PRICE, STOCK = 1, 1000, 20
CouponCode = Annotated[str, msgspec.Meta(max_length=32)]


def order_event_type(*, add: list[tuple[str, Any, Any]] = (), drop: tuple[str, ...] = ()) -> type:
    """contracts/events.py's OrderEvent as it would be after an edit: fields added
    (name, type, default) or dropped. Named OrderEvent, as the edited class would be."""
    fields: list[tuple[str, Any] | tuple[str, Any, Any]] = []
    for f in msgspec.structs.fields(OrderEvent):
        if f.name not in drop:
            fields.append((f.name, f.type) if f.default is msgspec.NODEFAULT else (f.name, f.type, f.default))
    required = [f for f in fields if len(f) == 2] + [f for f in add if f[2] is msgspec.NODEFAULT]
    optional = [f for f in fields if len(f) == 3] + [f for f in add if f[2] is not msgspec.NODEFAULT]
    listed = [(n, t) for n, t, *_ in required] + list(optional)
    return msgspec.defstruct("OrderEvent", listed, frozen=True, rename="camel")


class Schemas:
    """A copy of contracts/schemas/, where the lab writes and checks its versions."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.root = Path(tempfile.mkdtemp(prefix="stocksync-schemas-")) / "schemas"
        shutil.copytree(registry.SCHEMAS, self.root)

    def reset(self) -> None:
        shutil.rmtree(self.root)
        shutil.copytree(registry.SCHEMAS, self.root)

    def write(self, edited: type, what: str) -> None:
        self.lab.say(f"edit contracts/events.py: {what}")
        self.lab.say("$ python manage.py contracts --write")
        for path in registry.write(topics=(replace(ORDER_EVENTS, messages=(edited,)),), root=self.root):
            newest = registry.latest(ORDER_EVENTS.name, "OrderEvent", self.root)
            fields = ", ".join(newest.schema["properties"])
            self.lab.say(f"wrote contracts/schemas/{path.parent.name}/{path.name}: fields {fields}")

    def check(self) -> tuple[bool, str]:
        self.lab.say("$ python manage.py contracts --check")
        out, err = io.StringIO(), io.StringIO()
        try:
            call_command("contracts", "--check", "--schemas", str(self.root), stdout=out, stderr=err)
            passed = True
        except SystemExit:
            passed = False
        said = (out.getvalue() + err.getvalue()).strip()
        for line in said.splitlines():
            self.lab.say(f"  {line}")
        self.lab.say(f"  (exit {0 if passed else 1})")
        return passed, said

    def remove(self) -> None:
        shutil.rmtree(self.root.parent, ignore_errors=True)


def line(product_id: str, order_id: str, **extra: Any) -> str:
    """An order event as the console producer takes it: the tutorial's fields, plus ``extra``."""
    return order_line(product_id, order_id, qty=QTY, unit_price=PRICE, total=QTY * PRICE, **extra)


def renamed_line(product_id: str, order_id: str) -> str:
    """The same event with ``qty`` renamed to ``quantity``: what a producer deployed early sends."""
    event = json.loads(line(product_id, order_id))
    return json.dumps({("quantity" if k == "qty" else k): v for k, v in event.items()}, separators=(",", ":"))


def applied(order_id: str) -> bool:
    return StockMovement.objects.filter(order_id=order_id, outcome="applied").exists()


def run(lab: Lab) -> str:
    lab.ready()
    schemas = Schemas(lab)
    try:
        return _run(lab, schemas)
    finally:
        schemas.remove()


def _run(lab: Lab, schemas: Schemas) -> str:
    topic, dlt = settings.ORDER_EVENTS_TOPIC, dead_letter_topic(settings.ORDER_EVENTS_TOPIC)
    product_id = f"LAB-SCHEMA-{int(time.time())}"
    lab.step(f"A product to order, {product_id}, with {STOCK} units. The topic's rule:")
    lab.products_create([product_id], name="Schema lab", stock=STOCK, price=PRICE)
    lab.say(f"{ORDER_EVENTS.name}: {ORDER_EVENTS.rule} ({ORDER_EVENTS.why})")

    # -- 1. an optional field ---------------------------------------------------------
    lab.step("Part 1: add an optional field, couponCode, to the order event.")
    schemas.write(
        order_event_type(add=[("coupon_code", CouponCode | None, None)]),
        "coupon_code: CouponCode | None = None",
    )
    passed, _ = schemas.check()
    lab.check(passed, "contracts --check passes: old events still read (the field is optional), old readers skip it")
    with_coupon, old_shape = str(uuid.uuid4()), str(uuid.uuid4())
    lab.step("Send one event with the new field and one without, to the running catalog (not redeployed).")
    lab.kafka(
        "kafka-console-producer",
        "--topic",
        topic,
        stdin=line(product_id, with_coupon, couponCode="WELCOME10") + "\n" + line(product_id, old_shape) + "\n",
    )
    both = lab.wait("both to be applied", lambda: applied(with_coupon) and applied(old_shape), timeout=60)
    lab.check(both, f"ledger: order {with_coupon[:8]}… (with couponCode) and {old_shape[:8]}… (without) applied")

    # -- 2. a rename ------------------------------------------------------------------
    lab.step("Part 2: rename qty to quantity.")
    schemas.reset()
    schemas.write(
        order_event_type(add=[("quantity", Quantity, msgspec.NODEFAULT)], drop=("qty",)),
        "qty → quantity",
    )
    passed, said = schemas.check()
    lab.check(
        not passed and "BACKWARD_TRANSITIVE" in said and "field 'qty' renamed to 'quantity'" in said,
        "contracts --check refuses it, naming the rule (BACKWARD_TRANSITIVE) and the field (qty → quantity)",
    )
    lab.step("A producer that shipped it anyway: type the new shape into the console producer, then a good order.")
    renamed, good = str(uuid.uuid4()), str(uuid.uuid4())
    before = topic_size(topic=dlt)
    lab.kafka(
        "kafka-console-producer",
        "--topic",
        topic,
        stdin=renamed_line(product_id, renamed) + "\n" + line(product_id, good) + "\n",
    )
    lab.watch(f"/live/: the dead letters of {dlt} rise by 1; the ledger by 1.")
    lab.check(
        lab.wait("the good order to be applied", lambda: applied(good), timeout=60),
        f"ledger: the good order {good[:8]}… behind it applied",
    )
    lab.wait("the renamed one to be dead-lettered", lambda: topic_size(topic=dlt) >= before + 1, timeout=30)
    out = io.StringIO()
    lab.say("$ python manage.py deadletters list")
    call_command("deadletters", "list", stdout=out)
    letter = next((row for row in reversed(out.getvalue().splitlines()) if "missing field 'qty'" in row), "")
    lab.say(letter)
    lab.check(
        bool(letter) and not StockMovement.objects.filter(order_id=renamed).exists(),
        f"{dlt}: the renamed event, with its reason: missing field 'qty'; the stock did not move for it",
    )

    # -- 3. expand, migrate, contract -------------------------------------------------
    lab.step("Part 3: how a rename is really done. Expand: add quantity, optional, beside qty.")
    schemas.reset()
    schemas.write(order_event_type(add=[("quantity", Quantity | None, None)]), "quantity: Quantity | None = None")
    lab.check(schemas.check()[0], "expand passes: nobody has to send quantity yet")
    lab.step("Migrate: the order service writes both fields; the catalog reads quantity, and qty when it is missing.")
    lab.say("no schema change: both fields are already in v2. Deploy the writer, then the reader, in either order.")
    lab.step("Tempting, and refused: make quantity required.")
    schemas.write(
        order_event_type(add=[("quantity", Quantity, msgspec.NODEFAULT)], drop=()),
        "quantity: Quantity (required)",
    )
    passed, said = schemas.check()
    lab.check(
        not passed and "OrderEvent v1" in said,
        "refused: the topic still holds v1 events without quantity, and a replay reads them all (the _TRANSITIVE)",
    )
    (schemas.root / ORDER_EVENTS.name / "OrderEvent.v3.json").unlink()
    lab.step("Contract: drop qty, once no writer sends it. quantity stays optional; the reader keeps its fallback.")
    schemas.write(order_event_type(add=[("quantity", Quantity | None, None)], drop=("qty",)), "drop qty")
    lab.check(schemas.check()[0], "contract passes: each step was compatible with every earlier version")
    stock = Product.objects.get(product_id=product_id).stock
    lab.check(stock == STOCK - 3 * QTY, f"stock {STOCK} → {stock}: the three good orders, once each")
    return (
        "an optional field passed and was applied; the rename was refused by the check and dead-lettered "
        "by the catalog; expand and contract passed"
    )
