"""API of casework: my tasks, a case's timeline and its legal holds."""

from __future__ import annotations

import datetime
import json

import pytest
from django.utils import timezone

from prepare.access.grants import case_grants_rebuild
from prepare.audit.models import Event, EventAction
from prepare.cases.models import Case, CaseStatus, CaseTeamMember, LegalHold
from prepare.monitoring.services import signal_raise
from prepare.plans.models import ChecklistItem, ItemStatus
from tests.api.conftest import API, token_client
from tests.cast import sentinel
from tests.factories import PersonFactory
from tests.monitoring.support import add_contacts
from tests.plans.support import plant_checklist

pytestmark = pytest.mark.django_db

TASKS = f"{API}/my-tasks/"
REASON = "API-HOLD-REASON-7d2"
JSON = "application/json"


def today() -> datetime.date:
    return timezone.localdate()


def days(n: int) -> str:
    return (today() + datetime.timedelta(days=n)).isoformat()


def send(client, url, data=None):
    return client.post(url, json.dumps(data if data is not None else {}), content_type=JSON)


def holds_url(case):
    return f"{API}/cases/{case.pk}/legal-holds/"


def release_url(case, hold):
    return f"{API}/cases/{case.pk}/legal-holds/{hold.pk}/release/"


def timeline_url(case):
    return f"{API}/cases/{case.pk}/timeline/"


def last_event(**filters):
    return Event.objects.filter(**filters).latest("seq")


def probation_case(cast, number: int) -> Case:
    """A case of the cast's partnership with probation on its team and owed items."""
    case = Case.objects.create(
        person=PersonFactory(given_name=f"Given{number}", family_name=f"Family{number}"),
        partnership=cast.partnership,
        reference=f"TST-2026-{number:04d}",
        status=CaseStatus.PRE_RELEASE,
    )
    CaseTeamMember.objects.create(case=case, organisation=cast.orgs["probation"], purpose="x")
    case_grants_rebuild(case)
    plant_checklist(case, cast.coordinator, owner=cast.orgs["probation"])
    return case


def hold(cast, *, until=None, released=False, reason=REASON, case=None):
    placed = LegalHold.objects.create(
        case=case or cast.case,
        reason=reason,
        until=until or today() + datetime.timedelta(days=365),
        placed_by=cast.coordinator,
    )
    if released:
        LegalHold.objects.filter(pk=placed.pk).update(
            released_at=timezone.now(), released_by=cast.coordinator
        )
        placed.refresh_from_db()
    return placed


def holds_state():
    return sorted(LegalHold.objects.values_list("pk", "case_id", "reason", "until", "released_at"))


# --- My tasks --------------------------------------------------------------------------------


def test_my_tasks_lists_what_the_actor_or_their_organisation_owes(cast):
    items = plant_checklist(cast.case, cast.coordinator, owner=cast.orgs["probation"])
    ChecklistItem.objects.filter(pk=items["social"].pk).update(
        due_on=today() - datetime.timedelta(4)
    )
    ChecklistItem.objects.filter(pk=items["justice"].pk).update(assignee=cast.coordinator)
    ChecklistItem.objects.filter(pk=items["health"].pk).update(
        status=ItemStatus.DONE, completed_at=timezone.now()
    )

    response = token_client(cast.case_manager).get(TASKS)

    assert response.status_code == 200
    body = response.json()
    titles = [row["title"] for row in body["results"]]
    # Probation's unassigned open items in the categories probation reads,
    # the overdue one first; not the coordinator's, the done one, nor intelligence.
    assert titles[0] == sentinel("social")
    expected = {sentinel(c) for c in ("social", "identity", "risk", "interventions", "meetings")}
    assert set(titles) == expected
    assert (body["count"], body["count_capped"], body["next"]) == (5, False, None)
    first = body["results"][0]
    assert (first["overdue"], first["assigned_to_me"], first["case"]) == (True, False, cast.case.pk)
    assert first["owner_organisation"] == {
        "id": cast.orgs["probation"].pk,
        "name": cast.orgs["probation"].name,
    }
    assert first["reference"] == cast.case.reference
    assert first["person"] == {"given_name": "Sentinelia", "family_name": "Identitas"}
    assert body["signals"] == []
    event = last_event(action=EventAction.LIST, detail__view="api_my_tasks")
    assert event.case_ids == [cast.case.pk]
    assert sorted(event.detail["items"]) == sorted(r["id"] for r in body["results"])

    mine = token_client(cast.coordinator).get(TASKS).json()["results"]
    assert [(r["title"], r["assigned_to_me"]) for r in mine] == [(sentinel("justice"), True)]


