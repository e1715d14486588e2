"""Moving a case through its lifecycle (rules in ``prepare.cases.lifecycle``)."""

from __future__ import annotations

import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from prepare.access.categories import Action
from prepare.access.grants import case_grants_touch
from prepare.access.policy import WriteForbidden, get_case_or_404, grants_for
from prepare.accounts.models import User
from prepare.audit.models import EventAction
from prepare.audit.services import audit_record
from prepare.cases.lifecycle import transition_for
from prepare.cases.models import Case, CaseOutcome, CaseStatus, CaseTransition, KeyDate, KeyDateKind
from prepare.locking import save_versioned

FOLLOW_UP_MONTHS = ((KeyDateKind.FOLLOW_UP_6, 6), (KeyDateKind.FOLLOW_UP_12, 12))


class TransitionRefused(ValidationError):
    """This status change is not allowed; nothing was changed."""


def add_months(day: datetime.date, months: int) -> datetime.date:
    month = day.month - 1 + months
    year = day.year + month // 12
    month = month % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return day.replace(year=year, month=month, day=min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable")


@transaction.atomic
def case_transition(
    *,
    actor: User,
    case_id: int,
    to_status: str,
    reason: str,
    version: int,
    outcome: str = "",
) -> Case:
    """Move the case to ``to_status``, recording who, when and why.

    Refuses (``TransitionRefused``) a move the lifecycle does not allow, a
    coordinator's move by someone else (``WriteForbidden``), a closure without
    an outcome, and a stale ``version`` (``StaleVersion``): in each case
    nothing changes.
    """
    case = get_case_or_404(actor, case_id, Action.WRITE)
    rule = transition_for(case.status, to_status)
    if rule is None:
        raise TransitionRefused(
            _("A case that is “%(source)s” cannot become “%(target)s”.")
            % {
                "source": CaseStatus(case.status).label,
                "target": CaseStatus(to_status).label
                if to_status in CaseStatus.values
                else to_status,
            },
            code="transition_not_allowed",
        )
    if rule.coordinator_only and not grants_for(actor).coordinates(case.partnership_id):
        raise WriteForbidden
    reason = (reason or "").strip()
    if not reason:
        raise TransitionRefused(_("Say why the status changes."), code="reason_required")
    fields: dict[str, object] = {"status": to_status, "updated_at": timezone.now()}
    if rule.needs_outcome:
        if outcome not in CaseOutcome.values:
            raise TransitionRefused(
                _("Choose the outcome of the case to close it."), code="outcome_required"
            )
        fields["outcome"] = outcome
        fields["closed_on"] = timezone.localdate()
    source = case.status
    save_versioned(case, version, fields)
    CaseTransition.objects.create(
        case=case, from_status=source, to_status=to_status, reason=reason, actor=actor
    )
    if rule.needs_outcome:
        _schedule_follow_up(case, actor)
    case_grants_touch(case)
    audit_record(
        action=EventAction.UPDATE,
        actor=actor,
        case=case,
        obj=case,
        detail={
            "fields": sorted(fields),
            "from": source,
            "to": to_status,
            "outcome": fields.get("outcome", ""),
            "version": case.version,
        },
    )
    return case


def _schedule_follow_up(case: Case, actor: User) -> None:
    """Follow-up reviews 6 and 12 months after closure."""
    closed = case.closed_on or timezone.localdate()
    for kind, months in FOLLOW_UP_MONTHS:
        KeyDate.objects.update_or_create(
            case=case,
            kind=kind,
            defaults={
                "date": add_months(closed, months),
                "updated_by": actor,
                "updated_at": timezone.now(),
                "source": "closure",
            },
        )
