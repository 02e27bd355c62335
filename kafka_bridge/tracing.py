"""Distributed tracing with OpenTelemetry: one trace per order, across every process.

Off unless ``TRACING`` is set (``zipkin``, or ``console`` to print spans). Off, each
function here returns at its first line, and nothing of OpenTelemetry's SDK is loaded.

Automatic Kafka instrumentation cannot follow an order through the outbox: it would
parent the message on whatever span is current when it is sent, which for the relay is
its loop, not the order. So the context travels by hand, as a W3C ``traceparent``:

1. ``traceparent_now``: the request's context, stored on the outbox row in the order's
   own transaction (``kafka_bridge.outbox``).
2. ``send_headers``: when a row is sent, by the web process after commit or by
   ``runrelay`` after a crash, a "send" span is started as a child of the stored
   context, and its own ``traceparent`` goes out as a Kafka header.
3. ``consuming``: the consume loop starts one span per message, as a child of the
   header's context, and one span per batch, linked to each of them (a batch serves many
   orders, so it cannot be the child of any one; a link is OpenTelemetry's word for
   that). ``reply_headers`` carries a message's span on to the messages it causes:
   the catalog's reply goes back to the order service in the same trace.
"""

from __future__ import annotations

import atexit
import logging
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from django.conf import settings

from kafka_bridge.messages import Headers, Record

if TYPE_CHECKING:
    from opentelemetry.context import Context
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.trace import Span

logger = logging.getLogger(__name__)

HEADER = "traceparent"
ENABLED = False  # set by tracing_start; read first by every function below
_tracer: Any = None
_provider: Any = None
_pending: dict[tuple[str, int, int], bytes] = {}  # a consumed message's traceparent, until it is applied
_spans: dict[tuple[str, int, int], Span] = {}  # the batch in hand: each message's span


def service_name() -> str:
    """This process's name in a trace: ``OTEL_SERVICE_NAME``, or the command it runs."""
    if os.environ.get("OTEL_SERVICE_NAME"):
        return os.environ["OTEL_SERVICE_NAME"]
    command = sys.argv[1] if len(sys.argv) > 1 and sys.argv[0].endswith("manage.py") else "web"
    return {
        "runserver": "web",
        "runrelay": "relay",
        "runconsumer": "catalog-consumer",
        "runorderconsumer": "order-consumer",
    }.get(command, command)


def tracing_start(exporter: SpanExporter | None = None) -> None:
    """Set up tracing for this process if ``TRACING`` asks for it, or with ``exporter``
    (a test's in-memory one). Once, at start-up (``KafkaBridgeConfig.ready``)."""
    global ENABLED, _tracer, _provider
    if ENABLED or (exporter is None and settings.TRACING == "off"):
        return
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SimpleSpanProcessor

    # The sampler is OpenTelemetry's, from the environment: every trace by default;
    # OTEL_TRACES_SAMPLER=parentbased_traceidratio OTEL_TRACES_SAMPLER_ARG=0.01 keeps 1 in 100
    # orders (decided by the web request; the other processes follow its header's flag).
    _provider = TracerProvider(resource=Resource.create({"service.name": service_name()}), shutdown_on_exit=False)
    if exporter is not None:
        _provider.add_span_processor(SimpleSpanProcessor(exporter))
    elif settings.TRACING == "zipkin":
        from opentelemetry.exporter.zipkin.json import ZipkinExporter

        # Bounded waits: a Zipkin that is slow or gone must not hold a process that is stopping.
        zipkin = ZipkinExporter(endpoint=f"{settings.ZIPKIN_URL}/api/v2/spans", timeout=2)
        _provider.add_span_processor(BatchSpanProcessor(zipkin, schedule_delay_millis=500, export_timeout_millis=2000))
    else:
        _provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
    _tracer = _provider.get_tracer("stocksync")
    # The request span of every HTTP request (the web process; harmless in the others).
    DjangoInstrumentor().instrument(tracer_provider=_provider)
    ENABLED = True
    atexit.register(tracing_flush)  # the exporter's thread is a daemon: what is left after 2 s is dropped
    logger.info("tracing on (%s) as %r", "test" if exporter else settings.TRACING, service_name())


def tracing_stop() -> None:
    """Tracing off again (a test that turned it on)."""
    global ENABLED
    if not ENABLED:
        return
    from opentelemetry.instrumentation.django import DjangoInstrumentor

    tracing_flush()
    DjangoInstrumentor().uninstrument()
    ENABLED = False


def tracing_flush() -> None:
    """Send the spans still buffered, waiting at most 2 s."""
    if ENABLED and _provider is not None:
        _provider.force_flush(2000)


# -- 1. the request's context, for the outbox row -----------------------------------------


