"""The bridge's round trip in a project that is not stocksync (settings.py beside this file).

    DJANGO_SETTINGS_MODULE=kafka_bridge.tests.project.settings python -m kafka_bridge.tests.project.scenario

A note and its event are written in one transaction through the outbox and published on
commit; a poison message and a duplicate follow; the registered consumer (run by the
bridge's runner) applies the note once and dead-letters the poison; the sync status and
/metrics see the app's outbox, its consumer group and its collector. Prints what it saw
as one JSON line, for the test to judge.
"""

import io
import json
import sys

import django


def main() -> None:
    django.setup()
    from confluent_kafka import Producer
    from django.conf import settings
    from django.core.management import call_command
    from django.db import transaction
    from django.test import RequestFactory

    from kafka_bridge.config import client_config, dead_letter_topic
    from kafka_bridge.deadletters import dead_letters_read
    from kafka_bridge.metrics import metrics_view
    from kafka_bridge.outbox import outbox_send
    from kafka_bridge.producer import shutdown_publisher
    from kafka_bridge.runner import run_consumer
    from kafka_bridge.sync_status import sync_status
    from kafka_bridge.tests.project.notes.models import Note, NoteOutbox, NoteRead

    call_command("migrate", run_syncdb=True, verbosity=0)
    call_command("createtopics", "--partitions", "1", stdout=io.StringIO())
    with transaction.atomic():
        note = Note.objects.create(text="hello")
        outbox_send(
            model=NoteOutbox,
            using="default",
            topic=settings.NOTES_TOPIC,
            key=str(note.pk),
            subject_id=str(note.pk),
            payload=json.dumps({"id": note.pk, "text": note.text}).encode(),
            crash_point_name="notes.after_commit",
        )
    shutdown_publisher(timeout=30)  # delivered, and its outbox row marked sent
    producer = Producer(client_config(acks="all"))
    for value in (b"not json", json.dumps({"id": note.pk, "text": note.text}).encode()):
        producer.produce(settings.NOTES_TOPIC, value=value)
    producer.flush(30)

    options = {"group_id": "note-readers", "batch_size": 100, "exit_when_idle": 3.0, "metrics_port": None}
    run_consumer(name="notereader", options=options)

    status = sync_status()
    metrics = metrics_view(RequestFactory().get("/metrics")).content.decode()
    print(
        json.dumps(
            {
                "notes_read": list(NoteRead.objects.values_list("text", flat=True)),
                "dead_letters": [
                    letter.reason for letter in dead_letters_read(topic=dead_letter_topic(settings.NOTES_TOPIC))
                ],
                "groups": {group.group_id: group.lag for group in status.groups},
                "outboxes": {o.outbox: [o.sent, o.unsent] for o in status.outboxes},
                "problems": status.problems,
                "metrics": [
                    line for line in metrics.splitlines() if line.startswith(("notes_read", "stocksync_consumer_lag"))
                ],
                "project_modules": sorted(
                    m for m in sys.modules if m.split(".")[0] in {"orders", "catalog", "sync", "config"}
                ),
            }
        )
    )


if __name__ == "__main__":
    main()
