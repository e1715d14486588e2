"""Two coordinators saving the grid at the same moment: one wins, none is lost.

Both narrow access (which applies at once, without a second approver)."""

from __future__ import annotations

import pytest
from django.db import transaction

from prepare.accounts.models import User
from prepare.audit.chain import verify
from prepare.audit.models import Event, EventAction
from prepare.locking import StaleVersion
from prepare.partnerships.access_changes.services import agreement_change_submit
from prepare.partnerships.models import CategoryGrant
from prepare.partnerships.services import agreement_digest
from tests.access.support import flushable_audit, run_in_threads
from tests.cast import build_cast

__all__ = ["flushable_audit"]

CATEGORIES = ("risk", "health")


@pytest.mark.django_db(transaction=True)
def test_concurrent_saves_from_the_same_grid_let_exactly_one_through(flushable_audit):
    cast = build_cast()
    digest = agreement_digest(cast.agreement)
    ngo = cast.orgs["probation"].pk

    def save(i: int) -> str:
        actor = User.objects.get(pk=cast.coordinator.pk)
        with transaction.atomic():
            agreement_change_submit(
                actor=actor,
                agreement_id=cast.agreement.pk,
                cells={(ngo, CATEGORIES[i]): ""},
                expected_digest=digest,
            )
        return "saved"

    results = run_in_threads(2, save)

    assert sorted(type(r).__name__ if isinstance(r, Exception) else r for r in results) == [
        "StaleVersion",
        "saved",
    ]
    assert any(isinstance(r, StaleVersion) for r in results)
    winner = CATEGORIES[results.index("saved")]
    granted = set(
        CategoryGrant.objects.filter(
            agreement=cast.agreement, organisation_id=ngo, category__in=CATEGORIES
        ).values_list("category", flat=True)
    )
    assert granted == set(CATEGORIES) - {winner}
    [event] = Event.objects.filter(action=EventAction.AGREEMENT_CHANGE)
    assert event.detail["changes"][0]["category"] == winner
    assert verify() is None
