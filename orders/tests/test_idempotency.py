"""Idempotency-Key on order placement (PostgreSQL): a retried request never places a second order."""

import threading
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connections

from orders.idempotency import order_place_idempotent, request_fingerprint
from orders.models import IdempotencyKey, Order, OutboxEvent
from orders.serializers import OrderSerializer
from orders.services import order_create
from testsupport.helpers import api_client

pytestmark = pytest.mark.usefixtures("replica")

VALID = {"productId": "CATALOG-001", "qty": 3, "unitPrice": 1000}
COURSE = "/order-service/user-1/orders"


def post(client, body, key, url=COURSE):
    return client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY=key)


@pytest.fixture
def client():
    return api_client()


@pytest.fixture(autouse=True, params=["default", pytest.param("fast", marks=pytest.mark.postgres)])
def mode(request, settings):
    """Each test on the default path and on the fast layer (one statement: orders/fast/idempotency.py)."""
    settings.CONSUMER_FAST = request.param == "fast"
    return request.param


@pytest.mark.django_db(databases=["default", "catalog"])
@pytest.mark.parametrize("url", [COURSE, "/api/orders/"])
def test_same_key_and_body_returns_the_first_response_and_places_nothing_new(client, url):
    first = post(client, VALID, "key-1", url)
    assert first.status_code == 201, first.content
    assert "Idempotent-Replayed" not in first.headers
    Order.objects.update(status=Order.Status.CONFIRMED)  # the order moves on; the answer does not

    again = post(client, VALID, "key-1", url)

    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert again.json()["status"] == "PENDING"
    assert Order.objects.count() == 1
    assert OutboxEvent.objects.count() == 1  # one event: nothing published for the replay
    assert str(IdempotencyKey.objects.get().order.order_id) == first.json()["orderId"]


@pytest.mark.django_db(databases=["default", "catalog"])
def test_a_quoted_key_is_the_same_key(client):
    first = post(client, VALID, "key-q")
    again = post(client, VALID, '"key-q"')
    assert again.status_code == 201
    assert again.json()["orderId"] == first.json()["orderId"]
    assert Order.objects.count() == 1


@pytest.mark.django_db(databases=["default", "catalog"])
def test_same_key_with_another_body_is_422_and_changes_nothing(client):
    post(client, VALID, "key-2")
    response = post(client, {**VALID, "qty": 4}, "key-2")
    assert response.status_code == 422
    assert "different request" in response.json()["detail"]
    assert Order.objects.count() == 1
    assert OutboxEvent.objects.count() == 1


@pytest.mark.django_db(databases=["default", "catalog"])
def test_same_key_for_another_user_on_the_course_route_is_another_request(client):
    post(client, VALID, "key-3", "/order-service/user-1/orders")
    response = post(client, VALID, "key-3", "/order-service/user-2/orders")
    assert response.status_code == 422
    assert Order.objects.count() == 1


@pytest.mark.django_db(databases=["default", "catalog"])
def test_keys_of_different_clients_do_not_collide():
    alice, bob = api_client("alice", staff=False), api_client("bob", staff=False)
    a = post(alice, VALID, "shared-key", "/api/orders/")
    b = post(bob, VALID, "shared-key", "/api/orders/")
    assert (a.status_code, b.status_code) == (201, 201)
    assert "Idempotent-Replayed" not in b.headers
    assert {a.json()["userId"], b.json()["userId"]} == {"alice", "bob"}
    assert Order.objects.count() == 2


@pytest.mark.django_db(databases=["default", "catalog"])
def test_without_the_header_every_request_places_an_order(client):
    client.post(COURSE, VALID, format="json")
    client.post(COURSE, VALID, format="json")
    assert Order.objects.count() == 2
    assert not IdempotencyKey.objects.exists()


@pytest.mark.django_db(databases=["default", "catalog"])
@pytest.mark.parametrize(
    ("key", "message"),
    [("", "must not be empty"), ("k" * 256, "at most 255"), ("schlüssel", "printable ASCII")],
)
def test_an_invalid_key_is_400_and_nothing_is_stored(client, key, message):
    response = client.post(COURSE, VALID, format="json", headers={"Idempotency-Key": key})
    assert response.status_code == 400
    assert message in response.json()["Idempotency-Key"][0]
    assert not Order.objects.exists()
    assert not IdempotencyKey.objects.exists()


@pytest.mark.django_db(databases=["default", "catalog"])
def test_a_refused_order_does_not_bind_its_key(client):
    refused = post(client, {**VALID, "unitPrice": 999}, "key-4")
    assert refused.status_code == 400
    assert not IdempotencyKey.objects.exists()
    corrected = post(client, VALID, "key-4")
    assert corrected.status_code == 201
    assert "Idempotent-Replayed" not in corrected.headers


