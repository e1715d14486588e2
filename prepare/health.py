"""``/health/`` for load balancers: is the database answering?"""

from __future__ import annotations

from django.db import connection, transaction
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from prepare.access.routes import RoutePolicy, route_policy


# Outside the per-request transaction: opening it would already fail when
# the database is down, and the load balancer must get JSON, not a 500 page.
@route_policy(RoutePolicy.PUBLIC)
@transaction.non_atomic_requests
@require_GET
def health(request: HttpRequest) -> JsonResponse:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:  # any database failure means "not healthy", never a 500 page
        return JsonResponse({"status": "error", "database": "unavailable"}, status=503)
    # Deliberately says nothing else (no versions, no vendor): it is public.
    return JsonResponse({"status": "ok", "database": "ok"})
