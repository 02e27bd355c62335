"""The live page's data: one reading of the whole flow, from the databases and Kafka."""

import re
import uuid

import pytest
from django.test import Client, override_settings

from kafka_bridge.producer import shutdown_publisher
from sync.live import Reading, history_series, live_snapshot
from testsupport.helpers import consume_orders, group_member, stock_of


def test_rates_are_differences_between_readings_and_a_counter_that_fell_is_not_negative():
    readings = [
        Reading(at=100.0, orders=0, decided=0, lag=0),
        Reading(at=101.0, orders=5, decided=2, lag=3),
        Reading(at=103.0, orders=9, decided=8, lag=1),
        Reading(at=104.0, orders=2, decided=8, lag=0),  # the orders table emptied by hand
    ]
    series = history_series(readings)
    assert series == {
        "t": [101.0, 103.0, 104.0],
        "orderRate": [5.0, 2.0, 0.0],
        "applyRate": [2.0, 3.0, 0.0],
        "lag": [3, 1, 0],
    }


@pytest.mark.integration
@pytest.mark.django_db(databases=["default", "catalog"], transaction=True)
def test_the_reading_follows_an_order_and_names_the_member_that_holds_each_partition(topics, replica):
    from orders.services import order_create

    events = topics["ORDER_EVENTS_TOPIC"]
    group = f"live-{uuid.uuid4().hex[:8]}"
    stock = stock_of("CATALOG-001")
    with override_settings(CATALOG_CONSUMER_GROUP=group):
        order = order_create(user_id="u", product_id="CATALOG-001", qty=3, unit_price=1000)
        shutdown_publisher()  # its event is on the topic
        before = live_snapshot(max_age=0)
        assert before["orders"] == {"total": 1, "byStatus": {"PENDING": 1}}
        assert before["flow"]["events"] == events
        waiting = before["topics"][events]
        assert (waiting["group"], waiting["lag"], waiting["members"]) == (group, 1, [])
        assert before["recentOrders"][0]["orderId"] == str(order.order_id)

        consume_orders(events, group_id=group, idle=2)
        # A member of the group, as runconsumer is one: the reading names it per partition.
        with group_member(group_id=group, topic=events):
            after = live_snapshot(max_age=0)
    read = after["topics"][events]
    assert read["lag"] == 0 and read["state"] == "STABLE"
    (only,) = read["members"]
    assert only["clientId"].startswith(f"{group}@") and len(only["partitions"]) == 3
    assert {p["member"] for p in read["partitions"]} == {only["clientId"]}
    assert after["ledger"] == {"order applied": 1}
    assert after["stock"]["CATALOG-001"] == stock - 3
    assert after["history"]["t"], "two readings make one point of the charts"
    assert after["history"]["orderRate"][-1] == 0.0  # no order between the two readings


@pytest.mark.django_db
def test_the_live_page_loads_its_script_and_chart_library_from_this_server_not_a_cdn():
    from django.contrib.auth import get_user_model

    client = Client()
    client.force_login(get_user_model().objects.create_user("staff", is_staff=True))
    page = client.get("/live/").content.decode()
    assert "/static/sync/live.js" in page and "/static/sync/vendor/uplot/uPlot.iife.min.js" in page
    assert re.findall(r'(?:src|href)="(?:https?:)?//[^"]*"', page) == []  # it works offline
