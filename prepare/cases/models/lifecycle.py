"""Referral, triage, transitions and key dates of a case."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from prepare.access.categories import Category
from prepare.accounts.models import Organisation
from prepare.cases.models.core import Case, CaseStatus
from prepare.cases.models.records import CaseRecord


class ReferrerType(models.TextChoices):
    PRISON = "prison", _("Prison")
    PROBATION = "probation", _("Probation")
    COURT = "court", _("Court")
    POLICE = "police", _("Police")
    MUNICIPALITY = "municipality", _("Municipality")


class Referral(CaseRecord):
    """How a case came in: who referred it, why, and when."""

    case = models.OneToOneField(Case, on_delete=models.CASCADE, related_name="referral")
    referrer_type = models.CharField(_("referred by"), max_length=16, choices=ReferrerType.choices)
    referring_organisation = models.ForeignKey(
        Organisation,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("referring organisation"),
    )
    reason = models.TextField(_("reason for the referral"), max_length=5000)
    category = models.CharField(
        _("category of the reason"),
        max_length=16,
        choices=Category.choices,
        default=Category.RISK,
    )
    received_on = models.DateField(_("received on"), default=timezone.localdate)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta(CaseRecord.Meta):
        verbose_name = _("referral")
        verbose_name_plural = _("referrals")

    def __str__(self) -> str:
        return f"{self.case} ({self.get_referrer_type_display()})"


class TriageOutcome(models.TextChoices):
    NO_ACTION = "no_action", _("No action")
    MORE_INFORMATION = "more_information", _("More information needed")
    MULTI_AGENCY = "multi_agency", _("Multi-agency case")
    CRIMINAL_JUSTICE = "criminal_justice", _("Handed to the criminal-justice track")


class TriageDecision(CaseRecord):
    """The structured outcome of triage, with the reasons (category: meetings)."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="triage_decisions")
    outcome = models.CharField(_("outcome"), max_length=20, choices=TriageOutcome.choices)
    reasons = models.TextField(_("reasons"), max_length=5000)
    category = models.CharField(
        max_length=16, choices=Category.choices, default=Category.MEETINGS, editable=False
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta(CaseRecord.Meta):
        ordering = ["-decided_at", "-pk"]
        verbose_name = _("triage decision")
        verbose_name_plural = _("triage decisions")

    def __str__(self) -> str:
        return f"{self.case}: {self.get_outcome_display()}"


class CaseTransition(CaseRecord):
    """Every change of a case's status: who, when and why (category: meetings)."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="transitions")
    from_status = models.CharField(max_length=16, choices=CaseStatus.choices)
    to_status = models.CharField(max_length=16, choices=CaseStatus.choices)
    reason = models.TextField(_("reason"), max_length=5000)
    category = models.CharField(
        max_length=16, choices=Category.choices, default=Category.MEETINGS, editable=False
    )
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta(CaseRecord.Meta):
        ordering = ["-at", "-pk"]
        verbose_name = _("status change")
        verbose_name_plural = _("status changes")
        indexes = [models.Index(fields=["case", "-at"])]

    def __str__(self) -> str:
        return f"{self.case}: {self.from_status} → {self.to_status}"


class KeyDateKind(models.TextChoices):
    SENTENCE_START = "sentence_start", _("Sentence start")
    EARLIEST_RELEASE = "earliest_release", _("Earliest conditional release")
    EXPECTED_RELEASE = "expected_release", _("Expected release")
    ACTUAL_RELEASE = "actual_release", _("Actual release")
    LICENCE_END = "licence_end", _("End of licence or probation")
    SENTENCE_END = "sentence_end", _("End of sentence")
    NEXT_REVIEW = "next_review", _("Next review")
    FOLLOW_UP_6 = "follow_up_6", _("Follow-up review (6 months)")
    FOLLOW_UP_12 = "follow_up_12", _("Follow-up review (12 months)")


class KeyDate(CaseRecord):
    """One dated fact of a case; always category ``justice``."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="key_dates")
    kind = models.CharField(_("kind"), max_length=20, choices=KeyDateKind.choices)
    date = models.DateField(_("date"))
    category = models.CharField(
        max_length=16, choices=Category.choices, default=Category.JUSTICE, editable=False
    )
    source = models.CharField(
        _("source"),
        max_length=100,
        blank=True,
        help_text=_("Where the date comes from, e.g. the probation system."),
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    updated_at = models.DateTimeField(default=timezone.now)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["date", "kind"]
        verbose_name = _("key date")
        verbose_name_plural = _("key dates")
        constraints = [
            # Once per partnership holding the case's dates: a sending partnership
            # that kept its justice records keeps its dates, and the receiving
            # one sets its own.
            models.UniqueConstraint(
                fields=["case", "partnership", "kind"], name="key_date_once_per_kind"
            ),
            models.CheckConstraint(
                condition=Q(category=Category.JUSTICE), name="key_date_is_justice"
            ),
        ]
        indexes = [models.Index(fields=["kind", "date"])]

    def __str__(self) -> str:
        return f"{self.case}: {self.get_kind_display()} {self.date}"


class ClosureDecision(models.TextChoices):
    PENDING = "pending", _("Waiting for approval")
    APPROVED = "approved", _("Approved")
    KEPT_OPEN = "kept_open", _("Kept open")


class ClosureProposal(CaseRecord):
    """A proposal to close a case: who proposed it, what they confirmed was still
    open (counts per group, no content), and who decided (category: meetings)."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="closure_proposals")
    category = models.CharField(
        max_length=16, choices=Category.choices, default=Category.MEETINGS, editable=False
    )
    transition = models.OneToOneField(
        CaseTransition, on_delete=models.CASCADE, related_name="closure_proposal"
    )
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    proposed_at = models.DateTimeField(default=timezone.now, editable=False)
    # Group key -> the number of open items the proposer confirmed, e.g.
    # {"checklist": 3, "signals": 1}. Counts only: the items stay where they are.
    confirmed = models.JSONField(default=dict, blank=True)
    decision = models.CharField(
        max_length=12, choices=ClosureDecision.choices, default=ClosureDecision.PENDING
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    self_approved = models.BooleanField(default=False)

    class Meta(CaseRecord.Meta):
        ordering = ["-proposed_at", "-pk"]
        verbose_name = _("closure proposal")
        verbose_name_plural = _("closure proposals")
        constraints = [
            models.CheckConstraint(
                condition=Q(category=Category.MEETINGS), name="closure_proposal_is_meetings"
            ),
            models.CheckConstraint(
                condition=Q(decision__in=ClosureDecision.values),
                name="closure_proposal_decision_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.case}: closure proposed by {self.proposed_by_id}"
