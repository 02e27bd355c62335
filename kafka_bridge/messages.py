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
# (object.__setattr__ per field) cost 1.7 µs (docs/BENCHMARKS.md, "Tenth pass").
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


class BatchHandler(Protocol[T]):
    """One topic's handler, as the consume loop drives it.

    A handler may also define ``prepare(records)``, ``ready(records, prepared)`` and
    ``apply(records, prepared)``: the pipelined loop then calls ``prepare`` on its own
    thread, in batch order, while the batch before is applied; ``ready`` once that batch is
    done, just before this one goes to the applier (to redo what it assumed, if that moved);
    and ``apply`` with what they gave. After a failure the loop may apply records alone,
    without ``prepared``. (The catalog's forecast: catalog/forecast.py.)

    A pipelined handler may also define ``submit(records, prepared)``, to have a batch
    written outside the loop's process, and ``open()`` and ``close()``, which the loop calls
    when it starts and when it stops (to start the writer before the first batch, not
    during a backlog's first seconds). ``submit`` returns None (the loop
    applies the batch as usual) or a callable that waits for the batch and returns whether
    it was written. The loop may submit a batch before the one before it is done: the
    handler then writes them in order, and writes none queued behind one that was not
    written. A batch not written is applied by ``apply``, in order. What a written batch
    did is ``written(records, prepared)``. (The catalog's writer: catalog/stock_writer.py.)
    """

    # Exceptions that mean "try the same batch again later" (database down, lock timeout).
    transient_errors: tuple[type[BaseException], ...]

    def decode(self, value: bytes | None) -> T:
        """Parse one message value; raise ``InvalidEvent`` if it can never be applied."""

    def apply(self, records: list[Record[T]]) -> BatchResult:
        """Apply the records in one transaction; idempotent for records already applied."""