def test_my_tasks_hide_the_person_without_identity(cast):
    plant_checklist(cast.case, cast.coordinator, owner=cast.orgs["ngo"])
    response = token_client(cast.ngo_mentor).get(TASKS)
    assert response.status_code == 200
    rows = response.json()["results"]
    assert {r["title"] for r in rows} == {sentinel("interventions"), sentinel("social")}
    assert all(row["person"] is None for row in rows)
    assert "Sentinelia" not in response.content.decode()


def test_my_tasks_list_the_signals_to_acknowledge(cast):
    signal = signal_raise(
        actor=cast.police_on_team,
        case_id=cast.case.pk,
        severity="urgent",
        description=sentinel("risk"),
        category="risk",
    )
    response = token_client(cast.coordinator).get(TASKS)
    assert response.status_code == 200
    signals = response.json()["signals"]
    assert [(s["id"], s["case"], s["reference"], s["severity"]) for s in signals] == [
        (signal.pk, cast.case.pk, cast.case.reference, "urgent")
    ]
    assert sentinel("risk") not in response.content.decode()  # the case, not the concern
    listed = last_event(action=EventAction.LIST, detail__view="api_my_tasks_signals")
    assert listed.case_ids == [cast.case.pk] and listed.detail["signals"] == [signal.pk]


def test_my_tasks_are_paginated(cast):
    plant_checklist(cast.case, cast.coordinator, owner=cast.orgs["probation"])
    client = token_client(cast.case_manager)
    first = client.get(TASKS, {"page_size": 2}).json()
    second = client.get(TASKS, {"page_size": 2, "page": 2}).json()
    assert (len(first["results"]), first["count"]) == (2, 7)  # the 7 categories it reads
    assert first["next"] is not None and first["previous"] is None
    assert {r["id"] for r in first["results"]}.isdisjoint(r["id"] for r in second["results"])
    assert client.get(TASKS, {"page": 9}).status_code == 404
    bad = client.get(TASKS, {"page_size": 0})
    assert bad.status_code == 400 and "page_size" in bad.json()


@pytest.mark.parametrize("cases", [1, 12])
def test_my_tasks_query_count_does_not_grow(cast, django_assert_num_queries, cases):
    for n in range(cases):
        probation_case(cast, 100 + n)
    client = token_client(cast.case_manager)
    client.get(TASKS)  # starts the audit chain

    # token (with its user; its use was recorded within the minute);
    # grants (1); items; count; signals;
    # the two audit events (each stored with its access index, then sealed
    # together: check, head, seals, head update); the request's transaction (2):
    # the same for 1 case or 12.
    with django_assert_num_queries(14):
        response = client.get(TASKS)
    assert len(response.json()["results"]) == min(cases * 7, 50)


# --- Timeline --------------------------------------------------------------------------------


def test_the_timeline_shows_the_granted_entries_newest_first(cast):
    add_contacts(cast)
    response = token_client(cast.case_manager).get(timeline_url(cast.case))
    assert response.status_code == 200
    entries = response.json()
    contacts = [e for e in entries if e["kind"] == "contact"]
    readable = {"social", "identity", "risk", "interventions", "meetings", "justice", "health"}
    assert {e["category"] for e in contacts} <= readable
    assert "intelligence" not in {e["category"] for e in entries}
    assert sentinel("intelligence") not in response.content.decode()
    stamps = [e["at"] for e in entries]
    assert stamps == sorted(stamps, reverse=True)
    assert contacts[0]["actor"] and contacts[0]["title"].startswith("Contact")
    event = last_event(action=EventAction.VIEW, detail__view="api_timeline")
    assert event.case_id == cast.case.pk and event.detail["entries"] == len(entries)


