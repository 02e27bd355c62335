"""Orders that learn their outcome, end to end on the real broker and PostgreSQL:
order → catalog decides → result → order status; cancellation → stock back once;
the catalog's products → the order service's replica → validation."""

import threading
import time
import uuid

import orjson
import pytest
from django.db import connections

from catalog.models import Product, StockMovement
from contracts.events import OrderResult
from kafka_bridge.producer import shutdown_publisher
from orders.models import Order, ProductReplica
from orders.services import order_create
from testsupport.helpers import (
    api_client,
    consume_orders,
    consume_results,
    manage,
    manage_env,
    produce,
    read_topic,
    stock_of,
)

pytestmark = [pytest.mark.integration, pytest.mark.django_db(databases=["default", "catalog"], transaction=True)]


def settle(topic):
    """What the running system does: the catalog decides, the order service hears back."""
    shutdown_publisher()  # every event queued so far is on the broker
    catalog = consume_orders(topic, group_id="catalog", idle=2)
    shutdown_publisher()  # and every result
    consume_results(group_id="orders", idle=2)
    return catalog


def status_of(order_id):
    order = Order.objects.get(order_id=order_id)
    return order.status, order.reason


def test_orders_for_the_last_units_racing_on_two_partitions_confirm_exactly_stock_many(topics, replica):
    Product.objects.filter(product_id="CATALOG-001").update(stock=7)
    orders = [order_create(user_id=f"u{i}", product_id="CATALOG-001", qty=1, unit_price=1000) for i in range(30)]
    shutdown_publisher()
    # Keyed by product, one product's orders share a partition. Here the same orders also
    # arrive on other partitions (as after a producer re-keyed them), read by two
    # consumers at once: the product's row lock must keep them from overselling.
    from orders.outbox import order_event

    topic = topics["ORDER_EVENTS_TOPIC"]
    produce(topic, [order_event(o).to_json() for o in orders], key=b"another-key")
    members = [
        threading.Thread(target=lambda: (consume_orders(topic, group_id="catalog", idle=3), connections.close_all()))
        for _ in range(2)
    ]
    for member in members:
        member.start()
    for member in members:
        member.join(120)
    shutdown_publisher()
    consume_results(group_id="orders", idle=2)

    assert stock_of("CATALOG-001") == 0
    statuses = [status_of(o.order_id) for o in orders]
    assert statuses.count(("CONFIRMED", "")) == 7
    assert statuses.count(("REJECTED", "INSUFFICIENT_STOCK")) == 23
    assert StockMovement.objects.filter(kind="order").count() == 30  # one decision per order, not two


def test_cancel_gives_the_stock_back_once_and_a_second_cancel_is_409(topics, replica):
    client = api_client()
    order_id = client.post(
        "/order-service/u1/orders", {"productId": "CATALOG-002", "qty": 4, "unitPrice": 1000}, format="json"
    ).json()["orderId"]
    settle(topics["ORDER_EVENTS_TOPIC"])
    assert status_of(order_id) == ("CONFIRMED", "")
    assert stock_of("CATALOG-002") == 106

    assert client.post(f"/api/orders/{order_id}/cancel/").json()["status"] == "CANCELLED"
    assert client.post(f"/api/orders/{order_id}/cancel/").status_code == 409
    settle(topics["ORDER_EVENTS_TOPIC"])
    assert stock_of("CATALOG-002") == 110

    # The cancellation delivered again (a new consumer group reads the topic from the start).
    catalog = consume_orders(topics["ORDER_EVENTS_TOPIC"], idle=2)
    assert (catalog.applied, catalog.skipped) == (0, 2)
    assert stock_of("CATALOG-002") == 110
    assert status_of(order_id) == ("CANCELLED", "")
    assert list(StockMovement.objects.filter(order_id=order_id).order_by("id").values_list("kind", "delta")) == [
        ("order", -4),
        ("cancel", 4),
    ]


def test_order_beyond_stock_is_rejected_and_cannot_be_cancelled(topics, replica):
    client = api_client()
    order_id = client.post(
        "/order-service/u1/orders", {"productId": "CATALOG-003", "qty": 121, "unitPrice": 2000}, format="json"
    ).json()["orderId"]
    settle(topics["ORDER_EVENTS_TOPIC"])
    assert status_of(order_id) == ("REJECTED", "INSUFFICIENT_STOCK")
    assert stock_of("CATALOG-003") == 120
    assert client.post(f"/api/orders/{order_id}/cancel/").status_code == 409


def test_duplicate_and_reordered_results_never_move_an_order_backwards(topics, replica):
    order = order_create(user_id="u", product_id="CATALOG-001", qty=1, unit_price=1000)
    oid = str(order.order_id)

    def result(status):
        return OrderResult(oid, status, "", "CATALOG-001", {"CONFIRMED": -1, "CANCELLED": 1}[status]).to_json()

    # The cancellation's result overtakes the confirmation, then both come again.
    produce(
        topics["ORDER_RESULTS_TOPIC"],
        [result("CANCELLED"), result("CONFIRMED"), result("CANCELLED"), result("CONFIRMED")],
        key=oid.encode(),
    )
    stats = consume_results(idle=2)
    assert stats.skipped == 3  # the late CONFIRMED and both duplicates
    assert status_of(oid) == ("CANCELLED", "")


