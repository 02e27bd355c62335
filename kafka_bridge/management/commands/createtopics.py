"""``python manage.py createtopics``: create the project's topics, each with its dead-letter topic:
order events (the tutorial's), order results, and the compacted products topic."""

from confluent_kafka import KafkaException
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from kafka_bridge.config import dead_letter_topic
from kafka_bridge.topics import topic_config_ensure, topics_ensure


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
        common = {"min.insync.replicas": str(options["min_insync_replicas"])}
        # The products topic keeps the latest snapshot of each product for ever (compaction),
        # so a new order-service replica can be built by reading it from the start.
        topics = [
            (settings.ORDER_EVENTS_TOPIC, common),
            (settings.ORDER_RESULTS_TOPIC, common),
            (settings.PRODUCTS_TOPIC, {**common, "cleanup.policy": "compact"}),
        ]
        created = []
        try:
            for topic, config in topics:
                created += topics_ensure(
                    names=[topic],
                    partitions=options["partitions"],
                    replication_factor=options["replication_factor"],
                    config=config,
                )
                created += topics_ensure(
                    names=[dead_letter_topic(topic)],
                    partitions=options["partitions"],
                    replication_factor=options["replication_factor"],
                    config=common,
                )
            # Created earlier with the broker's defaults (a product saved before this ran)?
            # Compaction is what lets a new replica rebuild from the topic: make sure of it.
            if settings.PRODUCTS_TOPIC not in created:
                topic_config_ensure(name=settings.PRODUCTS_TOPIC, config={"cleanup.policy": "compact"})
        except KafkaException as exc:
            raise CommandError(f"could not create topics on {settings.KAFKA_BOOTSTRAP_SERVERS}: {exc}") from exc
        names = [name for topic, _ in topics for name in (topic, dead_letter_topic(topic))]
        existing = [name for name in names if name not in created]
        if created:
            self.stdout.write(f"created: {', '.join(created)}")
        if existing:
            self.stdout.write(f"already exist: {', '.join(existing)}")
