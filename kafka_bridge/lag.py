"""How far behind a consumer group is: per partition, the end offset, the group's
committed offset and the difference; and who the group's members are, with their
partitions. Read-only (it never joins the group)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from confluent_kafka import TIMESTAMP_NOT_AVAILABLE, Consumer, TopicPartition
from confluent_kafka.admin import AdminClient

from kafka_bridge.config import client_config


@dataclass(frozen=True)
class PartitionLag:
    topic: str
    partition: int
    end: int  # the next offset to be written
    committed: int | None  # the group's next offset to read; None: it never committed here

    @property
    def lag(self) -> int:
        """Messages the group has yet to process (all of them, if it never committed)."""
        return self.end - (self.committed or 0)


def group_lag(*, group_id: str, topics: list[str], timeout: float = 5.0) -> list[PartitionLag]:
    """Every partition of ``topics`` (missing topics are left out), in topic, partition order."""
    consumer = Consumer(client_config(**{"group.id": group_id, "enable.auto.commit": False}))
    try:
        metadata = consumer.list_topics(timeout=timeout).topics
        partitions = [
            TopicPartition(topic, p)
            for topic in topics
            if topic in metadata and metadata[topic].error is None
            for p in sorted(metadata[topic].partitions)
        ]
        if not partitions:
            return []
        committed = {(tp.topic, tp.partition): tp.offset for tp in consumer.committed(partitions, timeout=timeout)}
        rows = []
        for tp in partitions:
            _, high = consumer.get_watermark_offsets(tp, timeout=timeout)
            offset = committed.get((tp.topic, tp.partition))
            rows.append(
                PartitionLag(tp.topic, tp.partition, high, offset if offset is not None and offset >= 0 else None)
            )
        return rows
    finally:
        consumer.close()


def topic_size(*, topic: str, timeout: float = 5.0) -> int:
    """Messages now in ``topic`` (end minus start offsets, over its partitions); 0 if it does not exist."""
    consumer = Consumer(client_config(**{"group.id": "stocksync-size-reader", "enable.auto.commit": False}))
    try:
        metadata = consumer.list_topics(topic, timeout=timeout).topics.get(topic)
        if metadata is None or metadata.error is not None:
            return 0
        total = 0
        for p in metadata.partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout)
            total += high - low
        return total
    finally:
        consumer.close()


def message_timestamp(*, topic: str, partition: int, offset: int, timeout: float = 5.0) -> datetime | None:
    """When the message at ``topic[partition]@offset`` was produced (its Kafka timestamp);
    None if it is gone (retention) or cannot be read within ``timeout``. Reads one message
    by plain assignment: no group, nothing committed."""
    consumer = Consumer(client_config(**{"group.id": "stocksync-message-reader", "enable.auto.commit": False}))
    try:
        consumer.assign([TopicPartition(topic, partition, offset)])
        message = consumer.poll(timeout)
        if message is None or message.error() is not None or message.offset() != offset:
            return None
        kind, millis = message.timestamp()
        return datetime.fromtimestamp(millis / 1000, tz=UTC) if kind != TIMESTAMP_NOT_AVAILABLE else None
    finally:
        consumer.close()


@dataclass(frozen=True)
class GroupMember:
    client_id: str  # ``group@host:pid`` for our consumers (kafka_bridge.config.consumer_config)
    host: str
    partitions: list[tuple[str, int]]  # (topic, partition) assigned to it now


@dataclass(frozen=True)
class GroupDescription:
    state: str  # STABLE, RECONCILING, EMPTY, … as the group coordinator says
    members: list[GroupMember]
    protocol: str = "unknown"  # "consumer" (Kafka 4's, KIP-848) or "classic"


def group_describe(*, group_id: str, timeout: float = 5.0) -> GroupDescription:
    """The group's state and its members with their partitions (what ``kafka-consumer-groups
    --describe --members --verbose`` prints)."""
    admin = AdminClient(client_config())
    description = admin.describe_consumer_groups([group_id], request_timeout=timeout)[group_id].result(timeout)
    members = [
        GroupMember(
            member.client_id,
            member.host.lstrip("/"),
            sorted((tp.topic, tp.partition) for tp in member.assignment.topic_partitions) if member.assignment else [],
        )
        for member in description.members
    ]
    state = getattr(description.state, "name", str(description.state))
    protocol = getattr(description.type, "name", "unknown").lower()
    return GroupDescription(state, sorted(members, key=lambda m: (m.partitions or [("~", 0)], m.client_id)), protocol)
