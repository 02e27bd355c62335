"""The Debezium relay's pure parts (no broker, no Connect): what each connector is told,
and what the outbox does with a row under it. The real thing: test_connect.py."""

import pytest
from django.db import transaction
from django.test import override_settings

from catalog.models import OutboxEvent as CatalogOutboxEvent
from kafka_bridge.connect import HEARTBEAT_TABLE, outbox_connectors
from kafka_bridge.outbox import outbox_send
from orders.models import OutboxEvent


def connector_for(model):
    return next(c for c in outbox_connectors() if c.model is model)


def test_one_connector_per_outbox_each_in_its_own_database_and_slot():
    orders, catalog = connector_for(OutboxEvent), connector_for(CatalogOutboxEvent)
    assert (orders.using, catalog.using) == ("default", "catalog")
    assert orders.name != catalog.name and orders.slot != catalog.slot
    assert orders.config()["table.include.list"] == f"public.orders_outboxevent,public.{HEARTBEAT_TABLE}"


def test_the_message_is_the_rows_payload_keyed_and_routed_by_its_columns_with_our_headers_only():
    config = connector_for(OutboxEvent).config()
    assert config["value.converter"] == "io.debezium.converters.BinaryDataConverter"  # bytes as they are
    assert config["key.converter"] == "org.apache.kafka.connect.storage.StringConverter"
    assert config["transforms.outbox.table.field.event.payload"] == "payload"
    assert config["transforms.outbox.table.field.event.key"] == "key"
    assert config["transforms.outbox.route.by.field"] == "topic"
    assert config["transforms.outbox.route.topic.replacement"] == "${routedByValue}"
    assert config["transforms.dropId.headers"] == "id"
    assert config["extended.headers.enabled"] == "false"
    assert "transforms.outbox.table.fields.additional.placement" not in config  # tracing off: no header


@override_settings(TRACING="zipkin")
def test_with_tracing_on_the_rows_traceparent_becomes_the_header():
    config = connector_for(OutboxEvent).config()
    assert config["transforms.outbox.table.fields.additional.placement"] == "traceparent:header:traceparent"


@pytest.mark.django_db(databases=["default"], transaction=True)
@pytest.mark.parametrize(("relay", "rows_left"), [("polling", 1), ("debezium", 0)])
def test_under_debezium_the_row_is_deleted_in_the_transaction_that_wrote_it(relay, rows_left):
    with override_settings(OUTBOX_RELAY=relay, OUTBOX_PUBLISH_ON_COMMIT=False), transaction.atomic():
        outbox_send(
            model=OutboxEvent,
            using="default",
            topic="t",
            key="CATALOG-001",
            subject_id="o-1",
            payload=b"{}",
            crash_point_name="test",
        )
    assert OutboxEvent.objects.count() == rows_left
