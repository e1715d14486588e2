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
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from prepare.audit.models import CaseAccessIndex, ChainHead, Event

GENESIS = "0" * 64

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


def append(event: Event) -> Event:
    """Link ``event`` to the chain and store it, inside the caller's transaction.

    The head row is locked until the transaction ends, so concurrent writers
    take turns and the chain stays linear. If anything here fails, the
    exception propagates and the caller's transaction (the request) rolls back.
    """
    with transaction.atomic():
        head = ChainHead.objects.select_for_update().filter(pk=1).first()
        if head is None:
            head = ChainHead.objects.create(pk=1, seq=0, hash=GENESIS)
        event.seq = head.seq + 1
        event.prev_hash = head.hash
        event.occurred_at = event.occurred_at or timezone.now()
        event.hash = seal(event)
        event.save(force_insert=True)
        head.seq = event.seq
        head.hash = event.hash
        head.save(update_fields=["seq", "hash"])
        case_ids = set(event.case_ids or [])
        if event.case_id is not None:
            case_ids.add(event.case_id)
        if case_ids:
            CaseAccessIndex.objects.bulk_create(
                [CaseAccessIndex(event=event, case_id=cid) for cid in sorted(case_ids)]
            )
    return event


@dataclass(frozen=True)
class ChainProblem:
    seq: int
    reason: str

    def __str__(self) -> str:
        return f"event #{self.seq}: {self.reason}"


def _iter_events(batch: int = 2000) -> Iterator[Event]:
    last = 0
    while True:
        chunk: Iterable[Event] = list(Event.objects.filter(seq__gt=last).order_by("seq")[:batch])
        rows = list(chunk)
        if not rows:
            return
        yield from rows
        last = rows[-1].seq


def verify() -> ChainProblem | None:
    """The first problem in the chain, or None if it is intact."""
    expected_seq = 1
    prev = GENESIS
    for event in _iter_events():
        if event.seq != expected_seq:
            if event.seq > expected_seq:
                return ChainProblem(
                    expected_seq, f"missing (the next event present is #{event.seq})"
                )
            return ChainProblem(event.seq, "out of order")
        if event.prev_hash != prev:
            return ChainProblem(event.seq, "does not link to the event before it")
        if not hmac.compare_digest(seal(event), event.hash):
            return ChainProblem(event.seq, "altered (its seal does not match its content)")
        prev = event.hash
        expected_seq += 1
    head = ChainHead.objects.filter(pk=1).first()
    last_seq = expected_seq - 1
    if head is None:
        if last_seq:
            return ChainProblem(last_seq, "the chain head is missing")
        return None
    if head.seq != last_seq or head.hash != prev:
        return ChainProblem(
            last_seq + 1 if head.seq > last_seq else head.seq,
            f"the chain ends at #{last_seq} but its head records #{head.seq}",
        )
    return None
