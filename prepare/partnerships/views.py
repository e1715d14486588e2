from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods

from prepare.access.abilities import may_administer
from prepare.access.errors import WriteForbidden
from prepare.access.policy import access_change_approvers
from prepare.access.routes import RoutePolicy, route_policy
from prepare.forms import add_service_errors
from prepare.locking import StaleVersion, VersionRequired
from prepare.partnerships import selectors, services
from prepare.partnerships.access_changes import services as access_change_services
from prepare.partnerships.forms import (
    AgreementCreateForm,
    AgreementGridForm,
    MembershipAddForm,
    MembershipEndForm,
)
from prepare.web import INVALID, request_actor


@route_policy(RoutePolicy.PARTNERSHIP)
@require_http_methods(["GET"])
def partnership_list(request: HttpRequest) -> HttpResponse:
    rows = selectors.partnership_list(actor=request_actor(request))
    return render(request, "partnerships/list.html", {"rows": rows})


@route_policy(RoutePolicy.PARTNERSHIP)
@require_http_methods(["GET"])
def partnership_detail(request: HttpRequest, pk: int) -> HttpResponse:
    detail = selectors.partnership_detail(actor=request_actor(request), partnership_id=pk)
    return render(request, "partnerships/detail.html", {"detail": detail})


def _edit_page(
    request: HttpRequest, grid: selectors.AgreementGrid, form: AgreementGridForm, **extra: Any
) -> HttpResponse:
    status = extra.pop("status", 200)
    context = {
        "grid": grid,
        "conflict": False,
        "form": form,
        "rows": form.rows(extra.pop("saved", None)),
        "pending": selectors.agreement_pending_change(grid.agreement),
        # Nobody else could approve what widens access: say so before the
        # coordinator proposes a change that would wait for ever.
        "alone": not access_change_approvers(grid.partnership)
        .exclude(pk=request_actor(request).pk)
        .exists(),
        **extra,
    }
    return render(request, "partnerships/agreement_edit.html", context, status=status)


@route_policy(RoutePolicy.PARTNERSHIP)
@require_http_methods(["GET", "POST"])
def agreement_edit(request: HttpRequest, pk: int, agreement_pk: int) -> HttpResponse:
    actor = request_actor(request)
    try:
        grid = selectors.agreement_grid(actor=actor, partnership_id=pk, agreement_id=agreement_pk)
    except WriteForbidden as exc:
        raise PermissionDenied from exc
    if request.method == "GET":
        form = AgreementGridForm(
            grid=grid.grid,
            initial={
                "digest": grid.digest,
                "valid_from": grid.agreement.valid_from,
                "valid_until": grid.agreement.valid_until,
            },
        )
        return _edit_page(request, grid, form)

    form = AgreementGridForm(request.POST, grid=grid.grid)
    if not form.is_valid():
        return _edit_page(request, grid, form, status=400)
    data = form.cleaned_data
    try:
        outcome = access_change_services.agreement_change_submit(
            actor=actor,
            agreement_id=grid.agreement.pk,
            cells=form.cells(),
            valid_from=data["valid_from"],
            valid_until=data.get("valid_until"),
            expected_digest=data["digest"],
            code=data.get("code") or "",
        )
    except WriteForbidden as exc:
        raise PermissionDenied from exc
    except VersionRequired as exc:
        form.add_error(None, str(exc.message))
        return _edit_page(request, grid, form, status=428)
    except StaleVersion:
        # Keep the user's choices, show what is stored now beside them and
        # base the next save on the grid as it is now (read again: it may
        # have changed after this request first read it).
        grid = selectors.agreement_grid(actor=actor, partnership_id=pk, agreement_id=agreement_pk)
        data = request.POST.copy()
        data["digest"] = grid.digest
        data["code"] = ""
        form = AgreementGridForm(data, grid=grid.grid)
        form.is_valid()
        return _edit_page(request, grid, form, conflict=True, saved=grid.access, status=409)
    except access_change_services.StepUpRefused as exc:
        # Answered normally: the refusal's event and the code's throttle are kept.
        add_service_errors(form, exc)
        return _edit_page(request, grid, form, status=422)
    except ValidationError as exc:
        add_service_errors(form, exc)
        return _edit_page(request, grid, form, status=400)
    if outcome.applied or outcome.period_applied:
        messages.success(
            request,
            ngettext(
                "Applied at once, as it narrows access: %(count)d cell changed.",
                "Applied at once, as it narrows access: %(count)d cells changed.",
                len(outcome.applied),
            )
            % {"count": len(outcome.applied)}
            if outcome.applied
            else _("Applied at once, as it narrows access: the period was shortened."),
        )
    if outcome.pending is not None:
        messages.warning(
            request,
            _(
                "What widens access waits for a second approver (another coordinator or the "
                "data-protection officer): nothing of it applies until then."
            ),
        )
        return redirect("partnerships:access_change", outcome.pending.pk)
    if not (outcome.applied or outcome.period_applied):
        messages.info(request, _("Nothing changed: the agreement was already as submitted."))
    return redirect(
        reverse("partnerships:detail", args=[grid.partnership.pk])
        + f"#agreement-{grid.agreement.pk}"
    )


