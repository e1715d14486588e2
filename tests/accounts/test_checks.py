"""System checks: demo conveniences and weakened limits are refused."""

from __future__ import annotations

import pytest
from django.core.checks import Error, Warning
from django.core.management import call_command
from django.core.management.base import SystemCheckError

import prepare.settings as production
from prepare import checks


def ids(messages) -> set[str]:
    return {m.id for m in messages}


def test_skip_mfa_without_demo_is_an_error_on_every_command(settings):
    settings.DEMO = False
    settings.DEMO_SKIP_MFA = True
    problems = checks.skip_mfa_only_in_demo(None)
    assert ids(problems) == {"prepare.E003"}
    assert all(isinstance(p, Error) for p in problems)
    with pytest.raises(SystemCheckError, match=r"prepare\.E003"):
        call_command("check")


def test_skip_mfa_is_accepted_in_the_demo(settings):
    settings.DEMO = True
    settings.DEMO_SKIP_MFA = True
    assert checks.skip_mfa_only_in_demo(None) == []
    assert ids(checks.demo_off_in_production(None)) == {"prepare.E002"}


def test_the_project_settings_pass(settings):
    settings.PASSWORD_HASHERS = production.PASSWORD_HASHERS  # not the fast test hasher
    assert checks.skip_mfa_only_in_demo(None) == []
    assert checks.demo_off_in_production(None) == []
    assert checks.sign_in_limits(None) == []


@pytest.mark.parametrize(
    ("setting", "value", "code"),
    [
        ("PASSWORD_HASHERS", ["django.contrib.auth.hashers.PBKDF2PasswordHasher"], "W010"),
        ("AXES_FAILURE_LIMIT", 6, "W011"),
        ("AXES_FAILURE_LIMIT", 0, "W011"),
        ("AXES_COOLOFF_TIME", 0.1, "W012"),
        ("AXES_COOLOFF_TIME", None, "W012"),
        ("SESSION_IDLE_TIMEOUT", 31 * 60, "W013"),
        ("SESSION_ABSOLUTE_TIMEOUT", 13 * 60 * 60, "W014"),
    ],
)
def test_weakened_sign_in_limits_are_warned_about(settings, setting, value, code):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.Argon2PasswordHasher"]
    assert checks.sign_in_limits(None) == []
    setattr(settings, setting, value)
    problems = checks.sign_in_limits(None)
    assert ids(problems) == {f"prepare.{code}"}
    assert all(isinstance(p, Warning) for p in problems)