@pytest.mark.django_db(databases=["default", "catalog"])
def test_an_expired_key_places_a_new_order_and_clearing_keeps_the_orders(client, settings):
    first = post(client, VALID, "key-5").json()
    IdempotencyKey.objects.update(created_at=IdempotencyKey.objects.get().created_at - timedelta(hours=25))

    second = post(client, VALID, "key-5")

    assert second.status_code == 201
    assert "Idempotent-Replayed" not in second.headers
    assert second.json()["orderId"] != first["orderId"]
    assert str(IdempotencyKey.objects.get().order.order_id) == second.json()["orderId"]

    settings.IDEMPOTENCY_KEY_TTL_HOURS = 1
    post(client, VALID, "key-6")
    IdempotencyKey.objects.filter(key="key-6").update(
        created_at=IdempotencyKey.objects.get(key="key-6").created_at - timedelta(minutes=61)
    )
    call_command("clearidempotencykeys")
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["key-5"]
    assert Order.objects.count() == 3


def _place_for(user_id):
    def place():
        order = order_create(user_id=user_id, **{"product_id": "CATALOG-001", "qty": 3, "unit_price": 1000})
        return order, dict(OrderSerializer(order).data)

    return place


@pytest.mark.postgres
@pytest.mark.django_db(databases=["default", "catalog"], transaction=True)
def test_a_second_request_while_the_first_is_in_flight_is_409_then_the_replay():
    staff = api_client()
    inside, release = threading.Event(), threading.Event()
    first: dict = {}

    def slow_first_request():
        place = _place_for("user-1")

        def place_slowly():
            placed = place()
            inside.set()
            assert release.wait(30)
            return placed

        try:
            first["placed"] = order_place_idempotent(
                client="staff",
                key="key-7",
                fingerprint=request_fingerprint({**VALID, "userId": "user-1"}),
                place=place_slowly,
            )
        finally:
            connections.close_all()

    thread = threading.Thread(target=slow_first_request)
    thread.start()
    assert inside.wait(30)
    try:
        during = post(staff, VALID, "key-7")
    finally:
        release.set()
        thread.join(30)

    assert during.status_code == 409
    assert "still being processed" in during.json()["detail"]
    after = post(staff, VALID, "key-7")
    assert after.status_code == 201
    assert after.headers["Idempotent-Replayed"] == "true"
    assert after.json()["orderId"] == first["placed"].body["orderId"]
    assert Order.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(databases=["default", "catalog"], transaction=True)
def test_concurrent_duplicates_place_one_order():
    api_client()  # the staff user, committed for the threads
    threads, answers = 8, []
    start = threading.Barrier(threads)
    lock = threading.Lock()

    def racer():
        client = api_client()
        try:
            start.wait(10)
            response = post(client, VALID, "key-race")
            with lock:
                answers.append((response.status_code, response.json()))
        finally:
            connections.close_all()

    workers = [threading.Thread(target=racer) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)

    assert len(answers) == threads
    assert Order.objects.count() == 1
    assert OutboxEvent.objects.count() == 1
    order_id = str(Order.objects.get().order_id)
    assert {status for status, _ in answers} <= {201, 409}
    assert all(body["orderId"] == order_id for status, body in answers if status == 201)
    assert any(status == 201 for status, _ in answers)


@pytest.mark.django_db(databases=["default", "catalog"])
def test_clear_command_refuses_a_bad_interval():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="invalid positive number value: '-1'"):
        call_command("clearidempotencykeys", "--every", "-1")


@pytest.mark.postgres
@pytest.mark.django_db(databases=["default", "catalog"])
def test_clear_command_repeats_until_sigterm_and_exits_0():
    import signal
    import subprocess

    from testsupport.helpers import manage, manage_env

    process = manage("clearidempotencykeys", "--every", "60", env=manage_env(), stdout=subprocess.PIPE, text=True)
    first_line = process.stdout.readline()  # the first round is done: the loop is waiting
    process.send_signal(signal.SIGTERM)
    assert process.wait(30) == 0
    assert first_line.startswith("deleted 0 idempotency key(s) older than 24 h")


@pytest.mark.django_db(databases=["default", "catalog"])
def test_the_schema_documents_the_header_and_its_answers(client):
    schema = client.get("/api/schema/?format=json").json()
    for path in ("/order-service/{user_id}/orders", "/api/orders/"):
        post_operation = schema["paths"][path]["post"]
        header = next(p for p in post_operation["parameters"] if p["name"] == "Idempotency-Key")
        assert (header["in"], header.get("required", False)) == ("header", False)
        assert {"201", "409", "422", "429", "503"} <= set(post_operation["responses"])


@pytest.mark.django_db(databases=["default", "catalog"])
def test_the_browsable_apis_form_places_an_order_without_a_key(client):
    response = client.post(
        COURSE,
        {"productId": "CATALOG-001", "qty": "3", "unitPrice": "1000"},
        format="multipart",
        HTTP_ACCEPT="text/html",
    )
    assert response.status_code == 201
    assert b"<html" in response.content
    assert Order.objects.count() == 1
