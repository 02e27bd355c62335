"""Is this process up, and can it reach what it needs? For load balancers and orchestrators.

* ``GET /healthz`` — the process answers: 200, always (liveness; no dependency checked).
* The checks every process may use (a database, the broker); ``GET /readyz``, which also
  asks whether the order service's replica is complete, is ``sync.readiness``.
"""

from __future__ import annotations

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient
from django.db import DatabaseError, connections
from django.http import JsonResponse

from kafka_bridge.config import client_config


def check_database(alias: str) -> str | None:
    """None if the database answers ``SELECT 1``, else why not."""
    try:
        with connections[alias].cursor() as cursor:
            cursor.execute("SELECT 1")
        return None
    except DatabaseError as exc:
        connections[alias].close()
        return f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"


def check_broker(timeout: float = 3.0) -> str | None:
    """None if a Kafka broker answers a metadata request within ``timeout`` s, else why not."""
    try:
        AdminClient(client_config()).list_topics(timeout=timeout)
        return None
    except KafkaException as exc:
        return str(exc.args[0].str() if exc.args else exc)


def healthz(request):
    return JsonResponse({"status": "ok"})
