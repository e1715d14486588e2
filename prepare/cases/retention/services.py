"""Retention writes: a partnership's retention settings, legal holds, and the
scheduled run that erases or anonymises closed cases when their time comes."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _

from prepare.access.policy import require_coordinator
from prepare.accounts.models import User
from prepare.audit.models import EventAction
from prepare.audit.services import audit_record
from prepare.cases.models import Case, LegalHold
from prepare.cases.retention.erasure import LegalHoldActive, case_anonymise, case_erase
from prepare.cases.retention.selectors import (
    MAX_YEARS,
    MIN_YEARS,
    RETAINED_STATUSES,
    _case_for_hold,
    active_holds,
    add_years,
    hold_of_case,
    logger,
    retention_digest,
    retention_due_on,
)
from prepare.locking import StaleVersion, VersionRequired
from prepare.partnerships.models import Partnership, RetentionAction


@transaction.atomic
def partnership_retention_update(
    *,
    actor: User,
    partnership_id: int,
    retention_years: int,
    retention_action: str,
    expected: str,
) -> list[str]:
    """Set how long closed cases are kept and what happens then; coordinator only.

    404 for a non-member, 403 (``WriteForbidden``) for a member who does not
    coordinate, ``VersionRequired`` without ``expected``, ``StaleVersion`` if
    the settings changed since the form was read. Returns the changed fields.
    """
    require_coordinator(actor, partnership_id)
    if not expected:
        raise VersionRequired
    partnership = Partnership.objects.select_for_update().get(pk=partnership_id)
    if expected != retention_digest(partnership):
        raise StaleVersion
    errors: dict[str, str] = {}
    if not MIN_YEARS <= retention_years <= MAX_YEARS:
        errors["retention_years"] = _("Choose between %(min)d and %(max)d years.") % {
            "min": MIN_YEARS,
            "max": MAX_YEARS,
        }
    if retention_action not in RetentionAction.values:
        errors["retention_action"] = _("Choose to erase or to anonymise.")
    if errors:
        raise ValidationError(errors)
    before = {
        "retention_years": partnership.retention_years,
        "retention_action": partnership.retention_action,
    }
    after = {"retention_years": retention_years, "retention_action": retention_action}
    changed = sorted(k for k in after if before[k] != after[k])
    if not changed:
        return []
    Partnership.objects.filter(pk=partnership.pk).update(**after)
    audit_record(
        action=EventAction.AGREEMENT_CHANGE,
        actor=actor,
        obj=partnership,
        detail={
            "partnership": partnership.pk,
            "retention": {k: {"from": before[k], "to": after[k]} for k in changed},
        },
    )
    return changed


@transaction.atomic
def legal_hold_place(
    *,
    actor: User,
    case_id: Any = None,
    reference: str = "",
    reason: str,
    until: datetime.date,
) -> LegalHold:
    """Keep the case from retention until ``until`` (inclusive), saying why."""
    case = _case_for_hold(actor, case_id=case_id, reference=reference)
    reason = (reason or "").strip()
    errors: dict[str, str] = {}
    if not reason:
        errors["reason"] = _("Say why the case must be kept.")
    if until is None or until < timezone.localdate():
        errors["until"] = _("A hold must last until today or later.")
    if errors:
        raise ValidationError(errors)
    hold = LegalHold(case=case, reason=reason, until=until, placed_by=actor)
    hold.full_clean()
    hold.save()
    audit_record(
        action=EventAction.CREATE,
        actor=actor,
        case=case,
        obj=hold,
        detail={"legal_hold": "place", "until": until.isoformat(), "fields": ["reason", "until"]},
    )
    return hold


@transaction.atomic
def legal_hold_release(*, actor: User, hold_id: Any, case_id: Any = None) -> LegalHold:
    """End a hold before its date. A hold is reached only under its own case."""
    hold = hold_of_case(hold_id=hold_id, case_id=case_id)
    case = _case_for_hold(actor, case_id=hold.case_id)
    if hold.released_at is not None:
        raise ValidationError(_("This hold was already released."), code="released")
    hold.released_at = timezone.now()
    hold.released_by = actor
    LegalHold.objects.filter(pk=hold.pk).update(released_at=hold.released_at, released_by=actor)
    audit_record(
        action=EventAction.UPDATE,
        actor=actor,
        case=case,
        obj=hold,
        detail={"legal_hold": "release", "fields": ["released_at", "released_by"]},
    )
    return hold


# --- The daily job ----------------------------------------------------------------


@dataclass
class RetentionReport:
    """What one run did, by case id (ids only: this goes to logs)."""

    erased: list[int] = field(default_factory=list)
    anonymised: list[int] = field(default_factory=list)
    held: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)

    @property
    def done(self) -> int:
        return len(self.erased) + len(self.anonymised)


def _due_cases(on: datetime.date) -> Iterator[tuple[Case, bool]]:
    """(case, held) for every case past retention on ``on``, oldest closure first."""
    held = LegalHold.objects.filter(active_holds(on), case_id=OuterRef("pk"))
    for partnership in Partnership.objects.order_by("pk"):
        # A day of slack for 29 February; the exact date is checked below.
        cutoff = add_years(on, -partnership.retention_years) + datetime.timedelta(days=1)
        candidates = (
            Case.objects.filter(
                partnership=partnership,
                status__in=RETAINED_STATUSES,
                closed_on__isnull=False,
                closed_on__lte=cutoff,
                anonymised_at__isnull=True,
            )
            .annotate(held=Exists(held))
            .select_related("partnership")
            .order_by("closed_on", "pk")
        )
        for case in candidates:
            due = retention_due_on(case.closed_on, partnership.retention_years)
            if due is not None and due <= on:
                yield case, bool(case.held)  # type: ignore[attr-defined]


def retention_due(now: datetime.datetime | None = None) -> list[tuple[int, bool]]:
    """(case id, held) of the cases the job would handle now; ids only."""
    on = timezone.localdate(now) if now is not None else timezone.localdate()
    return [(case.pk, held) for case, held in _due_cases(on)]


def retention_run(now: datetime.datetime | None = None) -> RetentionReport:
    """Erase or anonymise every case past retention that no legal hold keeps.

    Each case in its own transaction (a failure leaves the others done and
    is reported); the case is locked and checked again inside it, so a
    second run, or two at once, do each case once.
    """
    on = timezone.localdate(now) if now is not None else timezone.localdate()
    report = RetentionReport()
    for case, held in list(_due_cases(on)):
        if held:
            report.held.append(case.pk)
            continue
        try:
            erase = case.partnership.retention_action == RetentionAction.ERASE
            with transaction.atomic():
                current = (
                    Case.objects.select_for_update()
                    .filter(
                        pk=case.pk,
                        status__in=RETAINED_STATUSES,
                        closed_on=case.closed_on,
                        anonymised_at__isnull=True,
                    )
                    .exists()
                )
                if not current:
                    continue  # another run got there first, or the case moved on
                if erase:
                    case_erase(case_id=case.pk, today=on)
                else:
                    case_anonymise(case_id=case.pk, today=on)
        except LegalHoldActive:
            report.held.append(case.pk)
            continue
        except Exception:
            # Ids only in the log: the exception text could quote case data.
            logger.error("retention: case %s could not be processed", case.pk)
            report.failed.append(case.pk)
            continue
        (report.erased if erase else report.anonymised).append(case.pk)
    if report.done or report.failed:
        logger.info(
            "retention: %d erased, %d anonymised, %d held, %d failed",
            len(report.erased),
            len(report.anonymised),
            len(report.held),
            len(report.failed),
        )
    return report
