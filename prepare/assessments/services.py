"""Loading instrument versions: checked, stored once, never changed afterwards."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from prepare.assessments.files import Checked, check_bytes
from prepare.assessments.models import Instrument, InstrumentVersion
from prepare.assessments.selectors import instrument_content
from prepare.assessments.validation import content_hash
from prepare.audit.models import EventAction
from prepare.audit.services import audit_record

# Who loaded a version when no account did (the command line).
COMMAND_ACTOR = "system:instruments"


class Loaded(enum.Enum):
    CREATED = "created"
    ALREADY = "already"


@dataclass
class LoadResult:
    source: str
    version: InstrumentVersion
    outcome: Loaded


class InstrumentRefused(Exception):
    """One or more files could not be loaded; ``errors`` are the located messages."""

    def __init__(self, errors: Sequence[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = list(errors)


def _store(
    source: str, content: dict[str, Any], actor: Any
) -> tuple[InstrumentVersion | None, Loaded | None, str]:
    identifier, version, category = content["identifier"], content["version"], content["category"]
    digest = content_hash(content)
    instrument = Instrument.objects.select_for_update().filter(identifier=identifier).first()
    if instrument is not None and instrument.category != category:
        return (
            None,
            None,
            _(
                '%(source)s: category: "%(identifier)s" is an instrument of category '
                '"%(stored)s"; a version cannot change it'
            )
            % {"source": source, "identifier": identifier, "stored": instrument.category},
        )
    if instrument is not None:
        existing = instrument.versions.filter(version=version).first()
        if existing is not None:
            if existing.content_hash == digest:
                return existing, Loaded.ALREADY, ""
            return (
                None,
                None,
                _(
                    '%(source)s: version: version "%(version)s" of "%(identifier)s" is loaded '
                    "already with a different content; give the changed instrument a new version"
                )
                % {"source": source, "version": version, "identifier": identifier},
            )
    if instrument is None:
        instrument = Instrument(identifier=identifier, category=category)
        instrument.full_clean()
        instrument.save()
    stored = InstrumentVersion(
        instrument=instrument,
        version=version,
        content=content,
        content_hash=digest,
        loaded_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    stored.full_clean()
    stored.save()
    audit_record(
        action=EventAction.CREATE,
        actor=actor,
        username="" if getattr(actor, "is_authenticated", False) else COMMAND_ACTOR,
        obj=stored,
        detail={
            "identifier": identifier,
            "version": version,
            "content_hash": digest,
            "category": category,
        },
    )
    return stored, Loaded.CREATED, ""


def instruments_load(*, files: Sequence[tuple[str, bytes]], actor: Any = None) -> list[LoadResult]:
    """Load instrument files (name, bytes), in order, all or nothing.

    A file may map from a version loaded by an earlier file of the same call.
    Raises ``InstrumentRefused`` with every located error; nothing is stored
    then.
    """
    errors: list[str] = []
    results: list[LoadResult] = []
    with transaction.atomic():
        for source, raw in files:
            checked: Checked = check_bytes(source, raw, previous=instrument_content)
            if checked.content is None:
                errors += checked.errors
                continue
            try:
                with transaction.atomic():
                    stored, outcome, error = _store(source, checked.content, actor)
            except IntegrityError:
                # Someone loaded the same identifier or version at the same moment.
                stored, outcome = None, None
                error = _(
                    "%(source)s: version: loaded by someone else at the same moment; try again"
                ) % {"source": source}
            if stored is None or outcome is None:
                errors.append(error)
                continue
            results.append(LoadResult(source, stored, outcome))
        if errors:
            transaction.set_rollback(True)
    if errors:
        raise InstrumentRefused(errors)
    return results
