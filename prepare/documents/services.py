"""Writes of documents: each one transaction and one audit event.

A file is checked and stripped (``content.clean_file``) before it is stored;
the row names the stored file, never the other way round. A replaced file
stays, named by a ``DocumentVersion``; the files a deletion or an erasure
leaves behind are removed from the storage only after the transaction commits,
so a rollback never loses a file whose row survives.
The events name ids, types, sizes and SHA-256 digests, never titles or content.
"""

from __future__ import annotations

import datetime
import hashlib
import logging
import re
import secrets
import unicodedata
from collections.abc import Iterable
from pathlib import PurePosixPath
from typing import IO, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import Storage, storages
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from prepare.access.abilities import may_change_document
from prepare.access.categories import Action, Category
from prepare.access.errors import WriteForbidden
from prepare.access.policy import case_for_write, record_for
from prepare.accounts.models import User
from prepare.audit.models import EventAction
from prepare.audit.services import audit_record
from prepare.cases.models import CaseNote
from prepare.cases.services import case_touch
from prepare.documents.content import CleanFile, clean_file
from prepare.documents.models import FILENAME_MAX_LENGTH, Document, DocumentVersion
from prepare.locking import StaleVersion, save_versioned
from prepare.monitoring.models import Contact, LicenceCondition, Signal

log = logging.getLogger(__name__)

# A stored file this old that no document names is left over (``document_files_sweep``).
SWEEP_AGE = datetime.timedelta(hours=6)

# The records a document may be about, by the name the forms and the API use.
RECORD_MODELS: dict[str, Any] = {
    "note": CaseNote,
    "contact": Contact,
    "condition": LicenceCondition,
    "signal": Signal,
}


def documents_storage() -> Storage:
    return storages["documents"]


def too_large_error() -> ValidationError:
    megabytes = settings.DOCUMENT_MAX_BYTES // (1024 * 1024)
    return ValidationError(
        _("The file is too large: attach a file of at most %(mb)s MB.") % {"mb": megabytes},
        code="too_large",
    )


def _read_limited(upload: IO[bytes] | bytes) -> bytes:
    """The upload's bytes, refusing one past the limit without reading it all."""
    limit = settings.DOCUMENT_MAX_BYTES
    if isinstance(upload, bytes):
        data = upload
    else:
        size = getattr(upload, "size", None)
        if size is not None and size > limit:
            raise too_large_error()
        upload.seek(0)
        data = upload.read(limit + 1)
    if len(data) > limit:
        raise too_large_error()
    return data


_UNSAFE = re.compile(r'[\x00-\x1f\x7f"\\/:*?<>|;%]+')


def safe_filename(raw: str, extension: str) -> str:
    """The name a download is offered under: the sent name's last part, without
    characters a file system or a header would misread, and with the extension
    of the type found in the content (``licence.exe`` holding a PDF is ``licence.pdf``)."""
    name = PurePosixPath((raw or "").replace("\\", "/")).name
    stem = name.rsplit(".", 1)[0] if "." in name else name
    stem = unicodedata.normalize("NFC", stem)
    stem = _UNSAFE.sub("_", stem).strip(" ._")
    stem = stem[: FILENAME_MAX_LENGTH - len(extension) - 1] or "document"
    return f"{stem}.{extension}"


def _store(case_id: int, clean: CleanFile) -> str:
    # A random name: nothing about the case or the person in the storage.
    name = f"c{case_id}/{secrets.token_hex(16)}.{clean.extension}"
    stored = documents_storage().save(name, ContentFile(clean.content))
    return str(stored)


def _delete_files_on_commit(names: Iterable[str]) -> None:
    names = [n for n in names if n]
    if not names:
        return

    def delete() -> None:
        storage = documents_storage()
        for name in names:
            try:
                storage.delete(name)
            except OSError:  # pragma: no cover - the sweep removes it later
                log.warning("document file %s could not be deleted", name)

    transaction.on_commit(delete)


