"""Legal holds that keep a case from anonymisation or erasure."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from prepare.cases.models.core import Case


class LegalHold(models.Model):
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="legal_holds")
    reason = models.TextField(_("why"), max_length=2000)
    until = models.DateField(_("until"))
    placed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    placed_at = models.DateTimeField(default=timezone.now, editable=False)
    released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
    )
    released_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-placed_at"]
        verbose_name = _("legal hold")
        verbose_name_plural = _("legal holds")
        constraints = [
            models.CheckConstraint(
                condition=Q(released_at__isnull=True) | Q(released_by__isnull=False),
                name="legal_hold_release_has_actor",
            ),
        ]

    def __str__(self) -> str:
        return f"hold on {self.case} until {self.until}"


class ErasureStatus(models.TextChoices):
    PENDING = "pending", pgettext_lazy("erasure request", "Waiting for a second approver")
    REFUSED = "refused", pgettext_lazy("erasure request", "Refused")
    WITHDRAWN = "withdrawn", pgettext_lazy("erasure request", "Withdrawn")


class ErasureRequest(models.Model):
    """A request to erase a closed case now, before or at the end of retention.

    Four eyes: one person asks (with a fresh one-time code), a second one
    approves (with theirs). An approved request is never stored as such: the
    approval erases the case, and this row with it; the audit log keeps the
    request, the approval and the tombstone, without the reason's text.
    """

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="erasure_requests")
    reason = models.TextField(_("why"), max_length=2000)
    status = models.CharField(
        max_length=12, choices=ErasureStatus.choices, default=ErasureStatus.PENDING
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    requested_at = models.DateTimeField(default=timezone.now, editable=False)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.TextField(_("reason"), max_length=2000, blank=True)

    class Meta:
        ordering = ["-requested_at"]
        verbose_name = _("erasure request")
        verbose_name_plural = _("erasure requests")
        constraints = [
            models.UniqueConstraint(
                fields=["case"], condition=Q(status="pending"), name="one_pending_erasure_per_case"
            ),
            models.CheckConstraint(
                condition=Q(status="pending") | Q(decided_by__isnull=False),
                name="erasure_decision_has_actor",
            ),
        ]

    def __str__(self) -> str:
        return f"erasure of {self.case} ({self.status})"
