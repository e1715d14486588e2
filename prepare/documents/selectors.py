"""Reads of documents: each takes the actor and goes through the policy; the
ones that show documents or hand out a file write their audit event."""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any

from django.db.models import Prefetch, QuerySet, prefetch_related_objects
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from prepare.access.abilities import CaseAbilities, case_abilities, may_change_document
from prepare.access.categories import Action, Category
from prepare.access.errors import NotVisible
from prepare.access.policy import get_case_or_404, parse_pk, record_for
from prepare.accounts.models import User
from prepare.audit.models import EventAction
from prepare.audit.services import audit_record
from prepare.cases.models import Case
from prepare.documents.content import ACCEPT
from prepare.documents.models import RECORD_FIELDS, Document, DocumentVersion
from prepare.documents.services import documents_storage

# The case page shows this many documents, newest first.
SECTION_LIMIT = 50


@dataclass
class DocumentRow:
    document: Document
    may_change: bool  # replace or delete: the attaching organisation, or the coordinator


@dataclass
class DocumentsSection:
    case: Case
    abilities: CaseAbilities
    rows: list[DocumentRow]
    more: bool

    @property
    def documents(self) -> list[Document]:
        return [r.document for r in self.rows]

    @property
    def accept(self) -> str:
        """What the file choosers offer first (the content still decides)."""
        return ACCEPT

    @property
    def write_categories(self) -> list[str]:
        return [c for c in Category.values if c in self.abilities.write_categories]


def _visible(actor: User) -> QuerySet[Document]:
    return Document.objects.visible_to(actor, Action.READ)


def documents_section(*, actor: User, case: Case, abilities: CaseAbilities) -> DocumentsSection:
    """The documents of a case already fetched through the policy, in the
    categories the actor may read, newest first, each with the record it is
    about: one query, whatever the number of documents; not audited here."""
    rows = list(
        _visible(actor)
        .filter(case_id=case.pk)
        .select_related("created_by", "organisation", *RECORD_FIELDS)
        .defer(*(f"{name}__{text}" for name, text in _RECORD_TEXT))
        .order_by("-created_at", "-pk")[: SECTION_LIMIT + 1]
    )
    _earlier_files(rows[:SECTION_LIMIT])
    writable = abilities.write_categories if abilities.write else frozenset()
    return DocumentsSection(
        case=case,
        abilities=abilities,
        rows=[
            DocumentRow(
                document=d,
                may_change=d.category in writable
                and may_change_document(
                    actor, organisation_id=d.organisation_id, partnership_id=case.partnership_id
                ),
            )
            for d in rows[:SECTION_LIMIT]
        ],
        more=len(rows) > SECTION_LIMIT,
    )


def _earlier_files(documents: list[Document]) -> None:
    """Each document's earlier files (``document.versions.all()``), newest first,
    with who attached and who replaced them: one query for all of them, and
    none when no document shown has had its file replaced."""
    replaced = [d for d in documents if d.version > 1]
    if replaced:
        prefetch_related_objects(
            replaced,
            Prefetch(
                "versions",
                queryset=DocumentVersion.objects.select_related(
                    "attached_by", "replaced_by"
                ).order_by("-number"),
            ),
        )


# The records' free text is not needed to name them: left in the database.
_RECORD_TEXT = (
    ("note", "text"),
    ("contact", "summary"),
    ("condition", "text"),
    ("signal", "description"),
)


def documents_shown(section: DocumentsSection) -> dict[str, Any]:
    """What the section shows, for the audit event: ids and categories only."""
    return {
        "categories": sorted({d.category for d in section.documents}),
        "documents": [d.pk for d in section.documents],
    }


def case_documents(*, actor: User, case_id: Any, view: str = "case_documents") -> DocumentsSection:
    """The documents section on its own page; one view event."""
    case = get_case_or_404(actor, case_id)
    section = documents_section(actor=actor, case=case, abilities=case_abilities(actor, case))
    audit_record(
        action=EventAction.VIEW,
        actor=actor,
        case=case,
        obj=case,
        detail={"view": view, **documents_shown(section)},
    )
    return section


@dataclass
class RecordChoice:
    value: str  # "<kind>:<id>"
    kind: str
    category: str
    label: str


def record_choices(*, actor: User, case: Case, limit: int = 100) -> list[RecordChoice]:
    """The records of the case the actor may write a document about (in the
    records' categories they write), newest first, for the upload form: one
    query per kind. Names them by kind and date only: nothing of their text."""
    from prepare.documents.services import RECORD_MODELS

    choices: list[RecordChoice] = []
    zone = partnership_zone(case)
    for kind, model in RECORD_MODELS.items():
        rows = (
            model.objects.visible_to(actor, Action.WRITE)
            .filter(case_id=case.pk)
            .order_by("-created_at", "-pk")
            .values("pk", "category", "created_at")[:limit]
        )
        for row in rows:
            when = date_format(timezone.localtime(row["created_at"], zone), "DATE_FORMAT")
            label = _("%(kind)s in %(category)s, %(date)s") % {
                "kind": RECORD_LABELS[kind],
                "category": Category(row["category"]).label,
                "date": when,
            }
            choices.append(
                RecordChoice(
                    value=f"{kind}:{row['pk']}", kind=kind, category=row["category"], label=label
                )
            )
    return choices


RECORD_LABELS = {
    "note": _lazy("Note"),
    "contact": _lazy("Contact"),
    "condition": _lazy("Licence condition"),
    "signal": _lazy("Signal of concern"),
}


