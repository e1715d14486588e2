"""The administrator's instruments: every loaded instrument with its versions,
loading instrument files through the page, one version's preview, and its
files (YAML, workbook, FHIR Questionnaire).

Loading is ``assessments.services.instruments_load``, as the command does it:
all the files or none, each created version audited there. The page adds
what an upload needs (at most ``MAX_FILES`` files, each a YAML or workbook
file of at most ``files.MAX_BYTES``) and audits a refused upload too (who
tried which files, by digest, and how many problems), like the bulk import's
preview. Downloads are exports: each one is audited.

Instruments are the installation's, not a partnership's: only the
administrator loads them (coordinators do not; see docs/administration).
Nothing here reads case data: of assessments, only their number per version.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Count, Exists, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.db.models.fields.json import KeyTransform
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from prepare.access.errors import NotVisible
from prepare.access.policy import parse_pk, require_administrator
from prepare.accounts.models import User
from prepare.assessments.content import InstrumentContent, text_in
from prepare.assessments.fhir import to_questionnaire
from prepare.assessments.files import MAX_BYTES, WORKBOOK_SUFFIXES, to_yaml
from prepare.assessments.models import Assessment, Instrument, InstrumentVersion
from prepare.assessments.services import InstrumentRefused, LoadResult, instruments_load
from prepare.assessments.workbook import write_workbook
from prepare.audit.models import EventAction, Outcome
from prepare.audit.services import audit_record

MAX_FILES = 10
YAML_SUFFIXES = (".yaml", ".yml")
NAME_MAX_LENGTH = 100
QUERY_MAX_LENGTH = 100


# --- The list ---------------------------------------------------------------------------


def _assessment_count() -> Coalesce:
    """The number of assessments made with the version (``OuterRef("pk")``)."""
    counted = (
        Assessment.objects.filter(instrument_version_id=OuterRef("pk"))
        .order_by()
        .values("instrument_version_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def instruments(*, actor: User, query: str = "") -> QuerySet[Instrument]:
    """Every instrument (or those whose identifier or a version's title contains
    ``query``), by identifier."""
    require_administrator(actor)
    rows = Instrument.objects.all()
    query = query.strip()[:QUERY_MAX_LENGTH]
    if query:
        titled = InstrumentVersion.objects.filter(
            instrument_id=OuterRef("pk"), content__title__icontains=query
        )
        rows = rows.filter(Q(identifier__icontains=query) | Exists(titled))
    return rows.order_by("identifier")


@dataclass(frozen=True)
class VersionRow:
    pk: int
    version: str
    loaded_at: datetime.datetime
    loaded_by: str  # a name, or "" when loaded from the command line
    content_hash: str
    assessments: int

    @property
    def short_hash(self) -> str:
        return self.content_hash[:12]


@dataclass(frozen=True)
class InstrumentRow:
    instrument: Instrument
    title: str  # the latest version's, in the reader's language
    versions: list[VersionRow]  # in the order they were loaded


def _person(first: str | None, last: str | None, username: str | None) -> str:
    return f"{first or ''} {last or ''}".strip() or (username or "")


def instrument_rows(*, actor: User, rows: Sequence[Instrument]) -> list[InstrumentRow]:
    """``rows`` (a page of ``instruments``) with their versions, who loaded each
    and how many assessments were made with it: one query. Of each version's
    content only its title and languages are read, not the whole document."""
    require_administrator(actor)
    found = (
        InstrumentVersion.objects.filter(instrument_id__in=[i.pk for i in rows])
        .order_by("instrument_id", "loaded_at", "pk")
        .values(
            "pk",
            "instrument_id",
            "version",
            "loaded_at",
            "content_hash",
            "loaded_by__first_name",
            "loaded_by__last_name",
            "loaded_by__username",
            title=KeyTransform("title", "content"),
            languages=KeyTransform("languages", "content"),
            assessment_count=_assessment_count(),
        )
    )
    versions: dict[int, list[Any]] = {}
    for v in found:
        versions.setdefault(v["instrument_id"], []).append(v)
    out = []
    for instrument in rows:
        mine = versions.get(instrument.pk, [])
        latest = mine[-1] if mine else {}
        title = text_in(_json(latest.get("title")), list(_json(latest.get("languages")) or []))
        out.append(
            InstrumentRow(
                instrument=instrument,
                title=title,
                versions=[
                    VersionRow(
                        pk=v["pk"],
                        version=v["version"],
                        loaded_at=v["loaded_at"],
                        loaded_by=_person(
                            v["loaded_by__first_name"],
                            v["loaded_by__last_name"],
                            v["loaded_by__username"],
                        ),
                        content_hash=v["content_hash"],
                        assessments=v["assessment_count"],
                    )
                    for v in mine
                ],
            )
        )
    return out


def _json(value: Any) -> Any:
    """A value read through ``KeyTransform``: decoded on every backend."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


