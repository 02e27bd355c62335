"""``python manage.py runconsumer``: apply order events from Kafka to the catalog's stock
and publish each order's outcome."""

import os
import signal
import subprocess
import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from config.health import check_broker, check_database
from config.routers import CATALOG_DB
from kafka_bridge.argtypes import positive_float, positive_int
from kafka_bridge.heartbeat import last_beat_age
from kafka_bridge.lag import group_lag
from kafka_bridge.runner import add_consumer_arguments, run_consumer


class Command(BaseCommand):
    help = (
        "Consume order events and lower the catalog's stock, exactly once per order. "
        "SIGINT/SIGTERM finish the current batch, commit it and exit 0."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--topic", default=settings.ORDER_EVENTS_TOPIC, help="topic to consume (default: %(default)s)"
        )
        add_consumer_arguments(parser, consumer="runconsumer")
        parser.add_argument(
            "--offset-reset",
            choices=["earliest", "latest"],
            default="earliest",
            help="where a group with no committed offset starts: earliest = from the first message "
            "still in the topic, latest = only messages produced from now on (default: %(default)s). "
            "A group that has committed offsets always resumes where it left off.",
        )
        parser.add_argument(
            "--processes",
            type=positive_int,
            default=1,
            help="members of the group to run, one process each; more than the topic's partitions "
            "leaves some idle (default: %(default)s)",
        )
        parser.add_argument(
            "--check",
            action="store_true",
            help="do not consume: exit 0 if a runconsumer process of this group turned its loop in the last "
            "--max-age seconds and the catalog database and the broker answer, 1 otherwise (a health check); "
            "prints the group's lag",
        )
        parser.add_argument(
            "--max-age",
            type=positive_float,
            default=30.0,
            metavar="SECONDS",
            help="with --check: how old the last sign of life may be (default: %(default)s)",
        )

    def handle(self, *args, **options):
        if not options["topic"].strip():
            raise CommandError("--topic must not be empty")
        if options["check"]:
            raise SystemExit(consumer_health_report(self.stdout, options))
        if options["fast"] and connections[CATALOG_DB].vendor != "postgresql":
            raise CommandError("--fast needs PostgreSQL (set CATALOG_DATABASE_URL); without it, run --no-fast")
        if options["processes"] > 1:
            raise SystemExit(self._run_members(options))
        run_consumer(name="runconsumer", topic=options["topic"], offset_reset=options["offset_reset"], options=options)

    def _run_members(self, options) -> int:
        """Start N single-process members of the group; pass signals on; exit with the worst status."""
        member = [sys.executable, sys.argv[0], "runconsumer", "--topic", options["topic"]]
        member += ["--group-id", options["group_id"], "--offset-reset", options["offset_reset"]]
        member += ["--batch-size", str(options["batch_size"]), "--fast" if options["fast"] else "--no-fast"]
        if options["exit_when_idle"]:
            member += ["--exit-when-idle", str(options["exit_when_idle"])]
        port = options["metrics_port"]  # member i serves its metrics on port + i
        env = dict(os.environ)
        if settings.CONSUMER_PIPELINE is None:  # auto: the members share the two cores already
            env["CONSUMER_PIPELINE"] = "false"
        members = [
            subprocess.Popen(member + (["--metrics-port", str(port + i)] if port else []), env=env)
            for i in range(options["processes"])
        ]

        def forward(signum, _frame):
            for process in members:
                if process.poll() is None:
                    process.send_signal(signum)

        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, forward)
        return max(process.wait() for process in members)


def consumer_health_report(out, options) -> int:
    """Print the consumer's health and return the exit status (0 healthy, 1 not)."""
    problems = []
    age = last_beat_age(f"runconsumer-{options['group_id']}")
    if age is None:
        problems.append(f"no runconsumer of group {options['group_id']!r} has run here")
        out.write("last loop turn: never")
    else:
        out.write(f"last loop turn: {age:.1f} s ago")
        if age > options["max_age"]:
            problems.append(f"the consumer loop has not turned for {age:.0f} s (limit {options['max_age']:g} s)")
    for name, problem in (("catalog database", check_database(CATALOG_DB)), ("kafka", check_broker())):
        out.write(f"{name}: {problem or 'ok'}")
        if problem:
            problems.append(f"{name}: {problem}")
    if not any("kafka" in p for p in problems):
        for row in group_lag(group_id=options["group_id"], topics=[options["topic"]]):
            out.write(f"{row.topic}[{row.partition}]: end {row.end}, committed {row.committed}, lag {row.lag}")
    for problem in problems:
        out.write(f"UNHEALTHY: {problem}")
    if not problems:
        out.write("HEALTHY")
    return 1 if problems else 0
