"""The lifecycle table, enforced by ``case_transition``: every allowed move
works and is recorded, every other is refused and changes nothing."""

from __future__ import annotations

import datetime
import itertools

import pytest
from django.utils import timezone

from prepare.access.errors import WriteForbidden
from prepare.access.grants import case_grants_touch
from prepare.audit.models import Event
from prepare.cases.lifecycle.rules import (
    TRANSITIONS,
    add_months,
    outcomes_for,
    transition_for,
    transitions_from,
)
from prepare.cases.lifecycle.services import TransitionRefused, case_transition
from prepare.cases.models import (
    Case,
    CaseOutcome,
    CaseStatus,
    CaseTransition,
    KeyDate,
    KeyDateKind,
)
from prepare.locking import StaleVersion

pytestmark = pytest.mark.django_db

ALLOWED = {(t.source, t.target) for t in TRANSITIONS}
REFUSED = [
    (a, b) for a, b in itertools.product(CaseStatus.values, repeat=2) if (a, b) not in ALLOWED
]


def put_in(case: Case, status: str) -> Case:
    Case.objects.filter(pk=case.pk).update(status=status)
    case.refresh_from_db()
    case_grants_touch(case)
    return case


def state(case: Case) -> tuple:
    case.refresh_from_db()
    return (
        case.status,
        case.version,
        case.outcome,
        case.closed_on,
        CaseTransition.objects.count(),
        KeyDate.objects.count(),
        Event.objects.count(),
    )


def test_the_table_covers_every_status():
    sources = {t.source for t in TRANSITIONS}
    targets = {t.target for t in TRANSITIONS}
    assert sources | targets == set(CaseStatus.values)
    assert len(ALLOWED) == len(TRANSITIONS)  # no pair twice
    assert len(REFUSED) == len(CaseStatus.values) ** 2 - len(TRANSITIONS)


@pytest.mark.parametrize("rule", TRANSITIONS, ids=lambda t: f"{t.source}-{t.target}")
def test_every_allowed_transition_works_and_is_recorded(cast, rule):
    case = put_in(cast.case, rule.source)
    version = case.version
    outcome = outcomes_for(rule)[0][0] if rule.needs_outcome else ""

    moved = case_transition(
        actor=cast.coordinator,
        case_id=case.pk,
        to_status=rule.target,
        reason="Because the review said so",
        version=version,
        outcome=outcome,
    )

    case.refresh_from_db()
    assert moved.pk == case.pk
    assert (case.status, case.version) == (rule.target, version + 1)
    record = CaseTransition.objects.get(case=case)
    assert (record.from_status, record.to_status, record.actor_id) == (
        rule.source,
        rule.target,
        cast.coordinator.pk,
    )
    assert record.reason == "Because the review said so"
    event = Event.objects.filter(case_id=case.pk, action="update", object_type="cases.case").get()
    assert event.detail["from"] == rule.source and event.detail["to"] == rule.target
    assert event.detail["transition"] == record.pk
    assert event.category == "meetings"
    assert "Because" not in str(event.detail)  # ids and names only
    if rule.needs_outcome:
        assert case.outcome == outcome
        assert case.closed_on == timezone.localdate()


@pytest.mark.parametrize(("source", "target"), REFUSED, ids=lambda v: str(v))
def test_every_other_transition_is_refused_and_changes_nothing(cast, source, target):
    case = put_in(cast.case, source)
    before = state(case)

    with pytest.raises(TransitionRefused) as refused:
        case_transition(
            actor=cast.coordinator,
            case_id=case.pk,
            to_status=target,
            reason="Trying",
            version=case.version,
            outcome=CaseOutcome.OTHER,
        )

    assert refused.value.code == "transition_not_allowed"
    message = " ".join(refused.value.messages)
    assert str(CaseStatus(source).label) in message
    assert str(CaseStatus(target).label) in message
    assert state(case) == before


def test_an_unknown_status_is_refused_by_name(cast):
    before = state(cast.case)
    with pytest.raises(TransitionRefused, match="“nowhere”"):
        case_transition(
            actor=cast.coordinator,
            case_id=cast.case.pk,
            to_status="nowhere",
            reason="x",
            version=1,
        )
    assert state(cast.case) == before


# --- Who may move a case -------------------------------------------------------------


def test_case_manager_makes_the_teams_moves(cast):
    case = cast.case  # pre-release; probation is on the team and writes meetings
    moves = {t.target for t in transitions_from(case.status, coordinator=False)}
    assert moves == {CaseStatus.COMMUNITY, CaseStatus.CLOSING}

    case_transition(
        actor=cast.case_manager,
        case_id=case.pk,
        to_status=CaseStatus.CLOSING,
        reason="Sentence served, goals met",
        version=1,
    )

    case.refresh_from_db()
    assert case.status == CaseStatus.CLOSING


def test_only_the_coordinator_approves_a_closure(cast):
    case = put_in(cast.case, CaseStatus.CLOSING)
    before = state(case)
    with pytest.raises(WriteForbidden):
        case_transition(
            actor=cast.case_manager,
            case_id=case.pk,
            to_status=CaseStatus.CLOSED,
            reason="Done",
            version=case.version,
            outcome=CaseOutcome.REINTEGRATED,
        )
    assert state(case) == before


@pytest.mark.parametrize("actor", ["police_on_team", "ngo_mentor"])
def test_team_members_who_may_not_write_meetings_cannot_move_the_case(cast, actor):
    # The police write risk and intelligence, the NGO interventions: both may
    # write on the case, neither may write the record of a status change.
    before = state(cast.case)
    with pytest.raises(WriteForbidden):
        case_transition(
            actor=cast.actors[actor],
            case_id=cast.case.pk,
            to_status=CaseStatus.COMMUNITY,
            reason="Released",
            version=1,
        )
    assert state(cast.case) == before


