from __future__ import annotations

import datetime

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from prepare.access.categories import Action, Category
from prepare.accounts.models import Organisation


class RetentionAction(models.TextChoices):
    ERASE = "erase", _("Erase")
    ANONYMISE = "anonymise", _("Anonymise")


def default_release_reminders() -> list[int]:
    return [90, 30, 7]


class Partnership(models.Model):
    name = models.CharField(_("name"), max_length=200, unique=True)
    code = models.CharField(
        _("code"), max_length=8, unique=True, help_text=_("Prefix of case references, e.g. RTM")
    )
    coordinating_organisation = models.ForeignKey(
        Organisation,
        on_delete=models.PROTECT,
        related_name="coordinated_partnerships",
        verbose_name=_("coordinating organisation"),
    )
    timezone = models.CharField(_("time zone"), max_length=64, default="Europe/Brussels")
    created_at = models.DateTimeField(auto_now_add=True)
    # Optimistic locking of the administrator's edit of the name and time zone.
    version = models.PositiveIntegerField(default=1, editable=False)
    # Retention: what happens to a closed case, and how long after closure.
    retention_years = models.PositiveSmallIntegerField(
        _("retention after closure (years)"), default=5
    )
    retention_action = models.CharField(
        _("at the end of retention"),
        max_length=10,
        choices=RetentionAction.choices,
        default=RetentionAction.ERASE,
    )
    # Days before the expected release at which reminders go out.
    release_reminder_days = models.JSONField(
        _("release reminders (days before)"), default=default_release_reminders
    )
    transfer_grace_days = models.PositiveSmallIntegerField(
        _("read-only days for the old team after a transfer"), default=14
    )
    # Whether setting or moving a case's expected release date starts its
    # release planning at once (prepare.plans.services.planning_autostart);
    # off: the person who saved the date is offered to start it.
    release_planning_autostart = models.BooleanField(
        _("start release planning when the expected release date is set"), default=False
    )
    # Four eyes on closure: a coordinator other than the proposer approves it.
    # A partnership with a single coordinator may let that coordinator approve
    # their own proposal (audited as a self-approval).
    closure_self_approval = models.BooleanField(
        _("a single coordinator may approve their own closure proposal"), default=False
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("partnership")
        verbose_name_plural = _("partnerships")

    def __str__(self) -> str:
        return self.name


class MembershipQuerySet(models.QuerySet["Membership"]):
    def current(self, on: datetime.date) -> MembershipQuerySet:
        return self.filter(starts_on__lte=on).filter(Q(ends_on__isnull=True) | Q(ends_on__gte=on))


class Membership(models.Model):
    partnership = models.ForeignKey(
        Partnership, on_delete=models.CASCADE, related_name="memberships"
    )
    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="memberships"
    )
    starts_on = models.DateField(_("member since"))
    ends_on = models.DateField(_("member until"), null=True, blank=True)
    # Named by the partnership to be alerted of high and urgent signals.
    escalation = models.BooleanField(_("receives escalations"), default=False)

    objects = MembershipQuerySet.as_manager()

    class Meta:
        ordering = ["organisation__name"]
        constraints = [
            models.UniqueConstraint(
                fields=["partnership", "organisation"], name="membership_unique"
            ),
            models.CheckConstraint(
                condition=Q(ends_on__isnull=True) | Q(ends_on__gte=models.F("starts_on")),
                name="membership_dates_ordered",
            ),
        ]
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")

    def __str__(self) -> str:
        return f"{self.organisation} in {self.partnership}"


class LegalBasis(models.TextChoices):
    COVENANT = "covenant", _("Partnership covenant")
    STATUTE = "statute", _("Statute")
    CONSENT = "consent", _("Consent of the person")


class AgreementQuerySet(models.QuerySet["SharingAgreement"]):
    def in_force(self, on: datetime.date) -> AgreementQuerySet:
        return self.filter(valid_from__lte=on).filter(
            Q(valid_until__isnull=True) | Q(valid_until__gte=on)
        )


class SharingAgreement(models.Model):
    """The information-sharing agreement of a partnership for a period."""

    partnership = models.ForeignKey(
        Partnership, on_delete=models.CASCADE, related_name="agreements"
    )
    title = models.CharField(_("title"), max_length=200)
    legal_basis = models.CharField(_("legal basis"), max_length=16, choices=LegalBasis.choices)
    legal_reference = models.CharField(
        _("legal reference"), max_length=300, help_text=_("Covenant clause or statute article")
    )
    valid_from = models.DateField(_("valid from"))
    valid_until = models.DateField(_("valid until"), null=True, blank=True)

    objects = AgreementQuerySet.as_manager()

    class Meta:
        ordering = ["-valid_from"]
        constraints = [
            models.CheckConstraint(
                condition=Q(valid_until__isnull=True) | Q(valid_until__gte=models.F("valid_from")),
                name="agreement_dates_ordered",
            ),
        ]
        verbose_name = _("information-sharing agreement")
        verbose_name_plural = _("information-sharing agreements")

    def __str__(self) -> str:
        return self.title


class CategoryGrant(models.Model):
    """One cell of the agreement: organisation x category -> read or write."""

    agreement = models.ForeignKey(SharingAgreement, on_delete=models.CASCADE, related_name="grants")
    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="category_grants"
    )
    category = models.CharField(_("category"), max_length=16, choices=Category.choices)
    access = models.CharField(_("access"), max_length=8, choices=Action.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["agreement", "organisation", "category"], name="category_grant_unique"
            ),
        ]
        verbose_name = _("category grant")
        verbose_name_plural = _("category grants")

    def __str__(self) -> str:
        return f"{self.organisation}: {self.category} ({self.access})"


class AccessChangeStatus(models.TextChoices):
    PENDING = "pending", _("Waiting for a second approver")
    APPROVED = "approved", _("Approved and applied")
    REJECTED = "rejected", _("Rejected")
    WITHDRAWN = "withdrawn", _("Withdrawn")
    SUPERSEDED = "superseded", _("Superseded")


class AccessChangeRequest(models.Model):
    """A change that widens access, waiting for a second approver (four eyes).

    ``kind`` names an entry of ``prepare.partnerships.access_changes.KINDS``,
    which knows how to describe ``payload`` to the approver and how to apply
    it. ``base`` is the kind's fingerprint of what the change was proposed
    against: if it differs when approving, the request is stale and refused.
    Nothing of what it widens applies before it is approved.
    """

    kind = models.CharField(max_length=32)
    # Null for a change of the whole installation (an import).
    partnership = models.ForeignKey(
        Partnership,
        on_delete=models.CASCADE,
        related_name="access_changes",
        null=True,
        blank=True,
    )
    payload = models.JSONField()
    base = models.CharField(max_length=64)
    status = models.CharField(
        max_length=12, choices=AccessChangeStatus.choices, default=AccessChangeStatus.PENDING
    )
    proposed_by = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")
    proposed_at = models.DateTimeField(default=timezone.now, editable=False)
    decided_by = models.ForeignKey(
        "accounts.User", on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    reason = models.TextField(_("reason"), max_length=2000, blank=True)

    class Meta:
        ordering = ["-proposed_at", "-pk"]
        verbose_name = _("access change request")
        verbose_name_plural = _("access change requests")
        indexes = [
            models.Index(
                fields=["partnership", "-proposed_at"],
                condition=Q(status="pending"),
                name="access_change_pending",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status="pending") | Q(decided_at__isnull=False),
                name="access_change_decided_at",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} ({self.status})"
