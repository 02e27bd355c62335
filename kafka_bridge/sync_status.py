"""The sync's health at a glance (the admin's Sync page, the live page and ``/metrics``):
consumer lag per partition and each group's members, the outbox backlogs (or, under
Debezium, its connectors' states and lag), the dead letters. Read-only."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from confluent_kafka import KafkaException
from django.conf import settings
from django.db import DatabaseError
from django.db.models import Count, Min, Q
from django.utils import timezone

from kafka_bridge.config import dead_letter_topic
from kafka_bridge.connect import ConnectorStatus, connectors_status
from kafka_bridge.lag import GroupMember, PartitionLag, group_describe, group_lag, topic_size
from kafka_bridge.outbox import outbox_models
from kafka_bridge.registry import consumers_registered


@dataclass(frozen=True)
class ConsumerGroupLag:
    group_id: str
    consumer: str  # the command that runs it
    partitions: list[PartitionLag]
    state: str = "UNKNOWN"  # the coordinator's word: STABLE, PREPARING_REBALANCE, EMPTY, …
    members: list[GroupMember] = field(default_factory=list)
    protocol: str = "unknown"  # "consumer" (Kafka 4's, KIP-848) or "classic"

    @property
    def lag(self) -> int:
        return sum(p.lag for p in self.partitions)

    def member_of(self, topic: str, partition: int) -> str | None:
        """The client id of the member that holds ``topic[partition]`` now, if one does."""
        return next((m.client_id for m in self.members if (topic, partition) in m.partitions), None)


@dataclass(frozen=True)
class OutboxBacklog:
    outbox: str
    unsent: int
    oldest_unsent: datetime | None
    sent: int

    @property
    def oldest_age_seconds(self) -> float | None:
        return (timezone.now() - self.oldest_unsent).total_seconds() if self.oldest_unsent else None


@dataclass
class SyncStatus:
    groups: list[ConsumerGroupLag] = field(default_factory=list)
    outboxes: list[OutboxBacklog] = field(default_factory=list)
    connectors: list[ConnectorStatus] = field(default_factory=list)  # Debezium's, when it is the relay
    dead_letters: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)  # what could not be read, and why


def consumer_groups() -> list[tuple[str, str, list[str]]]:
    """(group, command, topics) for each consumer the apps registered (``kafka_bridge.registry``)."""
    return [(spec.group_id(), spec.name, spec.topics()) for spec in consumers_registered()]


def sync_status(*, kafka_timeout: float = 3.0) -> SyncStatus:
    status = SyncStatus()
    for model, using in outbox_models():
        try:
            counts = model.objects.using(using).aggregate(
                unsent=Count("id", filter=Q(sent_at__isnull=True)),
                oldest=Min("created_at", filter=Q(sent_at__isnull=True)),
                sent=Count("id", filter=Q(sent_at__isnull=False)),
            )
            status.outboxes.append(OutboxBacklog(model._meta.label, counts["unsent"], counts["oldest"], counts["sent"]))
        except DatabaseError as exc:
            status.problems.append(f"{model._meta.label}: database {using!r}: {exc}")
    status.connectors = connectors_status()
    status.problems += [f"connector {c.name}: {c.error}" for c in status.connectors if c.state != "RUNNING"]
    try:
        for group_id, command, topics in consumer_groups():
            description = group_describe(group_id=group_id, timeout=kafka_timeout)
            status.groups.append(
                ConsumerGroupLag(
                    group_id,
                    command,
                    group_lag(group_id=group_id, topics=topics, timeout=kafka_timeout),
                    description.state,
                    description.members,
                    description.protocol,
                )
            )
            for topic in topics:
                status.dead_letters[dead_letter_topic(topic)] = topic_size(
                    topic=dead_letter_topic(topic), timeout=kafka_timeout
                )
    except KafkaException as exc:
        status.problems.append(f"Kafka at {settings.KAFKA_BOOTSTRAP_SERVERS}: {exc.args[0].str() if exc.args else exc}")
    except TimeoutError:  # describing a group waits on its coordinator
        status.problems.append(f"Kafka at {settings.KAFKA_BOOTSTRAP_SERVERS}: no answer within {kafka_timeout:g} s")
    return status
