"""API of triage: the coordinator's queue, the triage view and the decision."""

from __future__ import annotations

import datetime
import json

import pytest
from django.urls import reverse
from django.utils import timezone

from prepare.access.grants import case_grants_rebuild
from prepare.audit.models import Event, EventAction
from prepare.cases.lifecycle.services import triage_decide
from prepare.cases.models import (
    Case,
    CaseStatus,
    CaseTeamMember,
    CaseTransition,
    Referral,
    TriageDecision,
)
from tests.api.conftest import API, token_client
from tests.factories import PersonFactory

pytestmark = pytest.mark.django_db

QUEUE = f"{API}/triage/"
REASON = "API-TRIAGE-REASON-5c1"


def send(client, method, url, data=None, **headers):
    return client.generic(
        method, url, json.dumps(data or {}), content_type="application/json", headers=headers
    )


def referred_case(cast, days_ago=0, partnership=None, status=CaseStatus.REFERRED, team=()):
    case = Case.objects.create(
        person=PersonFactory(given_name="Queued", family_name=f"Person{Case.objects.count()}"),
        partnership=partnership or cast.partnership,
        reference=f"Q-{Case.objects.count() + 1:05d}",
        status=status,
        opened_on=timezone.localdate() - datetime.timedelta(days=days_ago),
    )
    for organisation in team:
        CaseTeamMember.objects.create(case=case, organisation=organisation, purpose="Triage")
    case_grants_rebuild(case)
    return case


def triage_url(case):
    return f"{API}/cases/{case.pk}/triage/"


def decision(**changes):
    data = {"outcome": "more_information", "reasons": REASON, "version": 1}
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def state(case):
    case.refresh_from_db()
    return {
        "case": (case.status, case.outcome, case.closed_on, case.version),
        "decisions": list(TriageDecision.objects.values_list("pk", "outcome")),
        "moves": list(CaseTransition.objects.values_list("pk", "to_status")),
    }


# --- The queue -------------------------------------------------------------------------------


def test_the_queue_lists_the_coordinators_waiting_cases_oldest_first(cast):
    newer = referred_case(cast, days_ago=1)
    older = referred_case(cast, days_ago=9, status=CaseStatus.TRIAGE)
    elsewhere = referred_case(cast, days_ago=30, partnership=cast.other_partnership)
    referral = Referral.objects.create(
        case=newer,
        referrer_type="police",
        referring_organisation=cast.orgs["police"],
        reason=REASON,
        created_by=cast.coordinator,
    )

    response = token_client(cast.coordinator).get(QUEUE)

    assert response.status_code == 200
    body = response.json()
    assert (body["count"], body["count_capped"], body["next"]) == (2, False, None)
    assert [row["id"] for row in body["results"]] == [older.pk, newer.pk]
    first, second = body["results"]
    assert (first["status"], first["waiting_days"], first["version"]) == ("triage", 9, 1)
    assert first["referral"] is None
    assert second["person"] == {"given_name": "Queued", "family_name": newer.person.family_name}
    assert second["referral"] == {
        "referrer_type": "police",
        "referring_organisation": {"id": cast.orgs["police"].pk, "name": "Police Testdam"},
        "received_on": referral.received_on.isoformat(),
    }
    text = response.content.decode()
    assert elsewhere.reference not in text
    assert cast.case.reference not in text  # active: not waiting
    assert REASON not in text  # the queue names who referred, not why
    listed = Event.objects.get(action="list")
    assert listed.case_ids == sorted([newer.pk, older.pk])
    assert listed.detail == {"view": "api_triage_queue", "page": 1, "referrals": [referral.pk]}
    assert (listed.actor_id, listed.category) == (cast.coordinator.pk, "identity")
    assert listed.request_id == response["X-Request-ID"]


def test_the_queue_shows_no_referral_whose_category_is_not_granted(cast):
    case = referred_case(cast)
    Referral.objects.create(
        case=case,
        referrer_type="police",
        reason=REASON,
        category="intelligence",
        created_by=cast.coordinator,
    )
    body = token_client(cast.coordinator).get(QUEUE).json()
    assert [(r["id"], r["referral"]) for r in body["results"]] == [(case.pk, None)]
    assert Event.objects.get(action="list").detail["referrals"] == []


