"""What operators use: health, readiness, the consumer's --check, metrics, JSON logs,
production settings, the demo users (real broker, PostgreSQL)."""

import json
import subprocess
import sys
import time
import uuid

import pytest
from django.test import Client, override_settings

from testsupport.helpers import ROOT, consume_orders, manage, manage_env, produce, read_topic

pytestmark = [pytest.mark.integration, pytest.mark.django_db(databases=["default", "catalog"], transaction=True)]


def test_healthz_and_readyz_when_everything_answers():
    client = Client()
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {
        "database:default": "ok",
        "database:catalog": "ok",
        "kafka": "ok",
        "replica": "ok",
    }


def test_readyz_waits_for_the_replica_to_know_every_product_for_sale(products):
    ready = Client().get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"]["replica"] == "catching up: the order service knows 0 of the 3 products for sale"
    from catalog.services import product_snapshot
    from orders.services import replica_apply_snapshots
    from testsupport.factories import records

    replica_apply_snapshots(records=records(product_snapshot(p) for p in products.values()))
    assert Client().get("/readyz").status_code == 200


@override_settings(KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:1")
def test_readyz_names_what_is_down():
    ready = Client().get("/readyz")
    assert ready.status_code == 503
    body = ready.json()
    assert body["status"] == "not ready"
    assert body["checks"]["database:default"] == "ok" and body["checks"]["kafka"] != "ok"


def check(*args, **env):
    process = manage("runconsumer", "--check", *args, env=manage_env(**env), stdout=subprocess.PIPE, text=True)
    out, _ = process.communicate(timeout=60)
    return process.returncode, out


def test_runconsumer_check_needs_a_consumer_that_turned_its_loop_recently(topic, products, tmp_path):
    group = f"check-{uuid.uuid4().hex[:8]}"
    env = {"CONSUMER_HEARTBEAT_DIR": str(tmp_path)}
    status, out = check("--group-id", group, **env)
    assert status == 1 and "no runconsumer of group" in out

    consumer = manage("runconsumer", "--group-id", group, env=manage_env(CONSUMER_HEARTBEAT_DIR=str(tmp_path)))
    try:
        for _ in range(60):
            if list(tmp_path.glob(f"runconsumer-{group}.*.heartbeat")) or consumer.poll() is not None:
                break
            time.sleep(0.5)
        status, out = check("--group-id", group, **env)
        assert status == 0, out
        assert "HEALTHY" in out and "catalog database: ok" in out and f"{topic}[0]" in out
    finally:
        consumer.terminate()
        assert consumer.wait(30) == 0
    # A clean exit removes its sign of life.
    status, out = check("--group-id", group, **env)
    assert status == 1


def test_metrics_show_orders_decisions_backlog_and_lag(topics, replica):
    from orders.services import order_create

    order_create(user_id="u", product_id="CATALOG-001", qty=1, unit_price=1000)
    consume_orders(topics["ORDER_EVENTS_TOPIC"], group_id="catalog-service", idle=2)
    text = Client().get("/metrics").content.decode()
    assert 'stocksync_orders_created_total{status="PENDING"} 1.0' in text
    assert 'stocksync_catalog_decisions_total{kind="order",outcome="applied"} 1.0' in text
    assert 'stocksync_outbox_backlog{outbox="orders.OutboxEvent"}' in text
    assert (
        f'stocksync_consumer_lag{{group="catalog-service",partition="0",topic="{topics["ORDER_EVENTS_TOPIC"]}"}}'
        in text
    )
    assert "stocksync_kafka_up 1.0" in text
    assert 'stocksync_product_stock{product="CATALOG-001"} 99.0' in text


def test_consumer_serves_its_own_metrics(topic, products):
    import urllib.request

    from contracts.events import OrderEvent

    produce(topic, [b"not json", OrderEvent("CATALOG-002", 1, 1000, 1000, "o-metrics", "u").to_json()])
    consumer = manage("runconsumer", "--group-id", f"m-{uuid.uuid4().hex[:6]}", "--metrics-port", "29101")
    try:
        text = ""
        for _ in range(60):
            try:
                text = urllib.request.urlopen("http://127.0.0.1:29101/metrics", timeout=2).read().decode()
            except OSError:
                text = ""
            if f'stocksync_consumer_events_total{{outcome="applied",topic="{topic}"}} 1.0' in text:
                break
            time.sleep(0.5)
        assert f'stocksync_consumer_events_total{{outcome="dead_lettered",topic="{topic}"}} 1.0' in text, text[-2000:]
        assert f'stocksync_consumer_apply_seconds_count{{topic="{topic}"}} 1.0' in text
        assert f'stocksync_consumer_events_total{{outcome="applied",topic="{topic}"}} 1.0' in text
    finally:
        consumer.terminate()
        consumer.wait(30)


def test_json_logs_carry_the_message_coordinates(topic, products):
    produce(topic, [b"not json"], key=b"k")
    run = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "runconsumer",
            "--group-id",
            f"j-{uuid.uuid4().hex[:6]}",
            "--exit-when-idle",
            "2",
        ],
        cwd=ROOT,
        env=manage_env(LOG_FORMAT="json"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    lines = [json.loads(line) for line in run.stderr.splitlines() if line.startswith("{")]
    dead = next(line for line in lines if line["message"].startswith("dead-lettering"))
    (original,) = read_topic(topic, expected=1)  # where the key put it
    assert (dead["topic"], dead["partition"], dead["offset"], dead["level"]) == (
        topic,
        original.partition(),
        original.offset(),
        "WARNING",
    )
    assert all({"time", "level", "logger", "message"} <= set(line) for line in lines)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DJANGO_DEBUG": "false"}, "DJANGO_SECRET_KEY is unset"),
        ({"DJANGO_DEBUG": "false", "DJANGO_SECRET_KEY": "x" * 50}, "set DJANGO_ALLOWED_HOSTS"),
        ({"LOG_FORMAT": "xml"}, "LOG_FORMAT must be 'human' or 'json'"),
    ],
)
def test_production_mode_refuses_unsafe_settings(env, message):
    base = {k: v for k, v in manage_env().items() if k not in ("DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS")}
    run = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode != 0 and message in run.stderr


def test_demo_users_are_created_once_with_their_credentials():
    from io import StringIO

    from django.core.management import call_command

    first, second = StringIO(), StringIO()
    call_command("createdemousers", stdout=first)
    call_command("createdemousers", stdout=second)
    assert "user admin (staff, admin): password " in first.getvalue() and " token " in first.getvalue()
    assert "8b2c437c-c8b2-42eb-b9ff-3aa8ee4cac1e (demo)" in first.getvalue()
    assert "password" not in second.getvalue()
