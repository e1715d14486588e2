"""The lifecycle's rules: which status follows which, who may move a case, the
follow-up dates and the outcomes that close a triage."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

from prepare.cases.models import (
    Case,
    CaseOutcome,
    CaseStatus,
    KeyDateKind,
)

S = CaseStatus


@dataclass(frozen=True)
class Transition:
    source: str
    target: str
    label: object  # lazy translation
    coordinator_only: bool
    needs_outcome: bool = False


TRANSITIONS: tuple[Transition, ...] = (
    Transition(S.REFERRED, S.TRIAGE, _("Start triage"), coordinator_only=True),
    # Triage outcomes (see prepare.cases.services.triage_decide).
    Transition(S.TRIAGE, S.PRE_RELEASE, _("Open as a multi-agency case (in custody)"), True),
    Transition(S.TRIAGE, S.COMMUNITY, _("Open as a multi-agency case (in the community)"), True),
    Transition(S.TRIAGE, S.CLOSED, _("Close after triage"), True, needs_outcome=True),
    Transition(S.PRE_RELEASE, S.COMMUNITY, _("Released into the community"), False),
    Transition(S.COMMUNITY, S.PRE_RELEASE, _("Back in custody"), False),
    Transition(S.PRE_RELEASE, S.CLOSING, _("Propose closure"), False),
    Transition(S.COMMUNITY, S.CLOSING, _("Propose closure"), False),
    Transition(S.CLOSING, S.CLOSED, _("Approve closure"), True, needs_outcome=True),
    Transition(S.CLOSING, S.PRE_RELEASE, _("Keep the case open (in custody)"), True),
    Transition(S.CLOSING, S.COMMUNITY, _("Keep the case open (in the community)"), True),
    Transition(S.CLOSED, S.FOLLOW_UP, _("Start the follow-up review"), True),
    Transition(S.CLOSED, S.ARCHIVED, _("Archive"), True),
    Transition(S.FOLLOW_UP, S.CLOSED, _("Follow-up review done"), True),
    Transition(S.FOLLOW_UP, S.TRIAGE, _("Reopen: concerns again"), True),
    Transition(S.FOLLOW_UP, S.ARCHIVED, _("Archive"), True),
)

_BY_PAIR = {(t.source, t.target): t for t in TRANSITIONS}


def transition_for(source: str, target: str) -> Transition | None:
    return _BY_PAIR.get((source, target))


def transitions_from(source: str, *, coordinator: bool) -> list[Transition]:
    """The moves the user may offer from ``source``."""
    return [
        t for t in TRANSITIONS if t.source == source and (coordinator or not t.coordinator_only)
    ]


# The dates a referral may bring along.
REFERRAL_DATE_KINDS = (
    KeyDateKind.SENTENCE_START,
    KeyDateKind.EARLIEST_RELEASE,
    KeyDateKind.EXPECTED_RELEASE,
    KeyDateKind.SENTENCE_END,
)
TRIAGE_STATUSES = (CaseStatus.REFERRED, CaseStatus.TRIAGE)
ACTIVE_STATUSES = (CaseStatus.PRE_RELEASE, CaseStatus.COMMUNITY)

FOLLOW_UP_MONTHS = ((KeyDateKind.FOLLOW_UP_6, 6), (KeyDateKind.FOLLOW_UP_12, 12))

# The record of a transition (who, when, why) is in this category: whoever
# moves a case writes it, so they must be allowed to write it.

# Outcomes that only triage gives; a case closed later gets one of the others.
TRIAGE_OUTCOMES = frozenset({CaseOutcome.NO_ACTION, CaseOutcome.CRIMINAL_JUSTICE})


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


# Closure: a case moving into these statuses is being closed. Neither is allowed
# while a transfer of the case is pending (the sender withdraws it first).
CLOSURE_TARGETS = frozenset({CaseStatus.CLOSING, CaseStatus.CLOSED})

# A transfer moves a live case to the partnership the person moves to. A case
# that is closing (closure proposed), closed, in follow-up or archived is not
# transferred: neither proposed nor, if proposed before, accepted.
NOT_TRANSFERABLE = frozenset(
    {CaseStatus.CLOSING, CaseStatus.CLOSED, CaseStatus.FOLLOW_UP, CaseStatus.ARCHIVED}
)


def transfer_refusal(case: Case) -> str | None:
    """Why the case cannot be transferred now (a message), or None if it can.
    Asked when a transfer is proposed and again when it is accepted."""
    if case.anonymised_at is not None or case.status in NOT_TRANSFERABLE:
        return str(
            _(
                "A case that is closing, closed or archived is not transferred. "
                "Keep the case open first if the person moves."
            )
        )
    return None


def status_label(value: str) -> str:
    return str(CaseStatus(value).label) if value in CaseStatus.values else value
