"""The live page's data: the whole flow in one reading, and its last minutes.

One reading is what the Sync page and ``/metrics`` read too: ``sync_status()`` for the
plumbing (outboxes, each group's partitions, lag and members, dead letters) and the apps'
registered collectors for their own tables (orders by status, the ledger, the stock).
Nothing here counts anything itself.

The charts need a past: each web process keeps the last ``HISTORY_SECONDS`` of readings
in memory, taken while someone watches (a reading is shared by every viewer for
``FRESH_SECONDS``). Rates are differences between readings.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone

from kafka_bridge.metrics import app_samples
from kafka_bridge.sync_status import SyncStatus, sync_status
from orders.selectors import order_list

HISTORY_SECONDS = 300  # what the charts show
FRESH_SECONDS = 0.8  # the page asks every second; two viewers share one reading
RECENT_ORDERS = 8


@dataclass(frozen=True)
class Reading:
    at: float  # time.time()
    orders: int  # placed, all statuses
    decided: int  # ledger rows of placed orders (applied or rejected)
    lag: int  # the catalog's consumer group


_history: deque[Reading] = deque()
_lock = threading.Lock()
_last: tuple[float, dict] | None = None


def live_snapshot(*, max_age: float = FRESH_SECONDS) -> dict:
    """The flow now, as the live page draws it (JSON-ready), with the charts' series; a
    reading taken less than ``max_age`` seconds ago is shared."""
    global _last
    with _lock:
        if _last is not None and time.monotonic() - _last[0] < max_age:
            return _last[1]
        snapshot = _read()
        _last = (time.monotonic(), snapshot)
        return snapshot


def _read() -> dict:
    status = sync_status(kafka_timeout=2.0)
    apps = app_samples()
    by_status = {labels["status"]: int(value) for labels, value in apps.get("stocksync_orders_created", [])}
    ledger = {
        (labels["kind"], labels["outcome"]): int(value) for labels, value in apps.get("stocksync_catalog_decisions", [])
    }
    catalog_group = next((g for g in status.groups if g.group_id == settings.CATALOG_CONSUMER_GROUP), None)
    reading = Reading(
        at=time.time(),
        orders=sum(by_status.values()),
        decided=ledger.get(("order", "applied"), 0) + ledger.get(("order", "rejected"), 0),
        lag=catalog_group.lag if catalog_group else 0,
    )
    _remember(reading)
    return {
        "at": timezone.now().isoformat(),
        # Which topic is which hop of the picture.
        "flow": {"events": settings.ORDER_EVENTS_TOPIC, "results": settings.ORDER_RESULTS_TOPIC},
        "orders": {"total": reading.orders, "byStatus": by_status},
        "outboxes": [
            {"outbox": o.outbox, "unsent": o.unsent, "sent": o.sent, "oldestAgeSeconds": o.oldest_age_seconds}
            for o in status.outboxes
        ],
        "relay": {
            "kind": settings.OUTBOX_RELAY,
            "connectors": [
                {"name": c.name, "state": c.state, "slotActive": c.slot_active, "lagBytes": c.lag_bytes}
                for c in status.connectors
            ],
        },
        "topics": _topics(status),
        "ledger": {f"{kind} {outcome}": n for (kind, outcome), n in sorted(ledger.items())},
        "deadLetters": status.dead_letters,
        "stock": {labels["product"]: int(value) for labels, value in apps.get("stocksync_product_stock", [])},
        "recentOrders": [
            {"orderId": str(o.order_id), "productId": o.product_id, "qty": o.qty, "status": o.status}
            for o in order_list().order_by("-id")[:RECENT_ORDERS]
        ],
        "history": history_series(list(_history)),
        "problems": status.problems,
    }


def _topics(status: SyncStatus) -> dict[str, dict]:
    """Per topic a group reads: its group, the group's state and members, and per partition
    the end offset, the committed offset, the lag and the member that holds it."""
    topics = {}
    for group in status.groups:
        for p in group.partitions:
            topic = topics.setdefault(
                p.topic,
                {
                    "group": group.group_id,
                    "consumer": group.consumer,
                    "state": group.state,
                    "protocol": group.protocol,
                    "members": [
                        {"clientId": m.client_id, "partitions": [f"{t}[{n}]" for t, n in m.partitions if t == p.topic]}
                        for m in group.members
                    ],
                    "lag": 0,
                    "partitions": [],
                },
            )
            topic["lag"] += p.lag
            topic["partitions"].append(
                {
                    "partition": p.partition,
                    "end": p.end,
                    "committed": p.committed,
                    "lag": p.lag,
                    "member": group.member_of(p.topic, p.partition),
                }
            )
    return topics


def _remember(reading: Reading) -> None:
    _history.append(reading)
    while _history and _history[0].at < reading.at - HISTORY_SECONDS:
        _history.popleft()


def history_series(readings: list[Reading]) -> dict[str, list[float]]:
    """The charts' series from consecutive readings: order and apply rates (per second,
    between a reading and the one before it) and the lag at each reading."""
    series: dict[str, list[float]] = {"t": [], "orderRate": [], "applyRate": [], "lag": []}
    for before, now in zip(readings, readings[1:], strict=False):
        elapsed = now.at - before.at
        if elapsed <= 0:
            continue
        series["t"].append(round(now.at, 3))
        # A counter that went down (a table emptied by hand) is a restart, not a negative rate.
        series["orderRate"].append(round(max(0, now.orders - before.orders) / elapsed, 2))
        series["applyRate"].append(round(max(0, now.decided - before.decided) / elapsed, 2))
        series["lag"].append(now.lag)
    return series
