"""Notes: reading by category, writing, optimistic locking, no mass assignment."""

from __future__ import annotations

import json

import pytest

from prepare.audit.chain import verify
from prepare.audit.models import Event, EventAction
from prepare.cases.models import CaseNote, NoteKind
from tests.api.conftest import API, token_client
from tests.cast import sentinel


def _url(cast, note=None) -> str:
    base = f"{API}/cases/{cast.case.pk}/notes/"
    return f"{base}{note.pk}/" if note is not None else base


def _patch(client, url, data, **headers):
    return client.patch(url, data, content_type="application/json", headers=headers)


def _colleague(cast):
    """A second person of the municipality, whose coordinator wrote the cast's
    notes: only the author's organisation edits a note."""
    from tests.factories import UserFactory

    return UserFactory(
        username="municipal_colleague", organisation=cast.orgs["municipality"], role="coordinator"
    )


# --- Reading -----------------------------------------------------------------------


def test_list_event_names_notes_and_categories_never_text(cast):
    response = token_client(cast.police_on_team).get(_url(cast))
    rows = response.json()["results"]
    assert {r["category"] for r in rows} == {
        "identity",
        "justice",
        "risk",
        "intelligence",
        "meetings",
    }
    event = Event.objects.get(action=EventAction.LIST)
    assert event.case_id == cast.case.pk
    assert event.detail["notes"] == [r["id"] for r in rows]
    assert event.detail["categories"] == sorted(r["category"] for r in rows)
    assert "SENTINEL" not in json.dumps(event.detail)
    assert verify() is None


def test_category_filter(cast):
    client = token_client(cast.ngo_mentor)
    social = client.get(_url(cast), {"category": "social"}).json()
    assert [r["id"] for r in social["results"]] == [cast.notes["social"].pk]
    # A category the mentor may not read is simply empty, never its notes.
    risk = client.get(_url(cast), {"category": "risk"})
    assert risk.status_code == 200
    assert risk.json()["results"] == []
    assert sentinel("risk") not in risk.content.decode()
    assert client.get(_url(cast), {"category": "gossip"}).status_code == 400
    assert client.get(_url(cast), {"category": ""}).json()["count"] == 2
    event = Event.objects.filter(action=EventAction.LIST).order_by("seq").first()
    assert event.category == "social"


def test_notes_pagination(cast):
    client = token_client(cast.case_manager)
    for i in range(12):
        response = client.post(
            _url(cast),
            {"category": "social", "kind": "fact", "text": f"Visit {i}"},
            content_type="application/json",
        )
        assert response.status_code == 201
    first = client.get(_url(cast), {"page_size": 10}).json()
    assert (first["count"], len(first["results"])) == (19, 10)
    # Newest first.
    assert first["results"][0]["text"] == "Visit 11"
    second = client.get(first["next"]).json()
    assert len(second["results"]) == 9
    assert second["next"] is None


@pytest.mark.parametrize("extra", [0, 25])
def test_notes_list_query_count(cast, extra, django_assert_num_queries):
    for i in range(extra):
        CaseNote.objects.create(
            case=cast.case,
            category="risk",
            kind=NoteKind.FACT,
            text=f"n{i}",
            created_by=cast.coordinator,
            updated_by=cast.coordinator,
        )
    client = token_client(cast.coordinator)
    # Token (2), grants (1), case, page, count, audit event (stored, then sealed:
    # check, head, seal, head update), the request's transaction (2).
    with django_assert_num_queries(14):
        response = client.get(_url(cast))
    assert len(response.json()["results"]) == 8 + extra


def test_detail_is_a_view_event_with_etag(cast):
    note = cast.notes["interventions"]
    response = token_client(cast.ngo_mentor).get(_url(cast, note))
    assert response.status_code == 200
    assert response.json()["text"] == sentinel("interventions")
    assert response["ETag"] == '"1"'
    event = Event.objects.get(action=EventAction.VIEW)
    assert (event.case_id, event.object_type, event.object_id, event.category) == (
        cast.case.pk,
        "cases.casenote",
        str(note.pk),
        "interventions",
    )
    assert "SENTINEL" not in json.dumps(event.detail)


