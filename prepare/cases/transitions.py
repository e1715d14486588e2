"""Moving a case through its lifecycle (rules in ``prepare.cases.lifecycle``)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from prepare.access.categories import Action, Category
from prepare.access.grants import case_grants_touch
from prepare.access.policy import WriteForbidden, get_case_or_404, grants_for, visible_cases
from prepare.accounts.models import User
from prepare.audit.models import EventAction
from prepare.audit.services import audit_record
from prepare.cases.lifecycle import Transition, transition_for, transitions_from
from prepare.cases.models import (
    ENDED_STATUSES,
    Case,
    CaseOutcome,
    CaseStatus,
    CaseTransition,
    KeyDate,
    KeyDateKind,
    TriageDecision,
)
from prepare.locking import StaleVersion, save_versioned

FOLLOW_UP_MONTHS = ((KeyDateKind.FOLLOW_UP_6, 6), (KeyDateKind.FOLLOW_UP_12, 12))

# The record of a transition (who, when, why) is in this category: whoever
# moves a case writes it, so they must be allowed to write it.
TRANSITION_CATEGORY = Category.MEETINGS

# Outcomes that only triage gives; a case closed later gets one of the others.
TRIAGE_OUTCOMES = frozenset({CaseOutcome.NO_ACTION, CaseOutcome.CRIMINAL_JUSTICE})


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


def outcomes_for(rule: Transition) -> list[tuple[str, str]]:
    """The outcomes a closing move offers: triage closes for its own reasons."""
    if not rule.needs_outcome:
        return []
    after_triage = rule.source == CaseStatus.TRIAGE
    return [
        (value, str(label))
        for value, label in CaseOutcome.choices
        if value == CaseOutcome.OTHER or (value in TRIAGE_OUTCOMES) is after_triage
    ]


def may_move(actor: User, case: Case) -> bool:
    """Whether the actor may change the status of a case they may write."""
    return grants_for(actor).may(case.partnership_id, TRANSITION_CATEGORY, Action.WRITE)


def status_label(value: str) -> str:
    return str(CaseStatus(value).label) if value in CaseStatus.values else value


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

    Checks, in this order, each leaving everything as it was: the case is
    visible (404) and writable (403) to the actor, who may write the record
    of the move (403); the version is the current one (``StaleVersion``,
    before the rules, so that a status changed meanwhile reads as a
    conflict); the lifecycle allows the move (``TransitionRefused``); a
    coordinator's move is made by the coordinator (403); a reason is given
    and a closure names its outcome (``TransitionRefused``).
    """
    case = get_case_or_404(actor, case_id, Action.WRITE)
    if not may_move(actor, case):
        raise WriteForbidden
    if case.version != version:
        raise StaleVersion
    rule = transition_for(case.status, to_status)
    if rule is None:
        raise TransitionRefused(
            _("A case that is “%(source)s” cannot become “%(target)s”.")
            % {"source": status_label(case.status), "target": status_label(to_status)},
            code="transition_not_allowed",
        )
    if rule.coordinator_only and not grants_for(actor).coordinates(case.partnership_id):
        raise WriteForbidden
    reason = (reason or "").strip()
    if not reason:
        raise TransitionRefused(_("Say why the status changes."), code="reason_required")
    if len(reason) > 5000:
        raise TransitionRefused(_("Keep the reason under 5000 characters."), code="reason_too_long")
    fields: dict[str, object] = {"status": to_status, "updated_at": timezone.now()}
    if rule.needs_outcome:
        if outcome not in {value for value, _label in outcomes_for(rule)}:
            raise TransitionRefused(
                _("Choose the outcome of the case to close it."), code="outcome_required"
            )
        fields["outcome"] = outcome
        fields["closed_on"] = timezone.localdate()
    elif case.status in ENDED_STATUSES and to_status not in ENDED_STATUSES:
        # Reopened: the earlier closure no longer describes the case.
        fields["outcome"] = ""
        fields["closed_on"] = None
    source = case.status
    save_versioned(case, version, fields)
    move = CaseTransition.objects.create(
        case=case, from_status=source, to_status=to_status, reason=reason, actor=actor
    )
    case_grants_touch(case)
    audit_record(
        action=EventAction.UPDATE,
        actor=actor,
        case=case,
        obj=case,
        category=TRANSITION_CATEGORY,
        detail={
            "fields": sorted(fields),
            "from": source,
            "to": to_status,
            "outcome": fields.get("outcome", ""),
            "transition": move.pk,
            "version": case.version,
        },
    )
    if rule.needs_outcome:
        _schedule_follow_up(case, actor)
    return case


def _schedule_follow_up(case: Case, actor: User) -> None:
    """Follow-up reviews 6 and 12 months after closure, each written and logged."""
    closed = case.closed_on or timezone.localdate()
    now = timezone.now()
    for kind, months in FOLLOW_UP_MONTHS:
        day = add_months(closed, months)
        existing = KeyDate.objects.select_for_update().filter(case=case, kind=kind).first()
        if existing is None:
            key_date = KeyDate.objects.create(
                case=case, kind=kind, date=day, updated_by=actor, updated_at=now, source="closure"
            )
            action = EventAction.CREATE
        else:
            # A second closure (after a reopening) moves the reviews: a new
            # version, so that an edit based on the old one is refused.
            KeyDate.objects.filter(pk=existing.pk).update(
                date=day,
                updated_by=actor,
                updated_at=now,
                source="closure",
                version=F("version") + 1,
            )
            existing.refresh_from_db()
            key_date = existing
            action = EventAction.UPDATE
        audit_record(
            action=action,
            actor=actor,
            case=case,
            obj=key_date,
            category=Category.JUSTICE,
            detail={
                "kind": kind,
                "fields": ["date"],
                "version": key_date.version,
                "source": "closure",
            },
        )


# --- Reading the lifecycle of a case ---------------------------------------------------


@dataclass
class Lifecycle:
    """What the lifecycle section shows one actor."""

    case: Case
    moves: list[Transition]
    history: list[CaseTransition]
    decisions: list[TriageDecision]
    history_shared: bool

    @property
    def can_move(self) -> bool:
        return bool(self.moves)


def lifecycle_read(*, actor: User, case_id: object, view: str = "lifecycle") -> Lifecycle:
    """The case's status, the moves the actor may make, and the history the
    agreement shows them (category meetings); one view event."""
    case = get_case_or_404(actor, case_id)
    g = grants_for(actor)
    pid = case.partnership_id
    moves: list[Transition] = []
    if may_move(actor, case) and visible_cases(actor, Action.WRITE).filter(pk=case.pk).exists():
        moves = transitions_from(case.status, coordinator=g.coordinates(pid))
    history = list(
        CaseTransition.objects.visible_to(actor)
        .filter(case_id=case.pk)
        .select_related("actor__organisation")
    )
    decisions = list(
        TriageDecision.objects.visible_to(actor)
        .filter(case_id=case.pk)
        .select_related("decided_by__organisation")
    )
    shared = g.may(pid, TRANSITION_CATEGORY) or bool(history) or bool(decisions)
    audit_record(
        action=EventAction.VIEW,
        actor=actor,
        case=case,
        obj=case,
        category=TRANSITION_CATEGORY if history or decisions else "",
        detail={
            "view": view,
            "transitions": [t.pk for t in history],
            "triage_decisions": [d.pk for d in decisions],
            "version": case.version,
        },
    )
    return Lifecycle(
        case=case, moves=moves, history=history, decisions=decisions, history_shared=shared
    )
