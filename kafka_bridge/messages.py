"""What a consumer's handler is given and gives back: the message types and the handler protocol.

No loop and no Django here. The consume loop (``kafka_bridge.consumer``), the dead-letter
topic (``kafka_bridge.deadletters``) and the services' pure rules (``catalog.reservations``)
all build on these types; none of them is imported from here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

import msgspec
from confluent_kafka import Message

T = TypeVar("T")

Headers = list[tuple[str, str | bytes | None]]
Outgoing = tuple[str, bytes | None, bytes | None, Headers | None]  # topic, key, value, headers


def position(message: Message) -> tuple[str, int, int]:
    """A consumed message's topic, partition and offset (always set on one that was consumed)."""
    topic, partition, offset = message.topic(), message.partition(), message.offset()
    assert topic is not None and partition is not None and offset is not None
    return topic, partition, offset


# SourceMessage and Record are frozen msgspec Structs, not frozen dataclasses: as
# immutable, and one is made per consumed message, where a frozen dataclass's __init__
# (object.__setattr__ per field) costs a few microseconds more.
class SourceMessage(msgspec.Struct, frozen=True):
    """A consumed message's bytes and coordinates: enough to find it again or dead-letter it."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int | None
    key: bytes | None
    value: bytes | None

    @classmethod
    def of(cls, message: Message, **extra):
        """From a consumed message; subclasses pass their extra fields in ``extra``."""
        return cls(*position(message), message.timestamp()[1], message.key(), message.value(), **extra)

    @property
    def where(self) -> str:
        return f"{self.topic}[{self.partition}]@{self.offset}"

    @property
    def log_fields(self) -> dict:
        """For ``logger.…(extra=…)``: the fields a JSON log line carries about this message."""
        return self.coordinates()

    def coordinates(self) -> dict:
        return {"topic": self.topic, "partition": self.partition, "offset": self.offset}


class Record(SourceMessage, Generic[T], frozen=True):
    """A decoded message and where it came from."""

    event: T

    @property
    def log_fields(self) -> dict:
        """The coordinates, plus whatever the event says identifies it in a log line
        (an event type may define ``log_fields``; ``OrderEvent`` gives its orderId)."""
        return {**self.coordinates(), **getattr(self.event, "log_fields", {})}


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A message that can never be applied, and why: it goes to its topic's dead-letter topic."""

    source: SourceMessage
    reason: str
    exception: str = "Rejected"


@dataclass
class BatchResult:
    """What a handler did with a batch."""

    applied: int = 0
    refused: int = 0  # decided, as a business outcome, not to apply (e.g. out of stock)
    skipped: int = 0  # already decided: redelivered or duplicated upstream
    dead_letters: list[DeadLetter] = field(default_factory=list)  # decoded, yet never applicable
    # Messages to publish once the batch is committed; its offsets wait until the broker has them.
    replies: list[Outgoing] = field(default_factory=list)

    def __iadd__(self, other: BatchResult) -> BatchResult:
        self.applied += other.applied
        self.refused += other.refused
        self.skipped += other.skipped
        self.dead_letters += other.dead_letters
        self.replies += other.replies
        return self


@dataclass
class Batch:
    """A fetched batch, decoded: its good records by topic, what could not be decoded,
    and where it ends on each partition."""

    by_topic: dict[str, list[Record]]
    letters: list[DeadLetter]
    ends: dict[tuple[str, int], int]  # (topic, partition): the offset after its last message


@dataclass
class LoopStats:
    """What a consume loop has done since it started."""

    batches: int = 0
    applied: int = 0
    refused: int = 0
    skipped: int = 0
    dead_lettered: int = 0

    def add(self, result: BatchResult, dead_lettered: int) -> None:
        self.batches += 1
        self.applied += result.applied
        self.refused += result.refused
        self.skipped += result.skipped
        self.dead_lettered += dead_lettered

    def __str__(self) -> str:
        return (
            f"{self.applied} applied, {self.refused} refused, {self.skipped} duplicate(s) skipped, "
            f"{self.dead_lettered} dead-lettered"
        )


class BatchHandler(Protocol[T]):
    """One topic's handler, as the consume loop (``kafka_bridge.consumer``) drives it."""

    # Exceptions that mean "try the same batch again later" (database down, lock timeout).
    transient_errors: tuple[type[BaseException], ...]

    def decode(self, value: bytes | None) -> T:
        """Parse one message value; raise ``ValueError``, saying why, if it can never be applied
        (it is dead-lettered with that reason)."""

    def apply(self, records: list[Record[T]]) -> BatchResult:
        """Apply the records in one transaction; idempotent for records already applied."""
