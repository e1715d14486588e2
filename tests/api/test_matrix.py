"""Every API operation on the cast's case K, for every actor of the cast.

Expected answers are derived from the agreement table and the case team
(``tests.api.conftest.expect``): invisible -> 404 everywhere, visible but not
granted -> 403 and nothing written, granted -> 2xx. Every JSON answer is
scanned for the sentinels of the categories the actor may not read.
"""

from __future__ import annotations

import json

import pytest

from prepare.access.categories import Category
from prepare.accounts.models import Role
from prepare.cases.models import Case, CaseNote, CaseTeamMember, LegalHold, TriageDecision
from prepare.notifications.models import Notification
from prepare.partnerships.models import Partnership
from tests.api.conftest import API, assert_no_leak, expect, token_client
from tests.cast import sentinel
from tests.oracle import CAST_ACTORS as ACTORS
from tests.oracle import Access

CATEGORIES = list(Category.values)


def _client_and_expect(cast, name):
    user = cast.actors[name]
    return token_client(user), expect(cast, user)


@pytest.mark.parametrize("name", ACTORS)
def test_case_list(cast, name):
    client, exp = _client_and_expect(cast, name)
    response = client.get(f"{API}/cases/")
    assert response.status_code == 200
    ids = [row["id"] for row in response.json()["results"]]
    assert (cast.case.pk in ids) is exp.reaches
    assert_no_leak(response.content.decode(), exp.read)
    if exp.reaches:
        row = next(r for r in response.json()["results"] if r["id"] == cast.case.pk)
        assert (row["person"] is not None) is (Category.IDENTITY in exp.read)


@pytest.mark.parametrize("name", ACTORS)
def test_case_detail(cast, name):
    client, exp = _client_and_expect(cast, name)
    response = client.get(f"{API}/cases/{cast.case.pk}/")
    assert response.status_code == (200 if exp.reaches else 404)
    assert_no_leak(response.content.decode(), exp.read)
    if exp.reaches:
        abilities = response.json()["abilities"]
        assert set(abilities["read_categories"]) == exp.read
        assert set(abilities["write_categories"]) == exp.write
        assert abilities["edit_team"] is exp.edit_team
        assert response["ETag"] == f'"{cast.case.version}"'


@pytest.mark.parametrize("name", ACTORS)
def test_other_partnerships_case_is_404(cast, name):
    client, _ = _client_and_expect(cast, name)
    response = client.get(f"{API}/cases/{cast.other_case.pk}/")
    assert response.status_code == (200 if name == "outsider" else 404)


@pytest.mark.parametrize("name", ACTORS)
def test_team_list(cast, name):
    client, exp = _client_and_expect(cast, name)
    response = client.get(f"{API}/cases/{cast.case.pk}/team/")
    assert response.status_code == (200 if exp.reaches else 404)
    assert_no_leak(response.content.decode(), exp.read)
    if exp.reaches:
        assert len(response.json()) == CaseTeamMember.objects.filter(case=cast.case).count()


def _status(exp: Access, allowed: bool, ok: int) -> int:
    if not exp.reaches:
        return 404
    return ok if allowed else 403


@pytest.mark.parametrize("name", ACTORS)
def test_team_add(cast, name):
    client, exp = _client_and_expect(cast, name)
    before = CaseTeamMember.objects.count()
    response = client.post(
        f"{API}/cases/{cast.case.pk}/team/",
        {"organisation": cast.orgs["municipality"].pk, "purpose": "Housing support"},
        content_type="application/json",
    )
    assert response.status_code == _status(exp, exp.edit_team, 201)
    assert_no_leak(response.content.decode(), exp.read)
    added = CaseTeamMember.objects.filter(
        case=cast.case, organisation=cast.orgs["municipality"], user__isnull=True
    )
    assert added.exists() is (response.status_code == 201)
    assert CaseTeamMember.objects.count() == before + (response.status_code == 201)


