"""``python manage.py runorderconsumer``: the order service's side of the sync."""

from django.conf import settings
from django.core.management.base import BaseCommand

from kafka_bridge.runner import add_consumer_arguments, run_consumer
from orders.consumers import OrderResultsHandler, ProductSnapshotsHandler


class Command(BaseCommand):
    help = (
        "Consume the catalog's order results (orders become CONFIRMED, REJECTED or CANCELLED) and its "
        "products (the replica new orders are checked against). SIGINT/SIGTERM finish the batch and exit 0."
    )

    def add_arguments(self, parser):
        add_consumer_arguments(parser, default_group=settings.ORDERS_CONSUMER_GROUP)

    def handle(self, *args, **options):
        run_consumer(
            name="runorderconsumer",
            handlers={
                settings.ORDER_RESULTS_TOPIC: OrderResultsHandler(),
                settings.PRODUCTS_TOPIC: ProductSnapshotsHandler(),
            },
            # The products topic is compacted: from the beginning, it is the whole catalog.
            offset_reset="earliest",
            options=options,
        )
