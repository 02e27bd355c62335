"""What the apps tell the bridge about themselves: their topics, consumers and metrics.

The bridge imports no app. Each app registers, from its ``AppConfig.ready()``, the topics
it publishes (``createtopics`` creates them, each with its dead-letter topic), the
consumers it runs (group, topics and handlers; ``kafka_bridge.runner`` runs any of them,
``sync_status`` reports their lag) and the Prometheus collectors that read its own tables
(``GET /metrics`` serves them with the bridge's own). Outboxes need no registration: every
concrete ``OutboxEventBase`` model is found by ``kafka_bridge.outbox.outbox_models``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from kafka_bridge.messages import BatchHandler


@dataclass(frozen=True)
class ConsumerSpec:
    """One consumer an app runs. Group and handlers are read when asked, so that settings
    (and a test's ``override_settings``) decide them, not the moment of registration."""

    name: str  # the management command that runs it, e.g. "runconsumer"
    group_id: Callable[[], str]
    handlers: Callable[[], dict[str, BatchHandler]]  # topic → its handler
    # The fast layer's handlers (``--fast``), if the app has one; run pipelined in one process.
    fast_handlers: Callable[[], dict[str, BatchHandler]] | None = None
    # Where a group with no committed offset starts (the tutorial's AUTO_OFFSET_RESET_CONFIG).
    offset_reset: str = "earliest"

    def topics(self) -> list[str]:
        return list(self.handlers())


@dataclass(frozen=True)
class TopicSpec:
    """A topic an app publishes to; ``config`` is added to the topic's when it is created
    (e.g. ``{"cleanup.policy": "compact"}``) and kept set on an existing one."""

    name: Callable[[], str]
    config: dict[str, str] = field(default_factory=dict)


class Collector(Protocol):
    """A prometheus_client custom collector: ``collect()`` yields metric families."""

    def collect(self) -> Iterable[Any]: ...


_topics: list[TopicSpec] = []
_consumers: dict[str, ConsumerSpec] = {}
_collectors: list[Collector] = []


def topic_register(spec: TopicSpec) -> None:
    """Make ``spec`` one of the topics ``createtopics`` creates (idempotent)."""
    if spec not in _topics:
        _topics.append(spec)


def topics_registered() -> list[TopicSpec]:
    return list(_topics)


def consumer_register(spec: ConsumerSpec) -> None:
    """Make ``spec`` known to the runner and to the sync's status (idempotent per name)."""
    _consumers[spec.name] = spec


def consumers_registered() -> list[ConsumerSpec]:
    return list(_consumers.values())


def consumer_registered(name: str) -> ConsumerSpec:
    """The consumer registered as ``name``; ``LookupError`` names the ones there are."""
    try:
        return _consumers[name]
    except KeyError:
        known = ", ".join(sorted(_consumers)) or "none"
        raise LookupError(f"no consumer registered as {name!r} (registered: {known})") from None


def collector_register(collector: Collector) -> None:
    """Serve ``collector``'s metrics on ``GET /metrics`` beside the bridge's own (once per type)."""
    if not any(type(c) is type(collector) for c in _collectors):
        _collectors.append(collector)


def collectors_registered() -> list[Collector]:
    return list(_collectors)
