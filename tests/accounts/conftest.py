"""Helpers for the sign-in tests: a user with an authenticator, codes, posts."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from prepare.accounts.models import User
from tests.access.support import flushable_audit  # noqa: F401  (fixture)
from tests.cast import current_code, wrong_code  # noqa: F401  (shared with the sign-in tests)
from tests.factories import PASSWORD, UserFactory

SIGN_IN = "/account/sign-in/"
CSRF_INPUT = re.compile(rb'name="csrfmiddlewaretoken" value="[^"]+"')


def post_sign_in(client: Client, username: str, password: str = PASSWORD, code: str = "", **extra):
    return client.post(
        reverse("accounts:login"),
        {"username": username, "password": password, "code": code},
        **extra,
    )


def normalised(body: bytes, *usernames: str) -> bytes:
    """The page without what legitimately differs: CSRF token and typed username."""
    body = CSRF_INPUT.sub(b'name="csrfmiddlewaretoken" value="-"', body)
    for name in usernames:
        body = body.replace(f'value="{name}"'.encode(), b'value="USERNAME"')
    return body


@pytest.fixture
def alice(db) -> User:
    return UserFactory(username="alice")


@pytest.fixture
def newcomer(db) -> User:
    """Has a password, no authenticator yet."""
    return UserFactory(username="newcomer", totp=False)
