"""`make run DB=postgres RELAY=debezium`, the README's one command for the other relay:
PostgreSQL and a Kafka Connect worker with Debezium come up as supervised services, the
connectors are registered on start, an order goes all the way with no row left in the
outbox, the live page and /metrics show the connectors; and the labs that compare the
relays (`dual-write`, `commit-order`) and `broker-down` pass from their commands."""

import http.cookiejar
import json
import re
import subprocess
import urllib.parse
import urllib.request

import pytest

from testsupport.makerun import running

pytestmark = pytest.mark.integration

WEB_PORT, KAFKA_PORT, POSTGRES_PORT, CONNECT_PORT = 28380, 29592, 25680, 28193
TUTORIAL_USER = "8b2c437c-c8b2-42eb-b9ff-3aa8ee4cac1e"


@pytest.fixture(scope="module")
def cdc():
    with running(
        "debezium",
        web_port=WEB_PORT,
        kafka_port=KAFKA_PORT,
        ready_within=420,
        DB="postgres",
        RELAY="debezium",
        POSTGRES_PORT=str(POSTGRES_PORT),
        CONNECT_PORT=str(CONNECT_PORT),
    ) as run:
        yield run


def test_an_order_goes_all_the_way_through_debezium(cdc):
    status = cdc.stocksync("status")
    assert "connect " in status and "postgres " in status
    assert [line.split()[1] for line in status.splitlines() if line.split()[0] in ("connect", "postgres", "relay")] == [
        "RUNNING",
        "RUNNING",
        "STOPPED",
    ]
    token = cdc.token(TUTORIAL_USER)
    code, order = cdc.api(
        "POST",
        f"/order-service/{TUTORIAL_USER}/orders",
        token,
        {"productId": "CATALOG-001", "qty": 2, "unitPrice": 1000},
    )
    assert code == 201, order
    _, decided = cdc.api("GET", f"/api/orders/{order['orderId']}/?wait=20", token)
    assert decided["status"] == "CONFIRMED"
    unsent = subprocess.run(
        [
            "psql",
            "-h",
            "127.0.0.1",
            "-p",
            str(POSTGRES_PORT),
            "-U",
            "stocksync",
            "-d",
            "orders",
            "-tAc",
            "SELECT count(*) FROM orders_outboxevent",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert unsent == "0"  # deleted in the order's own transaction; Debezium read the insert from the log


def test_metrics_the_live_page_and_the_sync_page_show_the_connectors(cdc):
    with urllib.request.urlopen(f"{cdc.web}/metrics", timeout=30) as response:
        metrics = response.read().decode()
    assert 'stocksync_connector_running{connector="orders-outbox"} 1.0' in metrics
    assert 'stocksync_connector_running{connector="catalog-outbox"} 1.0' in metrics
    assert 'stocksync_connector_lag_bytes{connector="orders-outbox"}' in metrics
    # The live page is the admin's: log in as a browser would (session cookie, CSRF token).
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    form = browser.open(f"{cdc.web}/admin/login/", timeout=30).read().decode()
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form)[1]
    login = urllib.parse.urlencode(
        {"username": "admin", "password": cdc.password("admin"), "csrfmiddlewaretoken": csrf, "next": "/live/"}
    )
    browser.open(urllib.request.Request(f"{cdc.web}/admin/login/", data=login.encode(), headers={"Referer": cdc.web}))
    live = json.load(browser.open(f"{cdc.web}/live/data", timeout=30))
    sync_page = browser.open(f"{cdc.web}/admin/sync/", timeout=30).read().decode()
    assert 'id="connectors"' in sync_page and "orders-outbox" in sync_page and "RUNNING" in sync_page
    assert live["relay"]["kind"] == "debezium"
    assert {c["name"]: c["state"] for c in live["relay"]["connectors"]} == {
        "orders-outbox": "RUNNING",
        "catalog-outbox": "RUNNING",
    }


@pytest.mark.parametrize("name", ["dual-write", "commit-order", "broker-down"])
def test_the_lab_passes_under_debezium(cdc, name):
    lab = cdc.lab(name)
    assert lab.returncode == 0, lab.stdout[-3000:] + lab.stderr[-3000:]
    assert lab.stdout.rstrip().splitlines()[-1].startswith(f"lab {name}: PASS"), lab.stdout
