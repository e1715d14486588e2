"""Structured-judgement instruments, held as data, one row per loaded version.

A version's content never changes once stored: an assessment pins the
version it was made with, for ever (decision 0027).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from prepare.access.categories import Category
from prepare.cases.models.records import VersionedCaseRecord


class Instrument(models.Model):
    identifier = models.SlugField(_("identifier"), max_length=64, unique=True)
    # The category of information its assessments hold; part of the instrument.
    category = models.CharField(_("category"), max_length=32, choices=Category.choices)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["identifier"]
        verbose_name = _("instrument")
        verbose_name_plural = _("instruments")

    def __str__(self) -> str:
        return self.identifier


class InstrumentVersion(models.Model):
    instrument = models.ForeignKey(Instrument, on_delete=models.PROTECT, related_name="versions")
    version = models.CharField(_("version"), max_length=32)
    # The canonical content (validation.canonical) and the SHA-256 of its canonical JSON.
    content = models.JSONField(_("content"))
    content_hash = models.CharField(_("content hash"), max_length=64)
    loaded_at = models.DateTimeField(_("loaded at"), auto_now_add=True)
    loaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        ordering = ["instrument_id", "loaded_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["instrument", "version"], name="assessments_one_content_per_version"
            )
        ]
        verbose_name = _("instrument version")
        verbose_name_plural = _("instrument versions")

    def __str__(self) -> str:
        return f"{self.instrument_id} {self.version}"


class AssessmentStatus(models.TextChoices):
    DRAFT = "draft", pgettext_lazy("assessment status", "Draft")
    COMPLETED = "completed", pgettext_lazy("assessment status", "Completed")
    COUNTERSIGNED = "countersigned", pgettext_lazy("assessment status", "Countersigned")


# An assessment's ratings, scenarios and plan are one JSON document each,
# read and written whole: a draft is saved as one versioned write (optimistic
# locking), and what it holds is always read through its pinned version.
class Assessment(VersionedCaseRecord):
    """One structured judgement on a case, made with one instrument version.

    Its category is its instrument's (risk, social, ...): the sharing
    agreements decide who reads it, like any record. A draft is saved as the
    assessor goes; completing it needs the final judgement and its rationale
    and locks it. A second assessor may countersign a completed assessment.
    A correction is a new assessment that names the one it corrects; the
    corrected one is kept and shown.
    """

    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="assessments")
    instrument_version = models.ForeignKey(
        InstrumentVersion,
        on_delete=models.PROTECT,
        related_name="assessments",
        verbose_name=_("instrument version"),
    )
    # The assessor's organisation when the assessment was started.
    organisation = models.ForeignKey(
        "accounts.Organisation",
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("organisation"),
    )
    status = models.CharField(
        _("status"), max_length=16, choices=AssessmentStatus.choices, default=AssessmentStatus.DRAFT
    )
    # {item id: {"presence": level key, "relevance": level key, "evidence": text}}
    ratings = models.JSONField(_("ratings"), default=dict, blank=True)
    # [{"description": text, "likelihood": level key, "prevention": text}]
    scenarios = models.JSONField(_("scenarios"), default=list, blank=True)
    # {section id: text}; the key "" holds a plan without sections.
    management_plan = models.JSONField(_("management plan"), default=dict, blank=True)
    judgement = models.CharField(_("final judgement"), max_length=64, blank=True)
    rationale = models.TextField(_("rationale"), max_length=10_000, blank=True)
    # Every free text of the assessment, joined: what the search index copies.
    searchable_text = models.TextField(blank=True, editable=False)
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    countersigned_at = models.DateTimeField(_("countersigned at"), null=True, blank=True)
    countersigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    review_due_on = models.DateField(_("next review"), null=True, blank=True)
    corrects = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="corrections",
        verbose_name=_("corrects"),
    )

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("assessment")
        verbose_name_plural = _("assessments")
        indexes = [
            models.Index(fields=["case", "category", "-created_at"], name="assessment_case"),
            # The review reminders' scan across all cases.
            models.Index(fields=["status", "review_due_on"], name="assessment_review_due"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(category__in=Category.values), name="assessment_category_valid"
            ),
            models.CheckConstraint(
                condition=Q(status__in=AssessmentStatus.values), name="assessment_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(status=AssessmentStatus.DRAFT)
                | (Q(completed_at__isnull=False) & ~Q(judgement="") & ~Q(rationale="")),
                name="assessment_completed_has_judgement",
            ),
            models.CheckConstraint(
                condition=~Q(status=AssessmentStatus.COUNTERSIGNED)
                | Q(countersigned_at__isnull=False),
                name="assessment_countersigned_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.case_id} / {self.instrument_version}"

    @property
    def is_draft(self) -> bool:
        return self.status == AssessmentStatus.DRAFT

    @property
    def assessed_at(self) -> Any:
        """When the judgement was made: its completion, else its start."""
        return self.completed_at or self.created_at
