"""The administrator's pages: what is still missing, organisations,
partnerships and their first coordinators. No case data anywhere."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from prepare.access.policy import require_administrator
from prepare.access.routes import RoutePolicy, route_policy
from prepare.accounts.models import Organisation
from prepare.administration import selectors, services
from prepare.administration.forms import (
    CoordinatorAccountForm,
    CoordinatorAppointForm,
    OrganisationEditForm,
    OrganisationForm,
    PartnershipCreateForm,
)
from prepare.forms import add_service_errors
from prepare.locking import StaleVersion
from prepare.web import INVALID, request_actor


@route_policy(RoutePolicy.ADMINISTRATION)
@require_http_methods(["GET"])
def home(request: HttpRequest) -> HttpResponse:
    gaps = selectors.home(actor=request_actor(request))
    return render(request, "administration/home.html", {"gaps": gaps})


@route_policy(RoutePolicy.ADMINISTRATION)
@require_http_methods(["GET"])
def organisation_list(request: HttpRequest) -> HttpResponse:
    rows = selectors.organisations(actor=request_actor(request))
    return render(request, "administration/organisations.html", {"rows": rows})


@route_policy(RoutePolicy.ADMINISTRATION)
@require_http_methods(["GET", "POST"])
def organisation_create(request: HttpRequest) -> HttpResponse:
    actor = request_actor(request)
    require_administrator(actor)
    form = OrganisationForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = INVALID
        if form.is_valid():
            try:
                organisation = services.organisation_create(actor=actor, **form.cleaned_data)
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(
                    request, _("The organisation %(name)s is added.") % {"name": organisation.name}
                )
                return redirect("administration:organisations")
    return render(request, "administration/organisation_form.html", {"form": form}, status=status)


@route_policy(RoutePolicy.ADMINISTRATION)
@require_http_methods(["GET", "POST"])
def organisation_edit(request: HttpRequest, pk: int) -> HttpResponse:
    actor = request_actor(request)
    organisation = selectors.organisation(actor=actor, organisation_id=pk)
    context: dict[str, Any] = {"organisation": organisation, "conflict": False}
    if request.method == "GET":
        form = OrganisationEditForm(initial=OrganisationEditForm.initial_of(organisation))
        return render(request, "administration/organisation_form.html", {**context, "form": form})
    form = OrganisationEditForm(request.POST)
    status = INVALID
    if form.is_valid():
        data = dict(form.cleaned_data)
        version = data.pop("version")
        try:
            _saved, changed = services.organisation_update(
                actor=actor, organisation_id=organisation.pk, version=version, changes=data
            )
        except StaleVersion:
            status = 409
            context["conflict"] = True
            organisation.refresh_from_db()
            form = OrganisationEditForm(initial=OrganisationEditForm.initial_of(organisation))
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            _confirm_organisation_saved(request, organisation, changed, data)
            return redirect("administration:organisations")
    return render(
        request, "administration/organisation_form.html", {**context, "form": form}, status=status
    )


def _confirm_organisation_saved(
    request: HttpRequest, organisation: Organisation, changed: list[str], data: dict[str, Any]
) -> None:
    name = data.get("name", organisation.name)
    if not changed:
        messages.info(
            request, _("Nothing changed: %(name)s was already as submitted.") % {"name": name}
        )
    elif "is_active" in changed and not data["is_active"]:
        messages.success(
            request,
            _("%(name)s is deactivated: its people are signed out and their API tokens revoked.")
            % {"name": name},
        )
    else:
        messages.success(request, _("%(name)s is saved.") % {"name": name})


@route_policy(RoutePolicy.ADMINISTRATION)
@require_http_methods(["GET"])
def partnership_list(request: HttpRequest) -> HttpResponse:
    rows = selectors.partnerships(actor=request_actor(request))
    return render(request, "administration/partnerships.html", {"rows": rows})


@route_policy(RoutePolicy.ADMINISTRATION)
@require_http_methods(["GET", "POST"])
def partnership_create(request: HttpRequest) -> HttpResponse:
    actor = request_actor(request)
    organisations = list(
        selectors.organisations(actor=actor).filter(is_active=True).values_list("pk", "name")
    )
    form = PartnershipCreateForm(request.POST or None, organisations=organisations)
    status = 200
    if request.method == "POST":
        status = INVALID
        if form.is_valid():
            data = form.cleaned_data
            try:
                partnership = services.partnership_create(
                    actor=actor,
                    name=data["name"],
                    code=data["code"],
                    coordinating_organisation_id=data["coordinating_organisation"],
                    timezone_name=data["timezone"],
                )
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(
                    request,
                    _("The partnership %(name)s is created. Appoint its coordinator now.")
                    % {"name": partnership.name},
                )
                return redirect("administration:coordinator_appoint", partnership.pk)
    return render(
        request,
        "administration/partnership_create.html",
        {"form": form, "has_organisations": bool(organisations)},
        status=status,
    )


@route_policy(RoutePolicy.ADMINISTRATION)
@require_http_methods(["GET"])
def partnership_detail(request: HttpRequest, pk: int) -> HttpResponse:
    page = selectors.partnership(actor=request_actor(request), partnership_id=pk)
    return render(request, "administration/partnership.html", {"page": page})


@route_policy(RoutePolicy.ADMINISTRATION)
@require_http_methods(["GET", "POST"])
def coordinator_appoint(request: HttpRequest, pk: int) -> HttpResponse:
    """Two ways to give the partnership its coordinator: an existing account of
    the coordinating organisation, or a new one."""
    actor = request_actor(request)
    page = selectors.partnership(actor=actor, partnership_id=pk)
    candidates = [
        (u.pk, f"{u} ({u.get_role_display()})")
        for u in selectors.coordinator_candidates(actor=actor, partnership=page.partnership)
    ]
    op = request.POST.get("op") if request.method == "POST" else None
    appoint = CoordinatorAppointForm(
        request.POST if op == "appoint" else None, candidates=candidates
    )
    account = CoordinatorAccountForm(request.POST if op == "create" else None, prefix="new")
    status = 200
    if request.method == "POST":
        status = INVALID
        try:
            if op == "appoint" and appoint.is_valid():
                user = services.coordinator_appoint(
                    actor=actor, partnership_id=pk, user_id=appoint.cleaned_data["user"]
                )
                messages.success(request, _("%(name)s is now a coordinator.") % {"name": user})
                return redirect("administration:partnership", pk)
            if op == "create" and account.is_valid():
                user = services.coordinator_account_create(
                    actor=actor, partnership_id=pk, **account.cleaned_data
                )
                messages.success(
                    request,
                    _(
                        "The coordinator's account is created and a link to set it up is "
                        "e-mailed to %(email)s. They choose a password and set up their "
                        "authenticator app there; until then it shows under “Staff accounts”."
                    )
                    % {"email": user.email},
                )
                return redirect("administration:partnership", pk)
        except ValidationError as exc:
            add_service_errors(appoint if op == "appoint" else account, exc)
        if op not in ("appoint", "create"):
            appoint = CoordinatorAppointForm(request.POST, candidates=candidates)
            appoint.is_valid()
            appoint.add_error(None, _("Choose an account, or create a new one."))
    return render(
        request,
        "administration/coordinator.html",
        {"page": page, "appoint": appoint, "account": account},
        status=status,
    )
