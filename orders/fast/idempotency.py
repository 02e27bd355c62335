"""``orders.idempotency.order_place_idempotent`` on the fast layer: one statement (PostgreSQL).

The default path takes six round trips for an order with an ``Idempotency-Key``: BEGIN,
the key's advisory lock, the key's look-up, the order and its outbox row, the key's row,
COMMIT. Here one statement does all of it: a statement is a transaction of its own, so
its advisory lock is held exactly as long as the default path's.

It has the same effect:

* the key held by another request's statement → ``IdempotencyKeyInFlight``;
* the key stored with the same request → the stored body again; with another request →
  ``IdempotencyKeyReused``;
* otherwise the order, its outbox row and the key's row are inserted together, if the
  replica accepts the order, or nothing is (``OrderRefused``, ``ReplicaLoading``).

Two cases go the default path's way, which handles every case: a stored key that has
expired (it must be deleted first), and a request that ran into another's key row
committed after this statement's snapshot was taken (the key's unique index refuses the
second row, and the whole statement rolls back, order and outbox row too).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connections, router
from django.utils import timezone

from kafka_bridge.outbox import OutboxRow
from kafka_bridge.tracing import traceparent_now
from orders.fast.order_sql import place_ctes, place_params
from orders.fast.services import order_unsaved, placement_refused
from orders.idempotency import (
    IdempotencyKeyInFlight,
    IdempotencyKeyReused,
    Placed,
    idempotency_key_expiry,
    order_place_idempotent,
)
from orders.models import IdempotencyKey, Order
from orders.outbox import order_event, outbox_publish_order_event


def _statement(using: str) -> str:
    keys = connections[using].ops.quote_name(IdempotencyKey._meta.db_table)
    # The order is placed only if this statement holds the key's lock and the key is new.
    placing = place_ctes(using, only_if="(SELECT locked FROM gate) AND NOT EXISTS (SELECT 1 FROM existing)")
    return f"""
WITH gate AS (
    SELECT pg_try_advisory_xact_lock(hashtextextended(%(lock)s, 0)) AS locked
), existing AS (
    SELECT fingerprint, response_body::text AS body, created_at FROM {keys}
    WHERE client = %(client)s AND key = %(key)s
), {placing}, keyed AS (
    INSERT INTO {keys} (client, key, fingerprint, order_id, response_body, created_at)
    SELECT %(client)s, %(key)s, %(fingerprint)s, placed.id, %(body)s::jsonb, %(created_at)s FROM placed
    RETURNING id
)
SELECT gate.locked, existing.fingerprint, existing.body, existing.created_at, terms.unit_price, terms.active,
    placed.id, announced.id
FROM gate LEFT JOIN existing ON true LEFT JOIN terms ON true LEFT JOIN placed ON true LEFT JOIN announced ON true
"""  # noqa: S608 - table names are the models', quoted


_statements: dict[str, str] = {}


def order_place_idempotent_fast(
    *,
    client: str,
    key: str,
    fingerprint: str,
    user_id: str,
    product_id: str,
    qty: int,
    unit_price: int,
    serialize: Callable[[Order], dict[str, Any]],
    place: Callable[[], tuple[Order, dict[str, Any]]],
) -> Placed:
    """Place an order once per (client, key), in one statement. ``serialize``: the order's
    response body; ``place``: the default path's placement, for the cases it takes over."""
    using = router.db_for_write(Order)
    if using not in _statements:
        _statements[using] = _statement(using)
    order = order_unsaved(user_id=user_id, product_id=product_id, qty=qty, unit_price=unit_price)
    body = serialize(order)
    payload = order_event(order).to_json()
    topic = settings.ORDER_EVENTS_TOPIC
    traceparent = traceparent_now()  # stored on the row and handed to the sender: one value
    params = {
        **place_params(order=order, topic=topic, payload=payload, traceparent=traceparent),
        # As orders.idempotency locks it: a newline cannot occur in a key (printable ASCII).
        "lock": f"{client}\n{key}",
        "client": client,
        "key": key,
        "fingerprint": fingerprint,
        "body": json.dumps(body),
    }
    try:
        with connections[using].cursor() as cursor:
            cursor.execute(_statements[using], params)
            locked, stored_fingerprint, stored_body, stored_at, price, active, order_pk, outbox_pk = cursor.fetchone()
    except IntegrityError:  # another request's key committed after this statement began
        return order_place_idempotent(client=client, key=key, fingerprint=fingerprint, place=place)
    if not locked:
        raise IdempotencyKeyInFlight
    if stored_fingerprint is not None:
        if stored_at <= timezone.now() - idempotency_key_expiry():
            return order_place_idempotent(client=client, key=key, fingerprint=fingerprint, place=place)
        if stored_fingerprint != fingerprint:
            raise IdempotencyKeyReused
        return Placed(json.loads(stored_body), replayed=True)
    if order_pk is None or outbox_pk is None:
        raise placement_refused(product_id=product_id, unit_price=unit_price, price=price, active=active)
    outbox_publish_order_event(row=OutboxRow(outbox_pk, topic, product_id, payload, traceparent), using=using)
    return Placed(body, replayed=False)
