"""Transfer pages: a case's transfer section, the inbox and the decision."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from prepare.access.policy import parse_pk
from prepare.access.routes import RoutePolicy, route_policy
from prepare.accounts.models import User
from prepare.cases.transfer import selectors as transfer_selectors
from prepare.cases.transfer import services as transfer_services
from prepare.cases.transfer.forms import TransferDecisionForm, TransferProposeForm
from prepare.web import INVALID, case_errors, is_htmx_partial, request_actor

# --- Helpers ------------------------------------------------------------------------


def transfer_context(
    actor: User,
    section: transfer_selectors.TransferSection,
    *,
    form: TransferProposeForm | None = None,
    oob: bool = False,
    target: Any = None,
) -> dict[str, Any]:
    """What the section's template shows; for its coordinator, the form to propose one.

    ``target`` (a receiving partnership's id, from the form's own choice) ticks
    the categories both agreements share; without one, those the sending
    agreement shares (intelligence never)."""
    if section.may_propose and form is None:
        targets = transfer_selectors.transfer_targets(case=section.case)
        target_pk = parse_pk(target)
        if target_pk not in {pk for pk, _name in targets.partnerships}:
            target_pk = None
        form = TransferProposeForm(
            partnerships=targets.partnerships,
            categories=transfer_selectors.summary_categories(actor=actor, case=section.case),
            handed_over=targets.default_for(section.case.partnership_id, target_pk),
            refresh_url=reverse("cases:transfer_section", args=[section.case.pk]),
            initial={"to_partnership": target_pk} if target_pk else None,
        )
    return {"section": section, "case": section.case, "form": form, "oob": oob}


def _section_page(
    request: HttpRequest,
    actor: User,
    pk: int,
    form: TransferProposeForm | None = None,
    status: int = 200,
    oob: bool = False,
) -> HttpResponse:
    section = transfer_selectors.transfer_section(actor=actor, case_id=pk)
    partial = is_htmx_partial(request)
    context = transfer_context(
        actor,
        section,
        form=form,
        oob=oob and partial,
        target=request.GET.get("to_partnership") if request.method == "GET" else None,
    )
    template = "cases/transfer/_section.html" if partial else "cases/transfer/section.html"
    response = render(request, template, context, status=status)
    patch_vary_headers(response, ["HX-Request"])
    return response


# --- Views --------------------------------------------------------------------------


@route_policy(RoutePolicy.CASE)
@require_http_methods(["GET", "POST"])
@case_errors
def transfer_section_view(request: HttpRequest, pk: int) -> HttpResponse:
    """The case's transfers; for its coordinator, the form to propose one."""
    actor = request_actor(request)
    if request.method == "GET":
        return _section_page(request, actor, pk)
    # Refused before the form is looked at: 404 invisible, 403 not the coordinator.
    case = transfer_selectors.propose_check(actor=actor, case_id=pk)
    form = TransferProposeForm(
        request.POST,
        partnerships=transfer_selectors.target_partnerships(case=case),
        categories=transfer_selectors.summary_categories(actor=actor, case=case),
        refresh_url=reverse("cases:transfer_section", args=[case.pk]),
    )
    if form.is_valid():
        try:
            transfer_services.transfer_propose(
                actor=actor,
                case_id=case.pk,
                to_partnership_id=form.cleaned_data["to_partnership"],
                handover_summary=form.cleaned_data["handover_summary"],
                summary_category=form.cleaned_data["summary_category"],
                categories=form.cleaned_data["categories"],
            )
        except transfer_services.TransferRefused as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("The transfer is proposed to the receiving coordinator."))
            if is_htmx_partial(request):
                return _section_page(request, actor, pk, oob=True)
            return redirect(reverse("cases:case", args=[pk]) + "#transfer")
    return _section_page(request, actor, pk, form=form, status=INVALID, oob=True)


@route_policy(RoutePolicy.CASE)
@require_http_methods(["GET"])
@case_errors
def transfer_inbox_view(request: HttpRequest) -> HttpResponse:
    """Transfers proposed to the partnerships the user coordinates, and their own."""
    lists = transfer_selectors.transfer_lists(actor=request_actor(request))
    return render(request, "cases/transfer/inbox.html", {"lists": lists})


@route_policy(RoutePolicy.CASE)
@require_http_methods(["GET", "POST"])
@case_errors
def transfer_decide_view(request: HttpRequest, transfer_pk: int) -> HttpResponse:
    """The package of a proposed transfer, with the receiving coordinator's decision."""
    actor = request_actor(request)
    # 404 for whoever does not see the transfer, 403 for the sending side.
    transfer_selectors.transfer_decision_check(actor=actor, transfer_id=transfer_pk)
    form = TransferDecisionForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                if form.cleaned_data["decision"] == TransferDecisionForm.ACCEPT:
                    transfer = transfer_services.transfer_accept(
                        actor=actor, transfer_id=transfer_pk, reason=form.cleaned_data["reason"]
                    )
                    messages.success(request, _("The case is now in your partnership."))
                    return redirect("cases:case", pk=transfer.case_id)
                transfer_services.transfer_decline(
                    actor=actor, transfer_id=transfer_pk, reason=form.cleaned_data["reason"]
                )
            except transfer_services.TransferRefused as exc:
                form.add_error(None, exc)
            else:
                messages.success(request, _("The transfer is declined."))
                return redirect("cases:transfer_inbox")
        status = INVALID
    package = transfer_selectors.transfer_package(actor=actor, transfer_id=transfer_pk)
    return render(
        request,
        "cases/transfer/decide.html",
        {"package": package, "form": form},
        status=status,
    )


@route_policy(RoutePolicy.CASE)
@require_http_methods(["POST"])
@case_errors
def transfer_withdraw_view(request: HttpRequest, transfer_pk: int) -> HttpResponse:
    actor = request_actor(request)
    transfer = transfer_services.transfer_withdraw(actor=actor, transfer_id=transfer_pk)
    messages.success(request, _("The transfer is withdrawn."))
    return redirect(reverse("cases:case", args=[transfer.case_id]) + "#transfer")
