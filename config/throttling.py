"""Rate limits: DRF throttles whose rates come from ``settings.THROTTLE_RATES``.

DRF copies its rates into each throttle class when the module is imported; these read
them on every request instead, so an operator's environment and a test's
``override_settings`` both take effect. Past a limit: 429 with ``Retry-After``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from rest_framework.throttling import AnonRateThrottle, SimpleRateThrottle, UserRateThrottle


class _RateFromSettings:
    scope: str

    def get_rate(self) -> str | None:
        return settings.THROTTLE_RATES.get(self.scope)


class AnonymousRateThrottle(_RateFromSettings, AnonRateThrottle):
    """Requests without credentials, per client IP."""

    scope = "anon"


class OrderPlacementThrottle(_RateFromSettings, UserRateThrottle):
    """Orders placed, per user (the order views add it to their POST only)."""

    scope = "order_placement"


class LoginIPThrottle(_RateFromSettings, SimpleRateThrottle):
    """Login attempts per client IP: one address guessing many accounts."""

    scope = "login_ip"

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class LoginUsernameThrottle(_RateFromSettings, SimpleRateThrottle):
    """Login attempts per username: many addresses guessing one account's password."""

    scope = "login_username"

    def get_cache_key(self, request, view) -> str | None:
        username = request.POST.get("username", "").strip().lower()
        return self.cache_format % {"scope": self.scope, "ident": username} if username else None


def throttle_logins(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Wrap a Django login view (the admin's, the browsable API's): a POST past either
    login limit gets 429 with ``Retry-After`` and never reaches the password check."""

    @wraps(view)
    def throttled(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.method == "POST":
            waits = [
                throttle.wait() or 0
                for throttle in (LoginIPThrottle(), LoginUsernameThrottle())
                if not throttle.allow_request(request, None)
            ]
            if waits:
                seconds = max(1, math.ceil(max(waits)))
                response = HttpResponse(
                    f"Too many login attempts. Try again in {seconds} seconds.\n",
                    status=429,
                    content_type="text/plain; charset=utf-8",
                )
                response["Retry-After"] = str(seconds)
                return response
        return view(request, *args, **kwargs)

    return throttled
