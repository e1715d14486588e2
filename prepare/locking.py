"""Optimistic locking: a save names the version it read; a stale one is refused."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models import F
from django.utils.translation import gettext_lazy as _


class VersionRequired(Exception):
    """The write did not say which version it was based on (HTTP 428)."""

    message = _("This change does not say which version it is based on. Reload and try again.")


class StaleVersion(Exception):
    """Someone else saved in between (HTTP 409); nothing was overwritten."""

    message = _(
        "Someone else changed this record after you opened it. Your change was not saved: "
        "reload to see the current version, then make your change again."
    )


def parse_version(raw: Any) -> int:
    if raw in (None, ""):
        raise VersionRequired
    try:
        version = int(raw)
    except (TypeError, ValueError) as exc:
        raise VersionRequired from exc
    if version < 1:
        raise VersionRequired
    return version


def save_versioned(instance: models.Model, expected: int, fields: dict[str, Any]) -> None:
    """Write ``fields`` only if the row still has version ``expected``.

    The check and the write are one UPDATE, so two saves of the same version
    cannot both succeed, on SQLite or PostgreSQL.
    """
    model = type(instance)
    updated = model._default_manager.filter(pk=instance.pk, version=expected).update(
        **fields, version=F("version") + 1
    )
    if updated != 1:
        raise StaleVersion
    for name, value in fields.items():
        setattr(instance, name, value)
    instance.version = expected + 1  # type: ignore[attr-defined]