def test_the_timeline_of_an_invisible_case_is_404_and_shows_nothing(cast):
    add_contacts(cast)
    shown = Event.objects.filter(case_id=cast.case.pk).exclude(action=EventAction.DENIED)
    before = shown.count()
    response = token_client(cast.police_off_team).get(timeline_url(cast.case))
    assert response.status_code == 404
    assert cast.case.reference not in response.content.decode()
    assert shown.count() == before
    assert token_client(cast.coordinator).get(timeline_url(cast.other_case)).status_code == 404


@pytest.mark.parametrize("rounds", [1, 8])
def test_the_timeline_query_count_does_not_grow(cast, django_assert_num_queries, rounds):
    for _ in range(rounds):
        add_contacts(cast)
    client = token_client(cast.coordinator)
    client.get(timeline_url(cast.case))  # starts the audit chain

    # token (with its user; its use was recorded within the minute);
    # grants; case; five sources; audit
    # (stored, access index, then check, head, seal, head update); the request's
    # transaction (2).
    with django_assert_num_queries(16):
        response = client.get(timeline_url(cast.case))
    assert len([e for e in response.json() if e["kind"] == "contact"]) >= rounds


# --- Legal holds: the list -------------------------------------------------------------------


def test_the_coordinator_sees_every_hold_with_its_reason(cast):
    active = hold(cast)
    released = hold(cast, released=True, reason="Old inquiry")
    response = token_client(cast.coordinator).get(holds_url(cast.case))
    assert response.status_code == 200
    body = response.json()
    assert (body["case"], body["manage"], body["held"]) == (cast.case.pk, True, True)
    assert body["retention_due_on"] is None  # the case is not closed
    rows = {row["id"]: row for row in body["holds"]}
    assert set(rows) == {active.pk, released.pk}
    assert (rows[active.pk]["reason"], rows[active.pk]["active"]) == (REASON, True)
    assert rows[active.pk]["placed_by"]["id"] == cast.coordinator.pk
    assert rows[released.pk]["active"] is False and rows[released.pk]["released_at"]
    event = last_event(action=EventAction.VIEW, detail__view="api_legal_holds")
    assert event.case_id == cast.case.pk
    assert sorted(event.detail["holds"]) == sorted(rows)


def test_others_see_only_the_holds_in_force_without_reasons(cast):
    active = hold(cast)
    hold(cast, released=True, reason="Old inquiry")
    response = token_client(cast.ngo_mentor).get(holds_url(cast.case))
    assert response.status_code == 200
    body = response.json()
    assert (body["manage"], body["held"]) == (False, True)
    assert [(r["id"], r["reason"], r["placed_by"]) for r in body["holds"]] == [
        (active.pk, None, None)
    ]
    assert REASON not in response.content.decode()
    assert "Old inquiry" not in response.content.decode()


def test_the_holds_of_an_invisible_case_are_404(cast):
    hold(cast)
    for user in (cast.police_off_team, cast.auditor, cast.outsider):
        response = token_client(user).get(holds_url(cast.case))
        assert response.status_code == 404, user.username
        assert REASON not in response.content.decode()


# --- Legal holds: placing one ----------------------------------------------------------------


def test_the_coordinator_places_a_hold(cast):
    response = send(
        token_client(cast.coordinator),
        holds_url(cast.case),
        {
            "reason": REASON,
            "until": days(30),
        },
    )
    assert response.status_code == 201
    body = response.json()
    placed = LegalHold.objects.get(pk=body["id"])
    assert (placed.case_id, placed.reason, placed.until.isoformat()) == (
        cast.case.pk,
        REASON,
        days(30),
    )
    assert (body["active"], body["reason"], body["released_at"]) == (True, REASON, None)
    event = last_event(action=EventAction.CREATE)
    assert (event.case_id, event.object_id, event.detail["legal_hold"]) == (
        cast.case.pk,
        str(placed.pk),
        "place",
    )


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("case_manager", 403),
        ("police_on_team", 403),
        ("ngo_mentor", 403),
        ("police_off_team", 404),
        ("auditor", 404),
        ("outsider", 404),
    ],
)
def test_only_the_coordinator_places_holds(cast, name, code):
    before = holds_state()
    response = send(
        token_client(cast.actors[name]),
        holds_url(cast.case),
        {
            "reason": REASON,
            "until": days(30),
        },
    )
    assert response.status_code == code
    assert holds_state() == before
    assert not Event.objects.filter(action=EventAction.CREATE).exists()


