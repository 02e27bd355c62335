"""The other relay: Kafka Connect with Debezium reads the outbox's inserts from PostgreSQL's
write-ahead log (``OUTBOX_RELAY=debezium``; README, "Two relays").

One Debezium connector per outbox table (each service's database): it streams the
table's inserts through a replication slot, and Debezium's outbox event router turns each
row into the message our own relay would send. What reaches the topic is the same either
way (a test compares them byte for byte):

* the value is the row's ``payload``, as it is (BinaryDataConverter: no Connect envelope);
* the key is the row's ``key`` (StringConverter), and the partition murmur2 of it, as
  the Java client and our producers (``partitioner=murmur2_random``) compute it;
* the topic is the row's ``topic`` (``route.by.field``);
* the headers are ours: the router's own ``id`` header is dropped, Debezium's context
  headers are off, and ``traceparent`` is placed as a header only when tracing is on.

The row itself is deleted in the transaction that wrote it (``kafka_bridge.outbox``): the
log keeps the insert. A heartbeat row of the connector's own keeps its slot from holding
the log of every other table while the outbox is quiet.

``connectors_register`` (``manage.py connectors --register``) creates each table's
publication and (re)writes each connector's config through Connect's REST API: idempotent,
so ``make run`` calls it on every start. ``connectors_status`` reads what the live page and
``/metrics`` show: each connector's state, and how much of the log its slot still holds.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connections

from kafka_bridge.models import OutboxEventBase
from kafka_bridge.outbox import outbox_models

HEARTBEAT_TABLE = "stocksync_connect_heartbeat"


@dataclass(frozen=True)
class OutboxConnector:
    """Debezium's connector for one outbox table, and the names it uses in PostgreSQL."""

    model: type[OutboxEventBase]
    using: str  # the Django database alias

    @property
    def database(self) -> str:
        return str(settings.DATABASES[self.using]["NAME"])

    @property
    def name(self) -> str:  # in Connect's REST API
        return f"{self.database}-outbox"

    @property
    def slot(self) -> str:  # PostgreSQL's replication slot: where the connector has read to
        return f"stocksync_{self.database}_outbox"

    @property
    def table(self) -> str:
        return self.model._meta.db_table

    def config(self) -> dict[str, str]:
        db = settings.DATABASES[self.using]
        config = {
            "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
            "tasks.max": "1",
            "plugin.name": "pgoutput",  # PostgreSQL's own logical decoding: no server plugin to install
            "database.hostname": str(db.get("HOST") or "127.0.0.1"),
            "database.port": str(db.get("PORT") or 5432),
            "database.user": str(db.get("USER") or ""),
            "database.password": str(db.get("PASSWORD") or ""),
            "database.dbname": self.database,
            "topic.prefix": self.name,  # names Debezium's own topics; the router names ours
            "slot.name": self.slot,
            "publication.name": self.slot,
            "publication.autocreate.mode": "disabled",  # connectors_register creates it: inserts only
            # Only what is written from now on: rows already in the table were the polling
            # relay's to send.
            "snapshot.mode": "no_data",
            "tombstones.on.delete": "false",
            # How long the connector waits for more changes before it hands a batch to
            # Connect. Debezium's default, 500 ms, is most of an event's way to the topic;
            # each poll costs the idle JVM CPU (one worker, two connectors, idle: 2% of a
            # core at 500 ms, 5% at 100 ms, 14% at 20 ms).
            "poll.interval.ms": "100",
            "extended.headers.enabled": "false",  # Debezium's __debezium.context.* headers: ours carry none
            # While the outbox is quiet, the slot would hold every other table's log too: the
            # connector confirms a position only when it reads an event. So every 5 s it
            # writes one itself, a row in a table of its own (HEARTBEAT_TABLE), reads it back,
            # and sends a heartbeat (topic __debezium-heartbeat.<name>) at its position: once
            # that is on Kafka, the position is confirmed.
            "heartbeat.interval.ms": "5000",
            "heartbeat.action.query": (
                f"DELETE FROM {HEARTBEAT_TABLE}; INSERT INTO {HEARTBEAT_TABLE} (beat) VALUES (now())"
            ),
            "table.include.list": f"public.{self.table},public.{HEARTBEAT_TABLE}",
            "message.prefix.exclude.list": ".*",  # pg_logical_emit_message's messages are no events of ours
            "key.converter": "org.apache.kafka.connect.storage.StringConverter",
            # An outbox row's payload as it is; anything else (the heartbeats, on their own
            # topic) as plain JSON.
            "value.converter": "io.debezium.converters.BinaryDataConverter",
            "value.converter.delegate.converter.type": "org.apache.kafka.connect.json.JsonConverter",
            "value.converter.delegate.converter.type.schemas.enable": "false",
            # heartbeatRows: the heartbeat table's rows, dropped (the heartbeat that follows
            # carries their position); outbox: an outbox row becomes our message; dropId:
            # the router's "id" header, which ours lack.
            "transforms": "heartbeatRows,outbox,dropId",
            "transforms.heartbeatRows.type": "org.apache.kafka.connect.transforms.Filter",
            "transforms.heartbeatRows.predicate": "isHeartbeatRow",
            "predicates": "isHeartbeatRow,isOutboxRow",
            "predicates.isHeartbeatRow.type": "org.apache.kafka.connect.transforms.predicates.TopicNameMatches",
            "predicates.isHeartbeatRow.pattern": f".*\\.{HEARTBEAT_TABLE}",
            "predicates.isOutboxRow.type": "org.apache.kafka.connect.transforms.predicates.TopicNameMatches",
            "predicates.isOutboxRow.pattern": f"{self.name}\\.public\\.{self.table}",
            "transforms.outbox.predicate": "isOutboxRow",
            "transforms.outbox.type": "io.debezium.transforms.outbox.EventRouter",
            "transforms.outbox.table.field.event.id": "id",
            "transforms.outbox.table.field.event.key": "key",
            "transforms.outbox.table.field.event.payload": "payload",
            "transforms.outbox.route.by.field": "topic",
            "transforms.outbox.route.topic.replacement": "${routedByValue}",
            "transforms.dropId.type": "org.apache.kafka.connect.transforms.DropHeaders",
            "transforms.dropId.headers": "id",
        }
        if settings.TRACING != "off":  # the request's trace context, as our relay sends it
            config["transforms.outbox.table.fields.additional.placement"] = "traceparent:header:traceparent"
        return config


