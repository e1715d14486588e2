from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from prepare.access.routes import RoutePolicy, route_policy
from prepare.cases import selectors


@route_policy(RoutePolicy.CASE)
def caseload_view(request: HttpRequest) -> HttpResponse:
    page = selectors.caseload(actor=request.user)  # type: ignore[arg-type]
    return render(request, "cases/caseload.html", {"page": page})


@route_policy(RoutePolicy.CASE)
def case_view(request: HttpRequest, pk: int) -> HttpResponse:
    detail = selectors.case_detail(actor=request.user, case_id=pk)  # type: ignore[arg-type]
    return render(request, "cases/case.html", {"detail": detail})
