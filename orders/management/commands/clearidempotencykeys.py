"""``python manage.py clearidempotencykeys``: delete Idempotency-Keys past their time."""

import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand

from kafka_bridge.argtypes import positive_float
from orders.idempotency import idempotency_keys_clear


class Command(BaseCommand):
    help = (
        "Delete the Idempotency-Keys older than IDEMPOTENCY_KEY_TTL_HOURS (their orders stay). Run it "
        "from cron (e.g. hourly), or with --every to keep running (make run does that)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--every", type=positive_float, metavar="SECONDS", help="repeat every SECONDS until stopped"
        )

    def handle(self, *args, every=None, **options):
        stop = threading.Event()
        for stop_signal in (signal.SIGTERM, signal.SIGINT):  # Ctrl-C and supervisors: a clean exit 0
            signal.signal(stop_signal, lambda *_: stop.set())
        while True:
            deleted = idempotency_keys_clear()
            self.stdout.write(
                f"deleted {deleted} idempotency key(s) older than {settings.IDEMPOTENCY_KEY_TTL_HOURS:g} h"
            )
            if every is None or stop.wait(every):
                return
