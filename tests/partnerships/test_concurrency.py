"""Two coordinators saving the grid at the same moment: one wins, none is lost."""

from __future__ import annotations

import pytest
from django.db import transaction

from prepare.accounts.models import User
from prepare.audit.chain import verify
from prepare.audit.models import Event, EventAction
from prepare.locking import StaleVersion
from prepare.partnerships.models import CategoryGrant
from prepare.partnerships.services import agreement_grid_update, grid_digest
from tests.access.support import flushable_audit, run_in_threads
from tests.cast import build_cast

__all__ = ["flushable_audit"]

CATEGORIES = ("risk", "health")


@pytest.mark.django_db(transaction=True)
def test_concurrent_saves_from_the_same_grid_let_exactly_one_through(flushable_audit):
    cast = build_cast()
    digest = grid_digest(cast.agreement)
    ngo = cast.orgs["ngo"].pk

    def save(i: int) -> str:
        actor = User.objects.get(pk=cast.coordinator.pk)
        with transaction.atomic():
            agreement_grid_update(
                actor=actor,
                agreement_id=cast.agreement.pk,
                cells={(ngo, CATEGORIES[i]): "read"},
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
    assert granted == {winner}
    [event] = Event.objects.filter(action=EventAction.AGREEMENT_CHANGE)
    assert event.detail["changes"][0]["category"] == winner
    assert verify() is None
