"""Writes on partnerships: members, the sharing agreement, its versions and its grid."""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from prepare.access.categories import Action, Category
from prepare.access.errors import NotVisible
from prepare.access.policy import (
    forget_grants,
    parse_pk,
    partnership_for_memberships,
    require_coordinator,
)
from prepare.accounts.models import Organisation, User
from prepare.audit.models import EventAction
from prepare.audit.services import audit_record
from prepare.locking import StaleVersion, VersionRequired
from prepare.partnerships.models import CategoryGrant, Membership, Partnership, SharingAgreement

NO_ACCESS = ""
PAST_START = _lazy("A new version cannot start in the past: it starts today or later.")
ACCESS_LEVELS = (NO_ACCESS, Action.READ.value, Action.WRITE.value)


def cells_digest(agreement_id: int, cells: Iterable[tuple[int, str, str]]) -> str:
    """A fingerprint of a grid: (organisation id, category, access) triples.

    Cells without access are absent from the table, so they are absent here
    too; the order of the input does not matter.
    """
    lines = sorted(f"{org}:{cat}:{access}" for org, cat, access in cells if access)
    payload = f"agreement:{agreement_id}\n" + "\n".join(lines)
    return hashlib.sha256(payload.encode()).hexdigest()


def grid_digest(agreement: SharingAgreement) -> str:
    """The fingerprint of the agreement's grid as it is stored now."""
    rows = CategoryGrant.objects.filter(agreement_id=agreement.pk).values_list(
        "organisation_id", "category", "access"
    )
    return cells_digest(agreement.pk, rows)


def agreement_digest(
    agreement: SharingAgreement, cells: Mapping[tuple[int, str], str] | None = None
) -> str:
    """The fingerprint of the agreement as stored now: its grid and its period
    (``cells`` as already read, or read here).

    What an edit names as the version it started from, and what a pending
    change (``AccessChangeRequest.base``) was proposed against.
    """
    grid = (
        grid_digest(agreement)
        if cells is None
        else cells_digest(agreement.pk, ((o, c, a) for (o, c), a in cells.items()))
    )
    period = f"{agreement.valid_from.isoformat()}/{_iso(agreement.valid_until)}"
    return hashlib.sha256(f"{grid}\n{period}".encode()).hexdigest()


def _iso(day: datetime.date | None) -> str | None:
    return day.isoformat() if day is not None else None


_RANK = {NO_ACCESS: 0, Action.READ.value: 1, Action.WRITE.value: 2}
# The end of the period is not changed (None means "without an end").
UNCHANGED: object = object()


@dataclass
class AgreementChange:
    """Part of an edit of an agreement: cells (organisation id, category) -> access,
    and the new start or end of its period, where they change."""

    cells: dict[tuple[int, str], str] = field(default_factory=dict)
    valid_from: datetime.date | None = None
    # A date, None ("without an end") or ``UNCHANGED``.
    valid_until: object = UNCHANGED

    def __bool__(self) -> bool:
        return bool(self.cells) or self.valid_from is not None or self.valid_until is not UNCHANGED


def agreement_change_split(
    agreement: SharingAgreement,
    current: Mapping[tuple[int, str], str],
    cells: Mapping[tuple[int, str], str],
    valid_from: datetime.date,
    valid_until: datetime.date | None,
) -> tuple[AgreementChange, AgreementChange]:
    """(what narrows access, what widens it) between the agreement as stored and
    as edited. A cell widens when it gains read or write, narrows when it loses
    them; the period widens when it starts earlier or ends later (or no longer
    ends), narrows when it starts later or ends sooner. Unchanged parts are in
    neither."""
    narrow, widen = AgreementChange(), AgreementChange()
    for key, access in sorted(cells.items()):
        before = current.get(key, NO_ACCESS)
        if _RANK[access] > _RANK[before]:
            widen.cells[key] = access
        elif access != before:
            narrow.cells[key] = access
    if valid_from < agreement.valid_from:
        widen.valid_from = valid_from
    elif valid_from > agreement.valid_from:
        narrow.valid_from = valid_from
    never = datetime.date.max
    old_end, new_end = agreement.valid_until or never, valid_until or never
    if new_end > old_end:
        widen.valid_until = valid_until
    elif new_end < old_end:
        narrow.valid_until = valid_until
    # A shorter start applied now must not leave the period upside down while
    # its later end waits for approval: then the whole period waits.
    if (
        narrow.valid_from is not None
        and widen.valid_until is not UNCHANGED
        and agreement.valid_until is not None
        and narrow.valid_from > agreement.valid_until
    ):
        widen.valid_from, narrow.valid_from = narrow.valid_from, None
    return narrow, widen


