"""kafka_bridge lifted into another Django project as it is (kafka_bridge/tests/project/):
no orders, no catalog, no config; its outbox, runner, registry, dead letters, sync status
and metrics work for an app they have never heard of (real broker, real PostgreSQL)."""

import json
import os
import subprocess
import sys
import uuid

import psycopg
import pytest

from testsupport.helpers import ROOT

pytestmark = pytest.mark.integration


@pytest.fixture
def empty_database():
    server = os.environ["ORDERS_DATABASE_URL"].rsplit("/", 1)[0]
    name = f"bridge_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield f"{server}/{name}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def test_the_bridge_serves_a_project_without_orders_or_catalog(empty_database):
    topic = f"notes-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "kafka_bridge.tests.project.settings",
        "BRIDGE_TEST_DATABASE_URL": empty_database,
        "BRIDGE_TEST_TOPIC": topic,
    }
    run = subprocess.run(
        [sys.executable, "-m", "kafka_bridge.tests.project.scenario"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    seen = json.loads(run.stdout.strip().splitlines()[-1])

    assert seen["notes_read"] == ["hello"]  # published once by the outbox, sent twice, applied once
    assert len(seen["dead_letters"]) == 1 and seen["dead_letters"][0].startswith("not JSON")
    assert seen["groups"] == {"note-readers": 0}
    assert seen["outboxes"] == {"notes.NoteOutbox": [1, 0]}
    assert seen["problems"] == []
    assert "notes_read 1.0" in seen["metrics"]
    assert f'stocksync_consumer_lag{{group="note-readers",partition="0",topic="{topic}"}} 0.0' in seen["metrics"]
    assert seen["project_modules"] == []