def partnership_zone(case: Case) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(case.partnership.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


# --- Download ----------------------------------------------------------------------------


@dataclass
class DownloadFile:
    document: Document
    stream: IO[bytes]
    filename: str
    content_type: str


def _open(storage_name: str) -> IO[bytes]:
    try:
        stream: IO[bytes] = documents_storage().open(storage_name, "rb")
        if stream.seekable():  # some storages hand out the same object each time
            stream.seek(0)
    except (FileNotFoundError, OSError) as exc:
        raise NotVisible from exc
    return stream


def _export(actor: User, document: Document, detail: dict[str, Any]) -> None:
    audit_record(
        action=EventAction.EXPORT,
        actor=actor,
        case=document.case,
        obj=document,
        category=document.category,
        detail=detail,
    )


def document_download(
    *, actor: User, document_id: Any, case_id: Any = None, via: str = "page"
) -> DownloadFile:
    """A document's file, opened for streaming, if the actor may read its category
    on its case (404 otherwise); one export event naming the case, the document,
    its category and digest."""
    document: Document = record_for(actor, Document, document_id, Action.READ, case_id=case_id)
    stream = _open(document.storage_name)
    _export(
        actor,
        document,
        {
            "export": "document",
            "via": via,
            "type": document.content_type,
            "size": document.size,
            "sha256": document.sha256,
        },
    )
    return DownloadFile(document, stream, document.filename, document.content_type)


def _version_of(actor: User, document_id: Any, version_id: Any, case_id: Any) -> DocumentVersion:
    """An earlier file, through its document: 404 unless the actor reads the
    document (its category, on its case) and the file is one of its own."""
    document: Document = record_for(actor, Document, document_id, Action.READ, case_id=case_id)
    pk = parse_pk(version_id)
    version = document.versions.filter(pk=pk).first() if pk is not None else None
    if version is None:
        raise NotVisible
    version.document = document
    return version


def document_version_download(
    *, actor: User, document_id: Any, version_id: Any, case_id: Any = None, via: str = "page"
) -> DownloadFile:
    """An earlier file of a document, on the same terms as the current one; one
    export event naming the document and which of its files left."""
    version = _version_of(actor, document_id, version_id, case_id)
    stream = _open(version.storage_name)
    _export(
        actor,
        version.document,
        {
            "export": "document_version",
            "via": via,
            "earlier_file": version.pk,
            "number": version.number,
            "type": version.content_type,
            "size": version.size,
            "sha256": version.sha256,
        },
    )
    return DownloadFile(version.document, stream, version.filename, version.content_type)


# --- API reads (rows from ``.values()``) ----------------------------------------------

Row = dict[str, Any]
Paginate = Callable[[QuerySet[Any]], list[Any]]

DOCUMENT_FIELDS = (
    "id",
    "case_id",
    "category",
    "title",
    "description",
    "note_id",
    "contact_id",
    "condition_id",
    "signal_id",
    "organisation_id",
    "filename",
    "content_type",
    "size",
    "sha256",
    "created_at",
    "created_by_id",
    "updated_at",
    "updated_by_id",
    "version",
)


def document_page(*, actor: User, case_id: Any, paginate: Paginate) -> list[Row]:
    """One page of the case's documents the actor may read, newest first; one
    list event naming them."""
    case = get_case_or_404(actor, case_id)
    documents = (
        _visible(actor)
        .filter(case_id=case.pk)
        .order_by("-created_at", "-pk")
        .values(*DOCUMENT_FIELDS)
    )
    rows: list[Row] = [_api_row(r) for r in paginate(documents)]
    audit_record(
        action=EventAction.LIST,
        actor=actor,
        case=case,
        detail={
            "view": "api.documents",
            "documents": [r["id"] for r in rows],
            "categories": sorted({r["category"] for r in rows}),
        },
    )
    return rows


def _api_row(values: Row) -> Row:
    record = next(
        ({"kind": n, "id": values[f"{n}_id"]} for n in RECORD_FIELDS if values[f"{n}_id"]),
        None,
    )
    row = {k: v for k, v in values.items() if not any(k == f"{n}_id" for n in RECORD_FIELDS)}
    row["record"] = record
    return row


def document_row(document: Document) -> Row:
    """The row of a document the actor has just written (its event is the write's)."""
    return _api_row({name: getattr(document, name) for name in DOCUMENT_FIELDS})


def document_changeable(*, actor: User, document_id: Any) -> bool:
    """Whether the actor may replace or delete the document; 404 unless they read
    it. Reads no content: the service checks again in its own transaction."""
    document: Document = record_for(actor, Document, document_id, Action.READ)
    if not Document.objects.visible_to(actor, Action.WRITE).filter(pk=document.pk).exists():
        return False
    return may_change_document(
        actor, organisation_id=document.organisation_id, partnership_id=document.case.partnership_id
    )


VERSION_FIELDS = (
    "id",
    "number",
    "filename",
    "content_type",
    "size",
    "sha256",
    "attached_at",
    "attached_by_id",
    "replaced_at",
    "replaced_by_id",
)


def document_versions_page(*, actor: User, document_id: Any, paginate: Paginate) -> list[Row]:
    """One page of a document's earlier files, newest first, if the actor reads
    the document (404 otherwise); one list event naming them."""
    document: Document = record_for(actor, Document, document_id, Action.READ)
    versions = (
        DocumentVersion.objects.visible_to(actor)
        .filter(document_id=document.pk)
        .order_by("-number")
        .values(*VERSION_FIELDS)
    )
    rows: list[Row] = list(paginate(versions))
    audit_record(
        action=EventAction.LIST,
        actor=actor,
        case=document.case,
        obj=document,
        category=document.category,
        detail={"view": "api.document_versions", "earlier_files": [r["id"] for r in rows]},
    )
    return rows