def agreement_change_check(
    agreement: SharingAgreement,
    cells: Mapping[tuple[int, str], str],
    current: Mapping[tuple[int, str], str],
    valid_from: datetime.date,
    valid_until: datetime.date | None,
) -> None:
    """Refuse an edit that names an unknown category or level, gives a cell to
    an organisation outside the partnership, moves the start into the past,
    turns the period upside down or makes it overlap another version."""
    partnership = agreement.partnership
    allowed_orgs = set(
        Membership.objects.filter(partnership=partnership)
        .order_by()
        .values_list("organisation_id", flat=True)
    ) | {partnership.coordinating_organisation_id}
    for (org_id, category), access in cells.items():
        if category not in Category.values:
            raise ValidationError(_("Unknown category: %(c)s") % {"c": category})
        if access not in ACCESS_LEVELS:
            raise ValidationError(_("Unknown access level: %(a)s") % {"a": access})
        unchanged = access == current.get((org_id, category), NO_ACCESS)
        # An organisation outside the partnership may lose a leftover cell,
        # never gain one.
        if org_id not in allowed_orgs and access != NO_ACCESS and not unchanged:
            raise ValidationError(
                _("Organisation %(id)s is not in this partnership.") % {"id": org_id}
            )
    if valid_from != agreement.valid_from and valid_from < timezone.localdate():
        raise ValidationError({"valid_from": str(PAST_START)})
    if valid_until is not None and valid_until < valid_from:
        raise ValidationError({"valid_until": _("The end date cannot be before the start date.")})
    overlapping = (
        SharingAgreement.objects.filter(partnership_id=agreement.partnership_id)
        .exclude(pk=agreement.pk)
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gte=valid_from))
    )
    if valid_until is not None:
        overlapping = overlapping.filter(valid_from__lte=valid_until)
    other = overlapping.order_by("valid_from").first()
    if other is not None:
        raise ValidationError(
            _("The period would overlap the version “%(title)s”: versions follow each other.")
            % {"title": other.title}
        )


def agreement_lock(agreement_id: int) -> SharingAgreement:
    """The agreement, its row locked: a second change waits here for the first."""
    agreement = (
        SharingAgreement.objects.select_for_update(of=("self",))
        .select_related("partnership")
        .filter(pk=agreement_id)
        .first()
    )
    if agreement is None:
        raise NotVisible
    return agreement


def agreement_cells(agreement: SharingAgreement) -> dict[tuple[int, str], str]:
    return {
        (org, cat): access
        for org, cat, access in CategoryGrant.objects.filter(agreement=agreement).values_list(
            "organisation_id", "category", "access"
        )
    }


