"""Prometheus metrics (prometheus_client).

Two sources, because the numbers live in two places:

* **Consumer processes** count what they do as they do it — events applied, refused,
  skipped, dead-lettered; how long a batch's transaction takes; how old an event is when
  its batch commits — and serve them with ``runconsumer --metrics-port`` (and
  ``runorderconsumer --metrics-port``).
* **The web process's** ``/metrics`` reads the state of the sync when scraped, from the
  databases and Kafka, so every gunicorn worker answers the same: orders by status,
  events published and unsent per outbox, the ledger's decisions, consumer lag per
  partition, dead letters.
"""

from __future__ import annotations

import time

from django.db.models import Count
from django.http import HttpResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

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
    "From an event's Kafka timestamp (its publication) to the commit of the batch that applied it.",
    ["topic"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)


def observe_batch(topic: str, *, seconds: float, timestamps_ms: list[int | None], counts: dict[str, int]) -> None:
    APPLY_SECONDS.labels(topic).observe(seconds)
    now_ms = time.time() * 1000
    age = EVENT_AGE_SECONDS.labels(topic)
    for ts in timestamps_ms:
        if ts and ts > 0:
            age.observe(max(0.0, (now_ms - ts) / 1000))
    for outcome, n in counts.items():
        if n:
            CONSUMED.labels(topic, outcome).inc(n)


# -- in the web process, read when scraped --------------------------------------------


class SyncCollector:
    """The sync's state as Prometheus metrics, read from the databases and Kafka."""

    def collect(self):
        # Imported here: the bridge does not depend on the apps when it is imported.
        from catalog.models import StockMovement
        from config.routers import CATALOG_DB
        from kafka_bridge.sync_status import sync_status
        from orders.models import Order

        orders = CounterMetricFamily("stocksync_orders_created", "Orders placed, by current status.", labels=["status"])
        for row in Order.objects.values("status").annotate(n=Count("id")):
            orders.add_metric([row["status"]], row["n"])
        yield orders

        decisions = CounterMetricFamily(
            "stocksync_catalog_decisions", "The catalog's ledger rows, by kind and outcome.", labels=["kind", "outcome"]
        )
        for row in StockMovement.objects.using(CATALOG_DB).values("kind", "outcome").annotate(n=Count("id")):
            decisions.add_metric([row["kind"], row["outcome"]], row["n"])
        yield decisions

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


_registry = CollectorRegistry()
_registry.register(SyncCollector())


def metrics_view(request):
    """``GET /metrics``: the sync's state in Prometheus's text format."""
    return HttpResponse(generate_latest(_registry), content_type=CONTENT_TYPE_LATEST)