def outbox_connectors() -> list[OutboxConnector]:
    return [OutboxConnector(model, using) for model, using in outbox_models()]


class ConnectError(Exception):
    """Kafka Connect's REST API refused a request or could not be reached."""


def _rest(method: str, path: str, body: dict[str, Any] | None = None, *, timeout: float = 10) -> Any:
    request = urllib.request.Request(
        settings.CONNECT_URL + path,
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Content-Type": "application/json", "Accept": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            answer = response.read()
            return json.loads(answer) if answer else None  # 202 and 204 have none
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace")[:500]
        raise ConnectError(f"{method} {path}: HTTP {exc.code}: {detail}") from exc
    except OSError as exc:
        raise ConnectError(f"Kafka Connect at {settings.CONNECT_URL} did not answer: {exc}") from exc


def _publication_create(connector: OutboxConnector) -> None:
    """A publication of the outbox table's inserts (its deletes are not events), and of the
    connector's heartbeat table."""
    with connections[connector.using].cursor() as cursor:
        cursor.execute(f"CREATE TABLE IF NOT EXISTS {HEARTBEAT_TABLE} (beat timestamptz NOT NULL)")
        cursor.execute("SELECT 1 FROM pg_publication WHERE pubname = %s", [connector.slot])
        if cursor.fetchone() is None:
            cursor.execute(
                f'CREATE PUBLICATION "{connector.slot}" FOR TABLE "{connector.table}", {HEARTBEAT_TABLE}'
                " WITH (publish = 'insert')"
            )


def connectors_register() -> list[str]:
    """Create or update every outbox connector (idempotent); return their names."""
    names = []
    for connector in outbox_connectors():
        _publication_create(connector)
        _rest("PUT", f"/connectors/{connector.name}/config", connector.config())
        _restart_failed(connector)
        names.append(connector.name)
    return names


def _retry_409(request: Callable[[], Any], *, within: float = 30) -> Any:
    """Connect answers 409 while it is still applying a new config, and 400 to an offsets
    reset until the stop has taken effect; ask again until it has."""
    deadline = time.monotonic() + within
    while True:
        try:
            return request()
        except ConnectError as exc:
            if "HTTP 409" not in str(exc) and "HTTP 400" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def _restart_failed(connector: OutboxConnector) -> None:
    """A config that did not change restarts nothing: start again what had failed."""
    try:
        _retry_409(lambda: _rest("POST", f"/connectors/{connector.name}/restart?includeTasks=true&onlyFailed=true"))
    except ConnectError as exc:
        if "HTTP 404" not in str(exc):  # 404: new, nothing has run yet
            raise


def connectors_pause(*, paused: bool) -> None:
    """Pause the connectors (what is written meanwhile waits in the log) or resume them."""
    for connector in outbox_connectors():
        _rest("PUT", f"/connectors/{connector.name}/{'pause' if paused else 'resume'}")


def connectors_delete(*, within: float = 30) -> None:
    """Remove the connectors, their slots and publications: a slot left behind keeps the
    log forever (and its database cannot be dropped)."""
    for connector in outbox_connectors():
        try:
            # Stopped first, so its stored position can go too: a connector of the same name
            # would otherwise look for that position in a slot that no longer has it.
            _rest("PUT", f"/connectors/{connector.name}/stop")
            offsets = f"/connectors/{connector.name}/offsets"
            _retry_409(lambda: _rest("DELETE", offsets))  # noqa: B023 - called before the loop moves on
            _rest("DELETE", f"/connectors/{connector.name}")
        except ConnectError as exc:
            if "HTTP 404" not in str(exc):
                raise
        deadline = time.monotonic() + within
        with connections[connector.using].cursor() as cursor:
            while True:  # the task lets go of its slot a moment after the connector is deleted
                cursor.execute("SELECT active FROM pg_replication_slots WHERE slot_name = %s", [connector.slot])
                row = cursor.fetchone()
                if row is None:
                    break
                if not row[0]:
                    cursor.execute("SELECT pg_drop_replication_slot(%s)", [connector.slot])
                    break
                if time.monotonic() > deadline:
                    raise ConnectError(f"slot {connector.slot} still in use {within:g} s after its connector went")
                time.sleep(0.5)
            cursor.execute(f'DROP PUBLICATION IF EXISTS "{connector.slot}"')


@dataclass(frozen=True)
class ConnectorStatus:
    name: str
    state: str  # Connect's word for the connector and its task: RUNNING, PAUSED, FAILED, UNASSIGNED, or MISSING
    slot_active: bool  # a reader is attached to the replication slot
    # Write-ahead log the slot still holds that Debezium has not confirmed as sent: the
    # relay's backlog, in bytes (it grows while Kafka is down, as the polling relay's
    # unsent rows do). None: no slot yet.
    lag_bytes: int | None
    error: str = ""


def connector_status(connector: OutboxConnector) -> ConnectorStatus:
    try:
        answer = _rest("GET", f"/connectors/{connector.name}/status", timeout=3)
        states = [answer["connector"]["state"], *(task["state"] for task in answer.get("tasks", []))]
        state = next((s for s in states if s != "RUNNING"), "RUNNING") if answer.get("tasks") else "UNASSIGNED"
        error = next((t.get("trace", "").splitlines()[0] for t in answer.get("tasks", []) if t.get("trace")), "")
    except ConnectError as exc:
        state, error = ("MISSING", str(exc)) if "HTTP 404" in str(exc) else ("UNREACHABLE", str(exc))
    active, lag = False, None
    try:
        with connections[connector.using].cursor() as cursor:
            cursor.execute(
                "SELECT active, pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint"
                " FROM pg_replication_slots WHERE slot_name = %s",
                [connector.slot],
            )
            row = cursor.fetchone()
            if row is not None:
                active, lag = bool(row[0]), int(row[1] or 0)
    except DatabaseError as exc:
        error = error or f"database {connector.using!r}: {exc}"
    return ConnectorStatus(connector.name, state, active, lag, error)


def connectors_running(*, within: float) -> bool:
    """Wait up to ``within`` s until every connector and its task run, each reading its
    slot; False if they did not."""
    deadline = time.monotonic() + within
    while not all(s.state == "RUNNING" and s.slot_active for s in connectors_status()):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.5)
    return True


def connectors_status() -> list[ConnectorStatus]:
    """Each outbox connector's state and lag (empty unless ``OUTBOX_RELAY=debezium``)."""
    if settings.OUTBOX_RELAY != "debezium":
        return []
    return [connector_status(connector) for connector in outbox_connectors()]
