"""Has the order service's replica of the catalog's products caught up since this process started?

Orders are checked against the replica (``ProductReplica``), which ``runorderconsumer``
fills from the products topic. Right after a start, a product the catalog lists may not
have arrived yet: the order service must then say "still loading", not "unknown product".
The replica has caught up once the order consumer's group has committed every partition
of the products topic up to its end. Once seen, that stays true for the process's life.
"""

from __future__ import annotations

import logging
import time

from confluent_kafka import KafkaException
from django.conf import settings

from kafka_bridge.lag import group_lag

logger = logging.getLogger(__name__)

# Asked of the broker at most this often while not caught up (an unknown product is rare).
RECHECK_SECONDS = 1.0

_caught_up = False
_checked_at = float("-inf")


def replica_caught_up() -> bool:
    """Whether the replica has read the whole products topic at least once since this
    process started. Asks the broker, unless it said yes before or was asked a moment ago."""
    global _caught_up, _checked_at
    if _caught_up or time.monotonic() - _checked_at < RECHECK_SECONDS:
        return _caught_up
    _checked_at = time.monotonic()
    try:
        rows = group_lag(group_id=settings.ORDERS_CONSUMER_GROUP, topics=[settings.PRODUCTS_TOPIC], timeout=2.0)
    except KafkaException as exc:
        logger.warning("cannot tell whether the product replica has caught up (%s)", exc)
        return False
    _caught_up = all(row.lag <= 0 for row in rows)
    if _caught_up:
        logger.info("the product replica has caught up with %s", settings.PRODUCTS_TOPIC)
    return _caught_up


def replica_mark(*, caught_up: bool) -> None:
    """Set what this process believes (tests, and a replica filled by other means)."""
    global _caught_up, _checked_at
    _caught_up, _checked_at = caught_up, float("-inf")