def test_note_of_another_case_is_404(cast):
    other_note = CaseNote.objects.create(
        case=cast.other_case,
        category="risk",
        kind=NoteKind.FACT,
        text="elsewhere",
        created_by=cast.outsider,
        updated_by=cast.outsider,
    )
    client = token_client(cast.coordinator)
    # K is visible, but the note belongs to a case the coordinator cannot see.
    assert client.get(_url(cast, other_note)).status_code == 404
    response = _patch(client, _url(cast, other_note), {"text": "x"}, **{"If-Match": '"1"'})
    assert response.status_code == 404
    other_note.refresh_from_db()
    assert other_note.text == "elsewhere"


# --- Writing -----------------------------------------------------------------------


def test_create_is_audited(cast):
    response = token_client(cast.police_on_team).post(
        _url(cast),
        {"category": "intelligence", "kind": "assessment", "text": "Contact seen"},
        content_type="application/json",
    )
    assert response.status_code == 201
    assert response["ETag"] == '"1"'
    note = CaseNote.objects.get(pk=response.json()["id"])
    assert (note.text, note.kind, note.created_by_id) == (
        "Contact seen",
        "assessment",
        cast.police_on_team.pk,
    )
    event = Event.objects.get(action=EventAction.CREATE)
    assert (event.case_id, event.object_id, event.category) == (
        cast.case.pk,
        str(note.pk),
        "intelligence",
    )


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"category": "risk", "kind": "fact"}, "text"),
        ({"category": "risk", "kind": "rumour", "text": "x"}, "kind"),
        ({"category": "gossip", "kind": "fact", "text": "x"}, "category"),
        ({"category": "risk", "kind": "fact", "text": "x" * 10_001}, "text"),
        ({"category": "risk", "kind": "fact", "text": ""}, "text"),
    ],
)
def test_create_validation(cast, payload, field):
    before = CaseNote.objects.count()
    response = token_client(cast.coordinator).post(
        _url(cast), payload, content_type="application/json"
    )
    assert response.status_code == 400
    assert field in response.json()
    assert CaseNote.objects.count() == before


@pytest.mark.parametrize(
    "extra",
    [
        {"case": 2},
        {"created_by": 1},
        {"updated_by": 1},
        {"version": 7},
        {"id": 999},
        {"created_at": "2000-01-01T00:00:00Z"},
    ],
)
def test_create_refuses_foreign_fields(cast, extra):
    before = CaseNote.objects.count()
    payload = {"category": "risk", "kind": "fact", "text": "x", **extra}
    response = token_client(cast.case_manager).post(
        _url(cast), payload, content_type="application/json"
    )
    assert response.status_code == 400
    assert set(response.json()) == set(extra)
    assert CaseNote.objects.count() == before


def test_non_json_and_non_object_bodies_are_refused(cast):
    client = token_client(cast.coordinator)
    before = CaseNote.objects.count()
    form = client.post(_url(cast), {"category": "risk", "kind": "fact", "text": "x"})
    assert form.status_code == 415
    listed = client.post(_url(cast), [1, 2], content_type="application/json")
    assert listed.status_code == 400
    broken = client.post(_url(cast), "{", content_type="application/json")
    assert broken.status_code == 400
    assert CaseNote.objects.count() == before


# --- Optimistic locking ------------------------------------------------------------


def test_missing_version_is_428_and_nothing_changes(cast):
    note = cast.notes["risk"]
    client = token_client(cast.coordinator)
    for headers in ({}, {"If-Match": "*"}, {"If-Match": " "}):
        response = _patch(client, _url(cast, note), {"text": "Overwrite"}, **headers)
        assert response.status_code == 428, headers
        assert "version" in response.json()["detail"]
    note.refresh_from_db()
    assert (note.text, note.version) == (sentinel("risk"), 1)
    assert not Event.objects.filter(action=EventAction.UPDATE).exists()


def test_two_patches_of_the_same_version_one_wins_one_conflicts(cast):
    note = cast.notes["risk"]
    first = token_client(cast.coordinator)
    second = token_client(_colleague(cast))
    a = _patch(first, _url(cast, note), {"text": "Coordinator's view", "version": 1})
    b = _patch(second, _url(cast, note), {"text": "Colleague's view", "version": 1})
    assert (a.status_code, b.status_code) == (200, 409)
    assert "reload" in b.json()["detail"]
    assert "Coordinator's view" not in b.content.decode()
    note.refresh_from_db()
    assert (note.text, note.version, note.updated_by_id) == (
        "Coordinator's view",
        2,
        cast.coordinator.pk,
    )
    assert Event.objects.filter(action=EventAction.UPDATE).count() == 1


