"""An order's trace, read from Zipkin's API: its spans as a waterfall (the live page's
journey and ``lab trace`` show it). The trace id comes from the order's outbox row, where
the request's context was stored (kafka_bridge/tracing.py)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from django.conf import settings

TURN_ON = "Tracing is off. Start the system with `make run TRACING=zipkin` to follow each order in Zipkin."


def zipkin_up(*, timeout: float = 3.0) -> bool:
    """Whether Zipkin answers its health check."""
    try:
        with urllib.request.urlopen(f"{settings.ZIPKIN_URL}/health", timeout=timeout):
            return True
    except (OSError, ValueError):
        return False


def zipkin_spans(trace_id: str, *, timeout: float = 1.0) -> list[dict[str, Any]] | None:
    """The trace's spans as Zipkin's API gives them ([] if it has none yet); None if Zipkin
    does not answer."""
    url = f"{settings.ZIPKIN_URL}/api/v2/trace/{trace_id}"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return json.load(response)
    except urllib.error.HTTPError as exc:
        return [] if exc.code == 404 else None
    except (OSError, ValueError):
        return None


def waterfall(spans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The spans in time order: service, name, start and duration (ms from the first span),
    depth under their parents, and the wait before each when nothing of the trace ran."""
    if not spans:
        return []
    spans = sorted(spans, key=lambda s: (s.get("timestamp", 0), s.get("id", "")))
    parents = {s["id"]: s.get("parentId") for s in spans}

    def depth(span_id: str | None) -> int:
        level, seen = 0, set()
        while (span_id := parents.get(span_id)) is not None and span_id in parents and span_id not in seen:
            seen.add(span_id)
            level += 1
        return level

    first = spans[0].get("timestamp", 0)
    ended, rows = first, []
    for span in spans:
        start, duration = span.get("timestamp", first), span.get("duration", 0)
        rows.append(
            {
                "service": span.get("localEndpoint", {}).get("serviceName", "?"),
                "name": span.get("name", ""),
                "kind": span.get("kind", ""),
                "id": span["id"],
                "parentId": span.get("parentId"),
                "depth": depth(span["id"]),
                "startMs": round((start - first) / 1000, 1),
                "durationMs": round(duration / 1000, 1),
                "waitMs": round(max(0, start - ended) / 1000, 1),
            }
        )
        ended = max(ended, start + duration)
    return rows


def order_trace(trace_id: str) -> dict[str, Any]:
    """What the live page shows under an order's journey: its trace id, and its spans when
    Zipkin has them, or what to do to see them."""
    if not trace_id:
        return {"traceId": None, "spans": None, "zipkin": None, "hint": TURN_ON}
    link = f"{settings.ZIPKIN_URL}/zipkin/traces/{trace_id}"
    if settings.TRACING != "zipkin":
        return {"traceId": trace_id, "spans": None, "zipkin": None, "hint": TURN_ON}
    spans = zipkin_spans(trace_id)
    if spans is None:
        hint = f"Zipkin does not answer at {settings.ZIPKIN_URL}: bin/stocksync status says whether it runs."
        return {"traceId": trace_id, "spans": None, "zipkin": link, "hint": hint}
    return {"traceId": trace_id, "spans": waterfall(spans), "zipkin": link, "hint": "" if spans else "no spans yet"}
