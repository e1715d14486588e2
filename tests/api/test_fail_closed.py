"""Fail closed: if the audit event cannot be written, no case data leaves and
nothing commits (LG-04)."""

from __future__ import annotations

import datetime

import pytest
from django.db import DatabaseError

from prepare.audit.models import Event
from prepare.cases.models import Case, CaseNote, CaseTeamMember, LegalHold, TriageDecision
from prepare.notifications.models import Notification
from tests.api.conftest import API, token_client
from tests.cast import sentinel


@pytest.fixture
def client_with_broken_audit(monkeypatch):
    """A token client of ``user``, after which every audit write fails."""

    def make(user):
        client = token_client(user)
        client.raise_request_exception = False

        def refuse(self, *args, **kwargs):
            client.refused_events += 1
            raise DatabaseError("audit store unavailable")

        client.refused_events = 0
        monkeypatch.setattr(Event, "save", refuse)
        return client

    return make


@pytest.mark.parametrize(
    "path",
    [
        "/cases/",
        "/cases/{k}/",
        "/cases/{k}/team/",
        "/cases/{k}/notes/",
        "/cases/{k}/notes/{n}/",
        "/triage/",
        "/cases/{k}/triage/",
        "/my-tasks/",
        "/cases/{k}/timeline/",
        "/cases/{k}/legal-holds/",
    ],
)
def test_reads_fail_closed(cast, client_with_broken_audit, path):
    client = client_with_broken_audit(cast.coordinator)
    before = Event.objects.count()
    url = API + path.format(k=cast.case.pk, n=cast.notes["risk"].pk)
    response = client.get(url)
    assert response.status_code == 500
    assert client.refused_events == 1
    body = response.content.decode()
    assert "Sentinelia" not in body
    assert "SENTINEL" not in body
    assert "TST-2026-0001" not in body
    assert Event.objects.count() == before


def test_writes_fail_closed(cast, client_with_broken_audit):
    client = client_with_broken_audit(cast.coordinator)
    notes_before = CaseNote.objects.count()
    team_before = CaseTeamMember.objects.count()
    created = client.post(
        f"{API}/cases/{cast.case.pk}/notes/",
        {"category": "risk", "kind": "fact", "text": "Unlogged"},
        content_type="application/json",
    )
    assert created.status_code == 500
    note = cast.notes["risk"]
    updated = client.patch(
        f"{API}/cases/{cast.case.pk}/notes/{note.pk}/",
        {"text": "Unlogged"},
        content_type="application/json",
        headers={"If-Match": '"1"'},
    )
    assert updated.status_code == 500
    added = client.post(
        f"{API}/cases/{cast.case.pk}/team/",
        {"organisation": cast.orgs["municipality"].pk, "purpose": "x"},
        content_type="application/json",
    )
    assert added.status_code == 500
    assert client.refused_events == 3
    assert CaseNote.objects.count() == notes_before
    assert CaseTeamMember.objects.count() == team_before
    note.refresh_from_db()
    assert (note.text, note.version) == (sentinel("risk"), 1)
    assert not CaseNote.objects.filter(text="Unlogged").exists()


def test_a_triage_decision_fails_closed(cast, client_with_broken_audit):
    Case.objects.filter(pk=cast.case.pk).update(status="triage")
    client = client_with_broken_audit(cast.coordinator)
    response = client.post(
        f"{API}/cases/{cast.case.pk}/triage/",
        {"outcome": "no_action", "reasons": "Unlogged", "version": 1},
        content_type="application/json",
    )
    assert response.status_code == 500
    assert client.refused_events == 1
    cast.case.refresh_from_db()
    assert (cast.case.status, cast.case.version) == ("triage", 1)
    assert not TriageDecision.objects.exists()


def test_notifications_fail_closed(cast, client_with_broken_audit):
    notification = Notification.objects.create(
        user=cast.coordinator,
        kind="release",
        case_id=cast.case.pk,
        title=f"Release of {cast.case.reference}",
        dedupe_key="fail-closed",
    )
    client = client_with_broken_audit(cast.coordinator)
    listed = client.get(f"{API}/notifications/")
    marked = client.post(f"{API}/notifications/{notification.pk}/read/", {}, "application/json")
    all_marked = client.post(f"{API}/notifications/read-all/", {}, "application/json")
    assert (listed.status_code, marked.status_code, all_marked.status_code) == (500, 500, 500)
    assert client.refused_events == 3
    assert "TST-2026-0001" not in listed.content.decode() + marked.content.decode()
    notification.refresh_from_db()
    assert notification.read_at is None


def test_legal_holds_fail_closed(cast, client_with_broken_audit):
    placed = LegalHold.objects.create(
        case=cast.case,
        reason="Court order",
        until=datetime.date(2040, 1, 1),
        placed_by=cast.coordinator,
    )
    client = client_with_broken_audit(cast.coordinator)
    created = client.post(
        f"{API}/cases/{cast.case.pk}/legal-holds/",
        {"reason": "Unlogged", "until": "2040-01-01"},
        content_type="application/json",
    )
    released = client.post(
        f"{API}/cases/{cast.case.pk}/legal-holds/{placed.pk}/release/",
        {},
        content_type="application/json",
    )
    assert (created.status_code, released.status_code) == (500, 500)
    assert client.refused_events == 2
    assert list(LegalHold.objects.values_list("pk", "released_at")) == [(placed.pk, None)]