# --- One version ------------------------------------------------------------------------


@dataclass(frozen=True)
class Mapping:
    change: str
    change_label: str
    old: list[tuple[str, str]]  # (item id, label in the earlier version, if loaded)
    new: list[tuple[str, str]]  # (item id, label in this version)


@dataclass(frozen=True)
class VersionPage:
    version: InstrumentVersion
    content: InstrumentContent
    assessments: int
    # The instrument's versions: (pk, version), in the order they were loaded.
    siblings: list[tuple[int, str]]
    maps_from_version: str
    maps_from_pk: int | None
    mappings: list[Mapping]

    @property
    def category_label(self) -> str:
        from prepare.access.categories import Category

        return str(Category(self.version.instrument.category).label)

    @property
    def review_interval(self) -> dict[str, int]:
        return dict(self.content.raw.get("review_interval") or {})


def _change_labels() -> dict[str, str]:
    return {
        "renamed": pgettext("item mapping", "renamed"),
        "merged": pgettext("item mapping", "merged"),
        "split": pgettext("item mapping", "split"),
        "removed": pgettext("item mapping", "removed"),
    }


def version_for(*, actor: User, version_id: Any) -> InstrumentVersion:
    """One version for the administrator (404 if there is none): one query."""
    require_administrator(actor)
    pk = parse_pk(version_id)
    found = (
        InstrumentVersion.objects.select_related("instrument", "loaded_by")
        .filter(pk=pk)
        .annotate(assessment_count=_assessment_count())
        .first()
        if pk is not None
        else None
    )
    if found is None:
        raise NotVisible
    return found


def version_page(*, actor: User, version_id: Any, language: str = "") -> VersionPage:
    """One version, read in ``language``: its texts, domains and items, the other
    versions of its instrument and what it maps from: two queries, three when
    it maps from a loaded version."""
    found = version_for(actor=actor, version_id=version_id)
    content = InstrumentContent(found.content, language)
    siblings = list(
        InstrumentVersion.objects.filter(instrument_id=found.instrument_id)
        .order_by("loaded_at", "pk")
        .values_list("pk", "version")
    )
    maps_from = found.content.get("maps_from") or {}
    earlier_version = str(maps_from.get("version", ""))
    earlier_pk = next((pk for pk, v in siblings if v == earlier_version), None)
    earlier_labels: dict[str, str] = {}
    if earlier_pk is not None:
        earlier = InstrumentVersion.objects.filter(pk=earlier_pk).values_list("content", flat=True)
        for raw in earlier:
            earlier_content = InstrumentContent(raw, language)
            earlier_labels = {i.id: i.label for i in earlier_content.items()}
    labels = {i.id: i.label for i in content.items()}
    changes = _change_labels()
    mappings = [
        Mapping(
            change=m["change"],
            change_label=changes.get(m["change"], m["change"]),
            old=[(key, earlier_labels.get(key, "")) for key in m.get("old", [])],
            new=[(key, labels.get(key, "")) for key in m.get("new", [])],
        )
        for m in maps_from.get("items", [])
    ]
    return VersionPage(
        version=found,
        content=content,
        assessments=int(getattr(found, "assessment_count", 0) or 0),
        siblings=siblings,
        maps_from_version=earlier_version,
        maps_from_pk=earlier_pk,
        mappings=mappings,
    )


# --- Files ------------------------------------------------------------------------------

FORMATS = {
    # format: (content type, file name suffix)
    "yaml": ("application/yaml; charset=utf-8", ".yaml"),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ".xlsx"),
    "fhir": ("application/fhir+json; charset=utf-8", ".fhir.json"),
}