def agreement_apply(
    *,
    actor: User,
    agreement: SharingAgreement,
    change: AgreementChange,
    access_change: int | None = None,
) -> list[dict[str, object]]:
    """Apply ``change`` to the (locked) agreement and log it: the caller has
    decided that it may (a narrowing, an approved widening, a seed). Returns
    the cells changed; logs one event if anything changed."""
    existing = {
        (cg.organisation_id, cg.category): cg
        for cg in CategoryGrant.objects.filter(agreement=agreement)
    }
    changes: list[dict[str, object]] = []
    to_create: list[CategoryGrant] = []
    to_delete: list[int] = []
    to_update: dict[str, list[int]] = {}
    for (org_id, category), access in sorted(change.cells.items()):
        current = existing.get((org_id, category))
        before = current.access if current else NO_ACCESS
        if before == access:
            continue
        if current is None:
            to_create.append(
                CategoryGrant(
                    agreement=agreement, organisation_id=org_id, category=category, access=access
                )
            )
        elif access == NO_ACCESS:
            to_delete.append(current.pk)
        else:
            to_update.setdefault(access, []).append(current.pk)
        changes.append({"organisation": org_id, "category": category, "from": before, "to": access})
    if to_delete:
        CategoryGrant.objects.filter(pk__in=to_delete).delete()
    for access, pks in to_update.items():
        CategoryGrant.objects.filter(pk__in=pks).update(access=access)
    if to_create:
        CategoryGrant.objects.bulk_create(to_create)
    period: dict[str, object] = {}
    if change.valid_from is not None and change.valid_from != agreement.valid_from:
        period["valid_from"] = {
            "from": agreement.valid_from.isoformat(),
            "to": change.valid_from.isoformat(),
        }
        agreement.valid_from = change.valid_from
    if change.valid_until is not UNCHANGED and change.valid_until != agreement.valid_until:
        assert change.valid_until is None or isinstance(change.valid_until, datetime.date)
        period["valid_until"] = {
            "from": _iso(agreement.valid_until),
            "to": _iso(change.valid_until),
        }
        agreement.valid_until = change.valid_until
    if period:
        agreement.full_clean()
        SharingAgreement.objects.filter(pk=agreement.pk).update(
            valid_from=agreement.valid_from, valid_until=agreement.valid_until
        )
    if changes or period:
        audit_record(
            action=EventAction.AGREEMENT_CHANGE,
            actor=actor,
            obj=agreement,
            detail={
                "partnership": agreement.partnership_id,
                "legal_basis": agreement.legal_basis,
                "legal_reference": agreement.legal_reference,
                "changes": changes,
                **period,
                "access_change": access_change,
            },
        )
    forget_grants(actor)
    return changes


@transaction.atomic
def agreement_grid_seed(
    *, actor: User, agreement_id: int, cells: Mapping[tuple[int, str], str]
) -> list[dict[str, object]]:
    """Fill the grid of an agreement that has none yet, at once, logged.

    For loading data (the demo's partnerships), where nobody is there to
    approve: never wired to a page or the API, where a coordinator's edit goes
    through ``access_changes.services.agreement_change_submit`` (four eyes on
    what widens access).
    """
    agreement = agreement_lock(agreement_id)
    require_coordinator(actor, agreement.partnership_id)
    if CategoryGrant.objects.filter(agreement=agreement).exists():
        raise ValidationError(_("Only an empty grid can be filled at once."))
    agreement_change_check(agreement, cells, {}, agreement.valid_from, agreement.valid_until)
    return agreement_apply(
        actor=actor, agreement=agreement, change=AgreementChange(cells=dict(cells))
    )


def current_agreement(partnership_id: int, on: datetime.date) -> SharingAgreement | None:
    """The agreement in force on ``on`` that started last, if any."""
    return (
        SharingAgreement.objects.in_force(on)
        .filter(partnership_id=partnership_id)
        .order_by("-valid_from", "-pk")
        .first()
    )


