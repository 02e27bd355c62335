import json

from django.db import transaction
from prometheus_client.core import GaugeMetricFamily

from kafka_bridge.handlers import DatabaseBatchHandler
from kafka_bridge.messages import BatchResult, Record
from kafka_bridge.tests.project.notes.models import NoteRead


class NotesHandler(DatabaseBatchHandler):
    def decode(self, value: bytes | None) -> dict:
        try:
            note = json.loads(value or b"")
        except ValueError as exc:
            raise ValueError(f"not JSON: {exc}") from exc
        if not isinstance(note, dict) or "id" not in note:
            raise ValueError("a note needs an id")
        return note

    def apply(self, records: list[Record[dict]]) -> BatchResult:
        with transaction.atomic():
            seen = set(
                NoteRead.objects.filter(note_id__in=[r.event["id"] for r in records]).values_list("note_id", flat=True)
            )
            new = [r.event for r in records if r.event["id"] not in seen]
            NoteRead.objects.bulk_create(
                [NoteRead(note_id=n["id"], text=n["text"]) for n in new], ignore_conflicts=True
            )
        return BatchResult(applied=len(new), skipped=len(records) - len(new))


class NotesCollector:
    def collect(self):
        read = GaugeMetricFamily("notes_read", "Notes the consumer applied.")
        read.add_metric([], NoteRead.objects.count())
        yield read
