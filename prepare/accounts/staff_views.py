"""The staff pages: an organisation's accounts, inviting a person, changing,
deactivating and reactivating an account; and the enrolment link's page."""

from __future__ import annotations

import base64
import functools
import uuid
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from prepare.access.abilities import assignable_roles, is_administrator, may_manage_some_accounts
from prepare.access.errors import WriteForbidden
from prepare.access.policy import manageable_organisations, staff_organisation_for
from prepare.access.routes import RoutePolicy, route_policy
from prepare.accounts import invitations, services, staff, staff_selectors, training
from prepare.accounts.models import User
from prepare.accounts.second_factor import complete_sign_in
from prepare.accounts.staff_forms import (
    AccountChangeForm,
    EnrolmentForm,
    InvitationForm,
    TrainingRecordForm,
)
from prepare.accounts.staff_selectors import StaffRow
from prepare.accounts.views import _grouped, _qr_svg
from prepare.assessments.selectors import required_trainings
from prepare.audit import denials
from prepare.forms import add_service_errors
from prepare.web import INVALID, View, page_number, request_actor


def account_errors(view: View) -> View:
    """A refused change answers the 403 page with its reason, an account or
    organisation the user does not manage the 404 page; both are recorded as
    refusals. A change the account's state does not allow goes back to the
    account's page with the reason."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except WriteForbidden as exc:
            denials.note(request, exc)
            message = str(exc.args[0]) if exc.args else _("You may not change this account.")
            return render(request, "accounts/staff/403.html", {"message": message}, status=403)
        except Http404 as exc:
            denials.note(request, exc)
            return render(request, "404.html", status=404)
        except ValidationError as exc:
            for message in exc.messages:
                messages.error(request, message)
            return redirect("accounts:account", account_id=kwargs["account_id"])

    return wrapped


# --- The staff pages ----------------------------------------------------------------


@route_policy(RoutePolicy.SIGNED_IN)
@require_http_methods(["GET"])
@account_errors
def staff_home(request: HttpRequest) -> HttpResponse:
    """An account manager goes to their organisation's staff; the administrator
    chooses an organisation."""
    actor = request_actor(request)
    if not may_manage_some_accounts(actor):
        raise WriteForbidden(_("Only account managers and the administrator manage accounts."))
    if not is_administrator(actor):
        return redirect("accounts:staff", organisation_id=actor.organisation_id)
    organisations = list(
        manageable_organisations(actor).order_by("name").values("pk", "name", "is_active")
    )
    return render(request, "accounts/staff/home.html", {"organisations": organisations})


@route_policy(RoutePolicy.SIGNED_IN)
@require_http_methods(["GET"])
@account_errors
def staff_list(request: HttpRequest, organisation_id: int) -> HttpResponse:
    actor = request_actor(request)
    organisation = staff_organisation_for(actor, organisation_id)
    page = staff_selectors.staff_page(
        actor=actor,
        organisation=organisation,
        page=page_number(request.GET.get("page")),
        query=request.GET.get("q", ""),
    )
    return render(
        request,
        "accounts/staff/list.html",
        {"staff": page, "may_invite": bool(assignable_roles(actor))},
    )


@route_policy(RoutePolicy.SIGNED_IN)
@require_http_methods(["GET", "POST"])
@account_errors
def staff_invite(request: HttpRequest, organisation_id: int) -> HttpResponse:
    actor = request_actor(request)
    organisation = staff_organisation_for(actor, organisation_id)
    form = InvitationForm(request.POST or None, roles=assignable_roles(actor))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            issued = invitations.invitation_create(
                actor=actor,
                email=data["email"],
                first_name=data["first_name"],
                last_name=data["last_name"],
                organisation=organisation,
                role=data["role"],
                manages_accounts=data["manages_accounts"],
                language=data["language"],
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(
                request,
                _("%(name)s is invited. The link to set up the account is on its way to %(email)s.")
                % {"name": issued.user.get_full_name(), "email": issued.user.email},
            )
            return redirect("accounts:staff", organisation_id=organisation.pk)
    status = INVALID if form.errors else 200
    return render(
        request,
        "accounts/staff/invite.html",
        {
            "form": form,
            "organisation": organisation,
            "invitation_hours": settings.INVITATION_HOURS,
        },
        status=status,
    )


@route_policy(RoutePolicy.SIGNED_IN)
@require_http_methods(["GET", "POST"])
@account_errors
def account(request: HttpRequest, account_id: int) -> HttpResponse:
    """One account: what it is, and the changes the actor may make to it."""
    actor = request_actor(request)
    row = staff_selectors.account_row(actor=actor, account_id=account_id)
    person = row.account
    form = None
    if row.abilities.change:
        form = AccountChangeForm(
            request.POST or None,
            roles=row.abilities.roles,
            move=row.abilities.move,
            initial={
                "role": person.role,
                "organisation": person.organisation_id,
                "manages_accounts": person.manages_accounts,
            },
        )
    elif request.method == "POST":
        raise WriteForbidden(_("You may not change this account."))
    if request.method == "POST" and form is not None and form.is_valid():
        data = form.cleaned_data
        try:
            changed = staff.account_update(
                actor=actor,
                account_id=person.pk,
                role=data["role"],
                organisation=data.get("organisation"),
                manages_accounts=data["manages_accounts"],
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            if changed:
                messages.success(
                    request,
                    _("The account of %(name)s is changed; they are told by e-mail.")
                    % {"name": person.get_full_name() or person.username},
                )
            else:
                messages.info(request, _("Nothing was changed."))
            return redirect("accounts:account", account_id=person.pk)
    status = INVALID if form is not None and form.errors else 200
    return _account_page(request, actor, row, form=form, status=status)


def _account_page(
    request: HttpRequest,
    actor: User,
    row: StaffRow,
    *,
    form: AccountChangeForm | None = None,
    training_form: TrainingRecordForm | None = None,
    status: int = 200,
) -> HttpResponse:
    """The account's page: what it is, its training records, and the forms the
    actor may use (two more queries: the records, and the trainings instruments
    require when the actor may add one)."""
    person = row.account
    may_train = row.abilities.training
    if may_train and training_form is None:
        training_form = TrainingRecordForm()
    context = {
        "row": row,
        "form": form,
        "trainings": training.training_records(actor=actor, account=person),
        "training_form": training_form if may_train else None,
        "training_keys": required_trainings() if may_train else [],
    }
    return render(request, "accounts/staff/account.html", context, status=status)


@route_policy(RoutePolicy.SIGNED_IN)
@require_POST
@account_errors
def training_add(request: HttpRequest, account_id: int) -> HttpResponse:
    """Record a training the person completed (the form on their account page)."""
    actor = request_actor(request)
    row = staff_selectors.account_row(actor=actor, account_id=account_id)
    if not row.abilities.training:
        raise WriteForbidden(_("You may not record this person's training."))
    form = TrainingRecordForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            record = training.training_record_add(
                actor=actor,
                account_id=row.account.pk,
                training=data["training"],
                completed_on=data["completed_on"],
                expires_on=data["expires_on"],
                note=data["note"],
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(
                request,
                _("The training %(training)s of %(name)s is recorded.")
                % {"training": record.training, "name": _name(row.account)},
            )
            return _to_training(row.account.pk)
    return _account_page(request, actor, row, training_form=form, status=INVALID)


@route_policy(RoutePolicy.SIGNED_IN)
@require_http_methods(["GET", "POST"])
@account_errors
def training_remove(request: HttpRequest, account_id: int, training_record_id: int) -> HttpResponse:
    """Remove a training record, after confirmation."""
    actor = request_actor(request)
    if request.method == "POST":
        record = training.training_record_remove(
            actor=actor, account_id=account_id, record_id=training_record_id
        )
        messages.success(
            request,
            _("The training record %(training)s of %(name)s is removed.")
            % {"training": record.training, "name": _name(record.user)},
        )
        return _to_training(account_id)
    record = training.training_record_for_change(
        actor=actor, account_id=account_id, record_id=training_record_id
    )
    return render(
        request,
        "accounts/training/remove.html",
        {"record": record, "person": record.user},
    )


def _name(person: User) -> str:
    return person.get_full_name() or person.username


def _to_training(account_id: int) -> HttpResponse:
    return redirect(reverse("accounts:account", args=[account_id]) + "#training-title")


@route_policy(RoutePolicy.SIGNED_IN)
@require_POST
@account_errors
def account_resend(request: HttpRequest, account_id: int) -> HttpResponse:
    issued = invitations.invitation_resend(actor=request_actor(request), account_id=account_id)
    messages.success(
        request,
        _("A new link is on its way to %(email)s; the previous one no longer works.")
        % {"email": issued.user.email},
    )
    return redirect("accounts:account", account_id=account_id)


@route_policy(RoutePolicy.SIGNED_IN)
@require_POST
@account_errors
def account_deactivate(request: HttpRequest, account_id: int) -> HttpResponse:
    person = staff.account_deactivate(actor=request_actor(request), account_id=account_id)
    messages.success(
        request,
        _("The account of %(name)s is deactivated: they are signed out and their tokens revoked.")
        % {"name": person.get_full_name() or person.username},
    )
    return redirect("accounts:account", account_id=account_id)


@route_policy(RoutePolicy.SIGNED_IN)
@require_POST
@account_errors
def account_reactivate(request: HttpRequest, account_id: int) -> HttpResponse:
    person = staff.account_reactivate(actor=request_actor(request), account_id=account_id)
    messages.success(
        request,
        _("The account of %(name)s is active again.")
        % {"name": person.get_full_name() or person.username},
    )
    return redirect("accounts:account", account_id=account_id)


# --- The enrolment link ------------------------------------------------------------------

# Why a link cannot be used, as its status. An unknown link answers 404 (and a
# malformed one never reaches the view: the resolver's 404); used, replaced and
# expired links are the business of whoever holds the link (410).
UNUSABLE_STATUS = {"used": 410, "replaced": 410, "expired": 410, "unknown": 404}


@route_policy(RoutePolicy.PUBLIC)
@require_http_methods(["GET", "POST"])
def enrol(request: HttpRequest, link_id: uuid.UUID) -> HttpResponse:
    """The link's page: choose a password and set up the authenticator, in one
    step; the account is then active and signed in."""
    token = str(link_id)
    try:
        invitation = invitations.invitation_by_token(token)
    except invitations.InvitationUnusable as exc:
        return _unusable(request, exc.state)
    person = invitation.user
    form = EnrolmentForm(request.POST or None, user=person)
    if request.method == "POST" and form.is_valid():
        try:
            person, device = invitations.invitation_accept(
                token=token,
                password=form.cleaned_data["password"],
                code=form.cleaned_data["code"],
            )
        except invitations.InvitationUnusable as exc:
            return _unusable(request, exc.state)
        except invitations.CodeNotAccepted:
            form.add_error(
                "code", _("That code is not right. Check the time on your phone and try again.")
            )
        except ValidationError as exc:
            form.add_error("password", exc)
        else:
            if request.user.is_authenticated:
                services.session_end(request, reason="enrolment")
            complete_sign_in(request, person, device=device, via="enrolment", method="totp")
            messages.success(request, _("Your account is ready. Welcome to PREPARE."))
            return redirect("home:home")
    device = invitations.invitation_enrol_start(invitation=invitation)
    secret = base64.b32encode(device.bin_key).decode().rstrip("=")
    return render(
        request,
        "accounts/enrol.html",
        {
            "form": form,
            "person": person,
            "invitation": invitation,
            "secret": _grouped(secret),
            "qr": _qr_svg(device.config_url),
        },
        status=INVALID if form.errors else 200,
    )


def _unusable(request: HttpRequest, state: str) -> HttpResponse:
    return render(
        request, "accounts/enrol_unusable.html", {"reason": state}, status=UNUSABLE_STATUS[state]
    )