@pytest.mark.parametrize(
    "actor", ["case_manager", "police_on_team", "ngo_mentor", "auditor", "trainer"]
)
def test_the_queue_is_for_coordinators(cast, actor):
    referred_case(cast, team=[cast.orgs["probation"], cast.orgs["police"], cast.orgs["ngo"]])
    response = token_client(cast.actors[actor]).get(QUEUE)
    assert response.status_code == 403
    assert "coordinators" in response.json()["detail"]
    assert not Event.objects.filter(action="list").exists()


def test_another_partnerships_coordinator_sees_only_their_own(cast):
    mine = referred_case(cast)
    theirs = referred_case(cast, partnership=cast.other_partnership)
    response = token_client(cast.outsider).get(QUEUE)
    assert [row["id"] for row in response.json()["results"]] == [theirs.pk]
    assert mine.reference not in response.content.decode()


def test_the_queue_pages_like_the_other_lists(cast):
    cases = [referred_case(cast, days_ago=30 - i) for i in range(5)]
    client = token_client(cast.coordinator)
    first = client.get(QUEUE, {"page_size": 2}).json()
    third = client.get(QUEUE, {"page_size": 2, "page": 3}).json()
    assert [r["id"] for r in first["results"]] == [cases[0].pk, cases[1].pk]
    assert first["count"] == 5 and first["previous"] is None
    assert "page=2" in first["next"]
    assert [r["id"] for r in third["results"]] == [cases[4].pk]
    assert third["next"] is None and "page=2" in third["previous"]
    assert client.get(QUEUE, {"page": 4, "page_size": 2}).status_code == 404
    assert client.get(QUEUE, {"page_size": 1000}).status_code == 400
    pages = [e.detail["page"] for e in Event.objects.filter(action="list").order_by("seq")]
    assert pages == [1, 3]


@pytest.mark.parametrize("count", [3, 40])
def test_the_queue_query_count_does_not_grow(cast, django_assert_num_queries, count):
    for i in range(count):
        case = referred_case(cast, days_ago=i)
        Referral.objects.create(
            case=case, referrer_type="court", reason="x", created_by=cast.coordinator
        )
    client = token_client(cast.coordinator)
    client.get(QUEUE)  # starts the audit chain

    # token (with its user; its use was recorded within the minute);
    # grants (1); cases; count; referrals;
    # audit (stored, access index, then check, head, seal, head update); the
    # request's transaction (2): the same for 3 cases or 40.
    with django_assert_num_queries(13):
        response = client.get(QUEUE)
    assert len(response.json()["results"]) == min(count, 50)


# --- The triage view -------------------------------------------------------------------------


def test_the_triage_view_shows_what_the_coordinator_decides_on(cast, django_assert_num_queries):
    case = referred_case(cast, status=CaseStatus.TRIAGE)
    referral = Referral.objects.create(
        case=case, referrer_type="court", reason=REASON, created_by=cast.coordinator
    )
    earlier = triage_decide(
        actor=cast.coordinator,
        case_id=case.pk,
        outcome="more_information",
        reasons="Ask probation for the file",
        version=1,
    )
    client = token_client(cast.coordinator)
    client.get(triage_url(case))

    # token (with its user; its use was recorded within the minute);
    # grants (1); case (read, write
    # check); referral; decisions; audit (stored, access index, then check, head,
    # seal, head update); the request's transaction (2).
    with django_assert_num_queries(14):
        response = client.get(triage_url(case))

    assert response.status_code == 200
    assert response["ETag"] == '"2"'
    body = response.json()
    assert (body["case"], body["reference"], body["status"], body["version"]) == (
        case.pk,
        case.reference,
        "triage",
        2,
    )
    assert body["open_for_triage"] is True
    assert body["outcomes"] == ["no_action", "more_information", "multi_agency", "criminal_justice"]
    assert body["active_statuses"] == ["pre_release", "community"]
    assert body["person"]["family_name"] == case.person.family_name
    assert (body["referral"]["reason"], body["referral"]["category"]) == (REASON, "risk")
    assert body["decisions"] == [
        {
            "id": earlier.pk,
            "outcome": "more_information",
            "reasons": "Ask probation for the file",
            "decided_by": {"id": cast.coordinator.pk, "username": "coordinator", "name": ""},
            "decided_at": earlier.decided_at.isoformat().replace("+00:00", "Z"),
        }
    ]
    viewed = Event.objects.filter(case_id=case.pk, action="view").order_by("seq").last()
    assert viewed.request_id == response["X-Request-ID"]
    assert viewed.detail["view"] == "api_triage"
    assert viewed.detail["referral"] == referral.pk
    assert viewed.detail["triage_decisions"] == [earlier.pk]
    assert set(viewed.detail["categories"]) == {"identity", "risk", "meetings"}


