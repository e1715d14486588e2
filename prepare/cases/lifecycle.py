"""The case lifecycle: which status may follow which, and who may move it.

This table is the one place transitions are decided; the services, the pages
and the API all ask it.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

from prepare.cases.models import CaseStatus

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
