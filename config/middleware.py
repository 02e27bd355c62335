"""A database that cannot be reached is a 503 with a plain message on every page, never a 500.

The API answers it in JSON already (``config.exceptions``); this covers the rest: the
admin, the live page and the home page.
"""

from __future__ import annotations

import logging

from django.db import InterfaceError, OperationalError
from django.http import HttpResponse

from config.exceptions import RETRY_AFTER_SECONDS

logger = logging.getLogger(__name__)


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, OperationalError | InterfaceError):
            return None
        logger.warning("database unavailable during %s %s: %s", request.method, request.path, exception)
        response = HttpResponse(
            "A database is unavailable right now. Try again shortly.\n", status=503, content_type="text/plain"
        )
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
