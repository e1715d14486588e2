"""Optimistic locking (RL-01): no lost update, whatever the interleaving."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import transaction

from prepare.accounts.models import User
from prepare.audit.chain import verify
from prepare.audit.models import Event, EventAction
from prepare.cases.services import note_update
from prepare.locking import MAX_VERSION, StaleVersion, VersionRequired, parse_version
from tests.access.support import flushable_audit, run_in_threads  # noqa: F401 (a fixture)
from tests.cast import Cast, build_cast, sentinel


@pytest.mark.parametrize(
    "raw",
    [
        None,
        "",
        "   ",
        "abc",
        0,
        "0",
        -1,
        "-1",
        1.0,
        1.5,
        "1.5",
        True,
        False,
        "²",
        "٣",
        [1],
        {"v": 1},
        MAX_VERSION + 1,
        str(2**70),
    ],
)
def test_parse_version_requires_a_positive_whole_number(raw: Any) -> None:
    with pytest.raises(VersionRequired):
        parse_version(raw)


@pytest.mark.parametrize(("raw", "version"), [(1, 1), ("1", 1), (" 7 ", 7), ("42", 42)])
def test_parse_version_reads_a_version(raw: Any, version: int) -> None:
    assert parse_version(raw) == version


def test_two_saves_of_the_same_version_one_wins(cast: Cast) -> None:
    note = cast.notes["justice"]
    assert note.version == 1
    # Two people of the note's organisation (the municipality's coordinator wrote it).
    colleague = municipal_writer(cast)
    first = note_update(actor=colleague, note_id=note.pk, version=1, text="first")
    assert first.version == 2
    with pytest.raises(StaleVersion):
        note_update(actor=cast.coordinator, note_id=note.pk, version=1, text="second")
    note.refresh_from_db()
    assert (note.text, note.version, note.updated_by_id) == ("first", 2, colleague.pk)
    updates = Event.objects.filter(action=EventAction.UPDATE, object_id=str(note.pk))
    assert [(e.actor_id, e.detail) for e in updates] == [
        (colleague.pk, {"fields": ["text"], "version": 2, "kept_version": 1})
    ]
    assert list(note.versions.values_list("version", flat=True)) == [1]
    # The loser reloads and saves on top of the winner's version.
    note_update(actor=cast.coordinator, note_id=note.pk, version=2, text="second")
    note.refresh_from_db()
    assert (note.text, note.version) == ("second", 3)
    assert list(note.versions.values_list("text", flat=True)) == [sentinel("justice"), "first"]
    assert verify() is None


def municipal_writer(cast: Cast) -> User:
    from tests.factories import UserFactory

    return UserFactory(
        username="municipal_writer", organisation=cast.orgs["municipality"], role="coordinator"
    )


def test_a_version_from_the_future_is_stale_too(cast: Cast) -> None:
    note = cast.notes["justice"]
    with pytest.raises(StaleVersion):
        note_update(actor=cast.coordinator, note_id=note.pk, version=5, text="x")
    note.refresh_from_db()
    assert (note.text, note.version) == (sentinel("justice"), 1)


THREADS = 8


@pytest.fixture
def committed_cast(request: pytest.FixtureRequest, transactional_db: None) -> Cast:
    request.getfixturevalue("flushable_audit")
    with transaction.atomic():
        return build_cast()


def test_concurrent_saves_of_one_version_exactly_one_wins(committed_cast: Cast) -> None:
    """Eight writers, on the configured database, each with its own connection."""
    cast = committed_cast
    note = cast.notes["risk"]
    # People of the note's organisation (the municipality): only they edit it.
    writers = [cast.coordinator.pk, municipal_writer(cast).pk] * (THREADS // 2)

    def work(i: int) -> str:
        actor = User.objects.get(pk=writers[i])
        try:
            note_update(actor=actor, note_id=note.pk, version=1, text=f"writer {i}")
        except StaleVersion:
            return "stale"
        return f"writer {i}"

    results = run_in_threads(THREADS, work)
    assert [r for r in results if isinstance(r, BaseException)] == []
    winners = [r for r in results if r != "stale"]
    assert len(winners) == 1
    assert results.count("stale") == THREADS - 1
    note.refresh_from_db()
    assert (note.text, note.version) == (winners[0], 2)
    # Only the winner's change is in the log, and the log is intact.
    assert Event.objects.filter(action=EventAction.UPDATE, object_id=str(note.pk)).count() == 1
    assert note.versions.count() == 1
    assert verify() is None