@pytest.mark.parametrize("name", ACTORS)
def test_team_remove(cast, name):
    client, exp = _client_and_expect(cast, name)
    member = CaseTeamMember.objects.get(case=cast.case, organisation=cast.orgs["ngo"])
    response = client.delete(f"{API}/cases/{cast.case.pk}/team/{member.pk}/")
    assert response.status_code == _status(exp, exp.edit_team, 204)
    assert CaseTeamMember.objects.filter(pk=member.pk).exists() is (response.status_code != 204)


@pytest.mark.parametrize("name", ACTORS)
def test_note_list(cast, name):
    client, exp = _client_and_expect(cast, name)
    response = client.get(f"{API}/cases/{cast.case.pk}/notes/")
    assert response.status_code == (200 if exp.reaches else 404)
    body = response.content.decode()
    assert_no_leak(body, exp.read)
    if exp.reaches:
        assert {row["category"] for row in response.json()["results"]} == exp.read
        for category in exp.read:
            assert sentinel(category) in body


@pytest.mark.parametrize("category", CATEGORIES)
@pytest.mark.parametrize("name", ACTORS)
def test_note_detail(cast, name, category):
    client, exp = _client_and_expect(cast, name)
    note = cast.notes[category]
    response = client.get(f"{API}/cases/{cast.case.pk}/notes/{note.pk}/")
    readable = exp.reaches and category in exp.read
    assert response.status_code == (200 if readable else 404)
    assert_no_leak(response.content.decode(), exp.read)


@pytest.mark.parametrize("category", CATEGORIES)
@pytest.mark.parametrize("name", ACTORS)
def test_note_create(cast, name, category):
    client, exp = _client_and_expect(cast, name)
    before = CaseNote.objects.count()
    response = client.post(
        f"{API}/cases/{cast.case.pk}/notes/",
        {"category": category, "kind": "assessment", "text": "New observation"},
        content_type="application/json",
    )
    assert response.status_code == _status(exp, category in exp.write, 201)
    assert_no_leak(response.content.decode(), exp.read)
    created = response.status_code == 201
    assert CaseNote.objects.count() == before + created
    if created:
        note = CaseNote.objects.get(pk=response.json()["id"])
        assert (note.case_id, note.category, note.created_by_id) == (
            cast.case.pk,
            category,
            cast.actors[name].pk,
        )


@pytest.mark.parametrize("category", CATEGORIES)
@pytest.mark.parametrize("name", ACTORS)
def test_note_update(cast, name, category):
    client, exp = _client_and_expect(cast, name)
    note = cast.notes[category]
    response = client.patch(
        f"{API}/cases/{cast.case.pk}/notes/{note.pk}/",
        {"text": "Rewritten"},
        content_type="application/json",
        headers={"If-Match": '"1"'},
    )
    # Only the note author's organisation edits it (the cast's notes are the
    # coordinator's, the municipality's); everyone else replies.
    same_organisation = cast.actors[name].organisation_id == note.created_by.organisation_id
    if not (exp.reaches and category in exp.read):
        expected = 404
    else:
        expected = 200 if category in exp.write and same_organisation else 403
    assert response.status_code == expected
    assert_no_leak(response.content.decode(), exp.read)
    note.refresh_from_db()
    if expected == 200:
        assert (note.text, note.version, note.updated_by_id) == (
            "Rewritten",
            2,
            cast.actors[name].pk,
        )
        assert response["ETag"] == '"2"'
    else:
        assert (note.text, note.version) == (sentinel(category), 1)


@pytest.mark.parametrize("name", ACTORS)
def test_me(cast, name):
    client, _ = _client_and_expect(cast, name)
    response = client.get(f"{API}/me/")
    assert response.status_code == 200
    assert_no_leak(response.content.decode(), frozenset())
    assert response.json()["username"] == name


