"""Idempotent order placement: the same ``Idempotency-Key`` sent again places nothing new.

A client whose connection dropped after its order committed cannot know whether the
order exists. With a key (Stripe's ``Idempotency-Key``; the IETF httpapi draft "The
Idempotency-Key HTTP Header Field") it simply sends the same request again:

* same client, same key, same request → the first answer again, nothing stored or published;
* same key, another request → ``IdempotencyKeyReused`` (the API answers 422);
* same key while the first request is still in its transaction → ``IdempotencyKeyInFlight``
  (409: try again in a moment, and the answer will be the replay).

The key is written in the order's own transaction: it exists exactly when the order does.
Only a placed order binds a key; a refused request (400) stores nothing, so the client may
correct it and send it again with the same key. Keys of different clients never collide.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any, NamedTuple

from django.conf import settings
from django.db import connections, router, transaction
from django.utils import timezone

from orders.models import IdempotencyKey, Order

logger = logging.getLogger(__name__)

MAX_KEY_LENGTH = 255


class IdempotencyKeyInvalid(Exception):
    """The header is empty, too long or not printable ASCII; ``str()`` says which."""


class IdempotencyKeyReused(Exception):
    """The key was used before with a different request."""


class IdempotencyKeyInFlight(Exception):
    """A request with this key is still being processed."""


class Placed(NamedTuple):
    """The answer to give: the order's response body, and whether it is a replay."""

    body: dict[str, Any]
    replayed: bool


def idempotency_key_parse(raw: str) -> str:
    """The key from the header's value. The IETF draft sends it as a quoted string
    (``"8e03978e-…"``), Stripe's clients bare: both are accepted."""
    key = raw.strip()
    if len(key) >= 2 and key[0] == key[-1] == '"':
        key = key[1:-1]
    if not key:
        raise IdempotencyKeyInvalid("Idempotency-Key must not be empty.")
    if len(key) > MAX_KEY_LENGTH:
        raise IdempotencyKeyInvalid(f"Idempotency-Key must be at most {MAX_KEY_LENGTH} characters.")
    if not all(" " <= c <= "~" for c in key):
        raise IdempotencyKeyInvalid("Idempotency-Key must be printable ASCII.")
    return key


def request_fingerprint(request: dict[str, Any]) -> str:
    """SHA-256 of the request as validated (so ``"qty": "3"`` from a form equals ``3``)."""
    return hashlib.sha256(json.dumps(request, sort_keys=True, default=str).encode()).hexdigest()


def idempotency_key_expiry() -> timedelta:
    return timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS)


def order_place_idempotent(
    *, client: str, key: str, fingerprint: str, place: Callable[[], tuple[Order, dict[str, Any]]]
) -> Placed:
    """Place an order once per (client, key): ``place()`` creates it and returns it with its
    response body; a repeat returns that body again without calling ``place()``.

    Everything happens in one transaction of the orders database, so the key, the order
    and its outbox row commit together or not at all.
    """
    using = router.db_for_write(IdempotencyKey)
    with transaction.atomic(using=using):
        if not _try_lock(using, client, key):
            logger.info("Idempotency-Key %r of %s: still in flight, answered 409", key, client)
            raise IdempotencyKeyInFlight
        try:  # one row at most: (client, key) is unique
            stored = IdempotencyKey.objects.using(using).select_related("order").get(client=client, key=key)
        except IdempotencyKey.DoesNotExist:
            stored = None
        if stored is not None and stored.created_at <= timezone.now() - idempotency_key_expiry():
            stored.delete()  # expired: the key is free again, as if cleared
            stored = None
        if stored is not None:
            if stored.fingerprint != fingerprint:
                logger.info("Idempotency-Key %r of %s: reused with another request, refused", key, client)
                raise IdempotencyKeyReused
            logger.info("Idempotency-Key %r of %s: order %s answered again", key, client, stored.order.order_id)
            return Placed(stored.response_body, replayed=True)
        order, body = place()
        IdempotencyKey.objects.using(using).create(
            client=client, key=key, fingerprint=fingerprint, order=order, response_body=body
        )
        return Placed(body, replayed=False)


def _try_lock(using: str, client: str, key: str) -> bool:
    """Hold (client, key) for this transaction; False if another transaction holds it.

    PostgreSQL: a transaction-scoped advisory lock, released at commit or rollback (or when
    a crashed process's connection closes), so the second of two concurrent requests learns
    at once that the first is in flight instead of queueing behind it. SQLite serialises
    writers (``BEGIN IMMEDIATE``), so two requests are never inside at the same time there.
    """
    connection = connections[using]
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        # A newline cannot occur in a key (printable ASCII), so no two pairs join alike.
        cursor.execute("SELECT pg_try_advisory_xact_lock(hashtextextended(%s, 0))", [f"{client}\n{key}"])
        (locked,) = cursor.fetchone()
    return bool(locked)


def idempotency_keys_clear(*, now=None) -> int:
    """Delete keys older than ``IDEMPOTENCY_KEY_TTL_HOURS``; return how many. Their orders stay."""
    cutoff = (now or timezone.now()) - idempotency_key_expiry()
    deleted, _ = IdempotencyKey.objects.filter(created_at__lte=cutoff).delete()
    return deleted
