"""`make run` as a new user runs it (bin/dev-run: SQLite files, a broker of its own), used
and broken as its reader would, in this order, against one running system:

1. the catalog's consumer SIGKILLed, as a crash would: only it goes down, it is back
   within 30 s, the others keep their pids, an order placed meanwhile ends CONFIRMED;
2. every guided lab, from its command (`manage.py lab NAME`), to its PASS line;
3. the live page in Chromium: it redraws itself, without a reload, when an order is
   placed and when the catalog's consumer is stopped and started (screenshots);
4. Schemathesis, as a new user runs it, against make run's /api/schema/ with the demo
   user's token and every check: nothing found;
5. Ctrl-C: everything stops within 30 s, leaving no port behind."""

import os
import signal
import subprocess
import time

import pytest

from sync.management.commands.lab import LABS
from testsupport.browser import SHOTS, chromium_page
from testsupport.helpers import ROOT
from testsupport.makerun import listening, running

pytestmark = pytest.mark.integration

WEB_PORT, KAFKA_PORT = 28180, 29292
TUTORIAL_USER = "8b2c437c-c8b2-42eb-b9ff-3aa8ee4cac1e"


@pytest.fixture(scope="module")
def system():
    with running("make-run", web_port=WEB_PORT, kafka_port=KAFKA_PORT, ready_within=240) as run:
        yield run


def test_a_killed_catalog_consumer_comes_back_alone_and_the_others_carry_on(system):
    run = system
    token = run.token(TUTORIAL_USER)
    before = run.pids()
    assert {"kafka", "web", "relay", "order-consumer", "housekeeping"} <= set(before), before
    assert "catalog-consumer:catalog-consumer-0" in before, before

    os.kill(before["catalog-consumer:catalog-consumer-0"], signal.SIGKILL)
    status, order = run.api(
        "POST",
        f"/order-service/{TUTORIAL_USER}/orders",
        token,
        {"productId": "CATALOG-001", "qty": 10, "unitPrice": 1000},
    )
    assert (status, order["status"]) == (201, "PENDING")  # the order service does not need the catalog

    deadline = time.monotonic() + 30
    while (after := run.pids()).get("catalog-consumer:catalog-consumer-0") in (
        None,
        before["catalog-consumer:catalog-consumer-0"],
    ):
        assert time.monotonic() < deadline, "the consumer was not back within 30 s:\n" + "\n".join(run.lines[-40:])
        time.sleep(0.5)
    assert {k: v for k, v in after.items() if not k.startswith("catalog-consumer")} == {
        k: v for k, v in before.items() if not k.startswith("catalog-consumer")
    }
    assert any("catalog-consumer-0 (terminated by SIGKILL; not expected)" in line for line in run.lines)
    _, decided = run.api("GET", f"/api/orders/{order['orderId']}/?wait=30", token)
    assert decided["status"] == "CONFIRMED"
    assert any(line.startswith("web") and "| " in line for line in run.lines)  # lines prefixed by service


# `trace` needs Zipkin: e2e/test_tracing.py runs it against make run TRACING=zipkin.
# `commit-order` needs PostgreSQL: e2e/test_debezium.py runs it against make run DB=postgres.
@pytest.mark.parametrize("name", [name for name in LABS if name not in ("trace", "commit-order")])
def test_the_lab_passes_from_its_command(system, name):
    lab = system.lab(name, KAFKA_BOOTSTRAP_SERVERS=f"127.0.0.1:{KAFKA_PORT}")
    assert lab.returncode == 0, lab.stdout[-3000:] + lab.stderr[-3000:]
    assert lab.stdout.rstrip().splitlines()[-1].startswith(f"lab {name}: PASS"), lab.stdout


def test_the_live_page_redraws_itself_as_orders_flow_and_the_catalog_stops(system):
    run = system
    web = f"http://127.0.0.1:{WEB_PORT}"
    with chromium_page() as page:
        page.goto(f"{web}/admin/login/?next=/live/")
        page.fill("#id_username", "admin")
        page.fill("#id_password", run.password("admin"))
        page.click("input[type=submit]")
        page.wait_for_function("document.getElementById('updated').textContent.startsWith('updated')")
        page.evaluate("window.notReloaded = true")  # gone if the page reloads
        orders_before = int(page.inner_text("#orders-total"))
        assert page.inner_text("#catalog-lag") == "0"

        run.stocksync("stop", "catalog-consumer")
        _, order = run.api(
            "POST",
            f"/order-service/{TUTORIAL_USER}/orders",
            run.token(TUTORIAL_USER),
            {"productId": "CATALOG-002", "qty": 1, "unitPrice": 1000},
        )
        page.wait_for_function(f"Number(document.getElementById('orders-total').textContent) > {orders_before}")
        page.wait_for_function("Number(document.getElementById('catalog-lag').textContent) >= 1")
        page.click(f"#recent-orders a[data-order='{order['orderId']}']")
        page.wait_for_function(
            "document.getElementById('journey-verdict')?.textContent === 'waiting at: decided by the catalog'"
        )
        page.screenshot(path=SHOTS / "live-1-catalog-stopped.png", full_page=True)

        run.stocksync("start", "catalog-consumer")
        page.wait_for_function(
            "document.getElementById('journey-verdict')?.textContent === 'went all the way'", timeout=60000
        )
        page.wait_for_function("document.getElementById('catalog-lag').textContent === '0'", timeout=30000)
        assert page.evaluate("window.notReloaded") is True
        assert page.locator("#journey tr[data-hop='status changed']").inner_text().count("CONFIRMED") == 1
        page.screenshot(path=SHOTS / "live-2-caught-up.png", full_page=True)


def test_schemathesis_with_every_check_finds_nothing_against_make_run(system):
    run = subprocess.run(
        [
            str(ROOT / ".venv" / "bin" / "schemathesis"),
            "run",
            f"{system.web}/api/schema/",
            "--checks",
            "all",
            "--header",
            f"Authorization: Token {system.token(TUTORIAL_USER)}",
            "--max-examples",
            "15",
            "--seed",
            "1",
        ],
        cwd=ROOT,  # schemathesis.toml
        capture_output=True,
        text=True,
        timeout=600,
    )
    (SHOTS.parent / "schemathesis-make-run.txt").write_text(run.stdout)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]


def test_ctrl_c_stops_everything_within_30_s(system):
    stopped_in = system.interrupt()
    assert stopped_in < 30, stopped_in
    assert not listening(WEB_PORT) and not listening(KAFKA_PORT)
