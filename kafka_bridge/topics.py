"""Creating the project's topics, only when asked (``manage.py createtopics``)."""

from __future__ import annotations

import logging
import time

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewTopic,
    ResourceType,
)

from kafka_bridge.config import client_config

logger = logging.getLogger(__name__)


def topics_ensure(
    *,
    names: list[str],
    partitions: int,
    replication_factor: int = 1,
    config: dict[str, str] | None = None,
    timeout: float = 30,
) -> list[str]:
    """Create the topics that do not exist yet; return the names created.

    An existing topic is left as it is (its partition count is not changed).
    """
    admin = AdminClient(client_config())
    existing = set(admin.list_topics(timeout=timeout).topics)
    missing = [name for name in names if name not in existing]
    if not missing:
        return []
    futures = admin.create_topics(
        [
            NewTopic(name, num_partitions=partitions, replication_factor=replication_factor, config=config or {})
            for name in missing
        ],
        operation_timeout=timeout,
        request_timeout=timeout,
    )
    created = []
    for name, future in futures.items():
        try:
            future.result()
            created.append(name)
            logger.info("created topic %s (%d partitions, replication %d)", name, partitions, replication_factor)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise
    _wait_for_leaders(admin, created, timeout)
    return created


def _wait_for_leaders(admin: AdminClient, names: list[str], timeout: float) -> None:
    # A topic exists before its partitions have leaders; a client that reads it at once
    # can get NOT_LEADER_FOR_PARTITION. Return when every partition has one.
    deadline = time.monotonic() + timeout
    while names and time.monotonic() < deadline:
        topics = admin.list_topics(timeout=timeout).topics
        if all(
            name in topics and topics[name].partitions and all(p.leader >= 0 for p in topics[name].partitions.values())
            for name in names
        ):
            return
        time.sleep(0.1)


def topic_config_ensure(*, name: str, config: dict[str, str], timeout: float = 30) -> None:
    """Set these configs on an existing topic (e.g. compaction on a topic a producer's
    publication created with the broker's defaults). Other configs are left alone."""
    admin = AdminClient(client_config())
    resource = ConfigResource(
        ResourceType.TOPIC,
        name,
        incremental_configs=[
            ConfigEntry(key, value, incremental_operation=AlterConfigOpType.SET) for key, value in config.items()
        ],
    )
    for future in admin.incremental_alter_configs([resource], request_timeout=timeout).values():
        future.result()
