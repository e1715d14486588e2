"""Files attached to a case, or to one record of it (a note, a contact, a
licence condition, a signal of concern).

A document is a case record like any other: one case, one category that
decides who may see it (its title, its description and its file alike), read
through ``CaseRecordQuerySet.visible_to``. A document attached to a record has
that record's category, so whoever sees the document may read the record too.

The file itself lives in the ``documents`` storage (``settings.STORAGES``)
under a random name that says nothing about the case or the person; the row
holds that name, the file's safe display name, its type as found from its
content, its size and its SHA-256.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from prepare.access.categories import Action, Category
from prepare.accounts.models import Organisation, User
from prepare.cases.models import Case, CaseNote, VersionedCaseRecord
from prepare.monitoring.models import Contact, LicenceCondition, Signal

TITLE_MAX_LENGTH = 200
DESCRIPTION_MAX_LENGTH = 2_000
FILENAME_MAX_LENGTH = 120


class FileType(models.TextChoices):
    """What a file may be, as its content shows it (never its name)."""

    PDF = "application/pdf", _("PDF document")
    PNG = "image/png", _("PNG image")
    JPEG = "image/jpeg", _("JPEG image")
    TEXT = "text/plain", _("Plain text")
    DOCX = (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        _("Word document"),
    )
    ODT = "application/vnd.oasis.opendocument.text", _("OpenDocument text")


CONTENT_TYPE_MAX_LENGTH = 100


# The record a document is about, besides its case: at most one of these.
RECORD_FIELDS = ("note", "contact", "condition", "signal")


class Document(VersionedCaseRecord):
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="documents")
    # Erasure deletes documents before the records they are attached to.
    note = models.ForeignKey(
        CaseNote, on_delete=models.PROTECT, null=True, blank=True, related_name="documents"
    )
    contact = models.ForeignKey(
        Contact, on_delete=models.PROTECT, null=True, blank=True, related_name="documents"
    )
    condition = models.ForeignKey(
        LicenceCondition,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="documents",
    )
    signal = models.ForeignKey(
        Signal, on_delete=models.PROTECT, null=True, blank=True, related_name="documents"
    )
    title = models.CharField(_("title"), max_length=TITLE_MAX_LENGTH)
    description = models.TextField(_("description"), max_length=DESCRIPTION_MAX_LENGTH, blank=True)
    # The organisation that attached it: only it replaces or deletes the file
    # (others attach their own), as with notes.
    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="+", verbose_name=_("organisation")
    )
    storage_name = models.CharField(max_length=100, unique=True, editable=False)
    filename = models.CharField(_("file name"), max_length=FILENAME_MAX_LENGTH)
    content_type = models.CharField(
        _("type"), max_length=CONTENT_TYPE_MAX_LENGTH, choices=FileType.choices
    )
    size = models.PositiveBigIntegerField(_("size"))
    sha256 = models.CharField(max_length=64, editable=False)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("document")
        verbose_name_plural = _("documents")
        indexes = [models.Index(fields=["case", "-created_at"], name="document_case_when")]
        constraints = [
            models.CheckConstraint(
                condition=Q(category__in=Category.values), name="document_category_valid"
            ),
            models.CheckConstraint(
                condition=Q(content_type__in=FileType.values), name="document_type_valid"
            ),
            # At most one record: a document is about the case, or about one record of it.
            models.CheckConstraint(
                condition=(
                    Q(note__isnull=True, contact__isnull=True, condition__isnull=True)
                    | Q(note__isnull=True, contact__isnull=True, signal__isnull=True)
                    | Q(note__isnull=True, condition__isnull=True, signal__isnull=True)
                    | Q(contact__isnull=True, condition__isnull=True, signal__isnull=True)
                ),
                name="document_one_record_at_most",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.case} / {self.title}"

    @property
    def record(self) -> models.Model | None:
        for name in RECORD_FIELDS:
            if getattr(self, f"{name}_id") is not None:
                record: models.Model = getattr(self, name)
                return record
        return None

    @property
    def record_kind(self) -> str:
        return next((n for n in RECORD_FIELDS if getattr(self, f"{n}_id") is not None), "")


class DocumentVersionQuerySet(models.QuerySet["DocumentVersion"]):
    def visible_to(self, user: User, action: str = Action.READ) -> DocumentVersionQuerySet:
        """The earlier files of documents ``user`` may act on: a version is read
        with its document's category (a semi-join on the documents' policy)."""
        return self.filter(document__in=Document.objects.visible_to(user, action).values("pk"))


class DocumentVersion(models.Model):
    """An earlier file of a document, kept when a new one replaced it: who had
    attached it and when, who replaced it and when. It is read only through its
    document (same category, same policy) and leaves the storage with it."""

    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="versions")
    # 1 for the document's first file, 2 for the next, ...
    number = models.PositiveIntegerField(_("number"))
    storage_name = models.CharField(max_length=100, unique=True, editable=False)
    filename = models.CharField(_("file name"), max_length=FILENAME_MAX_LENGTH)
    content_type = models.CharField(
        _("type"), max_length=CONTENT_TYPE_MAX_LENGTH, choices=FileType.choices
    )
    size = models.PositiveBigIntegerField(_("size"))
    sha256 = models.CharField(max_length=64, editable=False)
    attached_by = models.ForeignKey(
        User, on_delete=models.PROTECT, related_name="+", verbose_name=_("attached by")
    )
    attached_at = models.DateTimeField(_("attached"))
    replaced_by = models.ForeignKey(
        User, on_delete=models.PROTECT, related_name="+", verbose_name=_("replaced by")
    )
    replaced_at = models.DateTimeField(_("replaced"))

    objects = DocumentVersionQuerySet.as_manager()

    class Meta:
        ordering = ["document", "-number"]
        verbose_name = _("earlier file")
        verbose_name_plural = _("earlier files")
        constraints = [
            models.UniqueConstraint(fields=["document", "number"], name="document_version_unique"),
            models.CheckConstraint(
                condition=Q(content_type__in=FileType.values), name="document_version_type_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.document} #{self.number}"