def _discard(name: str) -> None:
    """A file stored by a write that then failed."""
    try:
        documents_storage().delete(name)
    except OSError:  # pragma: no cover
        log.warning("document file %s could not be deleted", name)


def _record(actor: User, case_id: int, kind: str, record_id: Any, category: str) -> Any:
    if not kind:
        return None
    model = RECORD_MODELS.get(kind)
    if model is None:
        raise ValidationError({"record": [_("Choose what the document is about.")]})
    record = record_for(actor, model, record_id, Action.READ, case_id=case_id, related=())
    if record.category != category:
        raise ValidationError(
            {
                "category": [
                    _("A document about a record has the record's category (%(category)s).")
                    % {"category": Category(record.category).label}
                ]
            }
        )
    return record


def _file_detail(clean: CleanFile, digest: str) -> dict[str, Any]:
    return {"type": clean.content_type, "size": len(clean.content), "sha256": digest}


@transaction.atomic
def document_upload(
    *,
    actor: User,
    case_id: Any,
    category: str,
    title: str,
    upload: IO[bytes] | bytes,
    filename: str,
    description: str = "",
    record_kind: str = "",
    record_id: Any = None,
) -> Document:
    """Attach a file to a case (or to one of its records), in a category the actor
    may write: the category decides who may see the document."""
    if category not in Category.values:
        raise ValidationError({"category": [_("Choose a category.")]})
    case = case_for_write(actor, case_id, category)
    if actor.organisation_id is None:  # pragma: no cover - no grants without one
        raise WriteForbidden
    record = _record(actor, case.pk, record_kind, record_id, category)
    try:
        clean = clean_file(_read_limited(upload))
    except ValidationError as exc:
        raise ValidationError({"file": exc.messages}) from exc
    digest = hashlib.sha256(clean.content).hexdigest()
    now = timezone.now()
    document = Document(
        case=case,
        category=category,
        title=(title or "").strip(),
        description=(description or "").strip(),
        organisation_id=actor.organisation_id,
        filename=safe_filename(filename, clean.extension),
        content_type=clean.content_type,
        size=len(clean.content),
        sha256=digest,
        storage_name="pending",
        created_by=actor,
        created_at=now,
        updated_by=actor,
        updated_at=now,
    )
    if record is not None:
        setattr(document, record_kind, record)
    document.full_clean(exclude=["storage_name"])
    document.storage_name = _store(case.pk, clean)
    try:
        document.save()
        case_touch(case)
        audit_record(
            action=EventAction.CREATE,
            actor=actor,
            case=case,
            obj=document,
            category=category,
            detail={
                "document": True,
                "record": {record_kind: record.pk} if record is not None else {},
                **_file_detail(clean, digest),
            },
        )
    except BaseException:
        _discard(document.storage_name)
        raise
    return document


def document_for_change(*, actor: User, document_id: Any, case_id: Any = None) -> Document:
    """A document the actor reads (else 404) and may replace or delete (else 403):
    their organisation attached it, or they coordinate the case's partnership."""
    document: Document = record_for(actor, Document, document_id, Action.WRITE, case_id=case_id)
    if not may_change_document(
        actor,
        organisation_id=document.organisation_id,
        partnership_id=document.case.partnership_id,
    ):
        raise WriteForbidden
    return document


