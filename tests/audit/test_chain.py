"""The audit chain: append-only in the database, every tampering detected,
every event complete, and gapless under concurrent writers (LG-01, LG-05)."""

from __future__ import annotations

import datetime
import hashlib
import hmac
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction
from django.urls import reverse
from django.utils import timezone

from prepare.audit import chain
from prepare.audit.chain import GENESIS, SEALED_FIELDS, ChainProblem, verify
from prepare.audit.context import RequestContext, reset_context, set_context
from prepare.audit.models import CaseAccessIndex, ChainHead, Event, EventAction, Outcome
from prepare.audit.services import audit_record
from prepare.cases.selectors import case_detail, caseload
from prepare.cases.services import break_glass_open, note_create, note_update, team_member_add
from tests.access.support import (
    audit_triggers,
    audit_triggers_disabled,
    flushable_audit,  # noqa: F401 (a fixture, used by name)
    run_in_threads,
)
from tests.cast import Cast, current_code

# --- A chain made by the services -------------------------------------------------


def make_chain(cast: Cast) -> list[Event]:
    """Eight events of every kind: sign-ins, writes, reads, lists, disclosures."""
    audit_record(action=EventAction.LOGIN, actor=cast.case_manager)
    note = note_create(
        actor=cast.case_manager, case_id=cast.case.pk, category="justice", kind="fact", text="t"
    )
    case_detail(actor=cast.ngo_mentor, case_id=cast.case.pk)
    caseload(actor=cast.coordinator)
    team_member_add(
        actor=cast.coordinator,
        case_id=cast.case.pk,
        organisation=cast.orgs["police"],
        purpose="Risk",
    )
    note_update(actor=cast.case_manager, note_id=note.pk, version=1, text="changed")
    audit_record(action=EventAction.LOGIN_FAILED, username="nobody", outcome=Outcome.FAILURE)
    break_glass_open(
        actor=cast.police_off_team,
        case_id=cast.case.pk,
        justification="Imminent threat reported by the night shift",
        code=current_code(cast.police_off_team),
    )
    events = list(Event.objects.order_by("seq"))
    assert [e.seq for e in events] == list(range(1, 9))
    return events


@dataclass
class Someone:
    """An actor as the audit service sees one (no user row needed to tamper)."""

    pk: int
    organisation_id: int
    role: str
    is_authenticated: bool = True

    def get_username(self) -> str:
        return f"user-{self.pk}"


def quick_chain() -> list[Event]:
    """Eight events with every sealed field filled, written by ``audit_record``."""
    token = set_context(RequestContext(request_id="5f0c2a9e-request", source_ip="192.0.2.7"))
    try:
        for i in range(1, 9):
            audit_record(
                action=EventAction.VIEW if i % 2 else EventAction.LIST,
                actor=Someone(pk=100 + i, organisation_id=10 + i % 3, role="practitioner"),
                case=Someone(pk=500 + i, organisation_id=0, role=""),
                case_ids=[600 + i, 700 + i],
                category="social",
                purpose=f"purpose {i}",
                detail={"view": "case", "notes": [i, i + 1]},
            )
    finally:
        reset_context(token)
    events = list(Event.objects.order_by("seq"))
    assert [e.seq for e in events] == list(range(1, 9))
    return events


@pytest.fixture
def events(db) -> list[Event]:
    return quick_chain()


@pytest.fixture
def service_events(cast: Cast) -> list[Event]:
    return make_chain(cast)


def forged_seal(event: Event) -> str:
    """What an attacker without the chain key can compute: a seal with another key."""
    return hmac.new(b"not-the-key", chain._canonical(event), hashlib.sha256).hexdigest()


def test_an_intact_chain_verifies(service_events: list[Event]) -> None:
    assert verify() is None
    prev = GENESIS
    for event in service_events:
        assert event.prev_hash == prev
        prev = event.hash
    head = ChainHead.objects.get()
    assert (head.seq, head.hash) == (8, service_events[-1].hash)


