"""One order, one trace: its spans in every service, read from Zipkin; then the catalog down, seen as a gap.

An order crosses four processes: the web server writes it (and its event, in the outbox),
the web server after commit or the relay sends the event, the catalog's consumer decides,
the order service's consumer records the answer. Each writes spans of the same trace,
because the trace's context travels with the outbox row and in each message's headers.
This lab needs Zipkin: start the system with `make run TRACING=zipkin`.
"""

from __future__ import annotations

import time

from django.conf import settings

from sync.labs.toolkit import Lab, LabFailed
from sync.traces import waterfall, zipkin_spans, zipkin_up

PRODUCT, DOWN_SECONDS = "CATALOG-003", 6
CATALOG_SPAN = f"process {settings.ORDER_EVENTS_TOPIC}"
START = "`make run TRACING=zipkin`"
SERVICES = {"web", "catalog-consumer", "order-consumer"}  # and the sender: web after commit, or relay


def run(lab: Lab) -> str:
    lab.ready()
    if not zipkin_up():
        raise LabFailed(
            f"Zipkin does not answer at {settings.ZIPKIN_URL}: start the system with `make run TRACING=zipkin`"
        )

    lab.step(f"Place an order for {PRODUCT} and wait for its answer.")
    first = place_and_trace(lab)
    rows = spans_of(lab, first)
    lab.step("Its spans, read from Zipkin's API (GET /api/v2/trace/<traceId>), as a tree:")
    show(lab, rows)
    services = {row["service"] for row in rows}
    lab.check(SERVICES <= services, f"one trace across {len(services)} services: {', '.join(sorted(services))}")
    sent_by = next(row["service"] for row in rows if row["name"].startswith("send "))
    lab.say(f"the event was sent by: {sent_by} ({'after commit' if sent_by == 'web' else 'the relay'})")
    lab.watch(f"{settings.ZIPKIN_URL}/zipkin/traces/{first}, or /live/?order=…: the same spans as a waterfall.")

    lab.step(f"Stop the catalog's consumer, place an order, wait {DOWN_SECONDS} s, start the consumer again.")
    lab.stocksync("stop", "catalog-consumer")
    second = place_and_trace(lab, wait_first=lambda: time.sleep(DOWN_SECONDS))
    rows = spans_of(lab, second)
    show(lab, rows)
    catalog = next(row for row in rows if row["name"] == CATALOG_SPAN)
    lab.check(
        catalog["waitMs"] >= (DOWN_SECONDS - 1) * 1000 and catalog["service"] == "catalog-consumer",
        f"one long gap of {catalog['waitMs'] / 1000:.1f} s before the catalog's span: the event waited on Kafka",
    )
    others = max((row["waitMs"] for row in rows if row is not catalog), default=0)
    lab.check(others < catalog["waitMs"] / 2, f"every other wait in the trace is shorter (at most {others:.0f} ms)")
    gap = catalog["waitMs"] / 1000
    return f"one trace across {', '.join(sorted(services))}; the catalog's downtime is one {gap:.1f} s gap"


def place_and_trace(lab: Lab, wait_first=None) -> str:
    """Place an order; return its trace id once the order is decided (after ``wait_first``)."""
    code, body = lab.place(PRODUCT, 1)
    lab.check(code == 201, f"order {body.get('orderId', '?')[:8]}… answered {code} {body.get('status', body)}")
    if wait_first is not None:
        wait_first()
        lab.stocksync("start", "catalog-consumer")
    lab.check_decided([body["orderId"]], wait=30)
    _, journey = lab.api("GET", f"/api/orders/{body['orderId']}/journey/")
    trace_id = journey.get("traceId")
    if not trace_id:
        raise LabFailed("the order has no trace id: was make run started with TRACING=zipkin?")
    lab.say(f"trace id (from the order's outbox row): {trace_id}")
    return trace_id


def spans_of(lab: Lab, trace_id: str) -> list[dict]:
    """The trace's spans once every service's have reached Zipkin (each sends them every 0.5 s)."""
    found: list[dict] = []

    def complete() -> bool:
        found[:] = waterfall(zipkin_spans(trace_id) or [])
        names = {row["name"] for row in found}
        return CATALOG_SPAN in names and f"process {settings.ORDER_RESULTS_TOPIC}" in names

    lab.wait("the spans to reach Zipkin", complete, timeout=30)
    return found


def show(lab: Lab, rows: list[dict]) -> None:
    for row in rows:
        wait = f"   (after {row['waitMs'] / 1000:.1f} s of nothing)" if row["waitMs"] >= 1000 else ""
        indent = "  " * row["depth"]
        lab.say(f"{row['startMs']:>9.1f} ms  {row['service']:<17} {indent}{row['name']}  {row['durationMs']} ms{wait}")
