"""Fail closed (LG-04): a read or write whose audit event cannot be written is
not served and commits nothing.

The requests run with real transactions (``transaction=True``), so that the
rollback of the request's transaction (AuditedTransactionMiddleware) is the
database's, not the test's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import transaction
from django.test import Client
from django.urls import reverse

from prepare.access.models import CaseGrant
from prepare.audit import chain
from prepare.audit.models import CaseAccessIndex, ChainHead, Event
from prepare.audit.services import audit_record
from prepare.cases.models import Case, CaseNote
from prepare.cases.services import note_create
from tests.access.support import flushable_audit  # noqa: F401 (a fixture, used by name)
from tests.cast import ALL, Cast, build_cast, sentinel


class AuditDown(Exception):
    """The audit store failed."""


def _raise(*args: Any, **kwargs: Any) -> Any:
    raise AuditDown


# Where the audit write can fail: before anything is written, after the event
# row is inserted (the head move fails), after event and head (the index fails).
FAULTS: dict[str, Callable[[pytest.MonkeyPatch], None]] = {
    "chain_append": lambda mp: mp.setattr(chain, "append", _raise),
    "event_save": lambda mp: mp.setattr(Event, "save", _raise),
    "head_save": lambda mp: mp.setattr(ChainHead, "save", _raise),
    "index_write": lambda mp: mp.setattr(CaseAccessIndex.objects, "bulk_create", _raise),
    # In a request the events are linked at its end, after the page is rendered.
    "seal": lambda mp: mp.setattr(chain, "seal_pending", _raise),
    "seal_write": lambda mp: mp.setattr(Event.objects, "bulk_update", _raise),
}

SECRETS = [sentinel(c) for c in ALL] + ["Sentinelia", "Identitas"]


def state() -> dict[str, Any]:
    """Everything a served request or a write would leave behind."""
    return {
        "events": list(Event.objects.order_by("seq").values_list("seq", "hash")),
        "head": list(ChainHead.objects.values_list("seq", "hash")),
        "index": CaseAccessIndex.objects.count(),
        "notes": sorted(CaseNote.objects.values_list("pk", "text", "version")),
        "cases": sorted(Case.objects.values_list("pk", "updated_at", "version")),
        "grants": sorted(CaseGrant.objects.values_list("case_id", "organisation_id", "sort_key")),
    }


@pytest.fixture
def world(request: pytest.FixtureRequest, transactional_db: None) -> Iterator[Cast]:
    request.getfixturevalue("flushable_audit")
    # One commit for the whole cast (each commit is a disk flush on SQLite),
    # and one event already in the chain, so that a failed write could leave a gap.
    with transaction.atomic():
        cast = build_cast()
        audit_record(action="login", actor=cast.coordinator)
    yield cast


def failing_client(as_user: Callable[[Any], Client], user: Any) -> Client:
    client = as_user(user)
    client.raise_request_exception = False
    return client


def assert_fails_closed(
    monkeypatch: pytest.MonkeyPatch, request: Callable[[], Any], faults: list[str]
) -> None:
    """For each fault: a 5xx, no secret in the body, and nothing changed."""
    for fault in faults:
        before = state()
        FAULTS[fault](monkeypatch)
        try:
            response = request()
        finally:
            monkeypatch.undo()
        body = response.content.decode()
        assert response.status_code >= 500, fault
        assert [s for s in SECRETS if s in body] == [], fault
        assert state() == before, fault
    assert chain.verify() is None


def test_a_case_page_is_not_served_without_its_event(
    world: Cast, as_user, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = failing_client(as_user, world.case_manager)
    url = reverse("cases:case", args=[world.case.pk])
    assert_fails_closed(monkeypatch, lambda: client.get(url), list(FAULTS))
    # The control: without a fault the same request shows what the faults hid.
    page = client.get(url)
    assert page.status_code == 200
    assert sentinel("justice") in page.content.decode()
    assert Event.objects.filter(action="view", case_id=world.case.pk).count() == 1


def test_a_caseload_is_not_served_without_its_event(
    world: Cast, as_user, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = failing_client(as_user, world.coordinator)
    url = reverse("cases:caseload")
    assert_fails_closed(monkeypatch, lambda: client.get(url), list(FAULTS))
    page = client.get(url)
    assert page.status_code == 200
    assert "Sentinelia" in page.content.decode()


def test_a_note_posted_without_its_event_is_not_kept(
    world: Cast, as_user, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = failing_client(as_user, world.case_manager)
    url = reverse("cases:note_create", args=[world.case.pk])
    data = {"category": "justice", "kind": "fact", "text": "KEPT-ONLY-IF-AUDITED"}
    assert_fails_closed(monkeypatch, lambda: client.post(url, data), list(FAULTS))
    assert not CaseNote.objects.filter(text=data["text"]).exists()
    response = client.post(url, data)
    assert response.status_code in (200, 302)
    note = CaseNote.objects.get(text=data["text"])
    assert Event.objects.filter(action="create", object_id=str(note.pk)).count() == 1


# Outside a request (the worker, commands) an event is linked as it is written.
WRITE_FAULTS = [f for f in FAULTS if not f.startswith("seal")]


@pytest.mark.django_db(transaction=False)
@pytest.mark.parametrize("fault", WRITE_FAULTS)
def test_a_service_write_without_its_event_is_rolled_back(
    cast: Cast, monkeypatch: pytest.MonkeyPatch, fault: str
) -> None:
    audit_record(action="login", actor=cast.coordinator)
    before = state()
    FAULTS[fault](monkeypatch)
    with pytest.raises(AuditDown), transaction.atomic():
        note_create(
            actor=cast.case_manager,
            case_id=cast.case.pk,
            category="justice",
            kind="fact",
            text="LEAKED-IF-KEPT",
        )
    monkeypatch.undo()
    assert not CaseNote.objects.filter(text="LEAKED-IF-KEPT").exists()
    assert state() == before
    assert chain.verify() is None
