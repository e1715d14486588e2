"""``prepare audit head`` and ``verify --anchor``: detecting a rewritten or cut-back chain."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from prepare.audit.chain import GENESIS, seal
from prepare.audit.models import ChainHead, Event, EventAction
from prepare.audit.services import audit_record
from tests.access.support import audit_triggers_disabled


def _head() -> str:
    out = StringIO()
    call_command("audit", "head", stdout=out)
    return out.getvalue().strip()


def _write(n: int) -> None:
    for i in range(n):
        audit_record(action=EventAction.LOGIN_FAILED, username=f"someone{i}")


def test_head_of_an_empty_log(db) -> None:
    assert _head() == "0:" + GENESIS


def test_an_anchor_of_the_intact_chain_verifies(db) -> None:
    _write(3)
    anchor = _head()
    _write(2)
    out = StringIO()
    call_command("audit", "verify", "--anchor", anchor, stdout=out)
    assert "5 events verified" in out.getvalue()


def test_a_chain_cut_back_with_its_head_is_caught_by_the_anchor(db) -> None:
    """Whoever deletes the tail and winds the head back passes plain verify,
    but not verify against an anchor kept outside the database."""
    _write(5)
    anchor = _head()
    with audit_triggers_disabled():
        Event.objects.filter(seq__gt=3).delete()
        last = Event.objects.get(seq=3)
        ChainHead.objects.filter(pk=1).update(seq=3, hash=last.hash)
    call_command("audit", "verify", stdout=StringIO())  # on its own, the cut is invisible
    with pytest.raises(CommandError, match="#5"):
        call_command("audit", "verify", "--anchor", anchor, stdout=StringIO())


def test_a_chain_rewritten_with_the_key_is_caught_by_the_anchor(db) -> None:
    _write(3)
    anchor = _head()
    with audit_triggers_disabled():
        event = Event.objects.get(seq=3)
        event.actor_username = "forged"
        event.hash = seal(event)
        event.save(update_fields=["actor_username", "hash"])
        ChainHead.objects.filter(pk=1).update(hash=event.hash)
    call_command("audit", "verify", stdout=StringIO())
    with pytest.raises(CommandError, match="#3"):
        call_command("audit", "verify", "--anchor", anchor, stdout=StringIO())


def test_a_malformed_anchor_is_refused(db) -> None:
    with pytest.raises(CommandError, match="SEQ:HASH"):
        call_command("audit", "verify", "--anchor", "12:nothex", stdout=StringIO())
