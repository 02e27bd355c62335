"""The orders database goes down under a running web server (a PostgreSQL cluster of its
own, stopped for real): orders are refused with 503 and a clear detail, /readyz names the
database, and once it is back nothing is half-written and the retried order is placed once."""

import http.client
import json
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

import psycopg
import pytest

from testsupport.helpers import ROOT, manage_env
from testsupport.services import Postgres, run

pytestmark = pytest.mark.integration
ORDER = {"productId": "CATALOG-001", "qty": 2, "unitPrice": 1000}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(port: int, method: str, path: str, body=None, headers=None) -> tuple[int, dict[str, str], str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request(method, path, json.dumps(body) if body is not None else None, headers or {})
    response = connection.getresponse()
    return response.status, dict(response.getheaders()), response.read().decode()


def admin_login(port: int, username: str, password: str) -> str:
    """Log in through the admin's form; return the Cookie header of the session."""
    _, headers, _ = request(port, "GET", "/admin/login/")
    csrf = headers["Set-Cookie"].split("csrftoken=")[1].split(";")[0]
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    form = urllib.parse.urlencode(
        {"csrfmiddlewaretoken": csrf, "username": username, "password": password, "next": "/admin/"}
    )
    content_type = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": f"csrftoken={csrf}"}
    connection.request("POST", "/admin/login/", form, content_type)
    response = connection.getresponse()
    response.read()
    assert response.status == 302, response.status
    session = next(c for c in response.headers.get_all("Set-Cookie") if c.startswith("sessionid="))
    return f"csrftoken={csrf}; {session.split(';')[0]}"


@pytest.fixture
def orders_postgres():
    home = Path(tempfile.mkdtemp(prefix="stocksync-outage-"))
    home.chmod(0o755)  # PostgreSQL runs as its own user and must enter it
    postgres = Postgres(dir=home / "pg", port=free_port())
    postgres.start()
    yield postgres
    try:
        postgres.stop()
    finally:
        shutil.rmtree(home, ignore_errors=True)


@pytest.mark.django_db(databases=["default", "catalog"])
def test_orders_database_down_is_503_with_a_detail_and_nothing_half_written(orders_postgres, topics):
    env = manage_env(ORDERS_DATABASE_URL=orders_postgres.url("orders"), LOG_LEVEL="ERROR")
    run([sys.executable, ROOT / "manage.py", "migrate", "--noinput", "-v0"], env=env)
    users = run([sys.executable, ROOT / "manage.py", "createdemousers"], env=env)
    staff = next(line for line in users.splitlines() if "(staff" in line)
    token = staff.split("token ")[1].strip()
    username, password = staff.split()[1], staff.split("password ")[1].split()[0]
    with psycopg.connect(orders_postgres.url("orders"), autocommit=True) as db:
        db.execute(
            "INSERT INTO orders_productreplica (product_id, product_name, unit_price, active, version, replicated_at)"
            " VALUES ('CATALOG-001', 'Berlin', 1000, true, 1, now())"
        )
    port = free_port()
    web = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi", "--workers", "1", "--bind", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    auth = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if request(port, "GET", "/healthz")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "the web server never answered"
            time.sleep(0.2)
        placed = request(port, "POST", "/order-service/user-1/orders", ORDER, {**auth, "Idempotency-Key": "before"})
        assert placed[0] == 201, placed
        session = admin_login(port, username, password)  # the admin and the live page read the session

        orders_postgres.stop()
        status, headers, body = request(
            port, "POST", "/order-service/user-1/orders", ORDER, {**auth, "Idempotency-Key": "during"}
        )
        ready_status, _, ready_body = request(port, "GET", "/readyz")
        pages = {path: request(port, "GET", path, headers={"Cookie": session}) for path in ("/admin/", "/live/")}

        assert status == 503, body
        assert headers["Content-Type"] == "application/json"
        assert int(headers["Retry-After"]) > 0
        assert "orders database is unavailable" in json.loads(body)["detail"]
        assert "Traceback" not in body
        assert ready_status == 503
        checks = json.loads(ready_body)["checks"]
        assert checks["database:default"] != "ok" and checks["database:catalog"] == "ok"
        for path, (page_status, page_headers, page_body) in pages.items():  # the admin and the live page too
            assert page_status == 503, (path, page_status, page_body[:300])
            assert "database is unavailable" in page_body and "Traceback" not in page_body
            assert int(page_headers["Retry-After"]) > 0

        orders_postgres.start()
        deadline = time.monotonic() + 30
        while True:  # the first request after the restart may still find the old connection gone
            status, headers, body = request(
                port, "POST", "/order-service/user-1/orders", ORDER, {**auth, "Idempotency-Key": "during"}
            )
            if status != 503 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert status == 201, body
        assert request(port, "GET", "/readyz")[0] == 200
    finally:
        web.send_signal(signal.SIGTERM)
        web.wait(30)

    with psycopg.connect(orders_postgres.url("orders")) as db:
        orders = db.execute("SELECT count(*) FROM orders_order").fetchone()[0]
        events = db.execute("SELECT count(*) FROM orders_outboxevent").fetchone()[0]
        keys = sorted(k for (k,) in db.execute("SELECT key FROM orders_idempotencykey"))
        orphans = db.execute(
            "SELECT count(*) FROM orders_order o WHERE NOT EXISTS "
            "(SELECT 1 FROM orders_outboxevent e WHERE e.subject_id = o.order_id::text)"
        ).fetchone()[0]
    assert (orders, events, keys, orphans) == (2, 2, ["before", "during"], 0)
