from django.db import models

from kafka_bridge.models import OutboxEventBase


class Note(models.Model):
    text = models.CharField(max_length=100)

    def __str__(self) -> str:
        return self.text


class NoteOutbox(OutboxEventBase):
    """The app's outbox: found by the relay and the sync status without being registered."""


class NoteRead(models.Model):
    """What the consumer applied: one row per note id (the app's ledger)."""

    note_id = models.BigIntegerField(unique=True)
    text = models.CharField(max_length=100)

    def __str__(self) -> str:
        return f"{self.note_id}: {self.text}"
