"""``python manage.py connectors``: Debezium's outbox connectors on Kafka Connect
(``OUTBOX_RELAY=debezium``; kafka_bridge/connect.py).

    python manage.py connectors               each connector's state and lag
    python manage.py connectors --register    create or update them; wait until they run
    python manage.py connectors --delete      remove them and their replication slots
"""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from kafka_bridge.connect import (
    ConnectError,
    connectors_delete,
    connectors_register,
    connectors_running,
    connectors_status,
)


class Command(BaseCommand):
    help = "Show, register or delete Debezium's outbox connectors on Kafka Connect (OUTBOX_RELAY=debezium)."

    def add_arguments(self, parser):
        action = parser.add_mutually_exclusive_group()
        action.add_argument("--register", action="store_true", help="create or update them, then wait until they run")
        action.add_argument("--delete", action="store_true", help="remove them and their replication slots")
        parser.add_argument(
            "--wait", type=float, default=60, help="seconds --register waits for RUNNING (default: %(default)s)"
        )

    def handle(self, *args, register=False, delete=False, wait=60, **options):
        if settings.OUTBOX_RELAY != "debezium":
            raise CommandError("OUTBOX_RELAY is not 'debezium': manage.py runrelay sends the outboxes")
        try:
            if delete:
                connectors_delete()
                self.stdout.write("connectors: deleted, with their replication slots")
                return
            if register:
                names = connectors_register()
                self.stdout.write(f"connectors: registered {', '.join(names)} at {settings.CONNECT_URL}")
                running = connectors_running(within=wait)
        except ConnectError as exc:
            raise CommandError(str(exc)) from exc
        statuses = connectors_status()
        for s in statuses:
            lag = "no slot yet" if s.lag_bytes is None else f"{s.lag_bytes} bytes of log not yet confirmed"
            slot = "slot read" if s.slot_active else "slot idle"
            self.stdout.write(f"{s.name:16} {s.state:11} {slot}, {lag}{f'  ({s.error})' if s.error else ''}")
        if register and not running:
            raise CommandError(f"not every connector runs after {wait:g} s; see Kafka Connect's log")
