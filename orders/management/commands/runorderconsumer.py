"""``python manage.py runorderconsumer``: the order service's side of the sync."""

import signal

import prometheus_client
from django.conf import settings
from django.core.management.base import BaseCommand

from config.argtypes import positive_float, positive_int
from kafka_bridge.consumer import BatchConsumer
from kafka_bridge.heartbeat import Heartbeat
from orders.consumers import OrderResultsHandler, ProductSnapshotsHandler


class Command(BaseCommand):
    help = (
        "Consume the catalog's order results (orders become CONFIRMED, REJECTED or CANCELLED) and its "
        "products (the replica new orders are checked against). SIGINT/SIGTERM finish the batch and exit 0."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--group-id", default=settings.ORDERS_CONSUMER_GROUP, help="consumer group (default: %(default)s)"
        )
        parser.add_argument(
            "--batch-size",
            type=positive_int,
            default=settings.CONSUMER_BATCH_SIZE,
            help="most events applied per database transaction (default: %(default)s)",
        )
        parser.add_argument(
            "--metrics-port",
            type=positive_int,
            metavar="PORT",
            help="serve this process's Prometheus metrics on http://0.0.0.0:PORT/metrics",
        )
        parser.add_argument(
            "--exit-when-idle",
            type=positive_float,
            metavar="SECONDS",
            help="exit (status 0) after this many seconds without a message; for scripts and tests",
        )

    def handle(self, *args, **options):
        loop = BatchConsumer(
            handlers={
                settings.ORDER_RESULTS_TOPIC: OrderResultsHandler(),
                settings.PRODUCTS_TOPIC: ProductSnapshotsHandler(),
            },
            group_id=options["group_id"],
            # The products topic is compacted: from the beginning, it is the whole catalog.
            offset_reset="earliest",
            batch_size=options["batch_size"],
            batch_wait=settings.CONSUMER_BATCH_WAIT_SECONDS,
            exit_when_idle=options["exit_when_idle"],
            heartbeat=Heartbeat(f"runorderconsumer-{options['group_id']}"),
        )
        if options["metrics_port"]:
            prometheus_client.start_http_server(options["metrics_port"])
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: loop.stop())
        loop.run()
