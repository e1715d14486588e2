"""``prepare audit verify``: exit 0 on an intact log, non-zero naming the first
bad event after each kind of tampering (LG-05)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from io import StringIO
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection

from prepare.audit.models import Event
from tests.access.support import (
    audit_triggers,
    audit_triggers_disabled,
    flushable_audit,  # noqa: F401 (a fixture, used by name)
)
from tests.audit.test_chain import TAMPERINGS, quick_chain

ROOT = Path(__file__).resolve().parents[2]


def verify_command() -> str:
    out = StringIO()
    call_command("audit", "verify", stdout=out)
    return out.getvalue()


def test_an_intact_log_passes(db) -> None:
    quick_chain()
    assert "Audit chain intact: 8 events verified." in verify_command()


def test_an_empty_log_passes(db) -> None:
    assert "Audit chain intact: 0 events verified." in verify_command()


@pytest.mark.parametrize("tamper", TAMPERINGS, ids=[t.__name__ for t in TAMPERINGS])
def test_tampering_fails_naming_the_first_bad_event(
    db, tamper: Callable[[list[Event]], int]
) -> None:
    events = quick_chain()
    with audit_triggers_disabled():
        first_bad = tamper(events)
    with pytest.raises(CommandError, match=rf"Audit chain broken at event #{first_bad}:"):
        verify_command()


def test_an_edited_row_fails(db) -> None:
    events = quick_chain()
    with audit_triggers_disabled():
        Event.objects.filter(pk=events[2].pk).update(purpose="nothing to see")
    with pytest.raises(CommandError, match=r"event #3: altered"):
        verify_command()


# --- The real command, in its own process ---------------------------------------------


def _database_url() -> str:
    """The test database, as the ``prepare`` command reads it from the environment."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    auth = quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        auth += ":" + quote(db["PASSWORD"], safe="")
    host = db["HOST"] or "localhost"
    port = f":{db['PORT']}" if db["PORT"] else ""
    return f"postgres://{auth}@{host}{port}/{db['NAME']}"


def run_prepare(*args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "DJANGO_SETTINGS_MODULE": "prepare.settings",
        "AUDIT_CHAIN_KEY": settings.AUDIT_CHAIN_KEY,
    }
    env.pop("AUDIT_CHAIN_KEY_FILE", None)
    return subprocess.run(
        [sys.executable, "-m", "prepare", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("flushable_audit")
def test_the_command_exits_0_then_1_in_a_real_process() -> None:
    events = quick_chain()
    intact = run_prepare("audit", "verify")
    assert intact.returncode == 0, intact.stderr
    assert "Audit chain intact: 8 events verified." in intact.stdout

    with audit_triggers_disabled():
        Event.objects.filter(pk=events[4].pk).update(category="health")
    broken = run_prepare("audit", "verify")
    assert broken.returncode != 0
    assert "Audit chain broken at event #5: altered" in broken.stderr
    # The attacker's switch is off again: the table is append-only once more.
    assert len(audit_triggers()) == 2