@pytest.mark.parametrize(
    ("payload", "fields"),
    [
        ({"until": days(30)}, {"reason"}),
        ({"reason": "   ", "until": days(30)}, {"reason"}),
        ({"reason": "x" * 2001, "until": days(30)}, {"reason"}),
        ({"reason": REASON}, {"until"}),
        ({"reason": REASON, "until": "someday"}, {"until"}),
        ({"reason": REASON, "until": days(-1)}, {"until"}),
        ({"reason": REASON, "until": days(30), "case": 1}, {"case"}),
        ({}, {"reason", "until"}),
    ],
)
def test_bad_input_names_the_fields_and_places_nothing(cast, payload, fields):
    before = holds_state()
    response = send(token_client(cast.coordinator), holds_url(cast.case), payload)
    assert response.status_code == 400
    assert set(response.json()) == fields
    assert holds_state() == before
    assert not Event.objects.filter(action=EventAction.CREATE).exists()


def test_a_hold_on_another_partnerships_case_is_404(cast):
    response = send(
        token_client(cast.coordinator),
        holds_url(cast.other_case),
        {
            "reason": REASON,
            "until": days(30),
        },
    )
    assert response.status_code == 404
    assert not LegalHold.objects.exists()


# --- Legal holds: releasing one --------------------------------------------------------------


def test_the_coordinator_releases_a_hold(cast):
    placed = hold(cast)
    client = token_client(cast.coordinator)
    response = send(client, release_url(cast.case, placed))
    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["active"]) == (placed.pk, False)
    placed.refresh_from_db()
    assert placed.released_at is not None and placed.released_by_id == cast.coordinator.pk
    event = last_event(action=EventAction.UPDATE)
    assert (event.case_id, event.detail["legal_hold"]) == (cast.case.pk, "release")
    # Twice: refused, nothing changes.
    released_at = placed.released_at
    again = send(client, release_url(cast.case, placed))
    assert again.status_code == 422 and again.json()["detail"]
    placed.refresh_from_db()
    assert placed.released_at == released_at


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("case_manager", 403),
        ("ngo_mentor", 403),
        ("police_off_team", 404),
        ("auditor", 404),
        ("outsider", 404),
    ],
)
def test_only_the_coordinator_releases_holds(cast, name, code):
    placed = hold(cast)
    before = holds_state()
    response = send(token_client(cast.actors[name]), release_url(cast.case, placed))
    assert response.status_code == code
    assert holds_state() == before
    assert REASON not in response.content.decode()


def test_a_hold_is_reached_only_under_its_own_case(cast):
    elsewhere = Case.objects.create(
        person=PersonFactory(),
        partnership=cast.partnership,
        reference="TST-2026-0900",
        status=CaseStatus.COMMUNITY,
    )
    case_grants_rebuild(elsewhere)
    placed = hold(cast, case=elsewhere)
    client = token_client(cast.coordinator)
    assert send(client, release_url(cast.case, placed)).status_code == 404
    missing = f"{API}/cases/{cast.case.pk}/legal-holds/987654/release/"
    assert send(client, missing).status_code == 404
    placed.refresh_from_db()
    assert placed.released_at is None


def test_a_release_with_a_body_is_refused_and_releases_nothing(cast):
    placed = hold(cast)
    response = send(token_client(cast.coordinator), release_url(cast.case, placed), {"x": 1})
    assert response.status_code == 400 and set(response.json()) == {"x"}
    placed.refresh_from_db()
    assert placed.released_at is None
