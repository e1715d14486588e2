"""Asking for, approving, refusing and withdrawing the erasure of a closed case.

On the case page (retention section) for the partnership's coordinators, and
on the data-protection officer's page, by case reference. Every form asks for
the current one-time code where the action needs it (``prepare.cases.erasure``).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from prepare.access.policy import WriteForbidden
from prepare.access.routes import RoutePolicy, route_policy
from prepare.cases import erasure, retention
from prepare.cases.erasure import REASON_MAX_LENGTH
from prepare.cases.retention_views import _add_errors, _done, _section
from prepare.cases.views import INVALID, _actor, _is_htmx_partial, case_errors

CODE_HELP = gettext_lazy("The current six-digit code of your authenticator app, asked again.")


def _code_field() -> forms.CharField:
    return forms.CharField(
        label=gettext_lazy("One-time code"),
        max_length=12,
        help_text=CODE_HELP,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "size": 8}
        ),
    )


class ErasureRequestForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Why must the case be erased now?"),
        max_length=REASON_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy(
            "For example the person's request for erasure and its date. A second person "
            "reads it before approving; it is erased with the case."
        ),
    )
    code = _code_field()


class DpoErasureRequestForm(ErasureRequestForm):
    reference = forms.CharField(
        label=gettext_lazy("Case reference"),
        max_length=32,
        help_text=gettext_lazy("As in the audit log or the request, e.g. RTM-2026-0042."),
    )
    field_order = ["reference", "reason", "code"]


class ErasureApproveForm(forms.Form):
    erasure = forms.IntegerField(min_value=1, widget=forms.HiddenInput)
    code = _code_field()


class ErasureDeclineForm(forms.Form):
    erasure = forms.IntegerField(min_value=1, widget=forms.HiddenInput)
    reason = forms.CharField(
        label=gettext_lazy("Why is the erasure refused?"),
        max_length=REASON_MAX_LENGTH,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


OPS = ("request", "approve", "decline")


def _erased(request: HttpRequest, reference: str, back: str) -> HttpResponse:
    messages.success(
        request,
        _("Case %(reference)s is erased. The audit log keeps its tombstone.")
        % {"reference": reference},
    )
    if _is_htmx_partial(request):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = back
        return response
    return redirect(back)


@route_policy(RoutePolicy.CASE)
@require_http_methods(["POST"])
@case_errors
def erasure_view(request: HttpRequest, pk: int) -> HttpResponse:
    """One URL for the three steps on the case page, told apart by ``op``."""
    actor = _actor(request)
    op = request.POST.get("op", "")
    if op not in OPS:
        raise Http404
    # Who may not touch the case's erasure gets 403 (or 404), not a form error.
    erasure.erasure_check(actor=actor, case_id=pk)
    forms_: dict[str, Any] = {}
    try:
        if op == "request":
            form: forms.Form = ErasureRequestForm(request.POST, prefix="erasure")
            forms_["erasure_form"] = form
            if form.is_valid():
                erasure.erasure_request(
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
                done = erasure.erasure_approve(
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
                decided = erasure.erasure_decline(
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
    actor = _actor(request)
    try:
        retention.require_dpo(actor)
    except WriteForbidden as exc:
        raise PermissionDenied from exc
    context: dict[str, Any] = {"form": DpoErasureRequestForm(prefix="erasure")}
    status = 200
    op = request.POST.get("op", "") if request.method == "POST" else ""
    if request.method == "POST" and op not in OPS:
        raise Http404
    try:
        if op == "request":
            form: forms.Form = DpoErasureRequestForm(request.POST, prefix="erasure")
            context["form"] = form
            status = INVALID
            if form.is_valid():
                try:
                    erasure.erasure_request(
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
                done = erasure.erasure_approve(
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
                erasure.erasure_decline(
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
    context["requests"] = erasure.pending_for_dpo(actor)
    context["actor"] = actor
    return render(request, "cases/retention/erasure_dpo.html", context, status=status)
