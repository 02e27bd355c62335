"""The catalog service's metrics on ``GET /metrics`` (registered in ``CatalogConfig.ready``)."""

from django.db.models import Count
from prometheus_client.core import CounterMetricFamily

from catalog.models import StockMovement


class LedgerCollector:
    """The catalog's decisions, by kind and outcome: read from its ledger when scraped."""

    def collect(self):
        decisions = CounterMetricFamily(
            "stocksync_catalog_decisions", "The catalog's ledger rows, by kind and outcome.", labels=["kind", "outcome"]
        )
        for row in StockMovement.objects.values("kind", "outcome").annotate(n=Count("id")):
            decisions.add_metric([row["kind"], row["outcome"]], row["n"])
        yield decisions
