"""The status section of the case page and its moves."""

from __future__ import annotations

import pytest
from django.urls import reverse

from prepare.audit.models import Event
from prepare.cases.lifecycle.services import case_transition
from prepare.cases.models import Case, CaseStatus, CaseTransition

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}
REASON = "MOVE-REASON-5521"


def section(case):
    return reverse("cases:lifecycle_section", args=[case.pk])


def move(case):
    return reverse("cases:transition", args=[case.pk])


def moved_once(cast):
    case_transition(
        actor=cast.case_manager,
        case_id=cast.case.pk,
        to_status=CaseStatus.COMMUNITY,
        reason=REASON,
        version=1,
    )


def state(case):
    case.refresh_from_db()
    return (case.status, case.version, CaseTransition.objects.count())


def test_the_section_is_a_fragment_for_htmx_and_a_page_otherwise(cast, as_user):
    client = as_user(cast.case_manager)
    fragment = client.get(section(cast.case), headers=HTMX)
    page = client.get(section(cast.case))
    assert fragment.status_code == page.status_code == 200
    assert "<html" not in fragment.content.decode()
    assert "<html" in page.content.decode()
    assert fragment["Vary"] and "HX-Request" in fragment["Vary"]


def test_the_case_manager_sees_the_teams_moves_and_the_history(cast, as_user):
    moved_once(cast)
    body = as_user(cast.case_manager).get(section(cast.case), headers=HTMX).content.decode()
    assert REASON in body
    # From "in the community": back in custody, or propose closure; the
    # coordinator's moves are not offered.
    assert 'name="to_status" value="pre_release"' in body
    assert 'name="to_status" value="closing"' in body
    assert 'name="version" value="2"' in body
    viewed = Event.objects.get(action="view", case_id=cast.case.pk)
    assert viewed.detail["view"] == "lifecycle"
    assert viewed.detail["transitions"] == [CaseTransition.objects.get().pk]
    assert viewed.category == "meetings"


def test_the_coordinator_is_offered_the_coordinators_moves(cast, as_user):
    Case.objects.filter(pk=cast.case.pk).update(status=CaseStatus.CLOSING)
    body = as_user(cast.coordinator).get(section(cast.case)).content.decode()
    assert 'name="to_status" value="closed"' in body
    assert 'name="outcome"' in body
    assert "no_action" not in body  # a triage outcome, not a closure's


def test_who_reads_meetings_sees_the_reasons_but_cannot_move(cast, as_user):
    moved_once(cast)
    body = as_user(cast.police_on_team).get(section(cast.case)).content.decode()
    assert REASON in body
    assert 'name="to_status"' not in body


def test_who_does_not_read_meetings_sees_the_status_only(cast, as_user):
    moved_once(cast)
    response = as_user(cast.ngo_mentor).get(section(cast.case), headers=HTMX)
    body = response.content.decode()
    assert response.status_code == 200
    assert REASON not in body
    assert "Active: in the community" in body
    assert "not shared with your organisation" in body
    assert 'name="to_status"' not in body
    viewed = Event.objects.get(action="view", case_id=cast.case.pk)
    assert viewed.detail["transitions"] == [] and viewed.category == ""


@pytest.mark.parametrize("actor", ["police_off_team", "outsider", "auditor"])
def test_who_does_not_see_the_case_gets_404(cast, as_user, actor):
    assert as_user(cast.actors[actor]).get(section(cast.case)).status_code == 404


@pytest.mark.parametrize("history", [0, 15])
def test_section_query_count(cast, as_user, django_assert_num_queries, history):
    case = cast.case
    for i in range(history):
        target = CaseStatus.COMMUNITY if i % 2 == 0 else CaseStatus.PRE_RELEASE
        case = case_transition(
            actor=cast.case_manager,
            case_id=case.pk,
            to_status=target,
            reason=f"r{i}",
            version=case.version,
        )
    client = as_user(cast.case_manager)
    client.get(section(case))

    # session, user, device; grants (1); case; write check; transitions;
    # triage decisions; what is still open, for the closure proposal the case
    # manager may make (one bounded query per group: key dates, checklist,
    # signals) and a pending transfer; audit (stored, access index, then check,
    # head, seal, head update); the navigation's counts; the request's
    # transaction (2).
    with django_assert_num_queries(20):
        response = client.get(section(case), headers=HTMX)
    assert response.status_code == 200
    assert response.content.decode().count("<tr>") == history + (1 if history else 0)


# --- Moves ------------------------------------------------------------------------------


