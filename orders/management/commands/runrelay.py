"""``python manage.py runrelay``: publish outbox events that were committed but never sent."""

import logging
import signal
import time
from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from config.argtypes import non_negative_float
from orders.outbox import outbox_relay_pending, relay_producer

logger = logging.getLogger("orders.relay")


class Command(BaseCommand):
    help = (
        "Publish outbox events left unsent (a crash after commit, a broker that was down). "
        "Runs until SIGINT/SIGTERM, or with --once until the backlog is empty."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--grace",
            type=non_negative_float,
            default=settings.OUTBOX_RELAY_GRACE_SECONDS,
            metavar="SECONDS",
            help="only events unsent for this long; younger ones are the web process's (default: %(default)s)",
        )
        parser.add_argument("--once", action="store_true", help="drain the backlog once and exit")

    def handle(self, *args, **options):
        stopping = False

        def stop(*_):
            nonlocal stopping
            stopping = True

        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, stop)
        producer = relay_producer()
        older_than = timedelta(seconds=options["grace"])
        logger.info(
            "relay publishing outbox events unsent for over %.1fs to %s",
            options["grace"],
            settings.KAFKA_BOOTSTRAP_SERVERS,
        )
        total = 0
        while not stopping:
            delivered, failed = outbox_relay_pending(
                producer=producer, older_than=older_than, batch_size=settings.OUTBOX_RELAY_BATCH_SIZE
            )
            total += delivered
            if delivered or failed:
                logger.info("relayed %d event(s), %d failed (will retry)", delivered, failed)
            if options["once"] and failed:
                raise CommandError(
                    f"{failed} event(s) could not be delivered to {settings.KAFKA_BOOTSTRAP_SERVERS}: "
                    "is the broker up? They stay in the outbox for the next run."
                )
            if options["once"] and not delivered:
                break
            if not delivered:
                time.sleep(settings.OUTBOX_RELAY_INTERVAL_SECONDS)
        producer.flush(10)
        logger.info("relay stopped; %d event(s) relayed", total)
        if options["once"]:
            self.stdout.write(f"relayed {total} event(s)")
