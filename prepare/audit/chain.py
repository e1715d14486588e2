"""Writing and verifying the audit chain.

Each event's hash is an HMAC over its own fields and the previous event's
hash; ``seq`` counts from 1 without gaps and the chain head remembers the last
link. An edited row breaks its own hash, a deleted row leaves a gap in
``seq``, an inserted row cannot produce a valid HMAC without the key, and a
removed tail no longer matches the head.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_ipv46_address
from django.db import transaction
from django.utils import timezone

from prepare.audit.models import CaseAccessIndex, ChainHead, Event

GENESIS = "0" * 64
_SOURCE_IP = Event._meta.get_field("source_ip")


def _stored_ip(value: str | None) -> str | None:
    """The address as the database will keep it, or None if it is not one.

    PostgreSQL's ``inet`` refuses a malformed address (the request would fail
    on its audit event), and an empty one is stored as NULL.
    """
    if not value:
        return None
    try:
        validate_ipv46_address(value)
    except ValidationError:
        return None
    return _SOURCE_IP.get_prep_value(value) or None


# The fields covered by the seal, in a fixed order.
SEALED_FIELDS = (
    "seq",
    "occurred_at",
    "actor_id",
    "actor_username",
    "organisation_id",
    "role",
    "action",
    "outcome",
    "case_id",
    "case_ids",
    "object_type",
    "object_id",
    "category",
    "purpose",
    "detail",
    "request_id",
    "source_ip",
    "prev_hash",
)


def _canonical(event: Event) -> bytes:
    values: dict[str, Any] = {}
    for name in SEALED_FIELDS:
        value = getattr(event, name)
        if name == "occurred_at":
            value = value.astimezone(datetime.UTC).isoformat(timespec="microseconds")
        values[name] = value
    return json.dumps(values, sort_keys=True, separators=(",", ":"), default=str).encode()


def seal(event: Event) -> str:
    key = settings.AUDIT_CHAIN_KEY.encode()
    return hmac.new(key, _canonical(event), hashlib.sha256).hexdigest()


@dataclass
class SealingScope:
    """The events a request wrote, linked to the chain when its transaction ends."""

    pending: list[Event] = field(default_factory=list)


_scope: ContextVar[SealingScope | None] = ContextVar("prepare_audit_sealing", default=None)


@contextmanager
def sealed_at_end() -> Iterator[SealingScope]:
    """Within this block (one request's transaction), ``append`` stores each
    event at once and ``seal_pending`` links them all at the end.

    The chain head is then locked for the last moment of the transaction only
    (sealing and commit), not from the first event through rendering the page:
    concurrent requests no longer take turns for their whole duration.
    """
    scope = SealingScope()
    token = _scope.set(scope)
    try:
        yield scope
    finally:
        _scope.reset(token)


def _locked_head() -> ChainHead:
    head = ChainHead.objects.select_for_update().filter(pk=1).first()
    if head is None:
        # The very first event: two writers may both find no head. The
        # insert that loses waits for the winner and then does nothing
        # (instead of failing on the primary key); both then lock the row.
        ChainHead.objects.bulk_create([ChainHead(pk=1, seq=0, hash=GENESIS)], ignore_conflicts=True)
        head = ChainHead.objects.select_for_update().get(pk=1)
    return head


def _link(head: ChainHead, event: Event) -> None:
    event.seq = head.seq + 1
    event.prev_hash = head.hash
    event.hash = seal(event)
    head.seq = event.seq
    head.hash = event.hash


def _index(event: Event) -> None:
    case_ids = set(event.case_ids or [])
    if event.case_id is not None:
        case_ids.add(event.case_id)
    if case_ids:
        CaseAccessIndex.objects.bulk_create(
            [CaseAccessIndex(event=event, case_id=cid) for cid in sorted(case_ids)]
        )


def append(event: Event) -> Event:
    """Store ``event`` in the caller's transaction, linked to the chain.

    Inside ``sealed_at_end`` (a request) the event is stored now and linked by
    ``seal_pending`` just before the transaction commits; elsewhere (the
    worker, commands) it is linked now, and the head row stays locked until
    the transaction ends, so concurrent writers take turns and the chain
    stays linear. If anything here fails, the exception propagates and the
    caller's transaction rolls back.
    """
    event.occurred_at = event.occurred_at or timezone.now()
    # Seal what the database will store: it normalises IPv6 addresses
    # ("2001:DB8::0:1" is kept as "2001:db8::1"), which would otherwise
    # read back as an altered event.
    event.source_ip = _stored_ip(event.source_ip)
    scope = _scope.get()
    if scope is not None and transaction.get_connection().in_atomic_block:
        event.seq = None
        event.prev_hash = ""
        event.hash = ""
        event.save(force_insert=True)
        _index(event)
        scope.pending.append(event)
        return event
    with transaction.atomic():
        head = _locked_head()
        _link(head, event)
        event.save(force_insert=True)
        head.save(update_fields=["seq", "hash"])
        _index(event)
    return event


def seal_pending(scope: SealingScope) -> None:
    """Link the scope's events that are still stored (a savepoint rolled back
    since may have taken some with it) to the chain, in the order written.

    Runs last in the request's transaction: the head is locked from here to
    the commit. The append-only triggers let an unsealed event receive its
    seal once, and nothing else.
    """
    written, scope.pending = scope.pending, []
    if not written:
        return
    stored = set(
        Event.objects.filter(pk__in=[e.pk for e in written], seq__isnull=True)
        .order_by()
        .values_list("pk", flat=True)
    )
    # SQLite may give a rolled-back row's id to the next insert: of two events
    # with one id, only the later can still be stored.
    latest: dict[int, Event] = {}
    for event in written:
        latest.pop(event.pk, None)
        latest[event.pk] = event
    events = [e for pk, e in latest.items() if pk in stored]
    if not events:
        return
    head = _locked_head()
    for event in events:
        _link(head, event)
    Event.objects.bulk_update(events, ["seq", "prev_hash", "hash"])
    head.save(update_fields=["seq", "hash"])


@dataclass(frozen=True)
class ChainProblem:
    seq: int
    reason: str

    def __str__(self) -> str:
        return f"event #{self.seq}: {self.reason}"


def _iter_events(after: int | None = None, batch: int = 2000) -> Iterator[Event]:
    """Events in ``seq`` order, all of them or those after ``after``.

    The first batch has no lower bound, so that a row slipped in with seq 0
    is seen (and reported) rather than skipped.
    """
    while True:
        events = Event.objects.filter(seq__isnull=False).order_by("seq")
        if after is not None:
            events = events.filter(seq__gt=after)
        rows: list[Event] = list(events[:batch])
        if not rows:
            return
        yield from rows
        after = rows[-1].seq


def verify() -> ChainProblem | None:
    """The first problem in the chain, or None if it is intact.

    Safe while the application runs: an event and the head's move to it
    commit together, so a head ahead of the events read means events were
    written meanwhile; they are read and checked too before the head is judged.
    """
    # An event is linked in the transaction that stores it: one stored without
    # its link was not written by the application.
    unsealed = Event.objects.filter(seq__isnull=True).order_by("pk").values_list("pk", flat=True)
    stray = unsealed.first()
    if stray is not None:
        return ChainProblem(0, f"an event (row id {stray}) is stored without a seal")
    expected_seq = 1
    prev = GENESIS
    after: int | None = None
    while True:
        for event in _iter_events(after):
            seq = int(event.seq or 0)  # read with seq__isnull=False
            if seq != expected_seq:
                if seq > expected_seq:
                    return ChainProblem(expected_seq, f"missing (the next event present is #{seq})")
                return ChainProblem(seq, "out of order")
            if event.prev_hash != prev:
                return ChainProblem(seq, "does not link to the event before it")
            if not hmac.compare_digest(seal(event), event.hash):
                return ChainProblem(seq, "altered (its seal does not match its content)")
            prev = event.hash
            expected_seq += 1
        last_seq = expected_seq - 1
        head = ChainHead.objects.filter(pk=1).first()
        if head is None or head.seq <= last_seq:
            break
        if not Event.objects.filter(seq__gt=last_seq).exists():
            break
        after = last_seq
    if head is None:
        if last_seq:
            return ChainProblem(last_seq, "the chain head is missing")
        return None
    if head.seq > last_seq:
        return ChainProblem(
            last_seq + 1, f"missing (the chain ends at #{last_seq}, its head records #{head.seq})"
        )
    if head.seq < last_seq:
        # The head only moves with an event; events past it were not written
        # by the application (or the head was wound back over a removed tail).
        return ChainProblem(
            head.seq + 1, f"past the end of the chain (its head records #{head.seq})"
        )
    if not hmac.compare_digest(head.hash, prev):
        return ChainProblem(last_seq, "does not match the chain head")
    return None
