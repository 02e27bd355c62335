"""An order's journey through both services, hop by hop, on the real broker and PostgreSQL:
where it is stuck while the catalog is not running, and every hop once it went all the way."""

import pytest
from django.test import override_settings

from orders.services import order_create
from testsupport.helpers import api_client, consume_orders, consume_results, manage

pytestmark = [pytest.mark.integration, pytest.mark.django_db(databases=["default", "catalog"], transaction=True)]


def journey(client, order_id):
    response = client.get(f"/api/orders/{order_id}/journey/")
    assert response.status_code == 200, response.content
    return response.json()


@override_settings(OUTBOX_PUBLISH_ON_COMMIT=False)
def test_the_journey_says_where_the_order_is_stuck_and_then_every_hop(topics, replica):
    owner = api_client("alice", staff=False)
    order = order_create(user_id="alice", product_id="CATALOG-001", qty=2, unit_price=1000)

    waiting = journey(owner, order.order_id)
    assert waiting["stuckAt"] == "on the topic"
    assert "waiting in the outbox" in waiting["hops"][1]["detail"]

    assert manage("runrelay", "--once", "--grace", "0").wait(60) == 0
    assert journey(owner, order.order_id)["stuckAt"] == "decided by the catalog"

    consume_orders(topics["ORDER_EVENTS_TOPIC"])
    assert journey(owner, order.order_id)["stuckAt"] == "status changed"

    consume_results()
    done = journey(owner, order.order_id)
    assert done["stuckAt"] is None
    assert [h["hop"] for h in done["hops"]] == ["created", "on the topic", "decided by the catalog", "status changed"]
    assert all(h["at"] for h in done["hops"])
    assert all(h["sinceMs"] >= 0 for h in done["hops"][1:]), done["hops"]  # in order, each after the last
    assert done["hops"][1]["detail"].startswith(f"{topics['ORDER_EVENTS_TOPIC']}[")
    assert "ledger: applied" in done["hops"][2]["detail"] and done["hops"][3]["detail"] == "CONFIRMED"


def test_only_its_owner_and_staff_see_a_journey(replica):
    order = order_create(user_id="alice", product_id="CATALOG-001", qty=1, unit_price=1000)
    api_client("alice", staff=False)
    assert api_client("bob", staff=False).get(f"/api/orders/{order.order_id}/journey/").status_code == 404
    assert journey(api_client(), order.order_id)["hops"][0]["hop"] == "created"