@transaction.atomic
def document_replace(
    *,
    actor: User,
    document_id: Any,
    version: int,
    upload: IO[bytes] | bytes,
    filename: str,
    case_id: Any = None,
) -> Document:
    """A new file for the document (a corrected licence, a signed report), based
    on the version the actor read (``StaleVersion`` otherwise). The earlier file
    stays in the storage as a ``DocumentVersion``: who attached it and when, who
    replaced it and when; the event names both digests."""
    document = document_for_change(actor=actor, document_id=document_id, case_id=case_id)
    try:
        clean = clean_file(_read_limited(upload))
    except ValidationError as exc:
        raise ValidationError({"file": exc.messages}) from exc
    digest = hashlib.sha256(clean.content).hexdigest()
    earlier = DocumentVersion(
        document=document,
        storage_name=document.storage_name,
        filename=document.filename,
        content_type=document.content_type,
        size=document.size,
        sha256=document.sha256,
        attached_by_id=document.updated_by_id,
        attached_at=document.updated_at,
        replaced_by=actor,
    )
    new_name = _store(document.case_id, clean)
    try:
        now = timezone.now()
        save_versioned(
            document,
            version,
            {
                "storage_name": new_name,
                "filename": safe_filename(filename, clean.extension),
                "content_type": clean.content_type,
                "size": len(clean.content),
                "sha256": digest,
                "updated_by": actor,
                "updated_at": now,
            },
        )
        # After the versioned update: a concurrent replacement waits on the row
        # lock, then finds the version changed, so the numbers cannot collide.
        earlier.number = document.versions.count() + 1
        earlier.replaced_at = now
        earlier.full_clean(exclude=["document", "storage_name"])
        earlier.save()
        case_touch(document.case)
        audit_record(
            action=EventAction.UPDATE,
            actor=actor,
            case=document.case,
            obj=document,
            category=document.category,
            detail={
                "document": True,
                "fields": ["file"],
                "replaced_sha256": earlier.sha256,
                "earlier_file": earlier.pk,
                "version": document.version,
                **_file_detail(clean, digest),
            },
        )
    except BaseException:
        _discard(new_name)
        raise
    return document


@transaction.atomic
def document_delete(*, actor: User, document_id: Any, version: int, case_id: Any = None) -> None:
    """Remove a document with its earlier files and, once this commits, every
    file of it from the storage."""
    document = document_for_change(actor=actor, document_id=document_id, case_id=case_id)
    earlier = list(document.versions.order_by("number").values_list("storage_name", flat=True))
    deleted, _rows = Document.objects.filter(pk=document.pk, version=version).delete()
    if not deleted:
        raise StaleVersion
    case_touch(document.case)
    audit_record(
        action=EventAction.DELETE,
        actor=actor,
        case=document.case,
        obj=document,
        category=document.category,
        detail={
            "document": True,
            "version": version,
            "sha256": document.sha256,
            **({"earlier_files": len(earlier)} if earlier else {}),
        },
    )
    _delete_files_on_commit([document.storage_name, *earlier])


def case_files_forget(*, case_id: int) -> list[str]:
    """For erasure and anonymisation, before the rows go: the case's stored files,
    each document's current and earlier ones, deleted from the storage once the
    erasure commits. Returns their names."""
    names = _case_file_names(case_id)
    _delete_files_on_commit(names)
    return names


def _case_file_names(case_id: int) -> list[str]:
    """Every file the case's documents name, current and earlier: two queries."""
    current = Document.objects.filter(case_id=case_id).order_by("pk")
    earlier = DocumentVersion.objects.filter(document__case_id=case_id).order_by("pk")
    return [
        *current.values_list("storage_name", flat=True),
        *earlier.values_list("storage_name", flat=True),
    ]


def document_files_sweep(*, older_than: datetime.timedelta = SWEEP_AGE) -> int:
    """Delete stored files that no document names any more: those of a write
    whose transaction rolled back after the file was stored, or whose deletion
    after a commit failed. Walks the storage one case folder at a time (one
    indexed query each); a file younger than ``older_than`` may belong to a
    write still in progress and is left. Returns how many were deleted."""
    storage = documents_storage()
    cutoff = timezone.now() - older_than
    try:
        folders, _files = storage.listdir("")
    except FileNotFoundError:
        return 0
    deleted = 0
    for folder in sorted(folders):
        case_id = folder[1:]
        if not (folder.startswith("c") and case_id.isdecimal()):
            continue
        _dirs, names = storage.listdir(folder)
        known = set(_case_file_names(int(case_id)))
        for name in sorted(names):
            path = f"{folder}/{name}"
            if path in known or storage.get_modified_time(path) > cutoff:
                continue
            storage.delete(path)
            deleted += 1
    return deleted
