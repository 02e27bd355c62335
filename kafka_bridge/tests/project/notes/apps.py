from django.apps import AppConfig
from django.conf import settings


class NotesConfig(AppConfig):
    name = "kafka_bridge.tests.project.notes"
    label = "notes"

    def ready(self) -> None:
        from kafka_bridge.registry import ConsumerSpec, TopicSpec, collector_register, consumer_register, topic_register
        from kafka_bridge.tests.project.notes.consumers import NotesCollector, NotesHandler

        topic_register(TopicSpec(name=lambda: settings.NOTES_TOPIC))
        consumer_register(
            ConsumerSpec(
                name="notereader",
                group_id=lambda: "note-readers",
                handlers=lambda: {settings.NOTES_TOPIC: NotesHandler()},
            )
        )
        collector_register(NotesCollector())
