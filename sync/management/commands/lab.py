"""``python manage.py lab [NAME]``: the guided labs, against the running `make run` system."""

from confluent_kafka import KafkaException
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from sync.labs import catalog_down, ordering, oversell, replay
from sync.labs.toolkit import Lab, LabFailed

LABS = {
    "catalog-down": catalog_down,
    "oversell": oversell,
    "ordering": ordering,
    "replay": replay,
}


class Command(BaseCommand):
    help = "List the guided labs, or run one (exit 0 on PASS, 1 on FAIL). Start the system with `make run` first."

    def add_arguments(self, parser):
        parser.add_argument("name", nargs="?", help="the lab to run; none: list them")

    def handle(self, *args, name=None, **options):
        if name is None:
            for lab_name, module in LABS.items():
                self.stdout.write(f"{lab_name:14} {module.__doc__.strip().splitlines()[0]}")
            self.stdout.write("\nrun one: python manage.py lab NAME   (docs/labs.md says what each teaches)")
            return
        if name not in LABS:
            raise CommandError(f"no lab {name!r}; the labs: {', '.join(LABS)}")
        module = LABS[name]
        self.stdout.write(f"lab {name}: {module.__doc__.strip()}")
        try:
            summary = module.run(Lab(self.stdout.write))
        except LabFailed as exc:
            self.stdout.write(f"\nlab {name}: FAIL ({exc})")
            raise SystemExit(1) from None
        except (KafkaException, DatabaseError) as exc:
            where = f"Kafka at {settings.KAFKA_BOOTSTRAP_SERVERS}" if isinstance(exc, KafkaException) else "a database"
            self.stdout.write(f"\nlab {name}: FAIL (could not reach {where}: {exc}; is `make run` running?)")
            raise SystemExit(1) from None
        self.stdout.write(f"\nlab {name}: PASS ({summary})")
