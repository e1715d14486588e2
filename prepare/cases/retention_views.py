"""The retention section of a case page, and the legal-hold forms.

One URL serves the section as an HTMX fragment (loaded by the case page) and
as a full page without JavaScript. Placing and releasing a hold answer the
fragment to HTMX and redirect to the case page otherwise.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from prepare.access.policy import WriteForbidden
from prepare.access.routes import RoutePolicy, route_policy
from prepare.cases import retention
from prepare.cases.views import INVALID, _actor, _is_htmx_partial, case_errors


class LegalHoldForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Why must the case be kept?"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy(
            "For example the court order or the inquiry that needs the file. "
            "Only the coordinator and the data-protection officer read it."
        ),
    )
    until = forms.DateField(
        label=gettext_lazy("Keep until"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text=gettext_lazy("Retention cannot erase or anonymise the case up to this day."),
    )


class DpoLegalHoldForm(LegalHoldForm):
    reference = forms.CharField(
        label=gettext_lazy("Case reference"),
        max_length=32,
        help_text=gettext_lazy("As in the audit log or the request, e.g. RTM-2026-0042."),
    )
    field_order = ["reference", "reason", "until"]


class LegalHoldReleaseForm(forms.Form):
    hold = forms.IntegerField(min_value=1, widget=forms.HiddenInput)


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
    from prepare.cases import erasure
    from prepare.cases.erasure_views import (
        ErasureApproveForm,
        ErasureDeclineForm,
        ErasureRequestForm,
    )

    actor = _actor(request)
    overview = retention.retention_overview(actor=actor, case_id=pk, view=view)
    pending = erasure.pending_for_case(overview.case) if overview.manage else None
    context = {
        "overview": overview,
        "case": overview.case,
        "form": form or LegalHoldForm(),
        "oob": oob and _is_htmx_partial(request),
        "erasure_pending": pending,
        "erasure_offer": pending is None and erasure.may_request(actor, overview.case),
        "erasure_decide": pending is not None and erasure.may_decide(actor, pending),
        "erasure_form": ErasureRequestForm(prefix="erasure"),
        "approve_form": ErasureApproveForm(prefix="approve"),
        "decline_form": ErasureDeclineForm(prefix="decline"),
        **(extra or {}),
    }
    template = (
        "cases/retention/_section.html"
        if _is_htmx_partial(request)
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
    messages.success(request, message)
    if _is_htmx_partial(request):
        return _section(request, pk, oob=True)
    return redirect(reverse("cases:case", args=[pk]) + "#retention")


@route_policy(RoutePolicy.CASE)
@require_http_methods(["POST"])
@case_errors
def legal_hold_place_view(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request)
    # Who may not change the case's holds gets 403 (or 404), not a form error.
    retention.legal_hold_check(actor=actor, case_id=pk)
    form = LegalHoldForm(request.POST)
    if form.is_valid():
        try:
            retention.legal_hold_place(
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
    actor = _actor(request)
    form = LegalHoldReleaseForm(request.POST)
    if not form.is_valid():
        raise Http404
    # A hold is reached only under its own case (404), then the actor's right
    # to change the case's holds is checked (404 or 403).
    retention.hold_of_case(hold_id=form.cleaned_data["hold"], case_id=pk)
    retention.legal_hold_check(actor=actor, case_id=pk)
    try:
        retention.legal_hold_release(actor=actor, hold_id=form.cleaned_data["hold"], case_id=pk)
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
    actor = _actor(request)
    try:
        retention.require_dpo(actor)
    except WriteForbidden as exc:
        raise PermissionDenied from exc
    form = DpoLegalHoldForm()
    status = 200
    if request.method == "POST" and "hold" in request.POST:
        release = LegalHoldReleaseForm(request.POST)
        if not release.is_valid():
            raise Http404
        try:
            retention.legal_hold_release(actor=actor, hold_id=release.cleaned_data["hold"])
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
                retention.legal_hold_place(
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
    holds = retention.dpo_holds(actor=actor)
    return render(
        request, "cases/retention/dpo.html", {"form": form, "holds": holds}, status=status
    )
