"""The catalog service's metrics on ``GET /metrics`` (registered in ``CatalogConfig.ready``)."""

from django.db.models import Count
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from catalog.models import Product, StockMovement


class LedgerCollector:
    """The catalog's decisions, by kind and outcome, read from its ledger; and each
    product's stock. Read when scraped (``/metrics``) or shown (the live page)."""

    def collect(self):
        decisions = CounterMetricFamily(
            "stocksync_catalog_decisions", "The catalog's ledger rows, by kind and outcome.", labels=["kind", "outcome"]
        )
        for row in StockMovement.objects.values("kind", "outcome").annotate(n=Count("id")):
            decisions.add_metric([row["kind"], row["outcome"]], row["n"])
        yield decisions

        stock = GaugeMetricFamily("stocksync_product_stock", "Units in stock, per product.", labels=["product"])
        for product_id, units in Product.objects.order_by("product_id").values_list("product_id", "stock"):
            stock.add_metric([product_id], units)
        yield stock
