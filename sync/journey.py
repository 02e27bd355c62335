"""An order's journey: every hop from the order service to the catalog and back, with its
time and the gap since the previous one, and the hop it is stuck at if it is.

Read from both services' databases (it lives in sync/ for that): the order and its outbox
row (orders), the ledger row of its decision (catalog).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings

from catalog.models import StockMovement
from kafka_bridge.lag import message_timestamp
from kafka_bridge.tracing import trace_id_of
from orders.models import Order, OutboxEvent


@dataclass(frozen=True)
class Hop:
    name: str
    at: datetime | None  # None: not reached yet
    detail: str


@dataclass(frozen=True)
class Journey:
    order_id: str
    hops: list[Hop]
    trace_id: str = ""  # the order's trace (tracing on when it was placed), else ""

    @property
    def stuck_at(self) -> str | None:
        """The first hop not reached, or None when the order went all the way."""
        return next((hop.name for hop in self.hops if hop.at is None), None)

    def as_dict(self) -> dict:
        rows, previous = [], None
        for hop in self.hops:
            gap = (hop.at - previous).total_seconds() if hop.at and previous else None
            rows.append(
                {
                    "hop": hop.name,
                    "at": hop.at,
                    "sinceMs": round(gap * 1000, 1) if gap is not None else None,
                    "detail": hop.detail,
                }
            )
            previous = hop.at or previous
        return {"orderId": self.order_id, "stuckAt": self.stuck_at, "hops": rows, "traceId": self.trace_id or None}


def order_journey(*, order: Order) -> Journey:
    """Where ``order`` has been, hop by hop (its placement; a cancellation is not followed)."""
    order_id = str(order.order_id)
    event = OutboxEvent.objects.filter(subject_id=order_id).order_by("id").first()
    decision = StockMovement.objects.filter(order_id=order_id, kind=StockMovement.Kind.ORDER).first()
    if event is None and decision is not None:  # Debezium's: the row went with its transaction
        where = f"{decision.topic}[{decision.partition}]@{decision.offset}"
        produced = message_timestamp(topic=decision.topic, partition=decision.partition, offset=decision.offset)
        sent = Hop("on the topic", produced, f"{where}, sent by Debezium from the write-ahead log")
    elif event is None and settings.OUTBOX_RELAY == "debezium":
        sent = Hop("on the topic", None, "written to the log with the order: is Kafka Connect running? (/live/)")
    elif event is None:
        sent = Hop("on the topic", None, "no event in the outbox (placed before the outbox existed?)")
    elif event.sent_at is None:
        why = f"; last error: {event.last_error}" if event.last_error else ""
        sent = Hop(
            "on the topic", None, f"waiting in the outbox ({event.attempts} attempt(s){why}): is runrelay running?"
        )
    elif decision is None:
        sent = Hop("on the topic", event.sent_at, f"acknowledged by Kafka on {event.topic}")
    else:
        # The message's own Kafka timestamp: the outbox's sent-marks are written in rounds
        # (kafka_bridge/outbox.py), so sent_at can come after the catalog's decision.
        where = f"{decision.topic}[{decision.partition}]@{decision.offset}"
        produced = message_timestamp(topic=decision.topic, partition=decision.partition, offset=decision.offset)
        sent = Hop("on the topic", produced or event.sent_at, f"{where}, acknowledged by Kafka")
    if decision is None:
        decided = Hop(
            "decided by the catalog", None, "not in the ledger yet: is runconsumer running? (lag: /admin/sync/)"
        )
    else:
        reason = f" ({decision.reason})" if decision.reason else ""
        decided = Hop(
            "decided by the catalog",
            decision.applied_at,
            f"ledger: {decision.outcome}{reason}, stock after {decision.stock_after}",
        )
    if order.status == Order.Status.PENDING:
        answered = Hop("status changed", None, "still PENDING: is runorderconsumer running?")
    else:
        answered = Hop(
            "status changed",
            order.status_changed_at,
            f"{order.status}" + (f" ({order.reason})" if order.reason else ""),
        )
    return Journey(
        order_id,
        [
            Hop("created", order.created_at, f"orders database: {order.qty} × {order.product_id}"),
            sent,
            decided,
            answered,
        ],
        trace_id=trace_id_of(event.traceparent) if event is not None else "",
    )
