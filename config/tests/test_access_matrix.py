"""Who may do what, for every route the URLconf serves: the list of routes is built from the
URLconf itself, so a route added without a rule here fails this test.

The rules (README, "Who may do what"): orders need a logged-in user, who sees, places and
cancels only their own (another user's order is 404, another user's course route 403);
staff see everyone's; the catalog, the API docs, health and metrics are public; the admin
is for staff only. No response ever carries another user's order.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from orders.services import order_create

pytestmark = [pytest.mark.django_db(databases=["default", "catalog"]), pytest.mark.usefixtures("replica")]

ACTORS = ("anonymous", "owner", "other", "staff")
PUBLIC = dict.fromkeys(ACTORS, 200)
LOGIN_PAGE = "login page"  # a redirect to the admin's login form
STAFF_ONLY = {"anonymous": LOGIN_PAGE, "owner": LOGIN_PAGE, "other": LOGIN_PAGE, "staff": "reached"}
ORDER = {"productId": "CATALOG-001", "qty": 1, "unitPrice": 1000}


@dataclass
class World:
    """Two users with an order each (the owner is alice, the other bob) and a staff user."""

    alice_order: str
    bob_order: str
    fresh_alice_order: Callable[[], str]


@dataclass
class Rule:
    url: Callable[[World], str]
    expect: dict[str, dict[str, int | str]] = field(default_factory=dict)  # method → actor → status
    body: dict | None = None


ORDER_LIST = {"anonymous": 401, "owner": 200, "other": 200, "staff": 200}
ORDER_PLACE = {"anonymous": 401, "owner": 201, "other": 201, "staff": 201}
ALICES_ORDER = {"anonymous": 401, "owner": 200, "other": 404, "staff": 200}
ALICES_ROUTE = {"anonymous": 401, "owner": 200, "other": 403, "staff": 200}
ALICES_ROUTE_PLACE = {"anonymous": 401, "owner": 201, "other": 403, "staff": 201}

# Route (as the URLconf spells it, fnmatch patterns allowed) → who gets what.
RULES: dict[str, Rule] = {
    "order-service/<str:user_id>/orders": Rule(
        lambda w: "/order-service/alice/orders", {"GET": ALICES_ROUTE, "POST": ALICES_ROUTE_PLACE}, ORDER
    ),
    "api/^orders/$": Rule(lambda w: "/api/orders/", {"GET": ORDER_LIST, "POST": ORDER_PLACE}, ORDER),
    r"api/^orders\.(?P<format>[a-z0-9]+)/?$": Rule(lambda w: "/api/orders.json", {"GET": ORDER_LIST}),
    "api/^orders/(?P<orderId>[0-9a-fA-F-]{32,36})/$": Rule(
        lambda w: f"/api/orders/{w.alice_order}/", {"GET": ALICES_ORDER}
    ),
    r"api/^orders/(?P<orderId>[0-9a-fA-F-]{32,36})\.(?P<format>[a-z0-9]+)/?$": Rule(
        lambda w: f"/api/orders/{w.alice_order}.json", {"GET": ALICES_ORDER}
    ),
    "api/orders/<uuid:orderId>/journey/": Rule(
        lambda w: f"/api/orders/{w.alice_order}/journey/", {"GET": ALICES_ORDER}
    ),
    # A fresh order of alice's for each request, so each actor tries to cancel a live one.
    "api/^orders/(?P<orderId>[0-9a-fA-F-]{32,36})/cancel/$": Rule(
        lambda w: f"/api/orders/{w.fresh_alice_order()}/cancel/", {"POST": ALICES_ORDER}
    ),
    r"api/^orders/(?P<orderId>[0-9a-fA-F-]{32,36})/cancel\.(?P<format>[a-z0-9]+)/?$": Rule(
        lambda w: f"/api/orders/{w.fresh_alice_order()}/cancel.json", {"POST": ALICES_ORDER}
    ),
    "catalog-service/catalogs": Rule(lambda w: "/catalog-service/catalogs", {"GET": PUBLIC}),
    "api/^catalog/products/$": Rule(lambda w: "/api/catalog/products/", {"GET": PUBLIC}),
    r"api/^catalog/products\.(?P<format>[a-z0-9]+)/?$": Rule(lambda w: "/api/catalog/products.json", {"GET": PUBLIC}),
    "api/^catalog/products/(?P<productId>[^/]{1,64})/$": Rule(
        lambda w: "/api/catalog/products/CATALOG-001/", {"GET": PUBLIC}
    ),
    r"api/^catalog/products/(?P<productId>[^/]{1,64})\.(?P<format>[a-z0-9]+)/?$": Rule(
        lambda w: "/api/catalog/products/CATALOG-001.json", {"GET": PUBLIC}
    ),
    "api/": Rule(lambda w: "/api/", {"GET": ORDER_LIST}),  # the API's index: the router's default permission
    "api/<drf_format_suffix:format>": Rule(lambda w: "/api/.json", {"GET": ORDER_LIST}),
    "api/schema/": Rule(lambda w: "/api/schema/", {"GET": PUBLIC}),
    "api/docs/": Rule(lambda w: "/api/docs/", {"GET": PUBLIC}),
    "api/redoc/": Rule(lambda w: "/api/redoc/", {"GET": PUBLIC}),
    "api/asyncapi/": Rule(lambda w: "/api/asyncapi/", {"GET": PUBLIC}),
    "api/asyncapi/page/": Rule(lambda w: "/api/asyncapi/page/", {"GET": PUBLIC}),
    "api-auth/login/": Rule(lambda w: "/api-auth/login/", {"GET": PUBLIC}),
    "api-auth/logout/": Rule(lambda w: "/api-auth/logout/", {"POST": PUBLIC}),
    "admin/login/": Rule(
        lambda w: "/admin/login/", {"GET": {"anonymous": 200, "owner": 200, "other": 200, "staff": 302}}
    ),
    "admin/sync/": Rule(lambda w: "/admin/sync/", {"GET": STAFF_ONLY}),
    "live/": Rule(lambda w: "/live/", {"GET": STAFF_ONLY}),
    "live/data": Rule(lambda w: "/live/data", {"GET": STAFF_ONLY}),
    # Every other admin page: staff only (an id that does not exist is enough to be let in or not).
    "admin/*": Rule(lambda w: "", {"GET": STAFF_ONLY}),
    # Logging out is a POST: staff see "logged out", anyone else is sent to the admin's index.
    "admin/logout/": Rule(lambda w: "/admin/logout/", {"POST": {**dict.fromkeys(ACTORS, 302), "staff": 200}}),
    # What the admin keeps read-only: the replica and the ledger are written by Kafka's
    # consumers only, the outboxes by the services; even staff are refused (403).
    **{
        route: Rule(lambda w: "", {"GET": {**STAFF_ONLY, "staff": 403}})
        for route in (
            "admin/orders/productreplica/add/",
            "admin/orders/productreplica/<path:object_id>/delete/",
            "admin/orders/outboxevent/add/",
            "admin/catalog/stockmovement/add/",
            "admin/catalog/stockmovement/<path:object_id>/delete/",
            "admin/catalog/outboxevent/add/",
            # Needs the field it completes (?app_label=…&model_name=…&field_name=…).
            "admin/autocomplete/",
        )
    },
    "": Rule(lambda w: "/", {"GET": PUBLIC}),  # the home page
    "labs/": Rule(lambda w: "/labs/", {"GET": PUBLIC}),
    "healthz": Rule(lambda w: "/healthz", {"GET": PUBLIC}),
    "readyz": Rule(lambda w: "/readyz", {"GET": PUBLIC}),
    "metrics": Rule(lambda w: "/metrics", {"GET": PUBLIC}),
}


def routes(patterns=None, prefix: str = "") -> list[str]:
    """Every route of the URLconf, its parts joined as the URLconf spells them."""
    found: list[str] = []
    for p in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(p, URLResolver):
            found += routes(p.url_patterns, prefix + str(p.pattern))
        elif isinstance(p, URLPattern):
            found.append(prefix + str(p.pattern))
    return found


def rule_for(route: str) -> Rule | None:
    if route in RULES:
        return RULES[route]
    return next((rule for pattern, rule in RULES.items() if "*" in pattern and fnmatch.fnmatch(route, pattern)), None)


def admin_url(route: str) -> str:
    """A concrete URL for an admin route: its parameters filled with values that exist or not."""
    url = re.sub(r"<(?:path:)?\w+>", "999999", route)
    url = url.replace("^(?P<app_label>auth|authtoken|orders|catalog)/$", "orders/")
    url = url.replace("(?P<url>.*)$", "no-such-page/")
    return "/" + url


def outcome(response) -> int | str:
    if response.status_code == 302 and response.headers["Location"].startswith("/admin/login/"):
        return LOGIN_PAGE
    return response.status_code


@pytest.fixture
def world() -> World:
    User = get_user_model()
    User.objects.create_user("alice")
    User.objects.create_user("bob")

    def alice_order() -> str:
        return str(order_create(user_id="alice", product_id="CATALOG-001", qty=1, unit_price=1000).order_id)

    bob = order_create(user_id="bob", product_id="CATALOG-001", qty=1, unit_price=1000)
    return World(alice_order=alice_order(), bob_order=str(bob.order_id), fresh_alice_order=alice_order)


def client_for(actor: str) -> Client:
    client = Client()
    username = {"owner": "alice", "other": "bob", "staff": "root"}.get(actor)
    if actor == "staff" and not get_user_model().objects.filter(username="root").exists():
        get_user_model().objects.create_superuser("root", password="unused")
    if username:
        client.force_login(get_user_model().objects.get(username=username))
    return client


def test_every_route_has_a_rule():
    missing = sorted({route for route in routes() if rule_for(route) is None})
    assert not missing, f"routes without an access rule in {__name__}: {missing}"


@pytest.mark.integration  # /readyz asks the broker
def test_every_route_answers_each_kind_of_user_as_the_rules_say(world):
    clients = {actor: client_for(actor) for actor in ACTORS}
    # What each kind of user must never see: another user's order.
    not_theirs = {
        "anonymous": [world.alice_order, world.bob_order],
        "owner": [world.bob_order],
        "other": [world.alice_order],
    }
    wrong: list[str] = []
    checked = 0
    for route in routes():
        rule = rule_for(route)
        assert rule is not None
        for method, expected in rule.expect.items():
            for actor in ACTORS:
                url = rule.url(world) or admin_url(route)
                client = clients[actor]
                if method == "GET":
                    response = client.get(url)
                else:
                    response = client.post(url, rule.body or {}, content_type="application/json")
                got = outcome(response)
                want = expected[actor]
                if want == "reached":
                    ok = got not in (LOGIN_PAGE, 401, 403) and isinstance(got, int) and got < 500
                else:
                    ok = got == want
                leaked = [oid for oid in not_theirs.get(actor, []) if oid in response.content.decode(errors="replace")]
                if not ok or leaked:
                    wrong.append(
                        f"{method} {url} as {actor}: got {got}, want {want}" + (f", leaked {leaked}" if leaked else "")
                    )
                checked += 1
                if route.endswith("logout/"):
                    clients[actor] = client_for(actor)  # logged out: log in again for the next routes
    assert not wrong, "\n".join(wrong)
    assert checked > 200


def test_session_writes_without_a_csrf_token_are_refused(world):
    client = Client(enforce_csrf_checks=True)
    client.force_login(get_user_model().objects.get(username="alice"))

    placed = client.post("/api/orders/", ORDER, content_type="application/json")
    cancelled = client.post(f"/api/orders/{world.alice_order}/cancel/")

    assert (placed.status_code, cancelled.status_code) == (403, 403)
    assert "CSRF" in placed.json()["detail"]
    client.get("/api-auth/login/")  # sets the CSRF cookie, as the browsable API's form does
    token = client.cookies["csrftoken"].value
    with_token = client.post("/api/orders/", ORDER, content_type="application/json", headers={"X-CSRFToken": token})
    assert with_token.status_code == 201