def test_matrix_covers_reach_and_refusals(cast):
    """The cast exercises every branch: some actors reach K and some do not;
    some may write a category and some only read it."""
    expectations = [expect(cast, cast.actors[n]) for n in ACTORS]
    assert any(e.reaches for e in expectations)
    assert any(not e.reaches for e in expectations)
    assert any(e.read - e.write for e in expectations if e.reaches)
    assert any(e.edit_team for e in expectations)
    assert any(e.reaches and not e.edit_team for e in expectations)


# --- Triage: the coordinator's (of K's partnership) --------------------------------------


def _coordinates(cast, user) -> bool:
    """Coordinates K's partnership (from the data, not the policy)."""
    return (
        user.role == Role.COORDINATOR
        and user.organisation_id == cast.partnership.coordinating_organisation_id
    )


def _coordinates_any(user) -> bool:
    return (
        user.role == Role.COORDINATOR
        and Partnership.objects.filter(coordinating_organisation_id=user.organisation_id).exists()
    )


def _k_in_triage(cast) -> None:
    Case.objects.filter(pk=cast.case.pk).update(status="triage")
    cast.case.refresh_from_db()


@pytest.mark.parametrize("name", ACTORS)
def test_triage_queue(cast, name):
    _k_in_triage(cast)
    client, exp = _client_and_expect(cast, name)
    user = cast.actors[name]
    response = client.get(f"{API}/triage/")
    assert response.status_code == (200 if _coordinates_any(user) else 403)
    assert_no_leak(response.content.decode(), exp.read)
    if response.status_code == 200:
        ids = [row["id"] for row in response.json()["results"]]
        assert (cast.case.pk in ids) is _coordinates(cast, user)
    else:
        assert cast.case.reference not in response.content.decode()


@pytest.mark.parametrize("name", ACTORS)
def test_triage_view(cast, name):
    _k_in_triage(cast)
    client, exp = _client_and_expect(cast, name)
    response = client.get(f"{API}/cases/{cast.case.pk}/triage/")
    allowed = _coordinates(cast, cast.actors[name])
    assert response.status_code == _status(exp, allowed, 200)
    assert_no_leak(response.content.decode(), exp.read)
    if response.status_code == 200:
        body = response.json()
        assert (body["status"], body["open_for_triage"]) == ("triage", True)
        assert (body["person"] is not None) is (Category.IDENTITY in exp.read)
        assert response["ETag"] == f'"{cast.case.version}"'


@pytest.mark.parametrize("name", ACTORS)
def test_triage_decide(cast, name):
    _k_in_triage(cast)
    client, exp = _client_and_expect(cast, name)
    response = client.post(
        f"{API}/cases/{cast.case.pk}/triage/",
        json.dumps({"outcome": "more_information", "reasons": "Ask probation", "version": 1}),
        content_type="application/json",
    )
    allowed = _coordinates(cast, cast.actors[name]) and Category.MEETINGS in exp.write
    assert response.status_code == _status(exp, allowed, 201)
    assert_no_leak(response.content.decode(), exp.read)
    decided = response.status_code == 201
    cast.case.refresh_from_db()
    assert (cast.case.status, cast.case.version) == ("triage", 2 if decided else 1)
    assert TriageDecision.objects.filter(case=cast.case).exists() is decided


# --- Notifications: each actor's own, whatever their access ---------------------------------

JSON = "application/json"


@pytest.mark.parametrize("name", ACTORS)
def test_notifications(cast, name):
    planted = {
        actor: Notification.objects.create(
            user=user, kind="release", title=f"Reminder of {actor}", dedupe_key="matrix"
        )
        for actor, user in cast.actors.items()
    }
    client, _ = _client_and_expect(cast, name)
    listed = client.get(f"{API}/notifications/")
    assert listed.status_code == 200
    assert [row["id"] for row in listed.json()["results"]] == [planted[name].pk]
    assert client.get(f"{API}/notifications/count/").json() == {"unread": 1}
    someone_else = "case_manager" if name == "coordinator" else "coordinator"
    theirs = client.post(f"{API}/notifications/{planted[someone_else].pk}/read/", {}, JSON)
    mine = client.post(f"{API}/notifications/{planted[name].pk}/read/", {}, JSON)
    assert (theirs.status_code, mine.status_code) == (404, 200)
    assert client.post(f"{API}/notifications/read-all/", {}, JSON).json() == {"marked": 0}
    unread = set(Notification.objects.filter(read_at__isnull=True).values_list("pk", flat=True))
    assert unread == {n.pk for actor, n in planted.items() if actor != name}


