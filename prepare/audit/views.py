from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from prepare.access.errors import WriteForbidden
from prepare.access.routes import RoutePolicy, route_policy
from prepare.audit import selectors
from prepare.audit.forms import AuditSearchForm, PageForm
from prepare.web import request_actor


def _paging(request: HttpRequest) -> dict[str, int | None]:
    form = PageForm(request.GET)
    if not form.is_valid():
        return {"before": None, "after": None}
    return {k: form.cleaned_data.get(k) for k in ("before", "after")}


@route_policy(RoutePolicy.CASE)
@require_http_methods(["GET"])
def case_access_log(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        paging = _paging(request)
        log = selectors.case_access_log(
            actor=request_actor(request), case_id=pk, before=paging["before"], after=paging["after"]
        )
    except WriteForbidden as exc:
        raise PermissionDenied from exc
    return render(request, "audit/case_access_log.html", {"log": log})


@route_policy(RoutePolicy.AUDITOR)
@require_http_methods(["GET"])
def audit_search(request: HttpRequest) -> HttpResponse:
    actor = request_actor(request)
    try:
        selectors.require_auditor(actor)
    except WriteForbidden as exc:
        raise PermissionDenied from exc
    form = AuditSearchForm(request.GET)
    if not form.is_valid():
        return render(request, "audit/search.html", {"form": form, "result": None}, status=400)
    paging = _paging(request)
    result = selectors.audit_search(
        actor=actor, filters=form.filters(), before=paging["before"], after=paging["after"]
    )
    return render(request, "audit/search.html", {"form": form, "result": result})


@route_policy(RoutePolicy.AUDITOR)
@require_http_methods(["POST"])
def chain_verify(request: HttpRequest) -> HttpResponse:
    try:
        problem = selectors.chain_check(actor=request_actor(request))
    except WriteForbidden as exc:
        raise PermissionDenied from exc
    return render(request, "audit/verify.html", {"problem": problem})
