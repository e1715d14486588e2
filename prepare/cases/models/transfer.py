"""Moving a case to another partnership when the person moves."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from prepare.access.categories import Category
from prepare.accounts.models import Organisation
from prepare.cases.models.core import Case
from prepare.partnerships.models import Partnership


class TransferStatus(models.TextChoices):
    PROPOSED = "proposed", _("Proposed")
    ACCEPTED = "accepted", _("Accepted")
    DECLINED = "declined", _("Declined")
    WITHDRAWN = "withdrawn", _("Withdrawn")


class Transfer(models.Model):
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="transfers")
    from_partnership = models.ForeignKey(
        Partnership, on_delete=models.PROTECT, related_name="transfers_out"
    )
    to_partnership = models.ForeignKey(
        Partnership,
        on_delete=models.PROTECT,
        related_name="transfers_in",
        verbose_name=_("receiving partnership"),
    )
    handover_summary = models.TextField(_("handover summary"), max_length=10_000)
    summary_category = models.CharField(
        _("category of the summary"),
        max_length=16,
        choices=Category.choices,
        default=Category.SOCIAL,
    )
    # The categories of case records the sending partnership hands over (chosen
    # by its coordinator); the records of the others stay with the sender.
    categories = models.JSONField(_("categories handed over"), default=list, blank=True)
    status = models.CharField(
        max_length=12, choices=TransferStatus.choices, default=TransferStatus.PROPOSED
    )
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    proposed_at = models.DateTimeField(default=timezone.now, editable=False)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.TextField(_("reason"), max_length=5000, blank=True)

    class Meta:
        ordering = ["-proposed_at"]
        verbose_name = _("transfer")
        verbose_name_plural = _("transfers")
        constraints = [
            models.UniqueConstraint(
                fields=["case"], condition=Q(status="proposed"), name="one_open_transfer_per_case"
            ),
            models.CheckConstraint(
                condition=~Q(from_partnership=models.F("to_partnership")),
                name="transfer_to_another_partnership",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.case}: {self.from_partnership} → {self.to_partnership}"

    @property
    def handed_over(self) -> list[str]:
        """The categories handed over, in the categories' order (unknown values dropped)."""
        chosen = set(self.categories or [])
        return [c for c in Category.values if c in chosen]

    @property
    def handed_over_labels(self) -> list[str]:
        return [str(Category(c).label) for c in self.handed_over]


class TransferGrace(models.Model):
    """Read-only access the old team keeps to one category for a while after a transfer.

    One row per (case, organisation, category), so that the policy checks it
    with one indexed lookup inside the same SQL as every other grant.
    """

    transfer = models.ForeignKey(Transfer, on_delete=models.CASCADE, related_name="graces")
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="+")
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    category = models.CharField(max_length=16, choices=Category.choices)
    until = models.DateTimeField()
    # Who in the organisation keeps reading, as they reached the case before:
    # the whole organisation (a team entry without a name), one named
    # practitioner, or the coordinators of the old coordinating organisation.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
    )
    coordination = models.BooleanField(default=False)

    class Meta:
        indexes = [models.Index(fields=["organisation", "case", "category", "until"])]

    def __str__(self) -> str:
        return f"grace {self.organisation_id} on {self.case_id}/{self.category} until {self.until}"
