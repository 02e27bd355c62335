"""Fixtures shared by every app's tests. The services themselves: testsupport/pytest_plugin.py."""

import uuid

import pytest
from django.test import override_settings

from catalog.models import Product
from kafka_bridge.config import dead_letter_topic
from kafka_bridge.producer import shutdown_publisher
from kafka_bridge.topics import topics_ensure


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    """Each test starts with no requests counted against the rate limits (config/throttling.py)."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _replica_caught_up():
    """Each test's order service believes its product replica has caught up (as one that
    has run a while does); the tests of start-up say otherwise."""
    from orders.replica import replica_mark

    replica_mark(caught_up=True)
    yield
    replica_mark(caught_up=True)


@pytest.fixture
def topics():
    """Fresh topics for one test — order events, results, products, each with its
    dead-letter topic — set in settings. Returns {setting name: topic}."""
    suffix = uuid.uuid4().hex[:12]
    names = {
        "ORDER_EVENTS_TOPIC": f"test-orders-{suffix}",
        "ORDER_RESULTS_TOPIC": f"test-results-{suffix}",
        "PRODUCTS_TOPIC": f"test-products-{suffix}",
    }
    topics_ensure(names=[n for name in names.values() for n in (name, dead_letter_topic(name))], partitions=3)
    with override_settings(**names, DEAD_LETTERS_DEFAULT_TOPIC=names["ORDER_EVENTS_TOPIC"]):
        yield names
    # The test's publisher must not outlive its settings (or its database).
    shutdown_publisher()


@pytest.fixture
def topic(topics):
    """The test's order-events topic (see ``topics``)."""
    return topics["ORDER_EVENTS_TOPIC"]


@pytest.fixture
def products():
    """The three demo products, at their demo stock."""
    from catalog.services import products_load_demo

    products_load_demo()
    return {p.product_id: p for p in Product.objects.all()}


@pytest.fixture
def replica(products):
    """The order service's replica of the demo products, as the products topic would fill it."""
    from catalog.services import product_snapshot
    from orders.services import replica_apply_snapshots
    from testsupport.factories import records

    replica_apply_snapshots(records=records((product_snapshot(p) for p in products.values()), topic="products"))
    return products
