"""``python manage.py createtopics``: create the order-events topic and its dead-letter topic."""

from confluent_kafka import KafkaException
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from kafka_bridge.config import dead_letter_topic
from kafka_bridge.topics import topics_ensure


class Command(BaseCommand):
    help = "Create the project's topics if they do not exist (existing topics are left as they are)."

    def add_arguments(self, parser):
        parser.add_argument("--partitions", type=int, default=settings.ORDER_EVENTS_PARTITIONS)
        parser.add_argument("--replication-factor", type=int, default=1)

    def handle(self, *args, **options):
        if options["partitions"] < 1 or options["replication_factor"] < 1:
            raise CommandError("--partitions and --replication-factor must be at least 1")
        topic = settings.ORDER_EVENTS_TOPIC
        try:
            created = topics_ensure(
                names=[topic, dead_letter_topic(topic)],
                partitions=options["partitions"],
                replication_factor=options["replication_factor"],
            )
        except KafkaException as exc:
            raise CommandError(f"could not create topics on {settings.KAFKA_BOOTSTRAP_SERVERS}: {exc}") from exc
        self.stdout.write(
            f"created: {', '.join(created)}"
            if created
            else f"topics already exist: {topic}, {dead_letter_topic(topic)}"
        )
