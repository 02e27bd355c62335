"""Prometheus metrics (prometheus_client).

Two sources, because the numbers live in two places:

* **Consumer processes** count what they do as they do it — events applied, refused,
  skipped, dead-lettered; how long a batch's transaction takes; how old an event is when
  its batch commits — and serve them with ``runconsumer --metrics-port`` (and
  ``runorderconsumer --metrics-port``).
* **The web process's** ``/metrics`` reads the state of the sync when scraped, from the
  databases and Kafka, so every gunicorn worker answers the same: events published and
  unsent per outbox, consumer lag per partition, dead letters (``BridgeCollector``), and
  what each app's registered collector reads from its own tables (here: orders by status,
  the ledger's decisions).
"""

from __future__ import annotations

import time

from django.http import HttpResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from kafka_bridge.registry import collectors_registered

# -- in consumer processes ------------------------------------------------------------

CONSUMED = Counter(
    "stocksync_consumer_events",
    "Events handled by this consumer process, by topic and outcome "
    "(applied, refused: a decided rejection, skipped: a duplicate, dead_lettered).",
    ["topic", "outcome"],
)
APPLY_SECONDS = Histogram(
    "stocksync_consumer_apply_seconds",
    "Time to apply one batch in its database transaction.",
    ["topic"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
EVENT_AGE_SECONDS = Histogram(
    "stocksync_consumer_event_age_seconds",
    "From an event's Kafka timestamp (its publication) to the commit of the batch that applied it "
    "(sampled: at most 64 events per batch, spread over it; the counts are in stocksync_consumer_events).",
    ["topic"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)


AGE_SAMPLES_PER_BATCH = 64  # an observation costs ~1 µs: a 5,000-event batch is sampled, not observed whole


def observe_batch(topic: str, *, seconds: float, timestamps_ms: list[int | None], counts: dict[str, int]) -> None:
    APPLY_SECONDS.labels(topic).observe(seconds)
    now_ms = time.time() * 1000
    age = EVENT_AGE_SECONDS.labels(topic)
    step = max(1, -(-len(timestamps_ms) // AGE_SAMPLES_PER_BATCH))  # rounded up: never more than the bound
    for ts in timestamps_ms[::step]:
        if ts and ts > 0:
            age.observe(max(0.0, (now_ms - ts) / 1000))
    for outcome, n in counts.items():
        if n:
            CONSUMED.labels(topic, outcome).inc(n)


def observe_applied(topic: str, records: list, started: float, result) -> None:
    """A topic's share of a batch (``Record``s), applied since ``started`` (monotonic), and
    its ``BatchResult``."""
    observe_batch(
        topic,
        seconds=time.monotonic() - started,
        timestamps_ms=[r.timestamp_ms for r in records],
        counts={"applied": result.applied, "refused": result.refused, "skipped": result.skipped},
    )


# -- in the web process, read when scraped --------------------------------------------


class BridgeCollector:
    """The sync's plumbing as Prometheus metrics, read from the outboxes and Kafka: events
    published and waiting per outbox, lag per registered consumer group, dead letters.
    What the apps' own tables say (orders by status, the ledger) comes from the collectors
    they register (``kafka_bridge.registry.collector_register``)."""

    def collect(self):
        # Imported here: consumer processes import this module for their counters, and need
        # none of what sync_status reads.
        from kafka_bridge.sync_status import sync_status

        status = sync_status()
        published = CounterMetricFamily(
            "stocksync_events_published", "Outbox events delivered to Kafka.", labels=["outbox"]
        )
        backlog = GaugeMetricFamily("stocksync_outbox_backlog", "Outbox events not yet delivered.", labels=["outbox"])
        oldest = GaugeMetricFamily(
            "stocksync_outbox_oldest_unsent_seconds", "Age of the oldest undelivered outbox event.", labels=["outbox"]
        )
        for o in status.outboxes:
            published.add_metric([o.outbox], o.sent)
            backlog.add_metric([o.outbox], o.unsent)
            oldest.add_metric([o.outbox], o.oldest_age_seconds or 0.0)
        yield from (published, backlog, oldest)

        if status.connectors:  # OUTBOX_RELAY=debezium: the connectors are the relay
            running = GaugeMetricFamily(
                "stocksync_connector_running", "1 if the Debezium connector and its task run.", labels=["connector"]
            )
            behind = GaugeMetricFamily(
                "stocksync_connector_lag_bytes",
                "Write-ahead log the connector's replication slot holds, not yet confirmed sent.",
                labels=["connector"],
            )
            for c in status.connectors:
                running.add_metric([c.name], 1 if c.state == "RUNNING" else 0)
                behind.add_metric([c.name], c.lag_bytes or 0)
            yield from (running, behind)

        lag = GaugeMetricFamily(
            "stocksync_consumer_lag",
            "Messages a consumer group has yet to process.",
            labels=["group", "topic", "partition"],
        )
        for group in status.groups:
            for p in group.partitions:
                lag.add_metric([group.group_id, p.topic, str(p.partition)], p.lag)
        yield lag

        dead = GaugeMetricFamily("stocksync_dead_letters", "Messages on a dead-letter topic.", labels=["topic"])
        for topic, n in status.dead_letters.items():
            dead.add_metric([topic], n)
        yield dead

        up = GaugeMetricFamily("stocksync_kafka_up", "1 if Kafka answered this scrape.")
        up.add_metric([], 0 if any("Kafka" in p for p in status.problems) else 1)
        yield up


def app_samples() -> dict[str, list[tuple[dict[str, str], float]]]:
    """What the apps' registered collectors read now, by metric family: [(labels, value)].
    The live page shows these same figures (one reading, not one per page)."""
    return {
        family.name: [(sample.labels, sample.value) for sample in family.samples]
        for collector in collectors_registered()
        for family in collector.collect()
    }


def metrics_view(request):
    """``GET /metrics``: the sync's state in Prometheus's text format (read when scraped)."""
    registry = CollectorRegistry()
    for collector in [BridgeCollector(), *collectors_registered()]:
        registry.register(collector)
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
