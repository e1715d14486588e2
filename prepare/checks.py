"""System checks that keep demo conveniences and weakened sign-in limits out of
production (``prepare check --deploy --fail-level WARNING`` runs them)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register

ARGON2 = "django.contrib.auth.hashers.Argon2PasswordHasher"

# The limits SECURITY.md commits to (AU-02, AU-05); settings may be stricter.
MAX_LOCKOUT_FAILURES = 5
MIN_LOCKOUT_MINUTES = 10
MAX_IDLE_SECONDS = 30 * 60
MAX_ABSOLUTE_SECONDS = 12 * 60 * 60


@register(Tags.security)
def skip_mfa_only_in_demo(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    """Runs on every command, not only with --deploy: no server starts with it."""
    if settings.DEMO_SKIP_MFA and not settings.DEMO:
        return [
            Error(
                "PREPARE_DEMO_SKIP_MFA is set without PREPARE_DEMO: sign-in without a second "
                "factor is only allowed in the demo.",
                hint="Unset PREPARE_DEMO_SKIP_MFA.",
                id="prepare.E003",
            )
        ]
    return []


@register(Tags.security, deploy=True)
def demo_off_in_production(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    if settings.DEMO:
        return [Error("PREPARE_DEMO is on: never deploy the demo mode.", id="prepare.E002")]
    return []


@register(Tags.security, deploy=True)
def sign_in_limits(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    """Configurable, but never weaker than the published requirements."""
    problems: list[CheckMessage] = []
    if not settings.PASSWORD_HASHERS or settings.PASSWORD_HASHERS[0] != ARGON2:
        problems.append(
            Warning("Argon2 must be the first password hasher (AU-04).", id="prepare.W010")
        )
    if not 0 < settings.AXES_FAILURE_LIMIT <= MAX_LOCKOUT_FAILURES:
        problems.append(
            Warning(
                f"PREPARE_LOCKOUT_FAILURES must be between 1 and {MAX_LOCKOUT_FAILURES} (AU-02).",
                id="prepare.W011",
            )
        )
    cooloff_hours = settings.AXES_COOLOFF_TIME
    if not isinstance(cooloff_hours, int | float) or cooloff_hours * 60 < MIN_LOCKOUT_MINUTES:
        problems.append(
            Warning(
                f"PREPARE_LOCKOUT_HOURS must be at least {MIN_LOCKOUT_MINUTES} minutes (AU-02).",
                id="prepare.W012",
            )
        )
    if not 0 < settings.SESSION_IDLE_TIMEOUT <= MAX_IDLE_SECONDS:
        problems.append(
            Warning(
                f"PREPARE_IDLE_TIMEOUT must be between 1 and {MAX_IDLE_SECONDS} seconds (AU-05).",
                id="prepare.W013",
            )
        )
    if not 0 < settings.SESSION_ABSOLUTE_TIMEOUT <= MAX_ABSOLUTE_SECONDS:
        problems.append(
            Warning(
                "PREPARE_ABSOLUTE_TIMEOUT must be between 1 and "
                f"{MAX_ABSOLUTE_SECONDS} seconds (AU-05).",
                id="prepare.W014",
            )
        )
    return problems


@register(Tags.security, deploy=True)
def passkey_relying_party(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    """Passkeys are bound to the relying party id: it must not follow a request's host.

    Set from ``PREPARE_WEBAUTHN_RP_ID``, else the first domain in ALLOWED_HOSTS.
    """
    if settings.DEMO or settings.WEBAUTHN_RP_ID:
        return []
    return [
        Warning(
            "Set PREPARE_WEBAUTHN_RP_ID to the site's domain (e.g. prepare.example.org): "
            "passkeys are bound to it, and changing it later makes them unusable.",
            id="prepare.W030",
        )
    ]