def test_a_rolled_back_event_leaves_no_gap(cast: Cast) -> None:
    audit_record(action=EventAction.LOGIN, actor=cast.coordinator)
    with pytest.raises(RuntimeError), transaction.atomic():
        audit_record(action=EventAction.VIEW, actor=cast.coordinator, case=cast.case)
        raise RuntimeError("the request failed")
    audit_record(action=EventAction.LOGOUT, actor=cast.coordinator)
    assert list(Event.objects.order_by("seq").values_list("seq", "action")) == [
        (1, "login"),
        (2, "logout"),
    ]
    assert verify() is None


# --- Append-only in the database -------------------------------------------------------


def test_the_triggers_are_installed(db) -> None:
    expected = {"audit_event_no_update"}
    expected |= (
        {"audit_event_no_truncate"}
        if connection.vendor == "postgresql"
        else {"audit_event_no_delete"}
    )
    assert audit_triggers() == expected


def _refused(statement: Callable[[], Any]) -> None:
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        statement()


def test_the_database_refuses_update_and_delete(service_events: list[Event]) -> None:
    events = service_events
    event = events[3]
    original = (event.purpose, event.hash)
    _refused(lambda: Event.objects.filter(pk=event.pk).update(purpose="rewritten"))
    _refused(lambda: Event.objects.filter(pk=event.pk).delete())
    _refused(lambda: Event.objects.all().delete())

    def raw(sql: str, params: list[Any] | None = None) -> None:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)

    _refused(lambda: raw("UPDATE audit_event SET purpose = %s WHERE id = %s", ["x", event.pk]))
    _refused(lambda: raw("DELETE FROM audit_event WHERE id = %s", [event.pk]))
    _refused(lambda: raw("DELETE FROM audit_event"))
    if connection.vendor == "postgresql":
        raw("SET CONSTRAINTS ALL IMMEDIATE")  # no foreign-key checks left pending
        _refused(lambda: raw("TRUNCATE audit_event CASCADE"))

    def save_again() -> None:
        event.purpose = "rewritten"
        event.save()

    _refused(save_again)
    assert Event.objects.count() == len(events)
    stored = Event.objects.get(pk=event.pk)
    assert (stored.purpose, stored.hash) == original
    assert verify() is None


# --- Every tampering is detected ---------------------------------------------------------

K = 4  # the event tampered with, in the middle of the chain

# A different value for each sealed field of an event.
EDITS: dict[str, Callable[[Event], Any]] = {
    "occurred_at": lambda e: e.occurred_at + datetime.timedelta(microseconds=1),
    "actor_id": lambda e: (e.actor_id or 0) + 1,
    "actor_username": lambda e: "mallory",
    "organisation_id": lambda e: (e.organisation_id or 0) + 1,
    "role": lambda e: "auditor",
    "action": lambda e: "search",
    "outcome": lambda e: "denied",
    "case_id": lambda e: 999_999,
    "case_ids": lambda e: [*e.case_ids, 999_999],
    "object_type": lambda e: "cases.casenote",
    "object_id": lambda e: "999999",
    "category": lambda e: "intelligence",
    "purpose": lambda e: "routine check",
    "detail": lambda e: {**e.detail, "page": 2},
    "request_id": lambda e: "00000000-0000-0000-0000-000000000000",
    "source_ip": lambda e: "10.9.8.7",
    "prev_hash": lambda e: "f" * 64,
    "hash": lambda e: "0" * 64,
    "seq": lambda e: 1_000_000,
}


def test_every_sealed_field_has_an_edit() -> None:
    assert set(EDITS) == set(SEALED_FIELDS) | {"hash"}


@pytest.mark.parametrize("field", list(EDITS))
def test_an_edited_field_is_detected(events: list[Event], field: str) -> None:
    event = events[K - 1]
    with audit_triggers_disabled():
        Event.objects.filter(pk=event.pk).update(**{field: EDITS[field](event)})
    problem = verify()
    assert problem is not None
    assert problem.seq == K


