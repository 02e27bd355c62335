"""``python manage.py runrelay``: publish outbox events that were committed but never sent,
from every service's outbox (orders: order events; catalog: product snapshots)."""

import logging
import signal
import time
from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, connections

from kafka_bridge.argtypes import non_negative_float
from kafka_bridge.outbox import outbox_models, outbox_relay_pending, relay_producer

logger = logging.getLogger("kafka_bridge.relay")


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
        outboxes = outbox_models()
        total = 0
        while not stopping:
            delivered = failed = 0
            for model, using in outboxes:
                try:
                    sent, not_sent = outbox_relay_pending(
                        model=model,
                        using=using,
                        producer=producer,
                        older_than=older_than,
                        batch_size=settings.OUTBOX_RELAY_BATCH_SIZE,
                        should_stop=lambda: stopping,
                    )
                except DatabaseError as exc:
                    # One service's database down must not stop the other's events.
                    logger.warning("%s: database %r unreachable (%s); retrying", model._meta.label, using, exc)
                    connections[using].close()
                    sent, not_sent = 0, 1
                if sent or not_sent:
                    logger.info("relayed %d %s event(s), %d failed (will retry)", sent, model._meta.label, not_sent)
                delivered, failed = delivered + sent, failed + not_sent
            total += delivered
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
