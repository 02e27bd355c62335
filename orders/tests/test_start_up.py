"""Start-up tells the truth: until the order service's replica has read the catalog's
products once, an unknown product is "still loading" (503, Retry-After), never "Unknown
product" (400); once it has, an unknown product is a 400 again. On the real broker."""

import uuid

import pytest
from django.test import override_settings

from catalog.services import product_snapshot
from orders.models import Order
from orders.replica import replica_mark
from testsupport.helpers import api_client, consume_results, produce

pytestmark = [pytest.mark.integration, pytest.mark.django_db(databases=["default", "catalog"], transaction=True)]

ORDER = {"productId": "CATALOG-001", "qty": 1, "unitPrice": 1000}


def test_an_order_before_the_replica_has_caught_up_is_503_and_after_it_is_placed(topics, products):
    group = f"test-replica-{uuid.uuid4().hex[:8]}"
    produce(topics["PRODUCTS_TOPIC"], [product_snapshot(p).to_json() for p in products.values()], key=b"p")
    client = api_client()
    with override_settings(ORDERS_CONSUMER_GROUP=group):
        replica_mark(caught_up=False)  # a web process that has just started

        loading = client.post("/order-service/user-1/orders", ORDER, format="json")
        assert loading.status_code == 503, loading.content
        assert int(loading["Retry-After"]) > 0
        assert "still loading the catalog's products" in loading.json()["detail"]
        assert not Order.objects.exists()

        consume_results(group_id=group, idle=2)  # the order consumer fills the replica, commits
        placed = client.post("/order-service/user-1/orders", ORDER, format="json")
        assert placed.status_code == 201, placed.content

        unknown = client.post("/order-service/user-1/orders", {**ORDER, "productId": "CATALOG-404"}, format="json")
        assert unknown.status_code == 400
        assert unknown.json() == {"productId": ["Unknown product 'CATALOG-404'."]}
