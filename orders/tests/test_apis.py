"""The HTTP API: shapes, routes, validation and who may do what (PostgreSQL; publishing is
covered in test_outbox and test_saga)."""

import uuid

import pytest
from rest_framework.test import APIClient

from orders.models import Order, OutboxEvent
from testsupport.helpers import api_client

pytestmark = [pytest.mark.django_db(databases=["default", "catalog"]), pytest.mark.usefixtures("replica")]

VALID = {"productId": "CATALOG-001", "qty": 3, "unitPrice": 1000}


@pytest.fixture
def client():
    """Logged in as staff, who may use any user's course route."""
    return api_client()


def test_course_route_creates_order_with_server_made_id_and_total(client):
    response = client.post("/order-service/user-1/orders", VALID, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == {
        "orderId",
        "userId",
        "productId",
        "qty",
        "unitPrice",
        "totalPrice",
        "status",
        "reason",
        "createdAt",
        "statusChangedAt",
    }
    assert body["userId"] == "user-1"
    assert body["totalPrice"] == 3000
    assert (body["status"], body["reason"]) == ("PENDING", "")
    uuid.UUID(body["orderId"])
    assert Order.objects.get().total_price == 3000
    assert OutboxEvent.objects.count() == 1


def test_client_cannot_set_order_id_or_total(client):
    response = client.post("/order-service/user-1/orders", {**VALID, "orderId": "mine", "totalPrice": 1}, format="json")
    assert response.status_code == 201
    assert response.json()["orderId"] != "mine"
    assert response.json()["totalPrice"] == 3000


def test_course_route_lists_only_that_users_orders(client):
    client.post("/order-service/user-1/orders", VALID, format="json")
    client.post("/order-service/user-2/orders", VALID, format="json")
    response = client.get("/order-service/user-1/orders")
    assert response.status_code == 200
    assert [o["userId"] for o in response.json()] == ["user-1"]


def test_api_orders_create_list_retrieve(client):
    created = client.post("/api/orders/", {**VALID, "userId": "user-9"}, format="json")
    assert created.status_code == 201, created.content
    order_id = created.json()["orderId"]
    assert client.get("/api/orders/").json()["results"][0]["orderId"] == order_id
    assert client.get(f"/api/orders/{order_id}/").json()["userId"] == "user-9"
    assert client.get(f"/api/orders/{uuid.uuid4()}/").status_code == 404


def test_catalog_routes_list_products(client, products):
    course = client.get("/catalog-service/catalogs").json()
    assert [(p["productId"], p["productName"], p["stock"], p["unitPrice"]) for p in course] == [
        ("CATALOG-001", "Berlin", 100, 1000),
        ("CATALOG-002", "Tokyo", 110, 1000),
        ("CATALOG-003", "Stockholm", 120, 2000),
    ]
    assert "createdAt" in course[0]
    assert client.get("/api/catalog/products/").json()["results"] == course
    assert client.get("/api/catalog/products/CATALOG-002/").json()["productName"] == "Tokyo"
    assert client.get("/api/catalog/products/NOPE/").status_code == 404


def test_browsable_api_renders_html(client):
    response = client.get("/order-service/user-1/orders", HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert b"<html" in response.content


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"qty": 1, "unitPrice": 1}, "productId", "required"),
        ({"productId": "CATALOG-001", "unitPrice": 1}, "qty", "required"),
        ({"productId": "CATALOG-001", "qty": 1}, "unitPrice", "required"),
        ({**VALID, "qty": 0}, "qty", "greater than or equal to 1"),
        ({**VALID, "qty": -5}, "qty", "greater than or equal to 1"),
        ({**VALID, "qty": 2.5}, "qty", "whole number"),
        ({**VALID, "qty": "ten"}, "qty", "whole number"),
        ({**VALID, "qty": True}, "qty", "whole number"),
        ({**VALID, "qty": 2**40}, "qty", "less than or equal to"),
        ({**VALID, "unitPrice": 9.99}, "unitPrice", "whole number"),
        ({**VALID, "unitPrice": -1}, "unitPrice", "greater than or equal to 0"),
        ({**VALID, "productId": ""}, "productId", "may not be blank"),
        ({**VALID, "productId": "X" * 65}, "productId", "no more than 64 characters"),
        ({**VALID, "qty": None}, "qty", "may not be null"),
    ],
)
def test_invalid_order_is_rejected_per_field_and_nothing_is_stored(client, body, field, message):
    response = client.post("/order-service/user-1/orders", body, format="json")
    assert response.status_code == 400
    assert message in " ".join(response.json()[field])
    assert Order.objects.count() == 0
    assert OutboxEvent.objects.count() == 0