@transaction.atomic
def agreement_create(
    *,
    actor: User,
    partnership_id: int,
    title: str,
    legal_basis: str,
    legal_reference: str,
    valid_from: datetime.date,
    valid_until: datetime.date | None = None,
    copy_grid: bool = False,
) -> SharingAgreement:
    """Start a new version of the partnership's sharing agreement.

    The new version starts today or later and after every existing version.
    Versions still running on its first day end the day before: agreements
    that overlap would add up their grants, so a stricter new version would
    not take effect. With ``copy_grid`` the grid of the agreement in force
    today is copied. Only the partnership's coordinator may do this.
    """
    require_coordinator(actor, partnership_id)
    # Serialise concurrent version changes of one partnership.
    partnership = Partnership.objects.select_for_update().get(pk=partnership_id)
    today = timezone.localdate()
    agreement = SharingAgreement(
        partnership=partnership,
        title=title,
        legal_basis=legal_basis,
        legal_reference=legal_reference,
        valid_from=valid_from,
        valid_until=valid_until,
    )
    agreement.full_clean()
    if valid_from < today:
        raise ValidationError({"valid_from": str(PAST_START)})
    later = (
        SharingAgreement.objects.filter(partnership=partnership, valid_from__gte=valid_from)
        .order_by("valid_from")
        .first()
    )
    if later is not None:
        raise ValidationError(
            {
                "valid_from": _(
                    "The version “%(title)s” starts on %(date)s; a new version must start after it."
                )
                % {"title": later.title, "date": later.valid_from.isoformat()}
            }
        )
    source = current_agreement(partnership.pk, today) if copy_grid else None
    if copy_grid and source is None:
        raise ValidationError(_("There is no agreement in force today whose grid could be copied."))
    superseded = list(
        SharingAgreement.objects.filter(partnership=partnership, valid_from__lt=valid_from)
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gte=valid_from))
        .values_list("pk", flat=True)
    )
    if superseded:
        SharingAgreement.objects.filter(pk__in=superseded).update(
            valid_until=valid_from - datetime.timedelta(days=1)
        )
    agreement.save()
    copied = 0
    if source is not None:
        copies = [
            CategoryGrant(
                agreement=agreement, organisation_id=org_id, category=category, access=access
            )
            for org_id, category, access in CategoryGrant.objects.filter(
                agreement=source
            ).values_list("organisation_id", "category", "access")
        ]
        CategoryGrant.objects.bulk_create(copies)
        copied = len(copies)
    audit_record(
        action=EventAction.AGREEMENT_CHANGE,
        actor=actor,
        obj=agreement,
        detail={
            "change": "created",
            "partnership": partnership.pk,
            "legal_basis": agreement.legal_basis,
            "legal_reference": agreement.legal_reference,
            "valid_from": valid_from.isoformat(),
            "valid_until": valid_until.isoformat() if valid_until else None,
            "copied_from": source.pk if source is not None else None,
            "cells": copied,
            "superseded": sorted(superseded),
        },
    )
    forget_grants(actor)
    return agreement


# --- Closure settings ---------------------------------------------------------------


def closure_settings_digest(partnership: Partnership) -> str:
    """What the closure settings form was based on, to refuse a save over another's."""
    return "self-approval" if partnership.closure_self_approval else "four-eyes"


@transaction.atomic
def partnership_closure_settings_update(
    *, actor: User, partnership_id: int, self_approval: bool, expected: str
) -> bool:
    """Let (or stop letting) a single coordinator approve their own closure
    proposal; coordinators only. 404 for a non-member, 403 for a member who
    does not coordinate, ``VersionRequired`` without ``expected``,
    ``StaleVersion`` if it changed since the form was read. Audited as a
    permission change; returns whether anything changed."""
    require_coordinator(actor, partnership_id)
    if not expected:
        raise VersionRequired
    partnership = Partnership.objects.select_for_update().get(pk=partnership_id)
    if expected != closure_settings_digest(partnership):
        raise StaleVersion
    before = partnership.closure_self_approval
    if before == self_approval:
        return False
    Partnership.objects.filter(pk=partnership.pk).update(closure_self_approval=self_approval)
    audit_record(
        action=EventAction.PERMISSION_CHANGE,
        actor=actor,
        obj=partnership,
        detail={
            "partnership": partnership.pk,
            "closure_self_approval": {"from": before, "to": self_approval},
        },
    )
    return True