def test_an_active_case_is_shown_but_not_open_for_triage(cast):
    response = token_client(cast.coordinator).get(triage_url(cast.case))
    body = response.json()
    assert response.status_code == 200
    assert (body["status"], body["open_for_triage"], body["outcomes"]) == (
        "pre_release",
        False,
        [],
    )


def test_a_referral_in_a_category_not_granted_is_not_shown(cast):
    case = referred_case(cast)
    Referral.objects.create(
        case=case,
        referrer_type="police",
        reason=REASON,
        category="intelligence",
        created_by=cast.coordinator,
    )
    response = token_client(cast.coordinator).get(triage_url(case))
    assert response.json()["referral"] is None
    assert REASON not in response.content.decode()


# --- Decisions -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("outcome", "active", "status", "case_outcome", "moves"),
    [
        ("multi_agency", "pre_release", "pre_release", "", 2),
        ("multi_agency", "community", "community", "", 2),
        ("no_action", None, "closed", "no_action", 2),
        ("criminal_justice", None, "closed", "criminal_justice", 2),
        ("more_information", None, "triage", "", 1),
    ],
)
def test_each_outcome_moves_the_case_as_the_web_page_does(
    cast, as_user, outcome, active, status, case_outcome, moves
):
    by_page = referred_case(cast)
    by_api = referred_case(cast)
    page = as_user(cast.coordinator).post(
        reverse("cases:triage_decide", args=[by_page.pk]),
        {"outcome": outcome, "active_status": active or "", "reasons": REASON, "version": "1"},
    )
    assert page.status_code == 302

    response = send(
        token_client(cast.coordinator),
        "POST",
        triage_url(by_api),
        decision(outcome=outcome, active_status=active, version=None),
        **{"If-Match": '"1"'},
    )

    assert response.status_code == 201, response.content
    body = response.json()
    for case in (by_page, by_api):
        case.refresh_from_db()
        assert (case.status, case.outcome, case.version) == (status, case_outcome, 1 + moves)
        path = CaseTransition.objects.filter(case=case).order_by("at", "pk")
        assert list(path.values_list("to_status", flat=True)) == ["triage", status][:moves]
    assert (by_api.closed_on is None) is (status != "closed")
    assert (body["case"], body["status"], body["version"], body["outcome"]) == (
        by_api.pk,
        status,
        1 + moves,
        case_outcome,
    )
    assert response["ETag"] == f'"{1 + moves}"'
    made = TriageDecision.objects.get(case=by_api)
    assert (made.outcome, made.reasons, made.decided_by_id) == (
        outcome,
        REASON,
        cast.coordinator.pk,
    )
    assert body["decision"]["id"] == made.pk
    assert body["decision"]["decided_by"]["id"] == cast.coordinator.pk
    logged = Event.objects.get(case_id=by_api.pk, object_type="cases.triagedecision")
    assert (logged.action, logged.category, logged.actor_id) == (
        "create",
        "meetings",
        cast.coordinator.pk,
    )
    assert logged.detail == {"outcome": outcome, "status": status, "version": 1 + moves}
    assert logged.request_id == response["X-Request-ID"]
    # Each move is logged too, in the same request.
    moved = Event.objects.filter(
        request_id=response["X-Request-ID"], action="update", object_type="cases.case"
    )
    assert [e.detail["to"] for e in moved.order_by("seq")] == ["triage", status][:moves]


def test_the_etag_read_is_the_version_to_send(cast):
    case = referred_case(cast)
    client = token_client(cast.coordinator)
    etag = client.get(triage_url(case))["ETag"]
    response = send(client, "POST", triage_url(case), decision(version=None), **{"If-Match": etag})
    assert response.status_code == 201
    # The decision gave the case a new version: the old ETag is stale now.
    again = send(client, "POST", triage_url(case), decision(version=None), **{"If-Match": etag})
    assert again.status_code == 412
    assert TriageDecision.objects.filter(case=case).count() == 1


