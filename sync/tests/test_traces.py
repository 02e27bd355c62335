"""An order's trace as the live page and `lab trace` draw it (sync/traces.py), from spans
as Zipkin's API gives them."""

from django.test import override_settings

from sync.traces import TURN_ON, order_trace, waterfall

T0 = 1_765_000_000_000_000  # µs, as Zipkin counts


def span(span_id, parent, service, name, start_ms, duration_ms):
    found = {
        "traceId": "a" * 32,
        "id": span_id,
        "name": name,
        "timestamp": T0 + start_ms * 1000,
        "duration": duration_ms * 1000,
        "localEndpoint": {"serviceName": service},
    }
    if parent:
        found["parentId"] = parent
    return found


def test_spans_in_time_order_with_their_depth_and_the_wait_before_each():
    spans = [
        span("4", "3", "order-consumer", "process catalog-order-results", 8_030, 5),
        span("1", None, "web", "post order-service/<str:user_id>/orders", 0, 20),
        span("3", "2", "catalog-consumer", "process example-catalog-topic", 8_000, 12),
        span("2", "1", "web", "send example-catalog-topic", 15, 1),
    ]
    rows = waterfall(spans)
    assert [(r["service"], r["depth"], r["startMs"], r["durationMs"]) for r in rows] == [
        ("web", 0, 0.0, 20.0),
        ("web", 1, 15.0, 1.0),
        ("catalog-consumer", 2, 8000.0, 12.0),
        ("order-consumer", 3, 8030.0, 5.0),
    ]
    # Nothing of the trace ran between the request's end (20 ms) and the catalog (8 s).
    assert [r["waitMs"] for r in rows] == [0.0, 0.0, 7980.0, 18.0]
    assert waterfall([]) == []


def test_without_a_trace_or_without_zipkin_the_page_says_how_to_turn_it_on():
    assert order_trace("")["hint"] == TURN_ON
    with override_settings(TRACING="off"):
        off = order_trace("b" * 32)
    assert off["traceId"] == "b" * 32 and off["spans"] is None and off["hint"] == TURN_ON
    with override_settings(TRACING="zipkin", ZIPKIN_URL="http://127.0.0.1:1"):
        away = order_trace("b" * 32)
    assert away["spans"] is None and "does not answer" in away["hint"] and away["zipkin"].endswith("b" * 32)
