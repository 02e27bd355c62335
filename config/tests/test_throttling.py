"""Rate limits, proven with real request sequences: the request past the limit is 429 with
Retry-After, and a different user, IP or username is not counted with it."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from orders.models import Order
from testsupport.helpers import api_client

pytestmark = pytest.mark.django_db(databases=["default", "catalog"])

VALID = {"productId": "CATALOG-001", "qty": 1, "unitPrice": 1000}


@pytest.fixture
def rates(settings):
    """Set some limits low for one test: ``rates(order_placement="3/minute")``."""

    def set_rates(**low):
        settings.THROTTLE_RATES = {**settings.THROTTLE_RATES, **low}

    return set_rates


def assert_throttled(response):
    assert response.status_code == 429, response.content
    assert 1 <= int(response.headers["Retry-After"]) <= 60


@pytest.mark.usefixtures("replica")
@pytest.mark.parametrize("url", ["/order-service/alice/orders", "/api/orders/"])
def test_order_placement_is_limited_per_user(rates, url):
    rates(order_placement="3/minute")
    alice, bob = api_client("alice", staff=False), api_client("bob", staff=False)
    assert [alice.post(url, VALID, format="json").status_code for _ in range(3)] == [201, 201, 201]

    fourth = alice.post(url, VALID, format="json")

    assert_throttled(fourth)
    assert "throttled" in fourth.json()["detail"].lower()
    assert Order.objects.filter(user_id="alice").count() == 3
    assert bob.post("/api/orders/", VALID, format="json").status_code == 201  # another user's own count
    assert alice.get("/api/orders/").status_code == 200  # reading is not placing


@pytest.mark.usefixtures("replica")
def test_no_limit_when_a_rate_is_off(rates):
    rates(order_placement=None)
    alice = api_client("alice", staff=False)
    assert {alice.post("/api/orders/", VALID, format="json").status_code for _ in range(5)} == {201}


def test_anonymous_requests_are_limited_per_ip(rates):
    rates(anon="2/minute")
    client = Client(REMOTE_ADDR="10.0.0.1")
    assert [client.get("/catalog-service/catalogs").status_code for _ in range(2)] == [200, 200]

    assert_throttled(client.get("/api/catalog/products/"))
    assert Client(REMOTE_ADDR="10.0.0.2").get("/catalog-service/catalogs").status_code == 200
    # A client cannot pick another IP by sending X-Forwarded-For (THROTTLE_PROXIES=0).
    assert_throttled(client.get("/catalog-service/catalogs", HTTP_X_FORWARDED_FOR="10.9.9.9"))


@pytest.mark.parametrize("login_url", ["/api-auth/login/", "/admin/login/"])
def test_login_attempts_are_limited_per_ip(rates, login_url):
    rates(login_ip="3/minute", login_username=None)
    client = Client(REMOTE_ADDR="10.0.0.3")
    for name in ("ann", "ben", "cat"):
        assert client.post(login_url, {"username": name, "password": "guess"}).status_code == 200  # form again

    response = client.post(login_url, {"username": "dan", "password": "guess"})

    assert_throttled(response)
    assert "Too many login attempts" in response.content.decode()
    assert Client(REMOTE_ADDR="10.0.0.4").post(login_url, {"username": "dan", "password": "x"}).status_code == 200
    assert client.get(login_url).status_code == 200  # the form itself is still shown


@pytest.mark.parametrize("login_url", ["/api-auth/login/", "/admin/login/"])
def test_login_attempts_are_limited_per_username_and_a_right_password_does_not_get_through(rates, login_url):
    rates(login_ip=None, login_username="2/minute")
    get_user_model().objects.create_user("eve", password="right-password", is_staff=True)
    for i in range(2):
        wrong = Client(REMOTE_ADDR=f"10.1.0.{i}").post(login_url, {"username": "eve", "password": "guess"})
        assert wrong.status_code == 200

    client = Client(REMOTE_ADDR="10.1.0.9")
    response = client.post(login_url, {"username": "EVE", "password": "right-password"})

    assert_throttled(response)
    assert "_auth_user_id" not in client.session
    other = Client(REMOTE_ADDR="10.1.0.9").post(login_url, {"username": "frank", "password": "guess"})
    assert other.status_code == 200
