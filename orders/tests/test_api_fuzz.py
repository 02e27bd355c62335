"""Fuzz the HTTP API from its own OpenAPI schema (schemathesis): no 5xx, every rejection a
4xx with a message, and nothing stored or published for a rejected request."""

from collections import Counter

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode

from config.wsgi import application
from orders.models import Order, OutboxEvent

schema = schemathesis.openapi.from_wsgi("/api/schema/", application)
# Valid requests and invalid ones (wrong types, missing fields, out-of-range numbers).
schema.config.generation.update(modes=list(GenerationMode))


@pytest.fixture(autouse=True)
def keep_test_transaction_open():
    # Requests go through the real WSGI handler, which closes connections at each
    # request's end; the test's transaction must survive it (Django's test client does the same).
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


outcomes: Counter = Counter()
posts: Counter = Counter()


def staff_token() -> str:
    # Staff may use every route (any user's course route), so the fuzzer reaches them all.
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    user, _ = get_user_model().objects.get_or_create(username="fuzz", defaults={"is_staff": True})
    return Token.objects.get_or_create(user=user)[0].key


def point_every_other_order_at_a_real_product(case) -> None:
    # A random productId is never in the catalog, so without this every order would be
    # refused and acceptance would go untested; the other half keeps random products.
    if case.method == "POST" and isinstance(case.body, dict) and "productId" in case.body:
        posts["dict bodies"] += 1
        if posts["dict bodies"] % 2:
            case.body["productId"] = "CATALOG-001"
            case.body["unitPrice"] = 1000


@pytest.mark.django_db(databases=["default", "catalog"])
@pytest.mark.usefixtures("replica")
@schema.parametrize()
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_never_fails_and_rejects_with_a_message(case):
    point_every_other_order_at_a_real_product(case)
    before = (Order.objects.count(), OutboxEvent.objects.count())
    response = case.call(headers={"Authorization": f"Token {staff_token()}"})
    outcomes[(case.method, response.status_code // 100)] += 1
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path}: {response.status_code} {response.text[:500]}"
    )
    if 400 <= response.status_code < 500:
        assert response.text.strip(), "a rejection must say why"
        assert (Order.objects.count(), OutboxEvent.objects.count()) == before, "a rejected request changed data"
    elif case.method == "POST" and not case.formatted_path.endswith("/cancel/"):
        assert response.status_code == 201
        # An Idempotency-Key the fuzzer sent before, with the same body: the first answer, nothing new.
        placed = 0 if response.headers.get("idempotent-replayed") == ["true"] else 1
        assert (Order.objects.count(), OutboxEvent.objects.count()) == (before[0] + placed, before[1] + placed)


def test_fuzzing_reached_both_acceptance_and_rejection():
    # Runs after the fuzz test above (pytest-django runs database tests before the others):
    # the fuzzer must have tried both kinds, or the test above proved little.
    assert outcomes[("POST", 2)] > 0 and outcomes[("POST", 4)] > 0, outcomes
