"""What every lab does: talk to the running system as a user would, and narrate."""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from functools import cached_property
from pathlib import Path

from confluent_kafka import Consumer, TopicPartition
from django.conf import settings
from django.db import transaction

from catalog.models import Product, StockMovement
from config.routers import CATALOG_DB
from kafka_bridge.config import client_config
from kafka_bridge.lag import group_lag
from kafka_bridge.producer import shutdown_publisher
from orders.models import ProductReplica

ROOT = Path(settings.BASE_DIR)
DEMO_USER = "8b2c437c-c8b2-42eb-b9ff-3aa8ee4cac1e"  # the tutorial's userId (createdemousers)


def order_line(product_id: str, order_id: str, *, qty: int, unit_price: int, total: int, **extra) -> str:
    """An order event as the tutorial types it into the console producer (its JSON line,
    compact), with ``extra`` fields after its own."""
    event = {
        "productId": product_id,
        "qty": qty,
        "unitPrice": unit_price,
        "totalPrice": total,
        "orderId": order_id,
        "userId": DEMO_USER,
        **extra,
    }
    return json.dumps(event, separators=(",", ":"))


class LabFailed(Exception):
    """What the lab expected did not happen; ``str()`` says what it saw instead."""


class Lab:
    def __init__(self, out: Callable[[str], None]) -> None:
        self.out = out
        self.web = f"http://127.0.0.1:{os.environ.get('WEB_PORT', '8000')}"
        self.step_number = 0
        self.stopped: list[str] = []  # services this lab stopped and has not started again

    def restore(self) -> None:
        """Start what the lab stopped, if it ended before it could (a FAIL, an error, Ctrl-C)."""
        for service in reversed(self.stopped):
            self.out(f"   (starting {service} again, as it was before the lab)")
            subprocess.run([str(ROOT / "bin" / "stocksync"), "start", service], capture_output=True, timeout=120)
        self.stopped.clear()

    # -- narration ---------------------------------------------------------------------

    def step(self, text: str) -> None:
        self.step_number += 1
        self.out(f"\n{self.step_number}. {text}")

    def say(self, text: str) -> None:
        self.out(f"   {text}")

    def watch(self, text: str) -> None:
        self.out(f"   watch: {text}")

    def check(self, ok: bool, seen: str) -> None:
        """Say what was seen; fail the lab if it is not what was expected."""
        self.out(f"   {'ok' if ok else 'NOT AS EXPECTED'}: {seen}")
        if not ok:
            raise LabFailed(seen)

    # -- the system, as a user reaches it ------------------------------------------------

    @cached_property
    def token(self) -> str:
        """The demo user's API token (read once: every request of a lab sends it)."""
        from django.contrib.auth import get_user_model
        from rest_framework.authtoken.models import Token

        user, _ = get_user_model().objects.get_or_create(username=DEMO_USER)
        return Token.objects.get_or_create(user=user)[0].key

    def api(self, method: str, path: str, body: dict | None = None, headers: dict | None = None) -> tuple[int, dict]:
        request = urllib.request.Request(
            self.web + path,
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Authorization": f"Token {self.token}", "Content-Type": "application/json", **(headers or {})},
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, json.load(response)
        except urllib.error.HTTPError as exc:
            return exc.code, json.load(exc)

    def place(self, product_id: str, qty: int, unit_price: int | None = None) -> tuple[int, dict]:
        """Place an order as the demo user, with an Idempotency-Key; ``unit_price`` None:
        the price the order service knows (its replica)."""
        if unit_price is None:
            unit_price = ProductReplica.objects.values_list("unit_price", flat=True).get(product_id=product_id)
        body = {"productId": product_id, "qty": qty, "unitPrice": unit_price}
        return self.api("POST", f"/order-service/{DEMO_USER}/orders", body, {"Idempotency-Key": str(uuid.uuid4())})

    def place_pending(self, product_id: str, orders: int, *, why: str, unit_price: int | None = None) -> list[str]:
        """Place ``orders`` orders of one unit, check each was answered 201 PENDING (``why``
        says why that is the point), and return their orderIds."""
        placed = [self.place(product_id, 1, unit_price) for _ in range(orders)]
        answers = sorted({f"{code} {body.get('status', body)}" for code, body in placed})
        self.check(answers == ["201 PENDING"], f"{orders} orders answered: {', '.join(answers)} ({why})")
        return [body["orderId"] for _, body in placed]

    def check_decided(self, order_ids: list[str], *, wait: int) -> None:
        """Each order left PENDING (waiting up to ``wait`` s for each): CONFIRMED or REJECTED."""
        decided = [self.api("GET", f"/api/orders/{order_id}/?wait={wait}")[1]["status"] for order_id in order_ids]
        self.check(
            all(status in ("CONFIRMED", "REJECTED") for status in decided),
            f"statuses: {', '.join(f'{s} ×{decided.count(s)}' for s in sorted(set(decided)))}",
        )

    def ledger_rows(self, order_ids: list[str]) -> int:
        """The catalog's ledger rows deciding these orders (one each, if nothing was lost or doubled)."""
        return StockMovement.objects.filter(order_id__in=order_ids, kind=StockMovement.Kind.ORDER).count()

    def ready(self) -> None:
        try:
            with urllib.request.urlopen(self.web + "/readyz", timeout=10):
                self.token  # noqa: B018  (read here, before a lab's threads share it)
                return
        except (urllib.error.URLError, OSError) as exc:
            raise LabFailed(f"the system is not ready at {self.web} ({exc}): start it with `make run` first") from exc

    def catalog_lag(self) -> int:
        """Messages the catalog's consumer group has yet to read on the order-events topic."""
        lags = group_lag(group_id=settings.CATALOG_CONSUMER_GROUP, topics=[settings.ORDER_EVENTS_TOPIC])
        return sum(p.lag for p in lags)

    def products_create(self, product_ids: list[str], *, name: str, stock: int, price: int) -> None:
        """New products in the catalog (as if added in the admin), once the order service's
        replica knows them (their snapshots travel on the catalog-products topic)."""
        with transaction.atomic(using=CATALOG_DB):
            for product_id in product_ids:
                Product.objects.create(product_id=product_id, product_name=name, stock=stock, unit_price=price)
        shutdown_publisher(timeout=10)  # their snapshots are on Kafka: the order service will learn of them
        known = self.wait(
            "the order service to learn of them",
            lambda: ProductReplica.objects.filter(product_id__in=product_ids).count() == len(product_ids),
            60,
        )
        self.check(known, f"the order service's replica has {len(product_ids)} new product(s) (catalog-products topic)")

    def kafka(self, tool: str, *args: str, stdin: str | None = None, timeout: float = 120) -> str:
        """One of Kafka's own tools (bin/kafka-topics, …) against the running broker, shown as typed."""
        command = [str(ROOT / "bin" / tool), "--bootstrap-server", settings.KAFKA_BOOTSTRAP_SERVERS, *args]
        self.say(f"$ bin/{tool} " + " ".join(command[1:]))
        for line in (stdin or "").splitlines():
            self.say(f"> {line}")
        run = subprocess.run(command, input=stdin, capture_output=True, text=True, timeout=timeout)
        if run.returncode != 0:
            raise LabFailed(f"bin/{tool} failed: {(run.stderr or run.stdout).strip()[-500:]}")
        return run.stdout

    def topic_mark(self, topic: str) -> dict[int, int]:
        """Where each partition of ``topic`` ends now: read from here with ``messages_since``."""
        consumer = Consumer(client_config(**{"group.id": f"lab-{uuid.uuid4()}", "enable.auto.commit": False}))
        try:
            partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
            return {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in partitions}
        finally:
            consumer.close()

    def messages_since(self, topic: str, mark: dict[int, int]) -> list[dict]:
        """The JSON messages written to ``topic`` since ``mark`` (up to the end as it is now)."""
        consumer = Consumer(client_config(**{"group.id": f"lab-{uuid.uuid4()}", "enable.auto.commit": False}))
        try:
            ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in mark}
            consumer.assign([TopicPartition(topic, p, offset) for p, offset in mark.items() if ends[p] > offset])
            found: list[dict] = []
            left = sum(ends[p] - offset for p, offset in mark.items())
            deadline = time.monotonic() + 30
            while left > 0 and time.monotonic() < deadline:
                message = consumer.poll(0.5)
                if message is None or message.error() is not None:
                    continue
                left -= 1
                try:
                    found.append(json.loads(message.value()))
                except ValueError:
                    pass  # not JSON (a poison message of another lab): not an event here
            return found
        finally:
            consumer.close()

    def catalog_partitions(self) -> list[int]:
        """The partitions of the order-events topic (as the catalog's group sees them)."""
        lags = group_lag(group_id=settings.CATALOG_CONSUMER_GROUP, topics=[settings.ORDER_EVENTS_TOPIC])
        return [p.partition for p in lags]

    def stocksync(self, *args: str) -> str:
        """bin/stocksync, as the lab's reader would type it."""
        self.say("$ bin/stocksync " + " ".join(args))
        run = subprocess.run([str(ROOT / "bin" / "stocksync"), *args], capture_output=True, text=True, timeout=60)
        if run.returncode != 0:
            raise LabFailed(f"bin/stocksync {' '.join(args)} failed: {run.stderr.strip() or run.stdout.strip()}")
        if args[:1] == ("stop",):
            self.stopped.append(args[1])
        elif args[:1] == ("start",) and args[1] in self.stopped:
            self.stopped.remove(args[1])
        return run.stdout

    def wait(self, what: str, condition: Callable[[], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                self.say(f"(gave up waiting for {what} after {timeout:g} s)")
                return False
            time.sleep(0.5)
        return True