def test_body_that_is_not_json_is_rejected(client):
    response = client.post("/order-service/user-1/orders", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert "JSON parse error" in response.json()["detail"]
    assert Order.objects.count() == 0


def test_json_array_body_is_rejected(client):
    response = client.post("/order-service/user-1/orders", [VALID], format="json")
    assert response.status_code == 400
    assert Order.objects.count() == 0


def test_user_id_over_64_characters_is_rejected(client):
    response = client.post(f"/order-service/{'u' * 65}/orders", VALID, format="json")
    assert response.status_code == 400
    assert "userId" in response.json()
    assert Order.objects.count() == 0


def test_api_orders_are_placed_for_the_logged_in_user_by_default(client):
    response = client.post("/api/orders/", VALID, format="json")
    assert response.status_code == 201
    assert response.json()["userId"] == "staff"


def test_orders_need_a_logged_in_user_and_the_catalog_does_not():
    anonymous = APIClient()
    assert anonymous.post("/order-service/user-1/orders", VALID, format="json").status_code == 401
    refused = anonymous.get("/api/orders/")
    assert refused.status_code == 401 and refused["WWW-Authenticate"] == "Token"
    assert anonymous.get("/catalog-service/catalogs").status_code == 200
    assert anonymous.get("/api/catalog/products/").status_code == 200
    assert Order.objects.count() == 0


def test_a_user_sees_and_places_only_their_own_orders(client):
    client.post("/order-service/alice/orders", VALID, format="json")
    client.post("/order-service/bob/orders", VALID, format="json")
    alice = api_client("alice", staff=False)
    assert [o["userId"] for o in alice.get("/api/orders/").json()["results"]] == ["alice"]
    assert [o["userId"] for o in alice.get("/order-service/alice/orders").json()] == ["alice"]
    refused = alice.get("/order-service/bob/orders")
    assert refused.status_code == 403
    assert refused.json() == {"detail": "You may only see and place your own orders."}
    assert alice.post("/order-service/bob/orders", VALID, format="json").status_code == 403
    assert alice.post("/api/orders/", {**VALID, "userId": "bob"}, format="json").status_code == 403
    bobs = Order.objects.get(user_id="bob").order_id
    assert alice.get(f"/api/orders/{bobs}/").status_code == 404
    assert alice.post(f"/api/orders/{bobs}/cancel/").status_code == 404
    assert Order.objects.count() == 2


def test_token_authentication_for_clients():
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    token = Token.objects.create(user=get_user_model().objects.create_user("carol", password="x"))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert client.post("/order-service/carol/orders", VALID, format="json").status_code == 201
    client.credentials(HTTP_AUTHORIZATION="Token wrong")
    assert client.get("/api/orders/").status_code == 401


def test_order_list_is_paginated_and_filtered(client):
    for user, product, price in (("a", "CATALOG-001", 1000), ("b", "CATALOG-002", 1000), ("a", "CATALOG-002", 1000)):
        client.post(f"/order-service/{user}/orders", {**VALID, "productId": product, "unitPrice": price}, format="json")
    page = client.get("/api/orders/", {"pageSize": 2}).json()
    assert (page["count"], len(page["results"]), page["next"] is not None) == (3, 2, True)
    assert [o["userId"] for o in client.get("/api/orders/", {"userId": "a"}).json()["results"]] == ["a", "a"]
    assert client.get("/api/orders/", {"productId": "CATALOG-002", "userId": "a"}).json()["count"] == 1
    assert client.get("/api/orders/", {"status": "CONFIRMED"}).json()["count"] == 0
    assert client.get("/api/orders/", {"createdAfter": "2999-01-01T00:00:00Z"}).json()["count"] == 0
    assert "status" in client.get("/api/orders/", {"status": "LOST"}).json()
    # Any ISO offset parses; PostgreSQL would refuse this one, so it is compared in UTC.
    assert client.get("/api/orders/", {"createdAfter": "0938-11-05T07:21:52.5-20:55"}).json()["count"] == 3
    too_early = client.get("/api/orders/", {"createdAfter": "0001-01-01T00:00:00+10:00"})  # year 0 in UTC
    assert too_early.status_code == 400 and "createdAfter" in too_early.json()


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"productId": "CATALOG-404"}, "productId", "Unknown product 'CATALOG-404'"),
        ({"unitPrice": 999}, "unitPrice", "The price of CATALOG-001 is 1000, not 999"),
    ],
)
def test_order_for_unknown_product_or_at_wrong_price_is_refused_at_once(client, change, field, message):
    response = client.post("/order-service/user-1/orders", {**VALID, **change}, format="json")
    assert response.status_code == 400
    assert response.json() == {field: [message + "."]}
    assert Order.objects.count() == 0
    assert OutboxEvent.objects.count() == 0


def test_order_for_inactive_product_is_refused(client):
    from orders.models import ProductReplica

    ProductReplica.objects.filter(product_id="CATALOG-001").update(active=False)
    response = client.post("/order-service/user-1/orders", VALID, format="json")
    assert response.status_code == 400
    assert response.json() == {"productId": ["CATALOG-001 is not for sale."]}


