"""Pages of four eyes on what widens access: the pending changes of a
partnership, and one change to approve, reject or withdraw."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from prepare.access.errors import WriteForbidden
from prepare.access.routes import RoutePolicy, route_policy
from prepare.partnerships.access_changes import selectors, services
from prepare.partnerships.access_changes.forms import (
    AccessChangeApproveForm,
    AccessChangeRejectForm,
)
from prepare.web import request_actor


@route_policy(RoutePolicy.PARTNERSHIP)
@require_http_methods(["GET"])
def access_change_list(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        listing = selectors.access_change_list(actor=request_actor(request), partnership_id=pk)
    except WriteForbidden as exc:
        raise PermissionDenied from exc
    return render(request, "partnerships/access_changes.html", {"listing": listing})


def _page(
    request: HttpRequest, view: selectors.AccessChangeView, status: int = 200, **forms_: Any
) -> HttpResponse:
    context = {
        "view": view,
        "approve_form": forms_.get("approve_form") or AccessChangeApproveForm(prefix="approve"),
        "reject_form": forms_.get("reject_form") or AccessChangeRejectForm(prefix="reject"),
        "refusal": forms_.get("refusal", ""),
    }
    return render(request, "partnerships/access_change.html", context, status=status)


def _errors(form: forms.Form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for name, errors in exc.error_dict.items():
            form.add_error(name if name in form.fields else None, errors)
    else:
        form.add_error(None, exc)


@route_policy(RoutePolicy.PARTNERSHIP)
@require_http_methods(["GET", "POST"])
def access_change_detail(request: HttpRequest, access_change_pk: int) -> HttpResponse:
    actor = request_actor(request)
    try:
        view = selectors.access_change_view(actor=actor, request_id=access_change_pk)
    except WriteForbidden as exc:
        raise PermissionDenied from exc
    if request.method == "GET":
        return _page(request, view)
    action = request.POST.get("action", "")
    try:
        if action == "approve":
            form: forms.Form = AccessChangeApproveForm(request.POST, prefix="approve")
            if not form.is_valid():
                return _page(request, view, 400, approve_form=form)
            try:
                services.access_change_approve(
                    actor=actor, request_id=view.request.pk, code=form.cleaned_data["code"]
                )
            except services.StaleAccessChange as exc:
                # Answered normally: the request is marked superseded and logged.
                view = selectors.access_change_view(actor=actor, request_id=view.request.pk)
                return _page(request, view, 409, refusal=exc.messages[0])
            except services.SecondApproverRequired as exc:
                return _page(request, view, 403, refusal=exc.messages[0])
            except ValidationError as exc:
                _errors(form, exc)
                return _page(request, view, 422, approve_form=form)
            messages.success(request, _("Approved: the change applies from now on."))
        elif action == "reject":
            form = AccessChangeRejectForm(request.POST, prefix="reject")
            if not form.is_valid():
                return _page(request, view, 400, reject_form=form)
            try:
                services.access_change_reject(
                    actor=actor, request_id=view.request.pk, reason=form.cleaned_data["reason"]
                )
            except services.SecondApproverRequired as exc:
                return _page(request, view, 403, refusal=exc.messages[0])
            except ValidationError as exc:
                _errors(form, exc)
                return _page(request, view, 422, reject_form=form)
            messages.success(request, _("Rejected: nothing of the change applies."))
        elif action == "withdraw":
            try:
                services.access_change_withdraw(actor=actor, request_id=view.request.pk)
            except ValidationError as exc:
                return _page(request, view, 422, refusal=exc.messages[0])
            messages.success(request, _("Withdrawn: nothing of the change applies."))
        else:
            return _page(request, view, 400, refusal=_("Choose to approve, reject or withdraw."))
    except WriteForbidden as exc:
        raise PermissionDenied from exc
    return redirect("partnerships:access_change", view.request.pk)
