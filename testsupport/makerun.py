"""`make run` (bin/dev-run) started as a user starts it, in its own session, for the e2e
tests: its output collected as it comes, its services controlled with bin/stocksync."""

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
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from testsupport.helpers import ROOT

LAB_TRANSCRIPTS = ROOT / "var" / "labs"  # each lab's output, for the reader of CI's output


@contextmanager
def running(name: str, *, web_port: int, kafka_port: int, ready_within: float, **extra_env: str) -> Iterator["Run"]:
    """`make run` in a folder of its own until "stocksync is ready"; Ctrl-C and the folder
    removed afterwards. ``extra_env``: the switches (DB, RELAY, TRACING) and their ports."""
    home = Path(tempfile.mkdtemp(prefix=f"stocksync-{name}-"))
    home.chmod(0o755)  # a PostgreSQL of make run's (DB=postgres) runs as its own user and must enter it
    run = Run(home, web_port=web_port, kafka_port=kafka_port, **extra_env)
    try:
        run.wait_for("stocksync is ready", timeout=ready_within)
        yield run
    finally:
        run.interrupt()
        shutil.rmtree(home, ignore_errors=True)


class Run:
    """bin/dev-run in its own session, its output collected as it comes."""

    def __init__(self, home: Path, *, web_port: int, kafka_port: int, **extra_env: str) -> None:
        env = {k: v for k, v in os.environ.items() if not k.endswith("_DATABASE_URL")}
        env.pop("KAFKA_BOOTSTRAP_SERVERS", None)  # the test session's: make run starts its own
        env.update(
            WEB_PORT=str(web_port),
            KAFKA_PORT=str(kafka_port),
            KAFKA_HOME=str(home / "kafka"),
            KAFKA_HEAP_OPTS="-Xmx512M -Xms512M",
            STOCKSYNC_VAR_DIR=str(home / "var"),
            STOCKSYNC_RUN_DIR=str(home / "run"),
            CONSUMER_HEARTBEAT_DIR=str(home / "heartbeats"),
            **extra_env,
        )
        self.web = f"http://127.0.0.1:{web_port}"
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

    def lab(self, name: str, **env: str) -> subprocess.CompletedProcess:
        """`python manage.py lab NAME`, as its reader types it, against this run; its
        output kept in LAB_TRANSCRIPTS."""
        lab = subprocess.run(
            [str(ROOT / ".venv" / "bin" / "python"), "manage.py", "lab", name],
            cwd=ROOT,
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=600,
        )
        LAB_TRANSCRIPTS.mkdir(parents=True, exist_ok=True)
        (LAB_TRANSCRIPTS / f"{name}.txt").write_text(lab.stderr + lab.stdout)
        return lab

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

    def api(self, method: str, path: str, token: str, body: dict | None = None) -> tuple[int, dict]:
        request = urllib.request.Request(
            f"{self.web}{path}",
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=40) as response:
            return response.status, json.load(response)


def listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0
