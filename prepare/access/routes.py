"""Every route declares which policy guards it (deny by default, AC-01).

A test walks the URL resolver and fails on any view without ``route_policy``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django.db import models
from django.utils.translation import gettext_lazy as _

F = TypeVar("F", bound=Callable[..., Any])


class RoutePolicy(models.TextChoices):
    PUBLIC = "public", _("Anyone (sign-in, health, static)")
    ENROLMENT = "enrolment", _("Signed in with a password, setting up the second factor")
    SIGNED_IN = "signed_in", _("Signed in with a second factor")
    CASE = "case", _("Case data, filtered by the access policy")
    PARTNERSHIP = "partnership", _("Partnership data, for members")
    AUDITOR = "auditor", _("The audit log, for auditors")
    ADMINISTRATION = "administration", _("Running the installation, for its administrator")
    API = "api", _("API: token or second-factor session, then the access policy")


def route_policy(policy: str) -> Callable[[F], F]:
    def mark(view: F) -> F:
        view.route_policy = policy  # type: ignore[attr-defined]
        return view

    return mark