# --- Casework: my tasks, the timeline, legal holds ------------------------------------------

HOLD_REASON = "MATRIX-HOLD-REASON"


@pytest.mark.parametrize("name", ACTORS)
def test_my_tasks(cast, name):
    """Everyone has a list of their own; K's items owed by the municipality show only to
    those of it who reach K, and only in the categories they read."""
    from tests.plans.support import plant_checklist

    plant_checklist(cast.case, cast.coordinator, owner=cast.orgs["municipality"])
    client, exp = _client_and_expect(cast, name)
    response = client.get(f"{API}/my-tasks/")
    assert response.status_code == 200
    assert_no_leak(response.content.decode(), exp.read)
    user = cast.actors[name]
    owes = exp.reaches and user.organisation_id == cast.orgs["municipality"].pk
    titles = {row["title"] for row in response.json()["results"]}
    assert titles == ({sentinel(c) for c in exp.read} if owes else set())


@pytest.mark.parametrize("name", ACTORS)
def test_timeline(cast, name):
    from tests.monitoring.support import add_contacts

    add_contacts(cast)
    client, exp = _client_and_expect(cast, name)
    response = client.get(f"{API}/cases/{cast.case.pk}/timeline/")
    assert response.status_code == (200 if exp.reaches else 404)
    assert_no_leak(response.content.decode(), exp.read)
    if exp.reaches:
        shown = {e["category"] for e in response.json() if e["kind"] == "contact"}
        assert shown == exp.read


def _hold(cast) -> LegalHold:
    import datetime

    return LegalHold.objects.create(
        case=cast.case,
        reason=HOLD_REASON,
        until=datetime.date(2040, 1, 1),
        placed_by=cast.coordinator,
    )


@pytest.mark.parametrize("name", ACTORS)
def test_legal_holds_list(cast, name):
    placed = _hold(cast)
    client, exp = _client_and_expect(cast, name)
    response = client.get(f"{API}/cases/{cast.case.pk}/legal-holds/")
    assert response.status_code == (200 if exp.reaches else 404)
    assert_no_leak(response.content.decode(), exp.read)
    manages = _coordinates(cast, cast.actors[name])
    assert (HOLD_REASON in response.content.decode()) is manages
    if exp.reaches:
        body = response.json()
        assert body["manage"] is manages
        assert [row["id"] for row in body["holds"]] == [placed.pk]


@pytest.mark.parametrize("name", ACTORS)
def test_legal_hold_place(cast, name):
    client, exp = _client_and_expect(cast, name)
    response = client.post(
        f"{API}/cases/{cast.case.pk}/legal-holds/",
        json.dumps({"reason": HOLD_REASON, "until": "2040-01-01"}),
        content_type=JSON,
    )
    allowed = _coordinates(cast, cast.actors[name])
    assert response.status_code == _status(exp, allowed, 201)
    assert LegalHold.objects.filter(case=cast.case).exists() is (response.status_code == 201)


@pytest.mark.parametrize("name", ACTORS)
def test_legal_hold_release(cast, name):
    placed = _hold(cast)
    client, exp = _client_and_expect(cast, name)
    response = client.post(
        f"{API}/cases/{cast.case.pk}/legal-holds/{placed.pk}/release/", "{}", content_type=JSON
    )
    allowed = _coordinates(cast, cast.actors[name])
    assert response.status_code == _status(exp, allowed, 200)
    assert_no_leak(response.content.decode(), exp.read)
    placed.refresh_from_db()
    assert (placed.released_at is not None) is (response.status_code == 200)