def test_an_edit_resealed_without_the_key_is_detected(events: list[Event]) -> None:
    event = events[K - 1]
    event.purpose = "routine check"
    with audit_triggers_disabled():
        Event.objects.filter(pk=event.pk).update(purpose=event.purpose, hash=forged_seal(event))
    assert verify() == ChainProblem(K, "altered (its seal does not match its content)")


def delete_one(events: list[Event]) -> int:
    Event.objects.filter(pk=events[K - 1].pk).delete()
    return K


def delete_first(events: list[Event]) -> int:
    Event.objects.filter(pk=events[0].pk).delete()
    return 1


def delete_last(events: list[Event]) -> int:
    Event.objects.filter(pk=events[-1].pk).delete()
    return len(events)


def truncate_tail(events: list[Event]) -> int:
    Event.objects.filter(seq__gt=5).delete()
    return 6


def _forge(seq: int, prev_hash: str) -> None:
    event = Event(
        seq=seq,
        occurred_at=timezone.now(),
        actor_username="mallory",
        action=EventAction.VIEW,
        prev_hash=prev_hash,
    )
    event.hash = forged_seal(event)
    event.save(force_insert=True)


def insert_at_end(events: list[Event]) -> int:
    _forge(len(events) + 1, events[-1].hash)
    return len(events) + 1


def insert_at_end_and_move_head(events: list[Event]) -> int:
    _forge(len(events) + 1, events[-1].hash)
    forged = Event.objects.get(seq=len(events) + 1)
    ChainHead.objects.update(seq=forged.seq, hash=forged.hash)
    return len(events) + 1


def insert_in_the_middle(events: list[Event]) -> int:
    for event in reversed(events[K - 1 :]):
        Event.objects.filter(pk=event.pk).update(seq=event.seq + 1)
    _forge(K, events[K - 2].hash)
    return K


def insert_before_the_first(events: list[Event]) -> int:
    _forge(0, GENESIS)
    return 0


def swap_two(events: list[Event]) -> int:
    a, b = events[K - 1], events[K + 1]
    Event.objects.filter(pk=a.pk).update(seq=10_000)
    Event.objects.filter(pk=b.pk).update(seq=a.seq)
    Event.objects.filter(pk=a.pk).update(seq=b.seq)
    return K


def swap_neighbours(events: list[Event]) -> int:
    a, b = events[K - 1], events[K]
    Event.objects.filter(pk=a.pk).update(seq=10_000)
    Event.objects.filter(pk=b.pk).update(seq=a.seq)
    Event.objects.filter(pk=a.pk).update(seq=b.seq)
    return K


def remove_the_head(events: list[Event]) -> int:
    ChainHead.objects.all().delete()
    return len(events)


def rewind_the_head(events: list[Event]) -> int:
    ChainHead.objects.update(seq=5, hash=events[4].hash)
    return 6


TAMPERINGS: list[Callable[[list[Event]], int]] = [
    delete_one,
    delete_first,
    delete_last,
    truncate_tail,
    insert_at_end,
    insert_at_end_and_move_head,
    insert_in_the_middle,
    insert_before_the_first,
    swap_two,
    swap_neighbours,
    remove_the_head,
    rewind_the_head,
]


@pytest.mark.parametrize("tamper", TAMPERINGS, ids=[t.__name__ for t in TAMPERINGS])
def test_tampering_is_detected_at_the_first_bad_event(
    events: list[Event], tamper: Callable[[list[Event]], int]
) -> None:
    with audit_triggers_disabled():
        first_bad = tamper(events)
    problem = verify()
    assert problem is not None
    assert problem.seq == first_bad, str(problem)


# --- Every event is complete --------------------------------------------------------------