def test_results_for_orders_the_service_never_made_are_skipped(topics, replica):
    # The tutorial's hand-typed message: the catalog decides it and says so; nobody is waiting.
    produce(
        topics["ORDER_RESULTS_TOPIC"],
        [OrderResult("test-order-id-dummy-id", "CONFIRMED", "", "CATALOG-001", -10).to_json()],
    )
    assert consume_results(idle=2).skipped == 1


def test_catalog_products_reach_the_replica_and_decide_what_can_be_ordered(topics):
    client = api_client()
    body = {"productId": "CATALOG-777", "qty": 1, "unitPrice": 300}
    assert client.post("/order-service/u/orders", body, format="json").status_code == 400  # not in the catalog yet

    Product.objects.create(product_id="CATALOG-777", product_name="Seoul", stock=5, unit_price=300)
    shutdown_publisher()
    consume_results(idle=2)
    assert client.post("/order-service/u/orders", body, format="json").status_code == 201

    product = Product.objects.get(product_id="CATALOG-777")
    product.unit_price = 350
    product.save()
    shutdown_publisher()
    consume_results(idle=2)
    refused = client.post("/order-service/u/orders", body, format="json")
    assert refused.status_code == 400
    assert refused.json() == {"unitPrice": ["The price of CATALOG-777 is 350, not 300."]}

    product.delete()
    shutdown_publisher()
    consume_results(idle=2)
    assert ProductReplica.objects.get(product_id="CATALOG-777").active is False
    gone = client.post("/order-service/u/orders", {**body, "unitPrice": 350}, format="json")
    assert gone.json() == {"productId": ["CATALOG-777 is not for sale."]}


def test_an_older_product_snapshot_arriving_late_is_ignored(topics):
    def snapshot(price, version):
        return orjson.dumps(
            {"productId": "P-1", "productName": "p", "unitPrice": price, "active": True, "version": version}
        )

    produce(topics["PRODUCTS_TOPIC"], [snapshot(100, 1), snapshot(300, 3), snapshot(200, 2)], key=b"P-1")
    consume_results(idle=2)
    produce(topics["PRODUCTS_TOPIC"], [snapshot(200, 2)], key=b"P-1")  # redelivered after the newer one
    consume_results(idle=2)
    assert ProductReplica.objects.get(product_id="P-1").unit_price == 300


def test_wait_returns_the_final_status_in_one_round_trip(topics, replica):
    processes = [
        manage("runconsumer", "--group-id", f"catalog-{uuid.uuid4()}"),
        manage("runorderconsumer", "--group-id", f"orders-{uuid.uuid4()}"),
    ]
    try:
        client = api_client()
        # Warm up: the consumers have joined their groups once an order comes back decided.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            first = client.post(
                "/order-service/u/orders", {"productId": "CATALOG-001", "qty": 1, "unitPrice": 1000}, format="json"
            )
            if client.get(f"/api/orders/{first.json()['orderId']}/", {"wait": "2"}).json()["status"] != "PENDING":
                break
        order_id = client.post(
            "/order-service/u/orders", {"productId": "CATALOG-001", "qty": 1, "unitPrice": 1000}, format="json"
        ).json()["orderId"]
        answer = client.get(f"/api/orders/{order_id}/", {"wait": "10"})
        assert answer.status_code == 200
        assert answer.json()["status"] == "CONFIRMED"
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            assert process.wait(30) == 0


def test_a_result_lost_in_a_crash_after_the_catalogs_commit_is_given_again_on_redelivery(topics, replica):
    order = order_create(user_id="u", product_id="CATALOG-001", qty=2, unit_price=1000)
    group = f"test-catalog-{uuid.uuid4()}"
    # The catalog commits its decision and dies before the result is on Kafka.
    crashing = manage(
        "runconsumer",
        "--group-id",
        group,
        "--exit-when-idle",
        "10",
        env=manage_env(STOCKSYNC_CRASH_POINTS="consumer.after_db_commit=1"),
    )
    assert crashing.wait(90) == -9
    assert StockMovement.objects.get(order_id=order.order_id).delta == -2
    assert read_topic(topics["ORDER_RESULTS_TOPIC"], expected=0, timeout=2) == []

    # Its offset was never committed: the event comes back, the ledger skips it, and the
    # result is published from what the ledger decided.
    stats = consume_orders(topics["ORDER_EVENTS_TOPIC"], group_id=group, idle=2)
    assert (stats.applied, stats.skipped) == (0, 1)
    assert stock_of("CATALOG-001") == 98
    [message] = read_topic(topics["ORDER_RESULTS_TOPIC"], expected=1)
    assert message.key() == str(order.order_id).encode()
    assert OrderResult.from_json(message.value()).status == "CONFIRMED"
    consume_results(idle=2)
    assert status_of(order.order_id) == ("CONFIRMED", "")