def test_cancel_publishes_a_cancellation_and_a_second_cancel_is_409(client):
    order_id = client.post("/order-service/user-1/orders", VALID, format="json").json()["orderId"]
    response = client.post(f"/api/orders/{order_id}/cancel/")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "CANCELLED"
    events = [bytes(e.payload) for e in OutboxEvent.objects.filter(subject_id=order_id).order_by("id")]
    assert [b'"eventType":"OrderCancelled"' in e for e in events] == [False, True]
    again = client.post(f"/api/orders/{order_id}/cancel/")
    assert again.status_code == 409
    assert "cancelled" in again.json()["detail"]
    assert OutboxEvent.objects.filter(subject_id=order_id).count() == 2


def test_cancelling_a_rejected_order_is_409(client):
    order_id = client.post("/order-service/user-1/orders", VALID, format="json").json()["orderId"]
    Order.objects.filter(order_id=order_id).update(status="REJECTED", reason="INSUFFICIENT_STOCK")
    response = client.post(f"/api/orders/{order_id}/cancel/")
    assert response.status_code == 409
    assert "rejected" in response.json()["detail"]
    assert client.post(f"/api/orders/{uuid.uuid4()}/cancel/").status_code == 404


@pytest.mark.parametrize("wait", ["-1", "abc", "nan", "inf", "31"])
def test_wait_must_be_a_sensible_number_of_seconds(client, wait):
    order_id = client.post("/order-service/user-1/orders", VALID, format="json").json()["orderId"]
    response = client.get(f"/api/orders/{order_id}/", {"wait": wait})
    assert response.status_code == 400
    assert "wait" in response.json()


def test_wait_returns_a_pending_order_when_time_is_up(client):
    order_id = client.post("/order-service/user-1/orders", VALID, format="json").json()["orderId"]
    response = client.get(f"/api/orders/{order_id}/", {"wait": "0.2"})
    assert response.status_code == 200
    assert response.json()["status"] == "PENDING"


def test_an_unknown_product_while_the_replica_is_loading_is_503_with_retry_after(client, monkeypatch):
    from orders import replica

    replica.replica_mark(caught_up=False)
    monkeypatch.setattr(replica, "group_lag", lambda **kwargs: [type("Row", (), {"lag": 3})()])  # products unread
    response = client.post("/order-service/user-1/orders", {**VALID, "productId": "CATALOG-404"}, format="json")
    assert response.status_code == 503 and int(response["Retry-After"]) > 0
    assert "still loading" in response.json()["detail"]
    assert client.post("/order-service/user-1/orders", VALID, format="json").status_code == 201  # known: placed

    monkeypatch.setattr(replica, "group_lag", lambda **kwargs: [])  # read to the end
    replica.replica_mark(caught_up=False)
    response = client.post("/order-service/user-1/orders", {**VALID, "productId": "CATALOG-404"}, format="json")
    assert response.status_code == 400


def test_the_home_page_says_what_is_running_and_where_to_go(client):
    page = client.get("/")
    assert page.status_code == 200
    text = page.content.decode()
    for link in ('href="/live/"', 'href="/api/"', 'href="/admin/"', 'href="/labs/"'):
        assert link in text
    assert "manage.py runconsumer" in text and "web server" in text
    assert client.get("/labs/").content.decode().startswith("#")


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("pageSize=null", "pageSize"),
        ("pageSize=0", "pageSize"),
        ("pageSize=501", "pageSize"),
        ("page=0", "page"),
        ("page=-1", "page"),
        ("createdBefore=", "createdBefore"),
        ("status=SHIPPED", "status"),
    ],
)
def test_a_malformed_query_parameter_is_a_400_that_names_it(client, query, field):
    for path in ("/api/orders/", "/api/catalog/products/") if field.startswith("page") else ("/api/orders/",):
        response = client.get(f"{path}?{query}")
        assert response.status_code == 400, (path, response.content)
        assert field in response.json(), response.json()


def test_a_page_past_the_last_is_a_404_and_a_good_page_size_is_kept(client):
    assert client.get("/api/orders/?page=99").status_code == 404
    assert client.get("/api/catalog/products/?pageSize=2").json()["results"].__len__() == 2


@pytest.mark.parametrize("debug", [False, True])
def test_an_api_url_that_matches_no_route_answers_json(client, settings, debug):
    settings.DEBUG = debug  # make run's mode shows Django's technical 404 page otherwise
    for path in ("/api/orders/not-a-uuid/", "/api/orders//cancel/", "/order-service/x/nothing"):
        response = client.get(path)
        assert response.status_code == 404 and response.json() == {"detail": "Not found."}, path
    assert client.get("/no-such-page/")["Content-Type"].startswith("text/html")


def test_the_openapi_schema_documents_the_statuses_of_the_layers_around_the_views(client):
    paths = client.get("/api/schema/?format=json").json()["paths"]
    assert set(paths["/api/orders/{orderId}/cancel/"]["post"]["responses"]) >= {"401", "403", "404", "409", "429"}
    assert set(paths["/api/orders/"]["get"]["responses"]) >= {"400", "401", "403", "404", "429", "503"}
    assert "403" not in paths["/api/catalog/products/"]["get"]["responses"]  # public: nothing to forbid
