"""A request's audit events are stored as it runs and linked to the chain just
before it commits (decision 0010): the order is kept, an event undone with its
savepoint leaves no gap, nothing else may change an event, and the chain head
is not held while a request's view runs."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction
from django.urls import reverse

from prepare.audit import chain
from prepare.audit.chain import verify
from prepare.audit.models import ChainHead, Event, EventAction
from prepare.audit.services import audit_record
from tests.access.support import run_in_threads
from tests.cast import Cast, build_cast


def sealed() -> list[tuple[int, str]]:
    return list(Event.objects.order_by("seq").values_list("seq", "action"))


def test_a_requests_events_are_sealed_at_its_end_in_the_order_written(cast: Cast) -> None:
    audit_record(action=EventAction.LOGIN, actor=cast.coordinator)
    with transaction.atomic(), chain.sealed_at_end() as scope:
        audit_record(action=EventAction.VIEW, actor=cast.coordinator, case=cast.case)
        audit_record(action=EventAction.LIST, actor=cast.coordinator, case_ids=[cast.case.pk])
        # Stored, numbered only at the end.
        assert Event.objects.filter(seq__isnull=True).count() == 2
        assert ChainHead.objects.get(pk=1).seq == 1
        chain.seal_pending(scope)
    assert sealed() == [(1, "login"), (2, "view"), (3, "list")]
    assert ChainHead.objects.get(pk=1).seq == 3
    assert verify() is None


def test_an_event_undone_with_its_savepoint_leaves_no_gap(cast: Cast) -> None:
    with transaction.atomic(), chain.sealed_at_end() as scope:
        audit_record(action=EventAction.LOGIN, actor=cast.coordinator)
        with pytest.raises(RuntimeError), transaction.atomic():
            audit_record(action=EventAction.VIEW, actor=cast.coordinator, case=cast.case)
            raise RuntimeError("the service failed")
        audit_record(action=EventAction.LOGOUT, actor=cast.coordinator)
        chain.seal_pending(scope)
    assert sealed() == [(1, "login"), (2, "logout")]
    assert verify() is None


def test_a_page_request_seals_its_event(cast: Cast, as_user) -> None:
    response = as_user(cast.case_manager).get(reverse("cases:case", args=[cast.case.pk]))
    assert response.status_code == 200
    event = Event.objects.get(action=EventAction.VIEW, case_id=cast.case.pk)
    assert event.seq is not None and event.hash
    assert not Event.objects.filter(seq__isnull=True).exists()
    assert verify() is None


def test_a_refused_page_leaves_no_event_behind(cast: Cast, as_user) -> None:
    """A view that raises (here a 404 from the policy, past the case's own error
    handling) is undone at the end of the request, as under ATOMIC_REQUESTS."""
    client = as_user(cast.police_off_team)
    before = sealed()
    response = client.get(reverse("cases:case", args=[cast.case.pk]))
    assert response.status_code == 404
    assert not Event.objects.filter(seq__isnull=True).exists()
    assert verify() is None
    assert len(sealed()) >= len(before)


def _unsealed(cast: Cast) -> Event:
    """An event stored the way a request stores it, before its seal."""
    with chain.sealed_at_end():
        return audit_record(action=EventAction.VIEW, actor=cast.coordinator, case=cast.case)


def _refused(statement: Any) -> None:
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        statement()


def test_an_unsealed_event_takes_its_seal_once_and_nothing_else(cast: Cast) -> None:
    audit_record(action=EventAction.LOGIN, actor=cast.coordinator)
    with transaction.atomic():
        event = _unsealed(cast)
        rows = Event.objects.filter(pk=event.pk)
        _refused(lambda: rows.update(actor_username="someone else"))
        _refused(lambda: rows.update(seq=2, hash="0" * 64, purpose="rewritten"))
        _refused(lambda: rows.delete())
        rows.update(seq=2, prev_hash="1" * 64, hash="2" * 64)  # the seal: allowed once
        _refused(lambda: rows.update(seq=3))
        _refused(lambda: rows.update(hash="3" * 64))
        transaction.set_rollback(True)


def test_verify_reports_an_event_stored_without_its_seal(cast: Cast) -> None:
    audit_record(action=EventAction.LOGIN, actor=cast.coordinator)
    stray = _unsealed(cast)  # never sealed, as if written around the application
    problem = verify()
    assert problem is not None
    assert f"row id {stray.pk}" in problem.reason and "without a seal" in problem.reason


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="SQLite runs one writing transaction at a time by design (IMMEDIATE)",
)
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_running_request_does_not_hold_the_chain_head() -> None:
    """While one request has written its event and is still working (rendering,
    say), another request's event is sealed and committed: the head is locked
    only from sealing to commit."""
    with transaction.atomic():
        cast = build_cast()
        audit_record(action=EventAction.LOGIN, actor=cast.coordinator)
    first_wrote = threading.Event()
    second_committed = threading.Event()

    def request(i: int) -> bool:
        if i == 0:
            with transaction.atomic(), chain.sealed_at_end() as scope:
                audit_record(action=EventAction.VIEW, actor=cast.case_manager, case=cast.case)
                first_wrote.set()
                waited = second_committed.wait(timeout=20)
                chain.seal_pending(scope)
            return waited
        assert first_wrote.wait(timeout=20)
        with transaction.atomic(), chain.sealed_at_end() as scope:
            audit_record(action=EventAction.LIST, actor=cast.coordinator, case_ids=[cast.case.pk])
            chain.seal_pending(scope)
        second_committed.set()
        return True

    results = run_in_threads(2, request)
    assert results == [True, True], results
    # The second request's event is sealed before the first one's.
    assert sealed() == [(1, "login"), (2, "list"), (3, "view")]
    assert verify() is None
