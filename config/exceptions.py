"""DRF's exception handler, plus one case it leaves as a 500: a database that cannot be reached."""

from __future__ import annotations

import logging

from django.db import InterfaceError, OperationalError, connections
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

logger = logging.getLogger(__name__)

# The service each database belongs to (config/routers.py), as a client reads it.
SERVICE_OF_DATABASE = {"default": "orders", "catalog": "catalog"}
RETRY_AFTER_SECONDS = 5


def exception_handler(exc, context):
    """503 with a ``{"detail": …}`` naming the database, when one is down or unreachable.

    The request's transaction never committed (or its commit is unknown, which a retry
    with the same Idempotency-Key settles), so the client may simply try again.
    """
    if isinstance(exc, OperationalError | InterfaceError):
        down = [SERVICE_OF_DATABASE.get(a, a) for a in connections if connections[a].errors_occurred]
        logger.warning("database unavailable during %s %s: %s", context["request"].method, context["request"].path, exc)
        detail = (
            f"The {' and '.join(down) + ' ' if down else ''}database is unavailable right now. Try again shortly; "
            "a retry with the same Idempotency-Key never places a second order."
        )
        return Response(
            {"detail": detail},
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    return drf_exception_handler(exc, context)