def traceparent_now() -> str:
    """The current span's W3C traceparent ("" with no span, or tracing off)."""
    if not ENABLED:
        return ""
    from opentelemetry.propagate import inject

    carrier: dict[str, str] = {}
    inject(carrier)
    return carrier.get(HEADER, "")


def sampled(traceparent: str) -> bool:
    """Whether a traceparent's trace is recorded (bit 0 of its flags; bit 1 says its id is random)."""
    return len(traceparent) == 55 and int(traceparent[-2:], 16) & 1 == 1


def trace_id_of(traceparent: str) -> str:
    """The trace id in a traceparent (``00-<trace id>-<span id>-<flags>``), or ""."""
    parts = traceparent.split("-")
    return parts[1] if len(parts) == 4 else ""


# -- 2. sending ----------------------------------------------------------------------------


def send_headers(traceparent: str, topic: str) -> Headers | None:
    """A "send" span under the stored context; its traceparent as the message's header."""
    if not ENABLED or not traceparent:
        return None
    from opentelemetry.trace import SpanKind

    with _tracer.start_as_current_span(
        f"send {topic}",
        context=_context(traceparent),
        kind=SpanKind.PRODUCER,
        attributes={"messaging.system": "kafka", "messaging.destination.name": topic},
    ) as span:
        if span.is_recording():
            logger.info("sending to %s", topic)
        return [(HEADER, traceparent_now().encode())]


def _context(traceparent: str | bytes) -> Context:
    from opentelemetry.propagate import extract

    value = traceparent.decode() if isinstance(traceparent, bytes) else traceparent
    return extract({HEADER: value})


# -- 3. consuming --------------------------------------------------------------------------


def remember(topic: str, partition: int, offset: int, headers: Any) -> None:
    """Keep a consumed message's traceparent (from ``Message.headers()``) until its batch is applied."""
    for name, value in headers or ():
        if name == HEADER and value:
            _pending[topic, partition, offset] = value if isinstance(value, bytes) else value.encode()
            return


@contextmanager
def consuming(topic: str, records: list[Record]) -> Iterator[None]:
    """One span per record (in its order's trace) and one for the batch, linked to them,
    while the batch is applied."""
    if not ENABLED:
        yield
        return
    from opentelemetry.trace import Link, SpanKind, use_span

    spans = []
    for record in records:
        parent = _pending.pop((record.topic, record.partition, record.offset), None)
        span = _tracer.start_span(
            f"process {topic}", context=_context(parent) if parent else None, kind=SpanKind.CONSUMER
        )
        _spans[record.topic, record.partition, record.offset] = span
        spans.append(span)
        if span.is_recording():  # sampled: what the span says, and the log line that finds it
            span.set_attributes(
                {
                    "messaging.system": "kafka",
                    "messaging.destination.name": topic,
                    "messaging.kafka.destination.partition": record.partition,
                    "messaging.kafka.offset": record.offset,
                    **{f"stocksync.{k}": v for k, v in getattr(record.event, "log_fields", {}).items()},
                }
            )
            logger.info("processing %s", record.where, extra={**record.log_fields, **_ids(span)})
    links = [Link(span.get_span_context()) for span in spans]
    batch = _tracer.start_span(f"apply {topic}", links=links, attributes={"stocksync.records": len(records)})
    try:
        with use_span(batch, end_on_exit=True):
            yield
    finally:
        for record, span in zip(records, spans, strict=True):
            span.end()
            _spans.pop((record.topic, record.partition, record.offset), None)


def reply_headers(record: Record) -> Headers | None:
    """The header that keeps a message caused by ``record`` in ``record``'s trace."""
    if not ENABLED:
        return None
    span = _spans.get((record.topic, record.partition, record.offset))
    if span is None:
        return None
    context = span.get_span_context()
    return [(HEADER, f"00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}".encode())]


def reply_headers_by(records: Iterable[Record], key: Callable[[Record], str]) -> dict[str, Headers]:
    """``reply_headers`` of each record, by ``key(record)`` (an orderId): {} with tracing off."""
    if not ENABLED:
        return {}
    found = {key(record): reply_headers(record) for record in records}
    return {k: headers for k, headers in found.items() if headers is not None}


def _ids(span: Span) -> dict[str, str]:
    context = span.get_span_context()
    return {"trace_id": f"{context.trace_id:032x}", "span_id": f"{context.span_id:016x}"}


class TraceIdFilter(logging.Filter):
    """Adds ``trace_id`` and ``span_id`` of the current span to every log record (JSON logs
    show them; one search finds an order's lines in every service)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if ENABLED and not hasattr(record, "trace_id"):
            from opentelemetry.trace import get_current_span

            context = get_current_span().get_span_context()
            if context.is_valid:
                record.trace_id = f"{context.trace_id:032x}"
                record.span_id = f"{context.span_id:016x}"
        return True
