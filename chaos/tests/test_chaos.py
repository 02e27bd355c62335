"""The fault-injection suite: its checker on real databases, and a short run of the whole thing."""

import subprocess
import sys
import uuid

import pytest
from django.test import override_settings

from catalog.models import Product, StockMovement
from chaos.run import FAULTS, check
from orders.models import Order
from testsupport.helpers import ROOT, manage_env

pytestmark = pytest.mark.integration


@pytest.mark.django_db(databases=["default", "catalog"], transaction=True)
@override_settings(OUTBOX_PUBLISH_ON_COMMIT=False)
def test_checker_counts_lost_doubled_orphaned_and_misreported_orders():
    env = manage_env()
    Product.objects.create(product_id="P", product_name="p", stock=100 - 3 - 7, unit_price=1)
    applied, lost, refused = (
        Order.objects.create(user_id="u", product_id="P", qty=3, unit_price=1, total_price=3) for _ in "abc"
    )
    Order.objects.filter(pk=refused.pk).update(status="CONFIRMED")  # the catalog said REJECTED
    for order_id, outcome, delta in ((applied.order_id, "applied", -3), (refused.order_id, "rejected", 0)):
        StockMovement.objects.create(
            order_id=str(order_id), outcome=outcome, product_id="P", delta=delta, topic="t", partition=0, offset=0
        )
    StockMovement.objects.create(
        order_id=str(uuid.uuid4()), product_id="P", delta=-7, stock_after=90, topic="t", partition=0, offset=1
    )
    result = check(orders_url=env["ORDERS_DATABASE_URL"], catalog_url=env["CATALOG_DATABASE_URL"], initial={"P": 100})
    assert result["orders"] == 3
    assert result["lost"] == 1
    assert (result["pending"], result["wrong_status"]) == (2, 1)
    assert result["ledger_without_order"] == 1
    # 10 units left the stock; the one applied order holds 3.
    assert (result["stock_units_doubled"], result["stock_units_missing"]) == (7, 0)


@pytest.mark.django_db(databases=["default", "catalog"], transaction=True)
@override_settings(OUTBOX_PUBLISH_ON_COMMIT=False)
def test_load_counts_orders_a_retry_placed_twice():
    import random

    from chaos.run import Load
    from orders.models import IdempotencyKey

    def order(key: str | None) -> str:
        placed = Order.objects.create(user_id="u", product_id="P", qty=1, unit_price=1, total_price=1)
        if key is not None:
            IdempotencyKey.objects.create(client="c", key=key, fingerprint="f", order=placed, response_body={})
        return str(placed.order_id)

    answered, named_twice_a, named_twice_b = order("k1"), order("k2"), order(None)
    order("k3")  # its client never learned of it (k3 unknown): counted there, not here
    order(None)  # placed, and no answer ever named it: a second placement
    load = Load(port=0, rate=1, products=[], rng=random.Random(0), token="")
    load.learned = {"k1": {answered}, "k2": {named_twice_a, named_twice_b}}
    load.unknown = {"k3"}

    assert load.duplicates(manage_env()["ORDERS_DATABASE_URL"]) == 2


@pytest.mark.parametrize("mode", [[], ["--fast"], ["--relay", "debezium"]], ids=["default", "fast", "debezium"])
def test_short_chaos_run_loses_and_doubles_nothing(mode):
    run = subprocess.run(
        [sys.executable, "-m", "chaos.run", "--duration", "35", "--rate", "15", "--fault-every", "4", *mode],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout[-5000:] + run.stderr[-3000:]
    assert "PASSED: nothing lost, nothing doubled." in run.stdout
    assert "  orders whose client never learned the outcome  0" in run.stdout
    assert "  duplicate orders from client retries           0" in run.stdout
    table = dict(line.strip().rsplit("  ", 1) for line in run.stdout.splitlines() if line.startswith("  fault: "))
    assert {f"fault: {name}".strip() for name in FAULTS} <= {k.strip() for k in table}
    assert all(int(v) >= 1 for v in table.values()), table


def test_short_cluster_run_loses_and_doubles_nothing_and_reports_stalls():
    run = subprocess.run(
        # Long enough for two faults, each alone in its window after the cluster is whole again.
        [sys.executable, "-m", "chaos.run", "--cluster", "--duration", "90", "--rate", "15", "--fault-every", "10"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert run.returncode == 0, run.stdout[-5000:] + run.stderr[-3000:]
    assert "PASSED: nothing lost, nothing doubled." in run.stdout
    assert "fault: kill_broker_node" in run.stdout and "fault: kill_consumer" in run.stdout
    stall_lines = [line for line in run.stdout.splitlines() if "stall after" in line]
    assert len(stall_lines) >= 2 and all("order acceptance" in line for line in stall_lines)


def test_stall_is_the_longest_wait_after_the_fault():
    from chaos.run import stalls

    accepted = [9.9, 10.2, 10.3, 13.0, 13.1]
    applied = [9.8, 10.1, 25.0]
    assert stalls([("kill_broker_node", 10.0)], accepted, applied) == [
        ("kill_broker_node", pytest.approx(2.7), pytest.approx(14.9))
    ]


def test_a_killed_member_holding_a_partition_without_events_is_reported_not_a_crash():
    from chaos.run import partition_stalls

    applied = {0: [1.0, 2.0, 12.0], 1: [1.0, 11.0]}  # partition 2: no product's key hashes to it
    rows = dict(partition_stalls([("kill_consumer", 10.0)], {0: [0, 2]}, applied, window=5))
    assert rows["kill_consumer #1: partitions of the killed member"].startswith("[0] 2.00 s")
    assert "[2] no events" in rows["kill_consumer #1: partitions of the killed member"]
    assert rows["kill_consumer #1: the other members' partitions"].startswith("[1] ")
