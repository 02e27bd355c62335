"""The transactional outbox's table, shared by every service that publishes events.

Each service has its own concrete ``OutboxEvent`` in its own database (orders, catalog):
an event is written in the same transaction as the change it announces.
"""

from django.db import models


class OutboxEventBase(models.Model):
    """An event to publish. ``sent_at`` is set when the broker acknowledges it; rows left
    unsent after a crash or a broker outage are published by ``manage.py runrelay``."""

    topic = models.CharField(max_length=249)
    key = models.CharField(max_length=64)
    # What the event is about (an orderId, a productId), to find its events again. Indexed
    # by the services that look events up by it (see their Meta), not here: every index
    # is paid for by every insert and every sent-mark.
    subject_id = models.CharField(max_length=64)
    payload = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")
    # The W3C traceparent of the request that wrote the row ("" with tracing off), so the
    # message keeps its order's trace whoever sends it (kafka_bridge.tracing). The
    # database default serves the fast layer's inserts, which name their columns.
    traceparent = models.CharField(max_length=55, blank=True, default="", db_default="")

    class Meta:
        abstract = True

    def __str__(self) -> str:
        state = f"sent {self.sent_at:%Y-%m-%d %H:%M:%S}" if self.sent_at else "unsent"
        return f"#{self.pk} {self.topic} key={self.key} ({state})"
