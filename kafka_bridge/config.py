"""librdkafka settings for every client, built from Django settings in one place."""

from __future__ import annotations

import os
import socket
from typing import Any

from django.conf import settings


def client_config(**overrides: Any) -> dict[str, Any]:
    """Settings shared by producers, consumers and admin clients."""
    return {
        "bootstrap.servers": settings.KAFKA_BOOTSTRAP_SERVERS,
        **settings.KAFKA_CLIENT_CONFIG,
        **overrides,
    }


def producer_config(**overrides: Any) -> dict[str, Any]:
    return client_config(**{**settings.KAFKA_PRODUCER_CONFIG, **overrides})


def consumer_config(*, group_id: str, offset_reset: str, **overrides: Any) -> dict[str, Any]:
    membership: dict[str, Any]
    if settings.KAFKA_GROUP_PROTOCOL == "consumer":
        # Kafka 4's protocol (KIP-848): the broker assigns partitions one member at a time,
        # so a join or a crash never pauses the partitions the others keep. The session
        # timeout and heartbeats are the broker's settings here (group.consumer.* in
        # infra/kafka/server.properties); librdkafka refuses them on the client.
        membership = {"group.protocol": "consumer"}
    else:
        membership = {
            "group.protocol": "classic",
            # Let a join or leave move only the partitions that must move.
            "partition.assignment.strategy": "cooperative-sticky",
            # A consumer that died without leaving holds its partitions this long; the
            # default 45 s would stall its partitions that long after a crash.
            "session.timeout.ms": settings.KAFKA_CONSUMER_SESSION_TIMEOUT_MS,
        }
    return client_config(
        **{
            "group.id": group_id,
            # Which process a member is, where the group is described (kafka-consumer-groups
            # --describe --members, the live page): the group, the host and the pid.
            "client.id": f"{group_id}@{socket.gethostname()}:{os.getpid()}",
            "auto.offset.reset": offset_reset,
            # Offsets are committed by hand, after the database has committed the batch.
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            **membership,
            **overrides,
        }
    )


def dead_letter_topic(topic: str) -> str:
    return f"{topic}{settings.DEAD_LETTER_SUFFIX}"