@pytest.mark.parametrize(
    ("headers", "changes", "status", "field"),
    [
        ({}, {"version": None}, 428, None),
        ({"If-Match": "*"}, {"version": None}, 428, None),
        ({"If-Match": '"4"'}, {"version": None}, 412, None),
        ({"If-Match": "W/1"}, {"version": None}, 412, None),
        ({}, {"version": 4}, 409, None),
        ({"If-Match": '"1"'}, {"version": 2}, 400, "version"),
        ({}, {"reasons": "   "}, 400, "reasons"),
        ({}, {"reasons": "x" * 5001}, 400, "reasons"),
        ({}, {"outcome": "deport"}, 400, "outcome"),
        ({}, {"outcome": "multi_agency"}, 400, "active_status"),
        ({}, {"outcome": "no_action", "active_status": "community"}, 400, "active_status"),
        ({}, {"outcome": "multi_agency", "active_status": "closed"}, 400, "active_status"),
        ({}, {"status": "closed"}, 400, "status"),
        ({}, {"decided_by": 1}, 400, "decided_by"),
    ],
)
def test_refused_decisions_change_nothing(cast, headers, changes, status, field):
    case = referred_case(cast)
    client = token_client(cast.coordinator)
    before = state(case)
    events = Event.objects.count()

    response = send(client, "POST", triage_url(case), decision(**changes), **headers)

    assert response.status_code == status, response.content
    answer = response.json()
    if field is None:
        assert answer["detail"]
    else:
        assert answer[field], answer
    assert state(case) == before
    assert Event.objects.count() == events


def test_a_case_that_is_not_waiting_for_triage_is_refused_with_422(cast):
    before = state(cast.case)
    response = send(
        token_client(cast.coordinator),
        "POST",
        triage_url(cast.case),
        decision(outcome="no_action"),
    )
    assert response.status_code == 422
    assert "triage" in response.json()["detail"]
    assert state(cast.case) == before


def test_a_stale_decision_loses_nothing_and_the_current_version_wins(cast):
    case = referred_case(cast)
    client = token_client(cast.coordinator)
    first = send(client, "POST", triage_url(case), decision(outcome="no_action"))
    assert first.status_code == 201
    second = send(
        client,
        "POST",
        triage_url(case),
        decision(outcome="multi_agency", active_status="community"),
    )
    assert second.status_code == 409
    case.refresh_from_db()
    assert (case.status, case.outcome) == ("closed", "no_action")
    assert list(TriageDecision.objects.values_list("outcome", flat=True)) == ["no_action"]


# --- Policy ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("actor", "status"),
    [
        ("coordinator", None),
        ("case_manager", 403),  # on the team, may write meetings, not the coordinator
        ("police_on_team", 403),  # on the team (organisation), not the coordinator
        ("ngo_mentor", 404),  # the NGO is not on this case's team
        ("auditor", 404),
        ("trainer", 404),
        ("police_off_team", 403),
        ("outsider", 404),
    ],
)
def test_only_the_coordinator_of_the_partnership_triages(cast, actor, status):
    case = referred_case(cast, team=[cast.orgs["probation"], cast.orgs["police"]])
    client = token_client(cast.actors[actor])
    before = state(case)

    read = client.get(triage_url(case))
    decided = send(client, "POST", triage_url(case), decision())

    if status is None:
        assert (read.status_code, decided.status_code) == (200, 201)
        return
    assert (read.status_code, decided.status_code) == (status, status)
    if status == 403:
        assert "coordinator" in decided.json()["detail"]
    assert state(case) == before
    # Nothing but the records of the refusals (issue 9: a refused request leaves a trace).
    assert not Event.objects.filter(case_id=case.pk).exclude(action=EventAction.DENIED).exists()
    if status == 404:
        refused = Event.objects.filter(case_id=case.pk, action=EventAction.DENIED)
        assert sorted(refused.values_list("detail__method", flat=True)) == ["GET", "POST"]
    assert case.reference not in read.content.decode() + decided.content.decode()


def test_refusals_come_before_the_payload_is_looked_at(cast):
    case = referred_case(cast, team=[cast.orgs["probation"]])
    bad = {"outcome": "nonsense", "extra": 1}
    manager = send(token_client(cast.case_manager), "POST", triage_url(case), bad)
    outsider = send(token_client(cast.outsider), "POST", triage_url(case), bad)
    assert (manager.status_code, outsider.status_code) == (403, 404)
    missing = send(token_client(cast.coordinator), "POST", f"{API}/cases/987654/triage/", bad)
    assert missing.status_code == 404