def test_stale_if_match_is_412(cast):
    note = cast.notes["justice"]
    client = token_client(cast.coordinator)
    ok = _patch(client, _url(cast, note), {"kind": "assessment"}, **{"If-Match": '"1"'})
    assert ok.status_code == 200
    assert ok["ETag"] == '"2"'
    stale = _patch(client, _url(cast, note), {"text": "Late"}, **{"If-Match": '"1"'})
    assert stale.status_code == 412
    for header in ('W/"2"', '"2", "3"', "2", '"abc"'):
        response = _patch(client, _url(cast, note), {"text": "Odd"}, **{"If-Match": header})
        assert response.status_code == 412, header
    note.refresh_from_db()
    assert (note.text, note.kind, note.version) == (sentinel("justice"), "assessment", 2)
    fresh = _patch(client, _url(cast, note), {"text": "Current"}, **{"If-Match": ok["ETag"]})
    assert fresh.status_code == 200
    note.refresh_from_db()
    assert (note.text, note.version) == ("Current", 3)


def test_if_match_and_body_version_must_agree(cast):
    note = cast.notes["risk"]
    response = _patch(
        token_client(cast.coordinator),
        _url(cast, note),
        {"text": "x", "version": 2},
        **{"If-Match": '"1"'},
    )
    assert response.status_code == 400
    note.refresh_from_db()
    assert note.version == 1


def test_put_needs_kind_and_text(cast):
    note = cast.notes["social"]
    client = token_client(cast.coordinator)
    partial = client.put(
        _url(cast, note), {"text": "Only text", "version": 1}, content_type="application/json"
    )
    assert partial.status_code == 400
    assert "kind" in partial.json()
    full = client.put(
        _url(cast, note),
        {"kind": "assessment", "text": "Both", "version": 1},
        content_type="application/json",
    )
    assert full.status_code == 200
    note.refresh_from_db()
    assert (note.kind, note.text, note.version) == ("assessment", "Both", 2)


def test_empty_patch_is_400(cast):
    note = cast.notes["risk"]
    response = _patch(token_client(cast.coordinator), _url(cast, note), {"version": 1})
    assert response.status_code == 400
    note.refresh_from_db()
    assert note.version == 1


@pytest.mark.parametrize(
    "extra",
    [
        {"category": "health"},
        {"case": 2},
        {"created_by": 2},
        {"updated_by": 2},
        {"updated_at": "2000-01-01T00:00:00Z"},
        {"id": 12345},
    ],
)
def test_patch_refuses_foreign_fields(cast, extra):
    note = cast.notes["risk"]
    response = _patch(
        token_client(cast.coordinator),
        _url(cast, note),
        {"text": "Changed", **extra},
        **{"If-Match": '"1"'},
    )
    assert response.status_code == 400
    assert set(response.json()) == set(extra)
    note.refresh_from_db()
    assert (note.text, note.category, note.case_id, note.version, note.updated_by_id) == (
        sentinel("risk"),
        "risk",
        cast.case.pk,
        1,
        cast.coordinator.pk,
    )


def test_body_version_is_the_lock_not_a_value(cast):
    note = cast.notes["risk"]
    response = _patch(token_client(cast.coordinator), _url(cast, note), {"text": "x", "version": 9})
    assert response.status_code == 409
    note.refresh_from_db()
    assert (note.version, note.text) == (1, sentinel("risk"))


def test_update_event_names_fields_not_values(cast):
    note = cast.notes["risk"]
    response = _patch(
        token_client(cast.coordinator),
        _url(cast, note),
        {"text": "Secret"},
        **{"If-Match": '"1"'},
    )
    assert response.status_code == 200
    event = Event.objects.get(action=EventAction.UPDATE)
    assert event.detail["fields"] == ["text"]
    assert "Secret" not in json.dumps(event.detail)
    assert sentinel("risk") not in json.dumps(event.detail)