@route_policy(RoutePolicy.PARTNERSHIP)
@require_http_methods(["GET", "POST"])
def agreement_create(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request_actor(request)
    try:
        partnership, current = selectors.partnership_for_coordinator(actor=actor, partnership_id=pk)
    except WriteForbidden as exc:
        raise PermissionDenied from exc
    can_copy = current is not None
    form = AgreementCreateForm(request.POST or None, can_copy=can_copy)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            data = form.cleaned_data
            try:
                agreement = services.agreement_create(
                    actor=actor,
                    partnership_id=partnership.pk,
                    title=data["title"],
                    legal_basis=data["legal_basis"],
                    legal_reference=data["legal_reference"],
                    valid_from=data["valid_from"],
                    valid_until=data.get("valid_until"),
                    copy_grid=bool(data.get("copy_grid")),
                )
            except WriteForbidden as exc:
                raise PermissionDenied from exc
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(
                    request,
                    _("The new version “%(title)s” was created. Check its grid below.")
                    % {"title": agreement.title},
                )
                return redirect("partnerships:agreement_edit", partnership.pk, agreement.pk)
    return render(
        request,
        "partnerships/agreement_create.html",
        {"partnership": partnership, "current": current, "form": form},
        status=status,
    )


# --- Members and settings -------------------------------------------------------------


@route_policy(RoutePolicy.PARTNERSHIP)
@require_http_methods(["GET"])
def partnership_settings(request: HttpRequest, pk: int) -> HttpResponse:
    page = selectors.settings_page(actor=request_actor(request), partnership_id=pk)
    return render(request, "partnerships/settings.html", {"page": page})


@route_policy(RoutePolicy.PARTNERSHIP)
@require_http_methods(["GET", "POST"])
def members(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request_actor(request)
    page = selectors.members_page(actor=actor, partnership_id=pk)
    context: dict[str, Any] = {"page": page, "back_url": _partnership_url(request, pk)}
    if request.method == "GET":
        form = MembershipAddForm(candidates=page.candidates)
        return render(request, "partnerships/members.html", {**context, "form": form})
    if not page.can_manage:
        raise WriteForbidden
    form = MembershipAddForm(request.POST, candidates=page.candidates)
    if form.is_valid():
        data = form.cleaned_data
        try:
            membership = services.membership_add(
                actor=actor,
                partnership_id=page.partnership.pk,
                organisation_id=data["organisation"],
                starts_on=data["starts_on"],
                ends_on=data.get("ends_on"),
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(
                request,
                _("%(name)s is a member from %(date)s.")
                % {
                    "name": membership.organisation.name,
                    "date": date_format(membership.starts_on, "DATE_FORMAT"),
                },
            )
            return redirect(reverse("partnerships:members", args=[pk]) + f"#member-{membership.pk}")
    return render(request, "partnerships/members.html", {**context, "form": form}, status=INVALID)


def _partnership_url(request: HttpRequest, pk: int) -> str:
    """The partnership's own page: the administrator's, or the members'."""
    if may_administer(request_actor(request)):
        return reverse("administration:partnership", args=[pk])
    return reverse("partnerships:detail", args=[pk])


@route_policy(RoutePolicy.PARTNERSHIP)
@require_http_methods(["GET", "POST"])
def membership_end(request: HttpRequest, pk: int, membership_pk: int) -> HttpResponse:
    actor = request_actor(request)
    membership = selectors.membership_for_end(
        actor=actor, partnership_id=pk, membership_id=membership_pk
    )
    form = MembershipEndForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = INVALID
        if form.is_valid():
            try:
                services.membership_end(
                    actor=actor, membership_id=membership.pk, ends_on=form.cleaned_data["ends_on"]
                )
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(
                    request,
                    _("The membership of %(name)s ends on %(date)s.")
                    % {
                        "name": membership.organisation.name,
                        "date": date_format(form.cleaned_data["ends_on"], "DATE_FORMAT"),
                    },
                )
                return redirect(
                    reverse("partnerships:members", args=[pk]) + f"#member-{membership.pk}"
                )
    return render(
        request,
        "partnerships/membership_end.html",
        {"membership": membership, "form": form, "back_url": _partnership_url(request, pk)},
        status=status,
    )
