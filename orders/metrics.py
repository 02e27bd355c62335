"""The order service's metrics on ``GET /metrics`` (registered in ``OrdersConfig.ready``)."""

from django.db.models import Count
from prometheus_client.core import CounterMetricFamily

from orders.models import Order


class OrdersCollector:
    """Orders placed, by current status: read from the orders database when scraped."""

    def collect(self):
        orders = CounterMetricFamily("stocksync_orders_created", "Orders placed, by current status.", labels=["status"])
        for row in Order.objects.values("status").annotate(n=Count("id")):
            orders.add_metric([row["status"]], row["n"])
        yield orders
