"""The search index: one row per piece of searchable case text.

A row copies, from one case-bound record, its case, its category and its
free text; from the case, its reference; from the person, name, identifier
and date of birth (category identity). The rows are written by database
triggers on the source tables (``prepare.search.sql``; decision
docs/decisions/0017-search-index.md), so that every write path keeps the index
in step, and erasing a case erases its rows. Reading them goes through the
access policy like any case record (``record_filter``): a row is a record in
its source's category.

The full-text index itself lives beside the table: an FTS5 table per kind of
row on SQLite, a generated ``tsvector`` column with GIN indexes on PostgreSQL.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from prepare.access.categories import Category
from prepare.cases.models import CaseRecordQuerySet, handover_stamp


class EntryKind(models.TextChoices):
    REFERENCE = "reference", _("Reference")
    PERSON = "person", pgettext_lazy("search match", "Person")
    NOTE = "note", _("Note")
    REFERRAL = "referral", _("Referral")
    TRIAGE = "triage", _("Triage decision")
    TRANSITION = "transition", _("Status change")
    KEY_DATE = "key_date", _("Key date")
    CONTACT = "contact", _("Contact")
    CONDITION = "condition", _("Licence condition")
    BREACH = "breach", _("Breach")
    SIGNAL = "signal", _("Signal of concern")
    CHECKLIST = "checklist", _("Checklist item")
    TRANSFER = "transfer", _("Transfer")
    DOCUMENT = "document", _("Document")
    ASSESSMENT = "assessment", _("Assessment")


# Rows about who the case is (found by reference, name, identifier, date of
# birth), searched and ranked before the records' text.
WHO_KINDS = frozenset({EntryKind.REFERENCE, EntryKind.PERSON})


class SearchEntry(models.Model):
    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="+")
    # The partnership that holds the source (a record's holder, decision 0012;
    # the case's partnership for who the case is and for a transfer's summary),
    # copied by the triggers: the policy reads an entry as it reads its source.
    partnership = models.ForeignKey(
        "partnerships.Partnership",
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    # From a record: the transfer that handed it over and when it last changed
    # (its ``updated_at``, or its creation time if it never changes); from a
    # transfer's summary, that transfer and its proposal. The policy lets a
    # transfer's old team read an entry as it reads the source (decision 0012).
    # Empty on the rows about who the case is.
    handed_over_by = handover_stamp()
    updated_at = models.DateTimeField(null=True)
    kind = models.CharField(max_length=16, choices=EntryKind.choices)
    # The source row's id (the case's for a reference or a person).
    object_id = models.BigIntegerField()
    # The source's category; empty for a reference (anyone who sees the case).
    category = models.CharField(max_length=16, choices=Category.choices, blank=True)
    who = models.BooleanField(default=False)
    text = models.TextField(blank=True)
    birth_date = models.DateField(null=True, blank=True)

    objects = CaseRecordQuerySet.as_manager()

    class Meta:
        verbose_name = _("search index entry")
        verbose_name_plural = _("search index entries")
        constraints = [
            models.UniqueConstraint(fields=["kind", "object_id"], name="search_entry_source"),
        ]
        indexes = [
            models.Index(fields=["case"], name="search_entry_case"),
            models.Index(
                fields=["birth_date"],
                name="search_entry_birth_date",
                condition=models.Q(birth_date__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.object_id} of case {self.case_id}"