# --- Members ---------------------------------------------------------------------


def _partnership_for_members(actor: User, partnership_id: int) -> Partnership:
    pk = partnership_for_memberships(actor, partnership_id, write=True)
    partnership = Partnership.objects.select_for_update().filter(pk=pk).first()
    if partnership is None:
        raise NotVisible
    return partnership


@transaction.atomic
def membership_add(
    *,
    actor: User,
    partnership_id: int,
    organisation_id: int,
    starts_on: datetime.date,
    ends_on: datetime.date | None = None,
) -> Membership:
    """Make an organisation a member of the partnership from ``starts_on``.

    An organisation whose membership ended joins again on the same row (the
    audit log keeps the earlier period); one that is a member, or will be,
    is refused. Who may: the partnership's coordinator, or the administrator.
    One audit event (a permission change: members read what the agreement
    grants them).
    """
    partnership = _partnership_for_members(actor, partnership_id)
    organisation = Organisation.objects.filter(pk=organisation_id, is_active=True).first()
    if organisation is None:
        raise ValidationError({"organisation": _("Choose an active organisation.")})
    today = timezone.localdate()
    membership = (
        Membership.objects.select_for_update()
        .filter(partnership=partnership, organisation=organisation)
        .first()
    )
    rejoined = membership is not None
    if membership is not None:
        if membership.ends_on is None or membership.ends_on >= today:
            raise ValidationError(
                {"organisation": _("%(name)s is already a member.") % {"name": organisation.name}}
            )
        membership.starts_on, membership.ends_on = starts_on, ends_on
    else:
        membership = Membership(
            partnership=partnership, organisation=organisation, starts_on=starts_on, ends_on=ends_on
        )
    membership.full_clean()
    membership.save()
    forget_grants(actor)
    audit_record(
        action=EventAction.PERMISSION_CHANGE,
        actor=actor,
        obj=membership,
        detail={
            "change": "membership_added",
            "partnership_id": partnership.pk,
            "organisation_id": organisation.pk,
            "starts_on": starts_on.isoformat(),
            "ends_on": ends_on.isoformat() if ends_on else None,
            "rejoined": rejoined,
        },
    )
    return membership


@transaction.atomic
def membership_end(*, actor: User, membership_id: int, ends_on: datetime.date) -> Membership:
    """End a membership on ``ends_on`` (the last day the organisation is a member).

    The coordinating organisation stays a member while it coordinates; a
    membership that has already ended is not ended again. From the day after
    ``ends_on`` the organisation's people read nothing of the partnership's
    cases (the grants follow the membership's dates). One audit event.
    """
    pk = parse_pk(membership_id)
    membership = (
        Membership.objects.select_for_update(of=("self",))
        .select_related("partnership")
        .filter(pk=pk)
        .first()
        if pk is not None
        else None
    )
    if membership is None:
        raise NotVisible
    partnership = _partnership_for_members(actor, membership.partnership_id)
    if membership.organisation_id == partnership.coordinating_organisation_id:
        raise ValidationError(
            _("The coordinating organisation stays a member while it coordinates the partnership.")
        )
    today = timezone.localdate()
    if membership.ends_on is not None and membership.ends_on < today:
        raise ValidationError({"ends_on": _("This membership has already ended.")})
    before = membership.ends_on
    membership.ends_on = ends_on
    membership.full_clean()
    membership.save(update_fields=["ends_on"])
    forget_grants(actor)
    audit_record(
        action=EventAction.PERMISSION_CHANGE,
        actor=actor,
        obj=membership,
        detail={
            "change": "membership_ended",
            "partnership_id": partnership.pk,
            "organisation_id": membership.organisation_id,
            "ends_on": [before.isoformat() if before else None, ends_on.isoformat()],
        },
    )
    return membership
