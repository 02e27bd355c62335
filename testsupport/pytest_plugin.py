"""Starts the real services the test suite runs against, before Django reads its settings.

Loaded with ``-p testsupport.pytest_plugin`` (pyproject.toml), so it runs before
pytest-django configures Django:

* PostgreSQL: unless ``ORDERS_DATABASE_URL`` and ``CATALOG_DATABASE_URL`` are set, a
  throwaway cluster (``bin/postgres-server``) in a temp folder on its own port;
* Apache Kafka: unless ``KAFKA_BOOTSTRAP_SERVERS`` is set, a fresh single-node broker
  (``bin/kafka-server``) on its own ports, so it never touches ``make run``'s broker;
  with ``STOCKSYNC_TEST_KAFKA=cluster``, three brokers (``bin/kafka-cluster``).

Both are stopped when the session ends. With ``CI=true`` a skipped test fails the run:
in CI nothing may quietly not be tested.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from pathlib import Path

import pytest

from testsupport.services import ConnectWorker, KafkaBroker, KafkaCluster, Postgres

PG_PORT = int(os.environ.get("TEST_POSTGRES_PORT", "15432"))
KAFKA_PORT = int(os.environ.get("TEST_KAFKA_PORT", "19092"))
CONNECT_PORT = int(os.environ.get("TEST_CONNECT_PORT", "18083"))


class _Services:
    def __init__(self) -> None:
        self.tmp: Path | None = None
        self.postgres: Postgres | None = None
        self.broker: KafkaBroker | KafkaCluster | None = None

    def start(self) -> None:
        need_pg = not (os.environ.get("ORDERS_DATABASE_URL") and os.environ.get("CATALOG_DATABASE_URL"))
        need_kafka = not os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
        if not (need_pg or need_kafka):
            return
        self.tmp = Path(tempfile.mkdtemp(prefix="stocksync-test-"))
        self.tmp.chmod(0o755)  # PostgreSQL runs as its own user and must enter it
        errors: list[BaseException] = []

        def guarded(fn):
            def run():
                try:
                    fn()
                except BaseException as exc:  # reported below, in the main thread
                    errors.append(exc)

            return run

        threads = []
        if need_pg:
            threads.append(threading.Thread(target=guarded(self._start_postgres)))
        if need_kafka:
            threads.append(threading.Thread(target=guarded(self._start_kafka)))
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            self.stop()
            raise pytest.UsageError(f"could not start the test services: {errors[0]}")

    def _start_postgres(self) -> None:
        self.postgres = Postgres(dir=self.tmp / "pg", port=PG_PORT)
        self.postgres.start()
        os.environ["ORDERS_DATABASE_URL"] = self.postgres.url("orders")
        os.environ["CATALOG_DATABASE_URL"] = self.postgres.url("catalog")

    def _start_kafka(self) -> None:
        # STOCKSYNC_TEST_KAFKA=cluster: the whole suite on three brokers instead of one.
        if os.environ.get("STOCKSYNC_TEST_KAFKA") == "cluster":
            self.broker = KafkaCluster(port=KAFKA_PORT, home=self.tmp / "kafka-cluster")
        else:
            self.broker = KafkaBroker(port=KAFKA_PORT, home=self.tmp / "kafka")
        self.broker.start()
        os.environ["KAFKA_BOOTSTRAP_SERVERS"] = self.broker.bootstrap

    def stop(self) -> None:
        for service in (self.broker, self.postgres):
            if service is not None:
                try:
                    service.stop()
                except RuntimeError as exc:
                    print(f"could not stop a test service: {exc}")
        if self.tmp is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)


services = _Services()


@pytest.hookimpl(wrapper=True)
def pytest_load_initial_conftests(early_config, parser, args):
    # A wrapper runs before pytest-django's own (tryfirst) hook, which imports settings.
    if os.environ.get("STOCKSYNC_TEST_SERVICES", "1") != "0":
        services.start()
    return (yield)


def pytest_unconfigure(config):
    # The web publisher of the tests' own process goes first, or it would retry a
    # stopped broker until the interpreter exits.
    from django.conf import settings

    if settings.configured:
        from kafka_bridge.producer import shutdown_publisher

        shutdown_publisher(timeout=1)
    services.stop()


@pytest.fixture(scope="session", autouse=True)
def _published_messages_match_their_schemas():
    """Every reply, event and snapshot the tests' own process publishes is checked
    against contracts/schemas/ as it is serialised."""
    from testsupport.contracts import check_what_is_published

    check_what_is_published()


@pytest.fixture(scope="session")
def kafka_broker() -> KafkaBroker | KafkaCluster:
    """The broker the session started; tests that stop it skip when it is someone else's."""
    if services.broker is None:
        pytest.skip("KAFKA_BOOTSTRAP_SERVERS points at a broker this session does not control")
    return services.broker


@pytest.fixture(scope="module")
def connect_worker():
    """A Kafka Connect worker with Debezium, on the session's broker, for the tests of one
    module (a JVM: not left running under the tests that follow)."""
    from django.conf import settings

    worker = ConnectWorker(port=CONNECT_PORT, bootstrap=settings.KAFKA_BOOTSTRAP_SERVERS)
    worker.start()
    yield worker
    worker.stop()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.skipped and os.environ.get("CI", "").lower() == "true" and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.longrepr = f"skipped under CI=true, which counts as a failure: {reason}"
    return report


@pytest.fixture(scope="session", autouse=True)
def _publisher_stops_before_the_test_databases_go(django_db_setup):
    # Delivery reports still arriving would mark outbox rows sent in databases that
    # pytest-django is about to drop; this fixture is torn down before django_db_setup.
    yield
    from kafka_bridge.producer import shutdown_publisher

    shutdown_publisher(timeout=5)
