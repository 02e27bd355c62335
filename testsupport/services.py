"""Real PostgreSQL clusters and Kafka brokers for tests, the chaos suite and the benchmarks.

Thin handles over the project's own launchers (``bin/postgres-server``, ``bin/kafka-server``,
``bin/connect-server``), each on its own port and folder, so several can run beside
``make run``'s.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(cmd: list, *, env: dict | None = None, timeout: float = 180) -> str:
    """Run a command; on failure raise with its output, which says what went wrong."""
    result = subprocess.run([str(c) for c in cmd], env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(str(c) for c in cmd)} exited {result.returncode}:\n{result.stdout}{result.stderr}"
        )
    return result.stdout


def web_answers(port: int) -> bool:
    """True once the web server on 127.0.0.1:``port`` serves the catalog list."""
    import http.client

    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        connection.request("GET", "/catalog-service/catalogs")
        return connection.getresponse().status == 200
    except OSError:
        return False


@dataclass
class Postgres:
    """A throwaway cluster with the databases ``orders`` and ``catalog``."""

    dir: Path
    port: int

    def url(self, database: str) -> str:
        return f"postgres://stocksync@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        run([ROOT / "bin" / "postgres-server", "start", self.dir, self.port])

    def stop(self) -> None:
        run([ROOT / "bin" / "postgres-server", "stop", self.dir])


@dataclass
class KafkaBroker:
    """A single-node Apache Kafka (KRaft) that its owner may stop and start again."""

    port: int
    home: Path
    heap: str = "-Xmx512M -Xms512M"

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _run(self, action: str) -> None:
        env = {**os.environ, "KAFKA_PORT": str(self.port), "KAFKA_HOME": str(self.home), "KAFKA_HEAP_OPTS": self.heap}
        run([ROOT / "bin" / "kafka-server", action], env=env)

    def start(self) -> None:
        self._run("start")

    def stop(self) -> None:
        self._run("stop")


@dataclass
class KafkaCluster:
    """Three Apache Kafka nodes (``bin/kafka-cluster``): client ports port..port+2."""

    port: int
    home: Path

    @property
    def bootstrap(self) -> str:
        return ",".join(f"127.0.0.1:{self.port + i}" for i in range(3))

    def _run(self, *args: str) -> None:
        env = {**os.environ, "KAFKA_CLUSTER_PORT": str(self.port), "KAFKA_CLUSTER_HOME": str(self.home)}
        run([ROOT / "bin" / "kafka-cluster", *args], env=env)

    def start(self) -> None:
        """Start the cluster, or bring back the nodes that are down."""
        self._run("start")

    def stop(self) -> None:
        self._run("stop")

    def kill(self, node: int) -> None:
        """SIGKILL one node (1-3)."""
        self._run("kill", str(node))


@dataclass
class ConnectWorker:
    """A Kafka Connect worker (``bin/connect-server``) with Debezium on its plugin path."""

    port: int
    bootstrap: str

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _run(self, action: str) -> None:
        env = {**os.environ, "CONNECT_PORT": str(self.port), "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap}
        run([ROOT / "bin" / "connect-server", action], env=env, timeout=600)  # the first start fetches it

    def start(self) -> None:
        self._run("start")

    def stop(self) -> None:
        self._run("stop")
