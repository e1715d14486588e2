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


# The version column is a positive integer; anything larger cannot be a version
# the client read, and would make SQLite raise instead of answering 409.
MAX_VERSION = 2**31 - 1


def parse_version(raw: Any) -> int:
    """The version a write is based on, from a form field, a header or JSON.

    Only a whole number from 1 up counts: ``None``, "", "abc", 0, -1, 1.5,
    ``True`` (which ``int`` would read as 1) and "²" all raise VersionRequired.
    """
    if isinstance(raw, bool):
        raise VersionRequired
    if isinstance(raw, int):
        version = raw
    elif isinstance(raw, str) and raw.strip().isascii() and raw.strip().isdecimal():
        version = int(raw.strip())
    else:
        raise VersionRequired
    if not 1 <= version <= MAX_VERSION:
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
