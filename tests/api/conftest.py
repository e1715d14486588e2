"""API test helpers: token clients and the expected access of each cast actor.

The expectation is computed from the cast's agreement table and case team,
independently of ``prepare.access.policy``, so that a bug in the policy or in
the API shows as a mismatch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.test import Client

from prepare.access.categories import Action, Category
from prepare.accounts.models import CASE_READING_ROLES, CASE_WRITING_ROLES, Role, User
from prepare.accounts.services import api_token_create
from prepare.cases.models import CaseTeamMember
from tests.cast import AGREEMENT, Cast, sentinel

API = "/api/v1"
ACTORS = [
    "coordinator",
    "case_manager",
    "police_on_team",
    "police_off_team",
    "ngo_mentor",
    "auditor",
    "trainer",
    "outsider",
]
IDENTITY_MARKERS = ("Sentinelia", "Identitas")


@dataclass(frozen=True)
class Expect:
    reaches: bool
    read: frozenset[str]
    write: frozenset[str]
    edit_team: bool


def expect(cast: Cast, user: User) -> Expect:
    """What ``user`` may do on the cast's case K, from the agreement and the team."""
    org_key = next(k for k, org in cast.orgs.items() if org.pk == user.organisation_id)
    team = CaseTeamMember.objects.filter(case=cast.case)
    coordinates = (
        user.role == Role.COORDINATOR
        and user.organisation_id == cast.partnership.coordinating_organisation_id
    )
    reaches = user.role in CASE_READING_ROLES and (
        coordinates
        or team.filter(user__isnull=True, organisation_id=user.organisation_id).exists()
        or team.filter(user=user).exists()
    )
    cells = AGREEMENT.get(org_key, {}) if reaches else {}
    read = frozenset(cells)
    write = (
        frozenset(c for c, a in cells.items() if a == Action.WRITE)
        if user.role in CASE_WRITING_ROLES
        else frozenset()
    )
    edit_team = bool(write) and (coordinates or user.role == Role.CASE_MANAGER)
    return Expect(reaches=reaches, read=read, write=write, edit_team=edit_team)


def assert_no_leak(body: str, allowed: frozenset[str]) -> None:
    """No sentinel of a category outside ``allowed`` appears in ``body``."""
    for category in Category.values:
        if category not in allowed:
            assert sentinel(category) not in body, category
    if "identity" not in allowed:
        for marker in IDENTITY_MARKERS:
            assert marker not in body


def token_client(user: User, **kwargs: object) -> Client:
    _, raw = api_token_create(actor=user, name="tests")
    return Client(headers={"Authorization": f"Bearer {raw}"}, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def api() -> Callable[..., Client]:
    """``api(user)`` -> a client that sends a fresh personal token of ``user``."""
    return token_client
