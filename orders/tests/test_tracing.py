"""One order, one trace: the request, the send (after commit, or by the relay after a
crash), the catalog's processing and the order service's, parent to child, on the real
broker and PostgreSQL, in this process (spans kept in memory). The same across four
processes and Zipkin: e2e/test_tracing.py."""

from datetime import timedelta

import pytest
from django.test import override_settings
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from kafka_bridge.outbox import outbox_relay_pending, relay_producer
from kafka_bridge.producer import shutdown_publisher
from kafka_bridge.tracing import tracing_start, tracing_stop
from orders.models import Order, OutboxEvent
from testsupport.helpers import api_client, consume_orders, consume_results

pytestmark = [pytest.mark.integration, pytest.mark.django_db(databases=["default", "catalog"], transaction=True)]

TUTORIAL_USER = "8b2c437c-c8b2-42eb-b9ff-3aa8ee4cac1e"


@pytest.fixture
def spans():
    exporter = InMemorySpanExporter()
    tracing_start(exporter=exporter)
    yield exporter
    tracing_stop()


def place_and_settle(topics, *, relay: bool) -> str:
    status, body = _post(api_client())
    assert status == 201, body
    if relay:
        sent = outbox_relay_pending(
            model=OutboxEvent, using="default", producer=relay_producer(), older_than=timedelta(0), batch_size=100
        )
        assert sent == (1, 0)
    shutdown_publisher()
    consume_orders(topics["ORDER_EVENTS_TOPIC"], idle=2)
    shutdown_publisher()
    consume_results(idle=2)
    assert Order.objects.get(order_id=body["orderId"]).status == "CONFIRMED"
    return body["orderId"]


def _post(client):
    response = client.post(
        f"/order-service/{TUTORIAL_USER}/orders",
        {"productId": "CATALOG-001", "qty": 10, "unitPrice": 1000},
        format="json",
    )
    return response.status_code, response.json()


def the_orders_trace(exporter, topics):
    finished = exporter.get_finished_spans()
    request = next(s for s in finished if s.kind == SpanKind.SERVER and "orders" in s.name)
    trace = [s for s in finished if s.context.trace_id == request.context.trace_id]
    by_name = {s.name: s for s in trace}
    events, results = topics["ORDER_EVENTS_TOPIC"], topics["ORDER_RESULTS_TOPIC"]
    return request, by_name[f"send {events}"], by_name[f"process {events}"], by_name[f"process {results}"], finished


@pytest.mark.parametrize(
    ("relay", "fast"),
    [(False, False), (True, False), (False, True)],
    ids=["sent-on-commit", "sent-by-the-relay", "fast-layer"],
)
def test_one_trace_from_the_request_to_confirmed(spans, topics, replica, relay, fast):
    with override_settings(OUTBOX_PUBLISH_ON_COMMIT=not relay, CONSUMER_FAST=fast):
        place_and_settle(topics, relay=relay)
    request, send, catalog, orders, finished = the_orders_trace(spans, topics)
    assert send.kind == SpanKind.PRODUCER and send.parent.span_id == request.context.span_id
    assert catalog.kind == SpanKind.CONSUMER and catalog.parent.span_id == send.context.span_id
    assert orders.kind == SpanKind.CONSUMER and orders.parent.span_id == catalog.context.span_id
    # Each batch is a span of its own, linked to the messages it applied.
    batch = next(s for s in finished if s.name == f"apply {topics['ORDER_EVENTS_TOPIC']}")
    assert catalog.context.span_id in {link.context.span_id for link in batch.links}


def test_tracing_off_writes_no_context_and_sends_no_header(topics, replica):
    status, body = _post(api_client())
    assert status == 201
    assert OutboxEvent.objects.get(subject_id=body["orderId"]).traceparent == ""
