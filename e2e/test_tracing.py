"""One trace per order across four processes, in Zipkin: `make run TRACING=zipkin` with
the on-commit publish turned off, so the relay sends every event. Web, relay, the
catalog's consumer and the order service's each send their spans to Zipkin; the test reads
them back from Zipkin's API. Then `lab trace`, from its command, and the live page's
waterfall in Chromium (a screenshot for the README)."""

import json
import time
import urllib.request

import pytest

from testsupport.browser import SHOTS, chromium_page
from testsupport.makerun import running

pytestmark = pytest.mark.integration

WEB_PORT, KAFKA_PORT, ZIPKIN_PORT = 28280, 29492, 29411
TUTORIAL_USER = "8b2c437c-c8b2-42eb-b9ff-3aa8ee4cac1e"
ZIPKIN = f"http://127.0.0.1:{ZIPKIN_PORT}"


@pytest.fixture(scope="module")
def traced():
    with running(
        "tracing",
        web_port=WEB_PORT,
        kafka_port=KAFKA_PORT,
        ready_within=300,
        TRACING="zipkin",
        ZIPKIN_PORT=str(ZIPKIN_PORT),
        OUTBOX_PUBLISH_ON_COMMIT="false",  # the relay sends every event: four processes
        OUTBOX_RELAY_GRACE_SECONDS="1",
        LOG_FORMAT="json",  # each line in a span carries trace_id and span_id
    ) as run:
        yield run


def order_of(product_id: str) -> dict:
    return {"productId": product_id, "qty": 1, "unitPrice": 1000}


def zipkin_trace(trace_id: str, *, services: int, timeout: float = 30) -> list[dict]:
    deadline = time.monotonic() + timeout
    spans: list[dict] = []
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{ZIPKIN}/api/v2/trace/{trace_id}", timeout=5) as response:
                spans = json.load(response)
        except urllib.error.HTTPError:
            spans = []
        if len({s["localEndpoint"]["serviceName"] for s in spans}) >= services:
            return spans
        time.sleep(0.5)
    return spans


def test_one_trace_id_across_web_relay_and_both_consumers(traced):
    token = traced.token(TUTORIAL_USER)
    status, order = traced.api(
        "POST",
        f"/order-service/{TUTORIAL_USER}/orders",
        token,
        {"productId": "CATALOG-001", "qty": 1, "unitPrice": 1000},
    )
    assert status == 201
    _, decided = traced.api("GET", f"/api/orders/{order['orderId']}/?wait=30", token)
    assert decided["status"] == "CONFIRMED"
    _, journey = traced.api("GET", f"/api/orders/{order['orderId']}/journey/", token)
    trace_id = journey["traceId"]
    assert trace_id and len(trace_id) == 32

    spans = zipkin_trace(trace_id, services=4)
    by_service: dict[str, list[dict]] = {}
    for span in spans:
        by_service.setdefault(span["localEndpoint"]["serviceName"], []).append(span)
    assert set(by_service) == {"web", "relay", "catalog-consumer", "order-consumer"}, sorted(by_service)
    assert {s["traceId"] for s in spans} == {trace_id}

    def one(service: str, name_start: str) -> dict:
        found = [s for s in by_service[service] if s["name"].startswith(name_start)]
        assert len(found) == 1, (service, name_start, [s["name"] for s in by_service[service]])
        return found[0]

    request = one("web", "post")  # the Django request span: "POST order-service/<str:user_id>/orders"
    send = one("relay", "send example-catalog-topic")
    catalog = one("catalog-consumer", "process example-catalog-topic")
    answered = one("order-consumer", "process catalog-order-results")
    # Parent to child: the request, the relay's send (after a restart it would be the same:
    # the context is the outbox row's), the catalog, the order service.
    assert "parentId" not in request
    assert send["parentId"] == request["id"] and send["kind"] == "PRODUCER"
    assert catalog["parentId"] == send["id"] and catalog["kind"] == "CONSUMER"
    assert answered["parentId"] == catalog["id"] and answered["kind"] == "CONSUMER"

    # One search for the trace id finds the order's log lines in every service.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = {line.split("|")[0].strip() for line in traced.lines if trace_id in line}
        if {"web", "relay", "catalog-consumer-0", "order-consumer"} <= found:
            break
        time.sleep(0.5)
    assert {"web", "relay", "catalog-consumer-0", "order-consumer"} <= found, found
    for line in traced.lines:
        if trace_id in line and line.split("|")[0].strip() == "catalog-consumer-0":
            logged = json.loads(line.split("|", 1)[1])
            assert logged["trace_id"] == trace_id and logged["span_id"] == catalog["id"]
            assert logged["orderId"] == order["orderId"]


def test_the_trace_lab_passes_from_its_command(traced):
    lab = traced.lab("trace", KAFKA_BOOTSTRAP_SERVERS=f"127.0.0.1:{KAFKA_PORT}", ZIPKIN_URL=ZIPKIN)
    assert lab.returncode == 0, lab.stdout[-3000:] + lab.stderr[-3000:]
    assert lab.stdout.rstrip().splitlines()[-1].startswith("lab trace: PASS"), lab.stdout


def test_the_live_page_shows_the_orders_trace_as_a_waterfall(traced):
    token = traced.token(TUTORIAL_USER)
    _, order = traced.api(
        "POST",
        f"/order-service/{TUTORIAL_USER}/orders",
        token,
        {"productId": "CATALOG-002", "qty": 1, "unitPrice": 1000},
    )
    traced.api("GET", f"/api/orders/{order['orderId']}/?wait=30", token)
    with chromium_page(width=1280, height=900) as page:
        page.goto(f"{traced.web}/admin/login/?next=/live/?order={order['orderId']}")
        page.fill("#id_username", "admin")
        page.fill("#id_password", traced.password("admin"))
        page.click("input[type=submit]")
        page.wait_for_selector("#trace-spans tr[data-service='order-consumer']", timeout=30000)
        services = page.eval_on_selector_all("#trace-spans tr", "rows => rows.map(r => r.dataset.service)")
        assert {"web", "relay", "catalog-consumer", "order-consumer"} <= set(services)
        page.locator("#journey").screenshot(path=SHOTS / "trace-waterfall.png")
        # Zipkin's own page of the same trace, for the README.
        trace_id = page.inner_text("#trace-id").removeprefix("trace: ")
        page.goto(f"{ZIPKIN}/zipkin/traces/{trace_id}")
        page.wait_for_timeout(3000)
        page.screenshot(path=SHOTS / "trace-zipkin.png")
