"""API test helpers: token clients and the expected access of each cast actor.

The expectation is the oracle's (``tests.oracle``), computed from the data and
independently of ``prepare.access``, so that a bug in the policy or in the API
shows as a mismatch.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client

from prepare.access.categories import Category
from prepare.accounts.models import User
from prepare.accounts.services import api_token_create
from tests.cast import Cast, sentinel
from tests.oracle import Access, access

API = "/api/v1"
IDENTITY_MARKERS = ("Sentinelia", "Identitas")


def expect(cast: Cast, user: User) -> Access:
    """What ``user`` may do on the cast's case K: the oracle's answer."""
    return access(cast, user, cast.case)


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


def schema_of_api() -> bytes:
    """``/api/schema/`` as a signed-in reader gets it (it is not public by default)."""
    from tests.cast import verified_client
    from tests.factories import UserFactory

    response = verified_client(UserFactory()).get("/api/schema/")
    assert response.status_code == 200
    return response.content
