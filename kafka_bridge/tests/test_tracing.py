"""kafka_bridge/tracing.py without a broker: off, it does nothing; on, log lines written
in a span carry its ids, and a message's reply header continues its span."""

import logging

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from contracts.events import OrderEvent
from kafka_bridge import tracing
from kafka_bridge.messages import Record

pytestmark = pytest.mark.django_db(databases=[])


@pytest.fixture
def spans():
    exporter = InMemorySpanExporter()
    tracing.tracing_start(exporter=exporter)
    yield exporter
    tracing.tracing_stop()


def record(offset: int, event: OrderEvent) -> Record:
    return Record("orders", 0, offset, None, b"P1", event.to_json(), event)


EVENT = OrderEvent(product_id="P1", qty=1, unit_price=5, total_price=5, order_id="o-1", user_id="u")


def test_off_it_stores_no_context_and_sends_no_header():
    assert not tracing.ENABLED
    assert tracing.traceparent_now() == ""
    assert tracing.send_headers("00-" + "1" * 32 + "-" + "2" * 16 + "-01", "orders") is None
    with tracing.consuming("orders", [record(0, EVENT)]):
        assert tracing.reply_headers(record(0, EVENT)) is None
    assert tracing.reply_headers_by([record(0, EVENT)], key=lambda r: r.event.order_id) == {}


def test_sampled_reads_bit_0_of_the_flags():
    trace = "00-" + "ab" * 16 + "-" + "cd" * 8
    assert tracing.sampled(trace + "-01") and tracing.sampled(trace + "-03")  # 03: sampled, random id
    assert not tracing.sampled(trace + "-00") and not tracing.sampled(trace + "-02") and not tracing.sampled("")


def test_on_a_message_continues_its_senders_trace_and_its_reply_continues_the_message(spans):
    sent = "00-" + "ab" * 16 + "-" + "cd" * 8 + "-01"
    header = tracing.send_headers(sent, "orders")
    assert header is not None
    tracing.remember("orders", 0, 7, header)
    consumed = record(7, EVENT)
    with tracing.consuming("orders", [consumed]):
        reply = tracing.reply_headers_by([consumed], key=lambda r: r.event.order_id)["o-1"]
        line = logging.LogRecord("x", logging.INFO, __file__, 1, "in the batch", None, None)
        tracing.TraceIdFilter().filter(line)
    send = next(s for s in spans.get_finished_spans() if s.name == "send orders")
    assert send.context.trace_id == int("ab" * 16, 16) and send.parent.span_id == int("cd" * 8, 16)
    process = next(s for s in spans.get_finished_spans() if s.name == "process orders")
    batch = next(s for s in spans.get_finished_spans() if s.name == "apply orders")
    assert process.parent.span_id == send.context.span_id and process.context.trace_id == send.context.trace_id
    assert reply == [("traceparent", f"00-{'ab' * 16}-{process.context.span_id:016x}-01".encode())]
    assert [link.context.span_id for link in batch.links] == [process.context.span_id]
    # A line written while the batch is applied carries the batch span's ids.
    assert line.trace_id == f"{batch.context.trace_id:032x}" and line.span_id == f"{batch.context.span_id:016x}"
