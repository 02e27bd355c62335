"""``python manage.py createtopics``: create the topics the apps registered
(``kafka_bridge.registry.topic_register``), each with its dead-letter topic. Here: order
events (the tutorial's), order results, and the compacted products topic."""

from confluent_kafka import KafkaException
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from kafka_bridge.config import dead_letter_topic
from kafka_bridge.registry import topics_registered
from kafka_bridge.topics import topic_config_ensure, topics_ensure


class Command(BaseCommand):
    help = "Create the project's topics if they do not exist (existing topics are left as they are)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--partitions",
            type=int,
            default=settings.TOPIC_PARTITIONS,
            help="partitions of a new topic: the most consumers that can share the work (default: %(default)s)",
        )
        parser.add_argument(
            "--replication-factor",
            type=int,
            default=settings.TOPIC_REPLICATION_FACTOR,
            help="copies of each partition, on different brokers (default: %(default)s)",
        )
        parser.add_argument(
            "--min-insync-replicas",
            type=int,
            default=settings.TOPIC_MIN_INSYNC_REPLICAS,
            help="copies that must have a message before acks=all succeeds (default: %(default)s)",
        )

    def handle(self, *args, **options):
        if min(options["partitions"], options["replication_factor"], options["min_insync_replicas"]) < 1:
            raise CommandError("--partitions, --replication-factor and --min-insync-replicas must be at least 1")
        if options["min_insync_replicas"] > options["replication_factor"]:
            raise CommandError("--min-insync-replicas cannot exceed --replication-factor: no write could succeed")
        common = {"min.insync.replicas": str(options["min_insync_replicas"])}
        registered = [(spec.name(), spec.config) for spec in topics_registered()]
        topics = [(name, {**common, **config}) for name, config in registered]
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
            # Created earlier with the broker's defaults (published to before this ran)? What
            # the app asked for (compaction, say) is what its readers rely on: make sure of it.
            for name, config in registered:
                if config and name not in created:
                    topic_config_ensure(name=name, config=config)
        except KafkaException as exc:
            raise CommandError(f"could not create topics on {settings.KAFKA_BOOTSTRAP_SERVERS}: {exc}") from exc
        names = [name for topic, _ in topics for name in (topic, dead_letter_topic(topic))]
        existing = [name for name in names if name not in created]
        if created:
            self.stdout.write(f"created: {', '.join(created)}")
        if existing:
            self.stdout.write(f"already exist: {', '.join(existing)}")
