"""The HTTP contract tells the truth: Schemathesis, run as a new user runs it (its command
line, against a live server's /api/schema/, with a user's token, every check), finds
nothing: no server error, no status the schema does not document, no malformed request
accepted."""

import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token

from testsupport.helpers import ROOT

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(databases=["default", "catalog"], transaction=True),
]

TUTORIAL_USER = "8b2c437c-c8b2-42eb-b9ff-3aa8ee4cac1e"
SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"


def test_schemathesis_with_every_check_finds_nothing(live_server, replica, topics, tmp_path):
    user = get_user_model().objects.create_user(username=TUTORIAL_USER)
    token = Token.objects.create(user=user).key
    command = [
        str(SCHEMATHESIS),
        "run",
        f"{live_server.url}/api/schema/",
        "--checks",
        "all",
        "--header",
        f"Authorization: Token {token}",
        "--max-examples",
        "25",
        "--seed",
        "1",
        "--report",
        "junit",
        "--report-dir",
        str(tmp_path),
    ]
    run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    (tmp_path / "schemathesis.txt").write_text(run.stdout)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert "No issues found" in run.stdout or " passed" in run.stdout, run.stdout[-3000:]
