"""``python manage.py runorderconsumer``: the order service's side of the sync."""

from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from kafka_bridge.runner import add_consumer_arguments, run_consumer


class Command(BaseCommand):
    help = (
        "Consume the catalog's order results (orders become CONFIRMED, REJECTED or CANCELLED) and its "
        "products (the replica new orders are checked against). SIGINT/SIGTERM finish the batch and exit 0."
    )

    def add_arguments(self, parser):
        add_consumer_arguments(parser, consumer="runorderconsumer")

    def handle(self, *args, **options):
        if options["fast"] and connections["default"].vendor != "postgresql":
            raise CommandError("--fast needs PostgreSQL (set ORDERS_DATABASE_URL); without it, run --no-fast")
        run_consumer(name="runorderconsumer", options=options)  # registered in orders/apps.py
