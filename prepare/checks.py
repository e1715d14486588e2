"""System checks that keep demo conveniences out of production."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, register


@register(Tags.security, deploy=True)
def demo_settings_off_in_production(app_configs: Any, **kwargs: Any) -> list[Error]:
    errors = []
    if settings.DEMO_SKIP_MFA and not settings.DEMO:
        errors.append(
            Error(
                "PREPARE_DEMO_SKIP_MFA is a demo-only setting and is refused outside demo mode.",
                id="prepare.E001",
            )
        )
    if settings.DEMO:
        errors.append(Error("PREPARE_DEMO is on: never deploy the demo mode.", id="prepare.E002"))
    return errors


@register(Tags.security)
def skip_mfa_only_in_demo(app_configs: Any, **kwargs: Any) -> list[Error]:
    if settings.DEMO_SKIP_MFA and not settings.DEMO:
        return [
            Error(
                "PREPARE_DEMO_SKIP_MFA is set without PREPARE_DEMO: sign-in without a second "
                "factor is only allowed in the demo.",
                id="prepare.E003",
            )
        ]
    return []
