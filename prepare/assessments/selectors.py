"""Reads of instruments (not case data: no audit event)."""

from __future__ import annotations

from typing import Any

from prepare.assessments.models import InstrumentVersion


def instrument_version(identifier: str, version: str) -> InstrumentVersion | None:
    return (
        InstrumentVersion.objects.select_related("instrument")
        .filter(instrument__identifier=identifier, version=version)
        .first()
    )


def instrument_content(identifier: str, version: str) -> dict[str, Any] | None:
    """The stored content of one version, or None when it is not loaded."""
    found = instrument_version(identifier, version)
    return found.content if found is not None else None
