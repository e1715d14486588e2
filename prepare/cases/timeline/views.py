from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from prepare.access.abilities import case_abilities
from prepare.access.routes import RoutePolicy, route_policy
from prepare.cases.timeline.selectors import case_timeline
from prepare.web import case_errors, request_actor


@route_policy(RoutePolicy.CASE)
@require_http_methods(["GET"])
@case_errors
def timeline_view(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request_actor(request)
    case, entries = case_timeline(actor=actor, case_id=pk)
    abilities = case_abilities(actor, case)
    return render(
        request,
        "cases/timeline.html",
        {"case": case, "entries": entries, "abilities": abilities},
    )
