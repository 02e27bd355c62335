"""Production mode (DJANGO_DEBUG=false) as the README deploys it: `check --deploy` is clean,
HTTPS is enforced behind the proxy, and the security headers are sent."""

import json
import os
import secrets
import subprocess
import sys

from testsupport.helpers import ROOT

PROBE = """
import json
from django.test import Client
c = Client()
plain = c.get("/api/")
health = c.get("/healthz")
secure = c.get("/healthz", headers={"X-Forwarded-Proto": "https"})
print(json.dumps({
    "plain": [plain.status_code, plain.headers.get("Location")],
    "health": [health.status_code, health.headers.get("Strict-Transport-Security")],
    "secure": {k: secure.headers.get(k) for k in (
        "Strict-Transport-Security", "X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy",
        "Cross-Origin-Opener-Policy")},
}))
"""


def production_env() -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "shop.example.com,testserver",
        "LOG_LEVEL": "ERROR",
    }


def manage(*args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "manage.py", *args]
    return subprocess.run(command, cwd=ROOT, env=production_env(), capture_output=True, text=True, timeout=120)


def test_check_deploy_reports_nothing_in_production_mode():
    result = manage("check", "--deploy", "--fail-level", "DEBUG")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_production_redirects_to_https_and_sends_hsts_and_security_headers():
    result = manage("shell", "-c", PROBE)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])

    assert seen["plain"] == [301, "https://testserver/api/"]
    assert seen["health"] == [200, None]  # a load balancer's probe over plain HTTP is answered
    assert seen["secure"] == {
        "Strict-Transport-Security": "max-age=31536000; includeSubDomains; preload",
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "same-origin",
        "Cross-Origin-Opener-Policy": "same-origin",
    }