def test_every_event_says_who_what_when_where(cast: Cast, as_user) -> None:
    before = timezone.now()
    response = as_user(cast.ngo_mentor).get(reverse("cases:case", args=[cast.case.pk]))
    assert response.status_code == 200
    event = Event.objects.get(action=EventAction.VIEW, case_id=cast.case.pk)
    assert event.actor_id == cast.ngo_mentor.pk
    assert event.actor_username == "ngo_mentor"
    assert event.organisation_id == cast.orgs["ngo"].pk
    assert event.role == "practitioner"
    assert before <= event.occurred_at <= timezone.now()
    assert event.request_id == response["X-Request-ID"] != ""
    assert event.source_ip == "127.0.0.1"
    assert (event.action, event.outcome) == ("view", "success")
    assert (event.object_type, event.object_id) == ("cases.case", str(cast.case.pk))
    assert CaseAccessIndex.objects.filter(event=event, case_id=cast.case.pk).exists()


def test_events_of_the_services_are_complete(service_events: list[Event]) -> None:
    for event in service_events:
        assert event.action in EventAction.values
        assert event.outcome in Outcome.values
        assert event.occurred_at is not None
        if event.action == EventAction.LOGIN_FAILED:
            assert (event.actor_id, event.actor_username) == (None, "nobody")
            continue
        assert event.actor_id is not None and event.actor_username
        assert event.organisation_id is not None and event.role
        # Outside a request there is no request id to give.
        assert (event.request_id, event.source_ip) == ("", None)


@pytest.mark.parametrize(
    ("address", "stored"),
    [
        ("2001:DB8:0:0::1", "2001:db8::1"),
        ("2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"),
        ("::ffff:192.0.2.1", "::ffff:192.0.2.1"),
        ("192.0.2.1", "192.0.2.1"),
        ("not an address", None),
        ("", None),
    ],
)
def test_addresses_are_sealed_as_stored(cast: Cast, address: str, stored: str | None) -> None:
    token = set_context(RequestContext(request_id="r-1", source_ip=address))
    try:
        audit_record(action=EventAction.VIEW, actor=cast.coordinator, case=cast.case)
    finally:
        reset_context(token)
    event = Event.objects.get()
    assert event.source_ip == stored
    assert verify() is None


# --- Concurrent writers ---------------------------------------------------------------------

THREADS = 8
EVENTS_PER_THREAD = 5


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("flushable_audit")
def test_concurrent_writers_keep_the_chain_linear() -> None:
    """Each thread appends in its own transactions, starting on an empty chain
    (so the first writers also race to create the chain head)."""

    writing = threading.Semaphore(0)
    verdicts: list[ChainProblem | None] = []

    def work(i: int) -> list[int]:
        if i == THREADS:
            # A verifier reading while the others write: events committed
            # between its reads are not a broken chain.
            for _ in range(THREADS):
                while not writing.acquire(blocking=False):
                    verdicts.append(verify())
            return []
        seqs = []
        try:
            for j in range(EVENTS_PER_THREAD):
                with transaction.atomic():
                    event = audit_record(action=EventAction.LOGIN, username=f"thread-{i}-{j}")
                seqs.append(event.seq)
        finally:
            writing.release()
        return seqs

    results = run_in_threads(THREADS + 1, work)
    errors = [r for r in results if isinstance(r, BaseException)]
    assert errors == []
    assert verdicts and set(verdicts) == {None}
    total = THREADS * EVENTS_PER_THREAD
    assert sorted(s for seqs in results for s in seqs) == list(range(1, total + 1))
    assert list(Event.objects.order_by("seq").values_list("seq", flat=True)) == list(
        range(1, total + 1)
    )
    assert set(Event.objects.values_list("actor_username", flat=True)) == {
        f"thread-{i}-{j}" for i in range(THREADS) for j in range(EVENTS_PER_THREAD)
    }
    assert ChainHead.objects.get().seq == total
    assert verify() is None