@pytest.mark.parametrize("actor", ["police_off_team", "auditor", "outsider"])
def test_who_does_not_see_the_case_gets_404(cast, actor):
    from django.http import Http404

    before = state(cast.case)
    with pytest.raises(Http404):
        case_transition(
            actor=cast.actors[actor],
            case_id=cast.case.pk,
            to_status=CaseStatus.COMMUNITY,
            reason="Released",
            version=1,
        )
    assert state(cast.case) == before


# --- Rules on the way -------------------------------------------------------------------


def test_a_reason_is_required(cast):
    before = state(cast.case)
    with pytest.raises(TransitionRefused) as refused:
        case_transition(
            actor=cast.case_manager,
            case_id=cast.case.pk,
            to_status=CaseStatus.COMMUNITY,
            reason="   ",
            version=1,
        )
    assert refused.value.code == "reason_required"
    assert state(cast.case) == before


def test_a_stale_version_is_refused_before_the_rules(cast):
    # Someone moved the case meanwhile: the user's move reads as a conflict,
    # not as a move the lifecycle forbids.
    case_transition(
        actor=cast.case_manager,
        case_id=cast.case.pk,
        to_status=CaseStatus.COMMUNITY,
        reason="Released today",
        version=1,
    )
    before = state(cast.case)
    with pytest.raises(StaleVersion):
        case_transition(
            actor=cast.coordinator,
            case_id=cast.case.pk,
            to_status=CaseStatus.COMMUNITY,
            reason="Released",
            version=1,
        )
    assert state(cast.case) == before


@pytest.mark.parametrize("outcome", ["", "no_action", "nonsense"])
def test_closure_needs_an_outcome_of_its_kind(cast, outcome):
    # "No action" is for triage; a closing case ends with one of the others.
    case = put_in(cast.case, CaseStatus.CLOSING)
    before = state(case)
    with pytest.raises(TransitionRefused) as refused:
        case_transition(
            actor=cast.coordinator,
            case_id=case.pk,
            to_status=CaseStatus.CLOSED,
            reason="Done",
            version=case.version,
            outcome=outcome,
        )
    assert refused.value.code == "outcome_required"
    assert state(case) == before


def test_closure_sets_the_outcome_and_schedules_follow_up_reviews(cast):
    case = put_in(cast.case, CaseStatus.CLOSING)
    today = timezone.localdate()

    case_transition(
        actor=cast.coordinator,
        case_id=case.pk,
        to_status=CaseStatus.CLOSED,
        reason="Reintegrated: work and housing stable",
        version=case.version,
        outcome=CaseOutcome.REINTEGRATED,
    )

    case.refresh_from_db()
    assert (case.status, case.outcome, case.closed_on) == ("closed", "reintegrated", today)
    dates = dict(KeyDate.objects.filter(case=case).values_list("kind", "date"))
    assert dates == {
        KeyDateKind.FOLLOW_UP_6: add_months(today, 6),
        KeyDateKind.FOLLOW_UP_12: add_months(today, 12),
    }
    logged = Event.objects.filter(case_id=case.pk, object_type="cases.keydate", action="create")
    assert sorted(e.detail["kind"] for e in logged) == ["follow_up_12", "follow_up_6"]
    assert {e.category for e in logged} == {"justice"}


def test_reopening_clears_the_closure_and_a_second_closure_moves_the_reviews(cast):
    case = put_in(cast.case, CaseStatus.CLOSING)
    case_transition(
        actor=cast.coordinator,
        case_id=case.pk,
        to_status=CaseStatus.CLOSED,
        reason="Done",
        version=case.version,
        outcome=CaseOutcome.REINTEGRATED,
    )
    six = KeyDate.objects.get(case=case, kind=KeyDateKind.FOLLOW_UP_6)
    KeyDate.objects.filter(pk=six.pk).update(date=datetime.date(2000, 1, 1))
    case.refresh_from_db()
    for target in (CaseStatus.FOLLOW_UP, CaseStatus.TRIAGE):
        case = case_transition(
            actor=cast.coordinator,
            case_id=case.pk,
            to_status=target,
            reason="Concerns again",
            version=case.version,
        )
    case.refresh_from_db()
    assert (case.status, case.outcome, case.closed_on) == ("triage", "", None)

    case = case_transition(
        actor=cast.coordinator,
        case_id=case.pk,
        to_status=CaseStatus.CLOSED,
        reason="No further action",
        version=case.version,
        outcome=CaseOutcome.NO_ACTION,
    )
    six.refresh_from_db()
    assert six.date == add_months(timezone.localdate(), 6)
    assert six.version == 2  # moved: an edit based on the old date is stale


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (datetime.date(2026, 1, 31), 6, datetime.date(2026, 7, 31)),
        (datetime.date(2026, 8, 31), 6, datetime.date(2027, 2, 28)),
        (datetime.date(2027, 8, 31), 6, datetime.date(2028, 2, 29)),
        (datetime.date(2026, 12, 15), 12, datetime.date(2027, 12, 15)),
    ],
)
def test_add_months_keeps_to_the_month_end(day, months, expected):
    assert add_months(day, months) == expected


def test_outcomes_offered_depend_on_the_move():
    after_triage = transition_for(CaseStatus.TRIAGE, CaseStatus.CLOSED)
    approval = transition_for(CaseStatus.CLOSING, CaseStatus.CLOSED)
    assert after_triage is not None and approval is not None
    assert {v for v, _ in outcomes_for(after_triage)} == {"no_action", "criminal_justice", "other"}
    assert {v for v, _ in outcomes_for(approval)} == {
        "reintegrated",
        "reoffended",
        "moved",
        "sentence_ended",
        "died",
        "other",
    }