@dataclass(frozen=True)
class VersionFile:
    content: bytes
    content_type: str
    filename: str


def version_export(*, actor: User, version_id: Any, file_format: str) -> VersionFile:
    """One version as a file: YAML, a workbook, or a FHIR R4 Questionnaire
    (JSON, which loses what a form has no place for: see assessments.fhir).
    Audited as an export."""
    if file_format not in FORMATS:
        require_administrator(actor)
        raise NotVisible
    found = version_for(actor=actor, version_id=version_id)
    if file_format == "xlsx":
        data = write_workbook(found.content)
    elif file_format == "fhir":
        data = json.dumps(to_questionnaire(found.content), ensure_ascii=False, indent=2).encode()
    else:
        data = to_yaml(found.content).encode()
    content_type, suffix = FORMATS[file_format]
    audit_record(
        action=EventAction.EXPORT,
        actor=actor,
        obj=found,
        detail={
            "format": file_format,
            "identifier": found.instrument.identifier,
            "version": found.version,
            "content_hash": found.content_hash,
        },
    )
    # The identifier and version are restricted to letters, digits, ".", "+" and
    # "-" (instrument.schema.json): safe in a file name.
    filename = f"{found.instrument.identifier}-{found.version}{suffix}"
    return VersionFile(content=data, content_type=content_type, filename=filename)


# --- Loading ----------------------------------------------------------------------------


def _name(upload: Any, index: int) -> str:
    raw = os.path.basename(str(getattr(upload, "name", "") or ""))
    # The name is shown and logged: no line breaks or other control characters.
    raw = "".join(ch for ch in raw if ch.isprintable()).strip()
    return raw[:NAME_MAX_LENGTH] or _("file %(n)s") % {"n": index}


def _read(upload: Any, name: str) -> tuple[bytes | None, str]:
    """The upload's bytes, or the reason it is not read (too large, not YAML or a
    workbook), located like every other problem: ``FILE: WHAT``."""
    if not name.lower().endswith(YAML_SUFFIXES + WORKBOOK_SUFFIXES):
        return None, _(
            "%(file)s: not an instrument file: give a YAML file (.yaml, .yml) or a workbook (.xlsx)"
        ) % {"file": name}
    too_large = _("%(file)s: the file is larger than %(max)s MB") % {
        "file": name,
        "max": MAX_BYTES // (1024 * 1024),
    }
    if (getattr(upload, "size", 0) or 0) > MAX_BYTES:
        return None, too_large
    upload.seek(0)
    data = upload.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        return None, too_large
    return data, ""


def instruments_upload(*, actor: User, files: Sequence[Any]) -> list[LoadResult]:
    """Load uploaded instrument files (``UploadedFile``s), in the order given,
    all or none. Raises ``InstrumentRefused`` with every problem of every file
    (nothing is stored then, and the refusal is audited)."""
    require_administrator(actor)
    problems: list[str] = []
    if not files:
        problems.append(_("Choose one or more instrument files."))
    if len(files) > MAX_FILES:
        problems.append(
            _("Upload at most %(max)s files at a time.") % {"max": MAX_FILES},
        )
        files = files[:MAX_FILES]
    names: list[str] = []
    digests: list[str] = []
    readable: list[tuple[str, bytes]] = []
    for index, upload in enumerate(files, start=1):
        name = _name(upload, index)
        names.append(name)
        data, problem = _read(upload, name)
        if data is None:
            problems.append(problem)
            continue
        digests.append(hashlib.sha256(data).hexdigest())
        readable.append((name, data))
    results: list[LoadResult] = []
    if readable:
        try:
            # With a problem already found, the other files are still checked
            # (every problem at once), and what they would store is undone.
            with transaction.atomic():
                results = instruments_load(files=readable, actor=actor)
                if problems:
                    transaction.set_rollback(True)
        except InstrumentRefused as exc:
            problems += exc.errors
    if problems:
        audit_record(
            action=EventAction.CREATE,
            actor=actor,
            outcome=Outcome.FAILURE,
            object_type=InstrumentVersion._meta.label_lower,
            detail={
                "step": "refused",
                "files": names,
                "sha256": digests,
                "problems": len(problems),
            },
        )
        raise InstrumentRefused(problems)
    return results
