"""Fixtures shared by every app's tests. The services themselves: testsupport/pytest_plugin.py."""

import uuid

import pytest
from django.test import override_settings

from catalog.models import Product
from kafka_bridge.config import dead_letter_topic
from kafka_bridge.producer import shutdown_publisher
from kafka_bridge.topics import topics_ensure


@pytest.fixture
def topic():
    """A fresh order-events topic (and its dead-letter topic) for one test, set in settings."""
    name = f"test-orders-{uuid.uuid4().hex[:12]}"
    topics_ensure(names=[name, dead_letter_topic(name)], partitions=3)
    with override_settings(ORDER_EVENTS_TOPIC=name):
        yield name
    # The test's publisher must not outlive its settings (or its database).
    shutdown_publisher()


@pytest.fixture
def products():
    """The three demo products, at their demo stock."""
    from catalog.services import catalog_load_demo_products

    catalog_load_demo_products()
    return {p.product_id: p for p in Product.objects.all()}
