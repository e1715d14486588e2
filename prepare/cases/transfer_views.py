"""Transfer pages: the section of the case page, the coordinator's inbox, the decision.

Thin views: parse, call ``prepare.cases.transfers`` (policy-checked, audited),
render. Errors answer like the other case pages (``case_errors``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from prepare.access.categories import Category
from prepare.access.routes import RoutePolicy, route_policy
from prepare.accounts.models import User
from prepare.cases import transfers
from prepare.cases.views import INVALID, case_errors

# --- Forms --------------------------------------------------------------------------


class TransferProposeForm(forms.Form):
    to_partnership = forms.TypedChoiceField(
        label=gettext_lazy("Receiving partnership"),
        coerce=int,
        help_text=gettext_lazy("The partnership of the city the person moves to."),
    )
    summary_category = forms.ChoiceField(
        label=gettext_lazy("Category of the summary"),
        help_text=gettext_lazy(
            "The receiving coordinator sees the summary only if their agreement grants "
            "this category."
        ),
    )
    handover_summary = forms.CharField(
        label=gettext_lazy("Handover summary"),
        max_length=transfers.SUMMARY_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=gettext_lazy("What the receiving team needs to know to take the case on."),
    )

    def __init__(
        self,
        *args: Any,
        partnerships: list[tuple[int, str]],
        categories: Iterable[str],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        target = self.fields["to_partnership"]
        category = self.fields["summary_category"]
        assert isinstance(target, forms.TypedChoiceField)
        assert isinstance(category, forms.ChoiceField)
        target.choices = [("", gettext_lazy("Choose a partnership")), *partnerships]
        allowed = set(categories)
        category.choices = [
            ("", gettext_lazy("Choose a category")),
            *((value, label) for value, label in Category.choices if value in allowed),
        ]


class TransferDecisionForm(forms.Form):
    ACCEPT = "accept"
    DECLINE = "decline"

    decision = forms.ChoiceField(
        label=gettext_lazy("Decision"),
        choices=[(ACCEPT, gettext_lazy("Accept")), (DECLINE, gettext_lazy("Decline"))],
        widget=forms.HiddenInput,
    )
    reason = forms.CharField(
        label=gettext_lazy("Reason"),
        required=False,
        max_length=transfers.REASON_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 4}),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("decision") == self.DECLINE and not (data.get("reason") or "").strip():
            self.add_error("reason", _("Say why you decline."))
        return data


# --- Helpers ------------------------------------------------------------------------


def _actor(request: HttpRequest) -> User:
    user = request.user
    # RequireVerifiedMiddleware lets only signed-in, second-factor users here.
    assert isinstance(user, User)
    return user


def _is_htmx_partial(request: HttpRequest) -> bool:
    details = getattr(request, "htmx", None)
    if not details:
        return False
    return not details.boosted and not details.history_restore_request


def _section_page(
    request: HttpRequest,
    actor: User,
    pk: int,
    form: TransferProposeForm | None = None,
    status: int = 200,
    oob: bool = False,
) -> HttpResponse:
    section = transfers.transfer_section(actor=actor, case_id=pk)
    if section.may_propose and form is None:
        form = TransferProposeForm(
            partnerships=transfers.target_partnerships(case=section.case),
            categories=transfers.summary_categories(actor=actor, case=section.case),
        )
    partial = _is_htmx_partial(request)
    context = {"section": section, "case": section.case, "form": form, "oob": oob and partial}
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
    actor = _actor(request)
    if request.method == "GET":
        return _section_page(request, actor, pk)
    # Refused before the form is looked at: 404 invisible, 403 not the coordinator.
    case = transfers.propose_check(actor=actor, case_id=pk)
    form = TransferProposeForm(
        request.POST,
        partnerships=transfers.target_partnerships(case=case),
        categories=transfers.summary_categories(actor=actor, case=case),
    )
    if form.is_valid():
        try:
            transfers.transfer_propose(
                actor=actor,
                case_id=case.pk,
                to_partnership_id=form.cleaned_data["to_partnership"],
                handover_summary=form.cleaned_data["handover_summary"],
                summary_category=form.cleaned_data["summary_category"],
            )
        except transfers.TransferRefused as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("The transfer is proposed to the receiving coordinator."))
            if _is_htmx_partial(request):
                return _section_page(request, actor, pk, oob=True)
            return redirect(reverse("cases:case", args=[pk]) + "#transfer")
    return _section_page(request, actor, pk, form=form, status=INVALID, oob=True)


@route_policy(RoutePolicy.CASE)
@require_http_methods(["GET"])
@case_errors
def transfer_inbox_view(request: HttpRequest) -> HttpResponse:
    """Transfers proposed to the partnerships the user coordinates, and their own."""
    lists = transfers.transfer_lists(actor=_actor(request))
    return render(request, "cases/transfer/inbox.html", {"lists": lists})


@route_policy(RoutePolicy.CASE)
@require_http_methods(["GET", "POST"])
@case_errors
def transfer_decide_view(request: HttpRequest, transfer_pk: int) -> HttpResponse:
    """The package of a proposed transfer, with the receiving coordinator's decision."""
    actor = _actor(request)
    # 404 for whoever does not see the transfer, 403 for the sending side.
    transfers.transfer_decision_check(actor=actor, transfer_id=transfer_pk)
    form = TransferDecisionForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                if form.cleaned_data["decision"] == TransferDecisionForm.ACCEPT:
                    transfer = transfers.transfer_accept(
                        actor=actor, transfer_id=transfer_pk, reason=form.cleaned_data["reason"]
                    )
                    messages.success(request, _("The case is now in your partnership."))
                    return redirect("cases:case", pk=transfer.case_id)
                transfers.transfer_decline(
                    actor=actor, transfer_id=transfer_pk, reason=form.cleaned_data["reason"]
                )
            except transfers.TransferRefused as exc:
                form.add_error(None, exc)
            else:
                messages.success(request, _("The transfer is declined."))
                return redirect("cases:transfer_inbox")
        status = INVALID
    package = transfers.transfer_package(actor=actor, transfer_id=transfer_pk)
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
    actor = _actor(request)
    transfer = transfers.transfer_withdraw(actor=actor, transfer_id=transfer_pk)
    messages.success(request, _("The transfer is withdrawn."))
    return redirect(reverse("cases:case", args=[transfer.case_id]) + "#transfer")
