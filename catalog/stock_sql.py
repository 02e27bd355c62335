"""The consumer's hot path on PostgreSQL: a batch's decisions written in three statements.

``catalog.services.stock_apply_order_events`` decides a batch (``catalog.reservations``)
and writes the decisions here on PostgreSQL, through the ORM elsewhere (SQLite); both
have the same effect, and the tests run both. Each statement takes the whole batch as
arrays (``unnest``): one round trip for the ledger rows, one for the stock of every
product that changed, one for the results in the outbox.
"""

from __future__ import annotations

from django.conf import settings
from django.db import connections

from catalog.models import OutboxEvent
from catalog.reservations import Decisions

LEDGER = """
INSERT INTO catalog_stockmovement
    (order_id, kind, outcome, reason, product_id, delta, stock_after, topic, "partition", "offset", applied_at)
SELECT *, clock_timestamp()
FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::bigint[], %s::bigint[],
            %s::text[], %s::int[], %s::bigint[])
"""

STOCK = """
UPDATE catalog_product p SET stock = v.stock
FROM unnest(%s::text[], %s::bigint[]) AS v(product_id, stock)
WHERE p.product_id = v.product_id
"""

RESULTS = """
INSERT INTO catalog_outboxevent (topic, key, subject_id, payload, created_at, attempts, last_error)
SELECT %s, k, k, p, clock_timestamp(), 0, '' FROM unnest(%s::text[], %s::bytea[]) WITH ORDINALITY AS v(k, p, n)
ORDER BY n
RETURNING id
"""


def stock_write_decisions_sql(*, decisions: Decisions, using: str) -> list[OutboxEvent]:
    """Write the ledger rows, stock and results inside the caller's transaction on
    ``using`` (PostgreSQL), with the batch's products already locked; return the
    outbox rows (with their ids) to publish after commit."""
    moves = decisions.movements
    if not moves:
        return []
    topic = settings.ORDER_RESULTS_TOPIC
    order_ids = [m.record.event.order_id for m in moves]
    payloads = [m.result.to_json() for m in moves]
    with connections[using].cursor() as cursor:
        cursor.execute(
            LEDGER,
            [
                order_ids,
                [m.kind for m in moves],
                [m.outcome for m in moves],
                [m.reason for m in moves],
                [m.record.event.product_id for m in moves],
                [m.delta for m in moves],
                [m.stock_after for m in moves],
                [m.record.topic for m in moves],
                [m.record.partition for m in moves],
                [m.record.offset for m in moves],
            ],
        )
        if decisions.stock:
            cursor.execute(STOCK, [list(decisions.stock), list(decisions.stock.values())])
        cursor.execute(RESULTS, [topic, order_ids, payloads])
        # Ids come from a sequence in insertion order, which is the batch's order.
        ids = sorted(row[0] for row in cursor.fetchall())
    return [
        OutboxEvent(pk=pk, topic=topic, key=key, subject_id=key, payload=payload)
        for pk, key, payload in zip(ids, order_ids, payloads, strict=True)
    ]
