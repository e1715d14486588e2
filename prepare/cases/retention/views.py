"""Pages of retention: a case's retention section, legal holds, erasure requests."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from prepare.access.abilities import may_decide_erasure, may_request_erasure
from prepare.access.errors import NotVisible
from prepare.access.policy import is_data_protection_officer, require
from prepare.access.routes import RoutePolicy, route_policy
from prepare.cases.retention import erasure as retention_erasure
from prepare.cases.retention import selectors as retention_selectors
from prepare.cases.retention import services as retention_services
from prepare.cases.retention.forms import (
    LIFT_UNCONFIRMED,
    DpoErasureRequestForm,
    DpoLegalHoldForm,
    ErasureApproveForm,
    ErasureDeclineForm,
    ErasureRequestForm,
    LegalHoldForm,
    LegalHoldReleaseForm,
)
from prepare.web import INVALID, case_errors, is_htmx_partial, request_actor, saved


def retention_context(
    actor: Any,
    overview: retention_selectors.RetentionOverview,
    *,
    form: LegalHoldForm | None = None,
    oob: bool = False,
) -> dict[str, Any]:
    """What the section's template shows: the holds, the pending erasure request
    (read for the coordinator only) and the forms each may use."""
    pending = retention_selectors.pending_for_case(overview.case) if overview.manage else None
    return {
        "overview": overview,
        "case": overview.case,
        "form": form or LegalHoldForm(),
        "oob": oob,
        "erasure_pending": pending,
        "erasure_offer": pending is None and may_request_erasure(actor, overview.case),
        "erasure_decide": pending is not None and may_decide_erasure(actor, pending),
        "erasure_form": ErasureRequestForm(prefix="erasure"),
        "approve_form": ErasureApproveForm(prefix="approve"),
        "decline_form": ErasureDeclineForm(prefix="decline"),
    }


def _section(
    request: HttpRequest,
    pk: Any,
    *,
    form: LegalHoldForm | None = None,
    status: int = 200,
    view: str = "retention",
    oob: bool = False,
    extra: dict[str, Any] | None = None,
) -> HttpResponse:
    actor = request_actor(request)
    overview = retention_selectors.retention_overview(actor=actor, case_id=pk, view=view)
    context = {
        **retention_context(actor, overview, form=form, oob=oob and is_htmx_partial(request)),
        **(extra or {}),
    }
    template = (
        "cases/retention/_section.html"
        if is_htmx_partial(request)
        else "cases/retention/section.html"
    )
    response = render(request, template, context, status=status)
    patch_vary_headers(response, ["HX-Request"])
    return response


@route_policy(RoutePolicy.CASE)
@require_http_methods(["GET"])
@case_errors
def retention_section_view(request: HttpRequest, pk: int) -> HttpResponse:
    return _section(request, pk)


def _done(request: HttpRequest, pk: int, message: str) -> HttpResponse:
    return saved(
        request,
        message,
        section=lambda: _section(request, pk, oob=True),
        then=reverse("cases:case", args=[pk]) + "#retention",
    )


@route_policy(RoutePolicy.CASE)
@require_http_methods(["POST"])
@case_errors
def legal_hold_place_view(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request_actor(request)
    # Who may not change the case's holds gets 403 (or 404), not a form error.
    retention_selectors.legal_hold_check(actor=actor, case_id=pk)
    form = LegalHoldForm(request.POST)
    if form.is_valid():
        try:
            retention_services.legal_hold_place(
                actor=actor,
                case_id=pk,
                reason=form.cleaned_data["reason"],
                until=form.cleaned_data["until"],
            )
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            return _done(request, pk, _("The legal hold is in force."))
    return _section(request, pk, form=form, status=INVALID, view="retention_invalid", oob=True)


@route_policy(RoutePolicy.CASE)
@require_http_methods(["POST"])
@case_errors
def legal_hold_release_view(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request_actor(request)
    form = LegalHoldReleaseForm(request.POST)
    if not form.is_valid():
        raise NotVisible
    # A hold is reached only under its own case (404), then the actor's right
    # to change the case's holds is checked (404 or 403).
    retention_selectors.hold_of_case(hold_id=form.cleaned_data["hold"], case_id=pk)
    retention_selectors.legal_hold_check(actor=actor, case_id=pk)
    if not form.confirmed():
        messages.error(request, str(LIFT_UNCONFIRMED))
        return _section(request, pk, status=INVALID, view="retention_invalid", oob=True)
    try:
        retention_services.legal_hold_release(
            actor=actor, hold_id=form.cleaned_data["hold"], case_id=pk
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return _section(request, pk, status=INVALID, view="retention_invalid", oob=True)
    return _done(request, pk, _("The legal hold is released."))


def _add_errors(form: forms.Form, exc: ValidationError) -> None:
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc)
        return
    for name, errors in exc.error_dict.items():
        form.add_error(name if name in form.fields else None, errors)


# --- The data-protection officer's page -------------------------------------------------


@route_policy(RoutePolicy.AUDITOR)
@require_http_methods(["GET", "POST"])
def dpo_legal_holds_view(request: HttpRequest) -> HttpResponse:
    """Legal holds for the DPO, who does not see cases: by reference, no case content."""
    actor = request_actor(request)
    require(is_data_protection_officer(actor))
    form = DpoLegalHoldForm()
    status = 200
    if request.method == "POST" and "hold" in request.POST:
        release = LegalHoldReleaseForm(request.POST)
        if not release.is_valid():
            raise NotVisible
        try:
            if not release.confirmed():
                # Nothing is said about a hold the DPO may not lift (404 or 403 first).
                retention_selectors.releasable_hold(
                    actor=actor, hold_id=release.cleaned_data["hold"]
                )
                raise ValidationError(LIFT_UNCONFIRMED, code="unconfirmed")
            retention_services.legal_hold_release(actor=actor, hold_id=release.cleaned_data["hold"])
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            status = INVALID
        else:
            messages.success(request, _("The legal hold is released."))
            return redirect("cases:legal_holds")
    elif request.method == "POST":
        form = DpoLegalHoldForm(request.POST)
        status = INVALID
        if form.is_valid():
            try:
                retention_services.legal_hold_place(
                    actor=actor,
                    reference=form.cleaned_data["reference"],
                    reason=form.cleaned_data["reason"],
                    until=form.cleaned_data["until"],
                )
            except Http404:
                # Nothing was written: the case is looked up first.
                form.add_error("reference", _("No case of your partnerships has this reference."))
            except ValidationError as exc:
                _add_errors(form, exc)
            else:
                messages.success(request, _("The legal hold is in force."))
                return redirect("cases:legal_holds")
    holds = retention_selectors.dpo_holds(actor=actor)
    return render(
        request, "cases/retention/dpo.html", {"form": form, "holds": holds}, status=status
    )


OPS = ("request", "approve", "decline")


def _erased(request: HttpRequest, reference: str, back: str) -> HttpResponse:
    messages.success(
        request,
        _("Case %(reference)s is erased. The audit log keeps its tombstone.")
        % {"reference": reference},
    )
    if is_htmx_partial(request):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = back
        return response
    return redirect(back)


@route_policy(RoutePolicy.CASE)
@require_http_methods(["POST"])
@case_errors
def erasure_view(request: HttpRequest, pk: int) -> HttpResponse:
    """One URL for the three steps on the case page, told apart by ``op``."""
    actor = request_actor(request)
    op = request.POST.get("op", "")
    if op not in OPS:
        raise NotVisible
    # Who may not touch the case's erasure gets 403 (or 404), not a form error.
    retention_selectors.erasure_check(actor=actor, case_id=pk)
    forms_: dict[str, Any] = {}
    try:
        if op == "request":
            form: forms.Form = ErasureRequestForm(request.POST, prefix="erasure")
            forms_["erasure_form"] = form
            if form.is_valid():
                retention_erasure.erasure_request(
                    actor=actor,
                    case_id=pk,
                    reason=form.cleaned_data["reason"],
                    code=form.cleaned_data["code"],
                )
                return _done(request, pk, _("The erasure waits for a second person's approval."))
        elif op == "approve":
            form = ErasureApproveForm(request.POST, prefix="approve")
            forms_["approve_form"] = form
            if form.is_valid():
                done = retention_erasure.erasure_approve(
                    actor=actor,
                    request_id=form.cleaned_data["erasure"],
                    case_id=pk,
                    code=form.cleaned_data["code"],
                )
                return _erased(request, done.reference, reverse("cases:caseload"))
        else:
            form = ErasureDeclineForm(request.POST, prefix="decline")
            forms_["decline_form"] = form
            if form.is_valid():
                decided = retention_erasure.erasure_decline(
                    actor=actor,
                    request_id=form.cleaned_data["erasure"],
                    case_id=pk,
                    reason=form.cleaned_data["reason"],
                )
                message = (
                    _("You withdrew the erasure request.")
                    if decided.status == "withdrawn"
                    else _("The erasure is refused; the case is kept.")
                )
                return _done(request, pk, message)
    except ValidationError as exc:
        if hasattr(exc, "error_dict"):
            _add_errors(form, exc)
        else:
            # About the case or the request, not a field: said at the top,
            # where the section's messages show, whichever form was sent.
            messages.error(request, " ".join(exc.messages))
    return _section(request, pk, status=INVALID, view="retention_invalid", oob=True, extra=forms_)


@route_policy(RoutePolicy.AUDITOR)
@require_http_methods(["GET", "POST"])
def dpo_erasure_view(request: HttpRequest) -> HttpResponse:
    """The DPO's erasure requests: ask by reference, approve or refuse others'."""
    actor = request_actor(request)
    require(is_data_protection_officer(actor))
    context: dict[str, Any] = {"form": DpoErasureRequestForm(prefix="erasure")}
    status = 200
    op = request.POST.get("op", "") if request.method == "POST" else ""
    if request.method == "POST" and op not in OPS:
        raise NotVisible
    try:
        if op == "request":
            form: forms.Form = DpoErasureRequestForm(request.POST, prefix="erasure")
            context["form"] = form
            status = INVALID
            if form.is_valid():
                try:
                    retention_erasure.erasure_request(
                        actor=actor,
                        reference=form.cleaned_data["reference"],
                        reason=form.cleaned_data["reason"],
                        code=form.cleaned_data["code"],
                    )
                except Http404:
                    form.add_error(
                        "reference", _("No case of your partnerships has this reference.")
                    )
                else:
                    messages.success(
                        request, _("The erasure waits for a second person's approval.")
                    )
                    return redirect("cases:erasure_requests")
        elif op == "approve":
            form = ErasureApproveForm(request.POST, prefix="approve")
            context["approve_form"] = form
            status = INVALID
            if form.is_valid():
                done = retention_erasure.erasure_approve(
                    actor=actor,
                    request_id=form.cleaned_data["erasure"],
                    code=form.cleaned_data["code"],
                )
                return _erased(request, done.reference, reverse("cases:erasure_requests"))
        elif op == "decline":
            form = ErasureDeclineForm(request.POST, prefix="decline")
            context["decline_form"] = form
            status = INVALID
            if form.is_valid():
                retention_erasure.erasure_decline(
                    actor=actor,
                    request_id=form.cleaned_data["erasure"],
                    reason=form.cleaned_data["reason"],
                )
                messages.success(request, _("The erasure is refused; the case is kept."))
                return redirect("cases:erasure_requests")
    except ValidationError as exc:
        _add_errors(form, exc)
    if op in ("approve", "decline") and form.errors:
        # The forms of each request are written out in the page: say what
        # went wrong at the top, where the messages are.
        messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
    context["requests"] = retention_selectors.pending_for_dpo(actor)
    context["actor"] = actor
    return render(request, "cases/retention/erasure_dpo.html", context, status=status)
