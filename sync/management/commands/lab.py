"""``python manage.py lab [NAME]``: the guided labs, against the running `make run` system."""

from confluent_kafka import KafkaException
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from sync.labs import (
    broker_down,
    catalog_down,
    commit_order,
    dual_write,
    ordering,
    oversell,
    poison,
    replay,
    scale_out,
    schema_change,
    trace,
)
from sync.labs.toolkit import Lab, LabFailed

LABS = {  # in the order docs/labs.md tells them
    "catalog-down": catalog_down,
    "broker-down": broker_down,
    "poison": poison,
    "schema-change": schema_change,
    "replay": replay,
    "scale-out": scale_out,
    "oversell": oversell,
    "ordering": ordering,
    "dual-write": dual_write,
    "commit-order": commit_order,  # needs PostgreSQL: make run DB=postgres
    "trace": trace,  # needs Zipkin: make run TRACING=zipkin
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
        lab = Lab(self.stdout.write)
        try:
            verdict, passed = f"PASS ({module.run(lab)})", True
        except LabFailed as exc:
            verdict, passed = f"FAIL ({exc})", False
        except (KafkaException, DatabaseError) as exc:
            where = f"Kafka at {settings.KAFKA_BOOTSTRAP_SERVERS}" if isinstance(exc, KafkaException) else "a database"
            verdict, passed = f"FAIL (could not reach {where}: {exc}; is `make run` running?)", False
        finally:
            lab.restore()  # what a failed lab stopped runs again
        self.stdout.write(f"\nlab {name}: {verdict}")
        if not passed:
            raise SystemExit(1)
