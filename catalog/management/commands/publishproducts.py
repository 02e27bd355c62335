"""``python manage.py publishproducts``: send every product's snapshot to the products topic."""

from django.core.management.base import BaseCommand

from catalog.services import products_publish_all
from kafka_bridge.producer import shutdown_publisher


class Command(BaseCommand):
    help = (
        "Publish every catalog product to the compacted products topic, through the catalog's outbox. "
        "Products saved through Django publish themselves; use this after loading products with SQL, "
        "or to rebuild an order-service replica."
    )

    def handle(self, *args, **options):
        count = products_publish_all()
        shutdown_publisher()  # wait for the broker; what it did not take, the relay sends
        self.stdout.write(f"published {count} product(s)")
