"""Helpers for the sign-in tests: a user with an authenticator, codes, posts."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from prepare.accounts.models import User
from tests.access.support import flushable_audit  # noqa: F401  (fixture)
from tests.factories import PASSWORD, UserFactory

SIGN_IN = "/account/sign-in/"
CSRF_INPUT = re.compile(rb'name="csrfmiddlewaretoken" value="[^"]+"')


def current_code(user: User) -> str:
    """The code the user's authenticator shows now (time-machine aware)."""
    device = TOTPDevice.objects.get(user=user, confirmed=True)
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift):06d}"


def wrong_code(user: User) -> str:
    return f"{(int(current_code(user)) + 1) % 1_000_000:06d}"


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
