"""Two clients save the same version at the same time: exactly one wins (RL-01).

Runs with real transactions and one connection per thread, on SQLite and on
PostgreSQL.
"""

from __future__ import annotations

import pytest

from prepare.audit.chain import verify
from prepare.audit.models import Event, EventAction
from prepare.cases.models import CaseNote
from tests.access.support import flushable_audit, run_in_threads
from tests.api.conftest import API, token_client
from tests.cast import build_cast

__all__ = ["flushable_audit"]


@pytest.mark.parametrize("lock", ["if-match", "body"])
@pytest.mark.django_db(transaction=True)
def test_concurrent_patches_of_one_version(flushable_audit, lock):
    cast = build_cast()
    note = cast.notes["risk"]
    url = f"{API}/cases/{cast.case.pk}/notes/{note.pk}/"
    # Two coordinators of the municipality, whose coordinator wrote the note:
    # only the author's organisation edits it.
    from tests.factories import UserFactory

    second = UserFactory(
        username="second_coordinator", organisation=cast.orgs["municipality"], role="coordinator"
    )
    writers = [cast.coordinator, second]
    clients = [token_client(user) for user in writers]

    def save(i: int) -> int:
        data: dict[str, object] = {"text": f"by writer {i}"}
        headers = {}
        if lock == "if-match":
            headers["If-Match"] = '"1"'
        else:
            data["version"] = 1
        response = clients[i].patch(url, data, content_type="application/json", headers=headers)
        return response.status_code

    results = run_in_threads(2, save)
    refused = 412 if lock == "if-match" else 409
    assert sorted(results) == [200, refused]
    winner = results.index(200)
    note.refresh_from_db()
    assert (note.text, note.version, note.updated_by_id) == (
        f"by writer {winner}",
        2,
        writers[winner].pk,
    )
    assert CaseNote.objects.filter(text__startswith="by writer").count() == 1
    updates = Event.objects.filter(action=EventAction.UPDATE)
    assert [e.actor_id for e in updates] == [writers[winner].pk]
    assert verify() is None