def test_a_move_changes_the_status_and_goes_back_to_the_case(cast, as_user):
    response = as_user(cast.case_manager).post(
        move(cast.case),
        {"confirm": "on", "to_status": "community", "reason": REASON, "version": "1"},
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("cases:case", args=[cast.case.pk]) + "#lifecycle"
    assert state(cast.case) == ("community", 2, 1)
    event = Event.objects.get(action="update", case_id=cast.case.pk)
    assert event.actor_id == cast.case_manager.pk


def test_a_move_over_htmx_tells_the_browser_where_to_go(cast, as_user):
    response = as_user(cast.case_manager).post(
        move(cast.case),
        {"confirm": "on", "to_status": "community", "reason": REASON, "version": "1"},
        headers=HTMX,
    )
    assert response.status_code == 200
    assert response["HX-Redirect"].endswith("#lifecycle")


def test_a_stale_move_is_a_conflict_that_keeps_the_reason(cast, as_user):
    moved_once(cast)  # now in the community, version 2
    response = as_user(cast.coordinator).post(
        move(cast.case),
        {"confirm": "on", "to_status": "closing", "reason": "TYPED-WHY-31", "version": "1"},
    )
    body = response.content.decode()
    assert response.status_code == 409
    assert "Someone else changed" in body
    assert "TYPED-WHY-31" in body
    assert 'name="version" value="2"' in body
    assert state(cast.case) == ("community", 2, 1)


def test_a_move_the_lifecycle_forbids_is_refused_with_its_reason(cast, as_user):
    before = state(cast.case)
    response = as_user(cast.coordinator).post(
        move(cast.case),
        {"confirm": "on", "to_status": "archived", "reason": "Tidy up", "version": "1"},
    )
    assert response.status_code == 422
    assert "cannot become" in response.content.decode()
    assert state(cast.case) == before
    assert not Event.objects.filter(action="update").exists()


def test_a_move_without_a_reason_is_refused(cast, as_user):
    before = state(cast.case)
    response = as_user(cast.case_manager).post(
        move(cast.case), {"confirm": "on", "to_status": "community", "reason": "", "version": "1"}
    )
    assert response.status_code == 422
    assert state(cast.case) == before


def test_a_move_without_a_version_is_refused(cast, as_user):
    before = state(cast.case)
    response = as_user(cast.case_manager).post(
        move(cast.case), {"confirm": "on", "to_status": "community", "reason": REASON}
    )
    assert response.status_code == 428
    assert state(cast.case) == before


def test_a_closure_needs_its_outcome(cast, as_user):
    Case.objects.filter(pk=cast.case.pk).update(status=CaseStatus.CLOSING)
    client = as_user(cast.coordinator)
    refused = client.post(
        move(cast.case), {"confirm": "on", "to_status": "closed", "reason": "Done", "version": "1"}
    )
    assert refused.status_code == 422
    assert state(cast.case) == ("closing", 1, 0)
    done = client.post(
        move(cast.case),
        {
            "confirm": "on",
            "to_status": "closed",
            "reason": "Done",
            "version": "1",
            "outcome": "sentence_ended",
        },
    )
    assert done.status_code == 302
    cast.case.refresh_from_db()
    assert (cast.case.status, cast.case.outcome) == ("closed", "sentence_ended")
    assert cast.case.closed_on is not None


def test_the_coordinators_move_is_forbidden_to_the_case_manager(cast, as_user):
    Case.objects.filter(pk=cast.case.pk).update(status=CaseStatus.CLOSING)
    response = as_user(cast.case_manager).post(
        move(cast.case),
        {
            "confirm": "on",
            "to_status": "closed",
            "reason": "Done",
            "version": "1",
            "outcome": "reintegrated",
        },
    )
    assert response.status_code == 403
    assert state(cast.case) == ("closing", 1, 0)


@pytest.mark.parametrize(
    ("actor", "status"),
    [("police_on_team", 403), ("ngo_mentor", 403), ("police_off_team", 404), ("outsider", 404)],
)
def test_who_may_not_write_meetings_cannot_move(cast, as_user, actor, status):
    before = state(cast.case)
    response = as_user(cast.actors[actor]).post(
        move(cast.case),
        {"confirm": "on", "to_status": "community", "reason": REASON, "version": "1"},
    )
    assert response.status_code == status
    assert state(cast.case) == before


def test_a_case_waiting_for_triage_links_the_coordinator_to_the_triage_page(cast, as_user):
    Case.objects.filter(pk=cast.case.pk).update(status=CaseStatus.REFERRED)
    link = reverse("cases:triage_decide", args=[cast.case.pk])
    coordinator = as_user(cast.coordinator).get(section(cast.case)).content.decode()
    manager = as_user(cast.case_manager).get(section(cast.case)).content.decode()
    assert link in coordinator
    assert 'name="to_status" value="triage"' in coordinator
    assert link not in manager
    assert 'name="to_status"' not in manager  # every move from "referred" is the coordinator's
