"""`make run` as a new user runs it (bin/dev-run: SQLite files, a broker of its own), used
and broken as its reader would, in this order, against one running system:

1. the catalog's consumer SIGKILLed, as a crash would: only it goes down, it is back
   within 30 s, the others keep their pids, an order placed meanwhile ends CONFIRMED;
2. every guided lab, from its command (`manage.py lab NAME`), to its PASS line;
3. the live page in Chromium: it redraws itself, without a reload, when an order is
   placed and when the catalog's consumer is stopped and started (screenshots);
4. Ctrl-C: everything stops within 30 s, leaving no port behind."""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from sync.management.commands.lab import LABS
from testsupport.browser import SHOTS, chromium_page
from testsupport.helpers import ROOT

pytestmark = pytest.mark.integration

WEB_PORT, KAFKA_PORT = 28180, 29292
TUTORIAL_USER = "8b2c437c-c8b2-42eb-b9ff-3aa8ee4cac1e"


class Run:
    """bin/dev-run in its own session, its output collected as it comes."""

    def __init__(self, home: Path) -> None:
        env = {k: v for k, v in os.environ.items() if not k.endswith("_DATABASE_URL")}
        env.pop("KAFKA_BOOTSTRAP_SERVERS", None)  # the test session's: make run starts its own
        env.update(
            WEB_PORT=str(WEB_PORT),
            KAFKA_PORT=str(KAFKA_PORT),
            KAFKA_HOME=str(home / "kafka"),
            KAFKA_HEAP_OPTS="-Xmx512M -Xms512M",
            STOCKSYNC_VAR_DIR=str(home / "var"),
            STOCKSYNC_RUN_DIR=str(home / "run"),
            CONSUMER_HEARTBEAT_DIR=str(home / "heartbeats"),
        )
        self.env = env
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            [str(ROOT / "bin" / "dev-run")],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        threading.Thread(target=self._collect, daemon=True).start()

    def _collect(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.lines):
            assert self.process.poll() is None, "make run exited:\n" + "\n".join(self.lines[-60:])
            assert time.monotonic() < deadline, f"no {text!r} within {timeout:g} s:\n" + "\n".join(self.lines[-60:])
            time.sleep(0.2)

    def pids(self) -> dict[str, int]:
        out = subprocess.run(
            [str(ROOT / "bin" / "stocksync"), "status"], env=self.env, capture_output=True, text=True, timeout=30
        ).stdout
        return {m[0]: int(m[1]) for m in re.findall(r"^(\S+)\s+RUNNING\s+pid (\d+)", out, re.M)}

    def token(self, user: str) -> str:
        line = next(line for line in self.lines if f"user {user}" in line and " token " in line)
        return line.split(" token ")[1].split()[0]

    def password(self, user: str) -> str:
        line = next(line for line in self.lines if f"user {user}" in line and " password " in line)
        return line.split(" password ")[1].split()[0]

    def stocksync(self, *args: str) -> str:
        run = subprocess.run(
            [str(ROOT / "bin" / "stocksync"), *args], env=self.env, capture_output=True, text=True, timeout=120
        )
        assert run.returncode == 0, run.stderr
        return run.stdout

    def interrupt(self) -> float:
        """Ctrl-C, as the terminal sends it (to the whole group); seconds until make run exited."""
        if self.process.poll() is not None:
            return 0.0
        started = time.monotonic()
        os.killpg(self.process.pid, signal.SIGINT)
        self.process.wait(60)
        return time.monotonic() - started


def api(method: str, path: str, token: str, body: dict | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{WEB_PORT}{path}",
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=40) as response:
        return response.status, json.load(response)


def listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def system():
    home = Path(tempfile.mkdtemp(prefix="stocksync-make-run-"))
    run = Run(home)
    try:
        run.wait_for("stocksync is ready", timeout=240)
        yield run
    finally:
        run.interrupt()
        shutil.rmtree(home, ignore_errors=True)


def test_a_killed_catalog_consumer_comes_back_alone_and_the_others_carry_on(system):
    run = system
    token = run.token(TUTORIAL_USER)
    before = run.pids()
    assert {"kafka", "web", "relay", "order-consumer", "housekeeping"} <= set(before), before
    assert "catalog-consumer:catalog-consumer-0" in before, before

    os.kill(before["catalog-consumer:catalog-consumer-0"], signal.SIGKILL)
    status, order = api(
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
    _, decided = api("GET", f"/api/orders/{order['orderId']}/?wait=30", token)
    assert decided["status"] == "CONFIRMED"
    assert any(line.startswith("web") and "| " in line for line in run.lines)  # lines prefixed by service


@pytest.mark.parametrize("name", list(LABS))
def test_the_lab_passes_from_its_command(system, name):
    lab = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "python"), "manage.py", "lab", name],
        cwd=ROOT,
        env={**system.env, "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{KAFKA_PORT}"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    (SHOTS.parent / "labs").mkdir(parents=True, exist_ok=True)
    (SHOTS.parent / "labs" / f"{name}.txt").write_text(lab.stderr + lab.stdout)  # for the reader of CI's output
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
        _, order = api(
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


def test_ctrl_c_stops_everything_within_30_s(system):
    stopped_in = system.interrupt()
    assert stopped_in < 30, stopped_in
    assert not listening(WEB_PORT) and not listening(KAFKA_PORT)
