"""Writes of the installation's administrator: organisations, partnerships,
their first coordinators, and the first administrator (``prepare setup``).

Each is one transaction and one audit event. A change of who may do what
(an organisation's active flag, a coordinator appointed or created) is
recorded as a permission change. Nothing here reads case data.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from prepare.access.errors import NotVisible
from prepare.access.policy import parse_pk, require_administrator
from prepare.accounts.invitations import invitation_issue, invitee_create
from prepare.accounts.models import Organisation, RevokedBecause, Role, User, validate_time_zone
from prepare.accounts.services import organisation_credentials_end
from prepare.administration.selectors import partnership_by_id
from prepare.audit.models import EventAction
from prepare.audit.services import audit_record
from prepare.locking import StaleVersion
from prepare.partnerships.models import Membership, Partnership

# What the administrator sets on an organisation.
ORGANISATION_FIELDS = ("name", "type", "country", "city", "languages", "is_active")


def _clean_organisation(organisation: Organisation) -> None:
    organisation.name = organisation.name.strip()
    organisation.city = organisation.city.strip()
    organisation.country = organisation.country.strip().upper()
    if organisation.country and not (
        len(organisation.country) == 2
        and organisation.country.isascii()
        and organisation.country.isalpha()
    ):
        raise ValidationError({"country": _("Two letters: the country's ISO code, e.g. NL.")})
    organisation.full_clean()


@transaction.atomic
def organisation_create(
    *,
    actor: User,
    name: str,
    type: str,
    country: str = "",
    city: str = "",
    languages: Iterable[str] = (),
    is_active: bool = True,
) -> Organisation:
    require_administrator(actor)
    organisation = Organisation(
        name=name,
        type=type,
        country=country,
        city=city,
        languages=list(languages),
        is_active=is_active,
    )
    _clean_organisation(organisation)
    organisation.save()
    audit_record(
        action=EventAction.CREATE,
        actor=actor,
        obj=organisation,
        detail={"fields": list(ORGANISATION_FIELDS), "is_active": is_active},
    )
    return organisation


M = TypeVar("M", Organisation, Partnership)


def _locked_for_edit(
    model: type[M], pk: Any, *, version: int, changes: Mapping[str, Any], fields: Iterable[str]
) -> tuple[M, dict[str, Any]]:
    """The row to change, locked, and its ``fields`` as they are: refused if
    ``changes`` names another field (400), the row does not exist (404) or
    ``version`` is not the one stored (``StaleVersion``)."""
    unknown = sorted(set(changes) - set(fields))
    if unknown:
        raise ValidationError({name: _("This field cannot be set here.") for name in unknown})
    found = parse_pk(pk)
    row = model._default_manager.select_for_update().filter(pk=found).first() if found else None
    if row is None:
        raise NotVisible
    if row.version != version:
        raise StaleVersion
    return row, {name: getattr(row, name) for name in fields}


def _save_changed(row: Organisation | Partnership, before: Mapping[str, Any]) -> list[str]:
    """Save the fields that differ from ``before`` with the next version; their names."""
    changed = [n for n in before if getattr(row, n) != before[n]]
    if changed:
        row.version = F("version") + 1
        row.save(update_fields=[*changed, "version"])
        row.refresh_from_db(fields=["version"])
    return changed


@transaction.atomic
def organisation_update(
    *, actor: User, organisation_id: int, version: int, changes: Mapping[str, Any]
) -> tuple[Organisation, list[str]]:
    """Change an organisation; the names of the fields changed.

    ``version`` is the one the administrator read: a stale one changes nothing
    (``StaleVersion``). Deactivating the organisation ends its people's
    sessions and API tokens at once (``organisation_credentials_end``): from
    their next request they are refused, on pages and in the API.
    """
    require_administrator(actor)
    organisation, before = _locked_for_edit(
        Organisation, organisation_id, version=version, changes=changes, fields=ORGANISATION_FIELDS
    )
    for name, value in changes.items():
        setattr(organisation, name, list(value) if name == "languages" else value)
    _clean_organisation(organisation)
    changed = _save_changed(organisation, before)
    if not changed:
        return organisation, []
    detail: dict[str, Any] = {"changed": changed}
    action = EventAction.UPDATE
    if "is_active" in changed:
        action = EventAction.PERMISSION_CHANGE
        detail["is_active"] = organisation.is_active
        if not organisation.is_active:
            detail["tokens_revoked"] = organisation_credentials_end(
                organisation_id=organisation.pk, reason=RevokedBecause.ORGANISATION
            )
    audit_record(action=action, actor=actor, obj=organisation, detail=detail)
    return organisation, changed


def _active_organisation(organisation_id: Any, field: str) -> Organisation:
    pk = parse_pk(organisation_id)
    organisation = (
        Organisation.objects.filter(pk=pk, is_active=True).first() if pk is not None else None
    )
    if organisation is None:
        raise ValidationError({field: _("Choose an active organisation.")})
    return organisation


@transaction.atomic
def partnership_create(
    *, actor: User, name: str, code: str, coordinating_organisation_id: int, timezone_name: str
) -> Partnership:
    """A partnership led by its coordinating organisation, which is its first
    member from today. Its coordinator is appointed next
    (``coordinator_appoint`` or ``coordinator_account_create``)."""
    require_administrator(actor)
    organisation = _active_organisation(coordinating_organisation_id, "coordinating_organisation")
    try:
        validate_time_zone(timezone_name)
    except ValidationError as exc:
        raise ValidationError({"timezone": exc.messages}) from exc
    partnership = Partnership(
        name=name.strip(),
        code=code.strip().upper(),
        coordinating_organisation=organisation,
        timezone=timezone_name,
    )
    if not partnership.timezone:
        raise ValidationError({"timezone": _("Choose the partnership's time zone.")})
    partnership.full_clean()
    partnership.save()
    membership = Membership.objects.create(
        partnership=partnership, organisation=organisation, starts_on=timezone.localdate()
    )
    audit_record(
        action=EventAction.CREATE,
        actor=actor,
        obj=partnership,
        detail={
            "fields": ["name", "code", "coordinating_organisation", "timezone"],
            "coordinating_organisation_id": organisation.pk,
            "membership_id": membership.pk,
        },
    )
    return partnership


# What the administrator may change on an existing partnership. The code is
# not among them: it prefixes every case reference already given out.
PARTNERSHIP_FIELDS = ("name", "timezone")


@transaction.atomic
def partnership_update(
    *, actor: User, partnership_id: int, version: int, changes: Mapping[str, Any]
) -> tuple[Partnership, list[str]]:
    """Rename a partnership or change its time zone; the names of the fields changed.

    ``version`` is the one the administrator read: a stale one changes nothing
    (``StaleVersion``). A new time zone changes how every time of the
    partnership is shown and when its days begin (reminders, the daily cap of
    emergency access); stored instants and calendar dates stay as they are.
    """
    require_administrator(actor)
    partnership, before = _locked_for_edit(
        Partnership, partnership_id, version=version, changes=changes, fields=PARTNERSHIP_FIELDS
    )
    if "name" in changes:
        partnership.name = str(changes["name"]).strip()
    if "timezone" in changes:
        zone = str(changes["timezone"]).strip()
        try:
            validate_time_zone(zone)
        except ValidationError as exc:
            raise ValidationError({"timezone": exc.messages}) from exc
        if not zone:
            raise ValidationError({"timezone": _("Choose the partnership's time zone.")})
        partnership.timezone = zone
    if not any(getattr(partnership, n) != before[n] for n in before):
        return partnership, []
    partnership.full_clean(exclude=["coordinating_organisation"])
    changed = _save_changed(partnership, before)
    audit_record(
        action=EventAction.UPDATE,
        actor=actor,
        obj=partnership,
        detail={
            "changed": changed,
            **{n: {"from": before[n], "to": getattr(partnership, n)} for n in changed},
        },
    )
    return partnership, changed


@transaction.atomic
def coordinator_appoint(*, actor: User, partnership_id: int, user_id: int) -> User:
    """Make an active account of the coordinating organisation its coordinator."""
    require_administrator(actor)
    partnership = partnership_by_id(partnership_id)
    pk = parse_pk(user_id)
    user = (
        User.objects.select_for_update()
        .filter(
            pk=pk,
            organisation_id=partnership.coordinating_organisation_id,
            is_active=True,
        )
        .exclude(role=Role.ADMINISTRATOR)
        .first()
        if pk is not None
        else None
    )
    if user is None:
        raise ValidationError(
            {
                "user": _("Choose an active account of %(name)s.")
                % {"name": partnership.coordinating_organisation.name}
            }
        )
    if user.role == Role.COORDINATOR:
        raise ValidationError({"user": _("%(name)s is a coordinator already.") % {"name": user}})
    before = user.role
    user.role = Role.COORDINATOR
    user.save(update_fields=["role"])
    audit_record(
        action=EventAction.PERMISSION_CHANGE,
        actor=actor,
        obj=user,
        detail={
            "change": "coordinator_appointed",
            "role": [before, Role.COORDINATOR.value],
            "partnership_id": partnership.pk,
        },
    )
    return user


@transaction.atomic
def coordinator_account_create(
    *,
    actor: User,
    partnership_id: int,
    email: str,
    first_name: str = "",
    last_name: str = "",
    language: str = "",
) -> User:
    """A new account of the coordinating organisation, with the coordinator's
    role, made as a staff invitation makes one (``invitee_create``: the e-mail
    address is the identity and, in lower case, the username). It stays
    inactive and without a usable password until the person follows the
    enrolment link e-mailed to them after the commit (``invitation_issue``):
    there they choose a password and set up their authenticator."""
    require_administrator(actor)
    partnership = partnership_by_id(partnership_id)
    organisation = partnership.coordinating_organisation
    if not organisation.is_active:
        raise ValidationError(_("The coordinating organisation is not active."))
    if not email.strip():
        raise ValidationError({"email": _("Enter the person's e-mail address.")})
    user = invitee_create(
        email=email,
        first_name=first_name,
        last_name=last_name,
        organisation=organisation,
        role=Role.COORDINATOR,
        language=language,
    )
    issued = invitation_issue(actor=actor, user=user)
    audit_record(
        action=EventAction.PERMISSION_CHANGE,
        actor=actor,
        obj=user,
        detail={
            "change": "coordinator_account_created",
            "invitation": issued.invitation.pk,
            "role": [None, Role.COORDINATOR.value],
            "partnership_id": partnership.pk,
            "organisation_id": organisation.pk,
        },
    )
    return user


def _new_user(
    username: str,
    email: str,
    first_name: str,
    last_name: str,
    organisation: Organisation | None,
    role: str,
) -> User:
    return User(
        username=username.strip(),
        email=email.strip(),
        first_name=first_name.strip(),
        last_name=last_name.strip(),
        organisation=organisation,
        role=role,
    )


@transaction.atomic
def administrator_create(
    *, username: str, email: str, password: str, first_name: str = "", last_name: str = ""
) -> User:
    """The installation's first administrator (``prepare setup``), outside any
    request: no actor. The password is checked with AUTH_PASSWORD_VALIDATORS;
    the second factor is enrolled at first sign-in, as for everyone."""
    user = _new_user(username, email, first_name, last_name, None, Role.ADMINISTRATOR)
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise ValidationError({"password": exc.messages}) from exc
    user.set_password(password)
    user.full_clean()
    user.save()
    audit_record(
        action=EventAction.PERMISSION_CHANGE,
        username="prepare setup",
        obj=user,
        detail={"change": "administrator_created", "role": [None, Role.ADMINISTRATOR.value]},
    )
    return user


def administrator_exists() -> bool:
    return User.objects.filter(role=Role.ADMINISTRATOR, is_active=True).exists()
