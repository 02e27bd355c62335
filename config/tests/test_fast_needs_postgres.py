"""The fast layer is PostgreSQL's: asked for on SQLite, it says so and starts nothing."""

import os
import subprocess
import sys
import tempfile

import pytest

from testsupport.helpers import ROOT


def run(*args: str, **env: str) -> subprocess.CompletedProcess:
    sqlite = {**os.environ, "ORDERS_DATABASE_URL": "", "CATALOG_DATABASE_URL": "", "LOG_LEVEL": "ERROR"}
    sqlite["STOCKSYNC_VAR_DIR"] = tempfile.mkdtemp(prefix="stocksync-sqlite-")
    sqlite.pop("CONSUMER_FAST", None)
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        env={**sqlite, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(("command", "variable"), [("runconsumer", "CATALOG"), ("runorderconsumer", "ORDERS")])
def test_fast_flag_on_sqlite_is_refused_with_a_clear_message(command, variable):
    done = run(command, "--fast")
    assert done.returncode != 0
    assert f"--fast needs PostgreSQL (set {variable}_DATABASE_URL)" in done.stderr
    assert "Traceback" not in done.stderr


def test_fast_setting_on_sqlite_is_refused_at_start_up():
    done = run("check", CONSUMER_FAST="true")
    assert done.returncode != 0
    assert "CONSUMER_FAST=true needs PostgreSQL for both databases" in done.stderr
