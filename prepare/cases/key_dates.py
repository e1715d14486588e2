"""Setting a case's key dates (category ``justice``), by hand or by an integration."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from prepare.access.categories import Action, Category
from prepare.access.grants import case_grants_touch
from prepare.access.policy import WriteForbidden, get_case_or_404, grants_for, visible_cases
from prepare.accounts.models import User
from prepare.audit.models import EventAction
from prepare.audit.services import audit_record
from prepare.cases.models import Case, KeyDate, KeyDateKind
from prepare.locking import StaleVersion, VersionRequired, save_versioned


@transaction.atomic
def key_date_set(
    *,
    actor: User,
    case_id: int,
    kind: str,
    date: datetime.date,
    version: int | None,
    source: str = "",
) -> KeyDate:
    """Create a key date (``version`` None) or move it (``version`` = the one read).

    Moving a date without naming the version read raises ``VersionRequired``
    (428); naming a version for a date that is not set, or a stale one,
    ``StaleVersion`` (409). Needs write access to the case and to ``justice``.

    Moving the expected release moves the due dates of the release checklist
    in the same transaction; reminders follow because they are computed from
    the dates when they are due.
    """
    case = get_case_or_404(actor, case_id, Action.WRITE)
    if not grants_for(actor).may(case.partnership_id, Category.JUSTICE, Action.WRITE):
        raise WriteForbidden
    if kind not in KeyDateKind.values:
        raise ValidationError({"kind": _("Unknown kind of date.")})
    existing = KeyDate.objects.select_for_update().filter(case=case, kind=kind).first()
    now = timezone.now()
    if existing is None:
        if version is not None:
            raise StaleVersion
        key_date = KeyDate(
            case=case, kind=kind, date=date, source=source[:100], updated_by=actor, updated_at=now
        )
        key_date.full_clean()
        key_date.save()
        before = None
    else:
        if version is None:
            raise VersionRequired
        before = existing.date
        save_versioned(
            existing,
            version,
            {"date": date, "source": source[:100], "updated_by": actor, "updated_at": now},
        )
        key_date = existing
    if kind == KeyDateKind.EXPECTED_RELEASE and before != date:
        from prepare.plans.services import checklist_reschedule

        checklist_reschedule(case=case, release_on=date, actor=actor)
    _touch(case)
    audit_record(
        action=EventAction.CREATE if before is None else EventAction.UPDATE,
        actor=actor,
        case=case,
        obj=key_date,
        category=Category.JUSTICE,
        detail={
            "kind": kind,
            "fields": ["date"],
            "version": key_date.version,
            "source": source[:100],
        },
    )
    return key_date


def _touch(case: Case) -> None:
    case.updated_at = timezone.now()
    Case.objects.filter(pk=case.pk).update(updated_at=case.updated_at)
    case_grants_touch(case)


# --- Reading --------------------------------------------------------------------------


@dataclass
class KeyDates:
    """A case's key dates as one actor may see them."""

    case: Case
    dates: list[KeyDate]
    shared: bool  # justice is granted to the actor's organisation
    writable: bool  # the actor may set and move them

    @property
    def unset_kinds(self) -> list[tuple[str, str]]:
        taken = {d.kind for d in self.dates}
        return [(k, str(label)) for k, label in KeyDateKind.choices if k not in taken]


def may_write_dates(actor: User, case: Case) -> bool:
    return (
        grants_for(actor).may(case.partnership_id, Category.JUSTICE, Action.WRITE)
        and visible_cases(actor, Action.WRITE).filter(pk=case.pk).exists()
    )


def key_dates_read(*, actor: User, case_id: object, view: str = "key_dates") -> KeyDates:
    """The key dates of the case (category justice); one view event."""
    case = get_case_or_404(actor, case_id)
    dates = list(KeyDate.objects.visible_to(actor).filter(case_id=case.pk).order_by("date", "kind"))
    shared = grants_for(actor).may(case.partnership_id, Category.JUSTICE) or bool(dates)
    audit_record(
        action=EventAction.VIEW,
        actor=actor,
        case=case,
        obj=case,
        category=Category.JUSTICE if dates else "",
        detail={"view": view, "key_dates": [d.pk for d in dates]},
    )
    return KeyDates(
        case=case, dates=dates, shared=shared, writable=shared and may_write_dates(actor, case)
    )
