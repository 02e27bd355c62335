"""``python manage.py createtopics``: create the order-events topic and its dead-letter topic."""

from confluent_kafka import KafkaException
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from kafka_bridge.config import dead_letter_topic
from kafka_bridge.topics import topics_ensure


class Command(BaseCommand):
    help = "Create the project's topics if they do not exist (existing topics are left as they are)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--partitions",
            type=int,
            default=settings.ORDER_EVENTS_PARTITIONS,
            help="partitions of a new topic: the most consumers that can share the work (default: %(default)s)",
        )
        parser.add_argument(
            "--replication-factor",
            type=int,
            default=settings.ORDER_EVENTS_REPLICATION_FACTOR,
            help="copies of each partition, on different brokers (default: %(default)s)",
        )
        parser.add_argument(
            "--min-insync-replicas",
            type=int,
            default=settings.ORDER_EVENTS_MIN_INSYNC_REPLICAS,
            help="copies that must have a message before acks=all succeeds (default: %(default)s)",
        )

    def handle(self, *args, **options):
        if min(options["partitions"], options["replication_factor"], options["min_insync_replicas"]) < 1:
            raise CommandError("--partitions, --replication-factor and --min-insync-replicas must be at least 1")
        if options["min_insync_replicas"] > options["replication_factor"]:
            raise CommandError("--min-insync-replicas cannot exceed --replication-factor: no write could succeed")
        topic = settings.ORDER_EVENTS_TOPIC
        try:
            created = topics_ensure(
                names=[topic, dead_letter_topic(topic)],
                partitions=options["partitions"],
                replication_factor=options["replication_factor"],
                config={"min.insync.replicas": str(options["min_insync_replicas"])},
            )
        except KafkaException as exc:
            raise CommandError(f"could not create topics on {settings.KAFKA_BOOTSTRAP_SERVERS}: {exc}") from exc
        self.stdout.write(
            f"created: {', '.join(created)}"
            if created
            else f"topics already exist: {topic}, {dead_letter_topic(topic)}"
        )
