"""``GET /readyz``: may this instance take orders? For load balancers, and ``make run``'s banner.

200 when both databases and the Kafka broker answer and the order service's replica holds
every product the catalog has for sale; otherwise 503 naming what is not ready (take the
instance out of rotation, do not restart it). Orders are checked against the replica,
which fills from the products topic: until it is complete, a valid order can be refused
as "Unknown product". It reads both services, so it lives here.
"""

from __future__ import annotations

import time

from django.db import DatabaseError, connections
from django.http import JsonResponse

from catalog.models import Product
from config.health import check_broker, check_database
from orders.models import ProductReplica


def replica_readiness() -> str | None:
    """None when the replica knows every product the catalog has for sale, else how far it is."""
    for_sale = set(Product.objects.filter(active=True).values_list("product_id", flat=True))
    known = set(
        ProductReplica.objects.filter(product_id__in=for_sale, active=True).values_list("product_id", flat=True)
    )
    if len(known) >= len(for_sale):
        return None
    return f"catching up: the order service knows {len(known)} of the {len(for_sale)} products for sale"


def readiness() -> dict[str, str]:
    """Each dependency → "ok" or what went wrong; the replica is asked only with both databases up."""
    checks = {f"database:{alias}": check_database(alias) for alias in connections}
    checks["kafka"] = check_broker()
    if not any(checks[f"database:{alias}"] for alias in connections):
        try:
            checks["replica"] = replica_readiness()
        except DatabaseError as exc:
            checks["replica"] = f"{type(exc).__name__}: {exc}"
    return {name: problem or "ok" for name, problem in checks.items()}


def readyz(request):
    started = time.monotonic()
    checks = readiness()
    ready = all(v == "ok" for v in checks.values())
    return JsonResponse(
        {
            "status": "ready" if ready else "not ready",
            "checks": checks,
            "seconds": round(time.monotonic() - started, 3),
        },
        status=200 if ready else 503,
    )
