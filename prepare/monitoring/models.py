"""Monitoring of a case: contacts, licence conditions and breaches, signals of concern.

Every record carries its case and one category, and is read through
``CaseRecordQuerySet.visible_to`` (the access policy). Free text lives in the
record's category like everything else, so a contact's summary is seen only
by the organisations granted the category its writer chose.
"""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from prepare.access.categories import Category
from prepare.cases.models import Case, CaseRecord, VersionedCaseRecord

SUMMARY_MAX_LENGTH = 10_000
TEXT_MAX_LENGTH = 5_000


class ContactKind(models.TextChoices):
    MEETING = "meeting", _("Meeting")
    HOME_VISIT = "home_visit", _("Home visit")
    CALL = "call", _("Call")
    MESSAGE = "message", _("Message")


class ContactOutcome(models.TextChoices):
    ATTENDED = "attended", _("Attended")
    DID_NOT_ATTEND = "did_not_attend", _("Did not attend")
    CANCELLED = "cancelled", _("Cancelled")


class Contact(VersionedCaseRecord):
    """A contact with the person: who met whom, when, and what was said."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="contacts")
    kind = models.CharField(_("kind of contact"), max_length=16, choices=ContactKind.choices)
    occurred_at = models.DateTimeField(_("when"))
    who = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("practitioner"),
    )
    with_whom = models.CharField(
        _("with whom"),
        max_length=200,
        blank=True,
        help_text=_("The person, and anyone else present, e.g. a family member."),
    )
    summary = models.TextField(_("summary"), max_length=SUMMARY_MAX_LENGTH)
    # Whether the contact took place: a missed appointment is a fact the
    # supervision needs as much as a meeting held.
    outcome = models.CharField(
        _("outcome"),
        max_length=16,
        choices=ContactOutcome.choices,
        default=ContactOutcome.ATTENDED,
    )

    class Meta:
        ordering = ["-occurred_at", "-pk"]
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        indexes = [models.Index(fields=["case", "-occurred_at"], name="contact_case_when")]
        constraints = [
            models.CheckConstraint(
                condition=Q(category__in=Category.values), name="contact_category_valid"
            ),
            models.CheckConstraint(
                condition=Q(kind__in=ContactKind.values), name="contact_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(outcome__in=ContactOutcome.values), name="contact_outcome_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.case} / {self.get_kind_display()}"


class ContactVersion(CaseRecord):
    """An earlier version of a contact, kept when the contact is corrected
    (rectification keeps what was recorded before, and who changed it).

    It carries the contact's case and category, so the policy shows it to
    exactly those who may read the contact; written only by
    ``contact_correct``, in the same transaction as the correction.
    """

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="+")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField(_("version"))
    kind = models.CharField(_("kind of contact"), max_length=16, choices=ContactKind.choices)
    outcome = models.CharField(_("outcome"), max_length=16, choices=ContactOutcome.choices)
    occurred_at = models.DateTimeField(_("when"))
    with_whom = models.CharField(_("with whom"), max_length=200, blank=True)
    summary = models.TextField(_("summary"), max_length=SUMMARY_MAX_LENGTH)
    # Who wrote this version, and when (the contact's ``updated_*`` at the time).
    written_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    written_at = models.DateTimeField()
    # Who replaced it, when, and why.
    corrected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    corrected_at = models.DateTimeField(default=timezone.now)
    reason = models.CharField(_("reason for the correction"), max_length=500, blank=True)

    class Meta:
        ordering = ["contact", "-version"]
        verbose_name = _("earlier version of a contact")
        verbose_name_plural = _("earlier versions of contacts")
        constraints = [
            models.CheckConstraint(
                condition=Q(category__in=Category.values), name="contact_version_category_valid"
            ),
            models.UniqueConstraint(fields=["contact", "version"], name="contact_version_once"),
        ]

    def __str__(self) -> str:
        return f"{self.contact_id} v{self.version}"


class LicenceCondition(VersionedCaseRecord):
    """A condition of the person's licence or probation order (category justice)."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="licence_conditions")
    text = models.TextField(_("condition"), max_length=2_000)
    starts_on = models.DateField(_("applies from"))
    ends_on = models.DateField(_("applies until"), null=True, blank=True)
    category = models.CharField(
        max_length=16, choices=Category.choices, default=Category.JUSTICE, editable=False
    )

    class Meta:
        ordering = ["starts_on", "pk"]
        verbose_name = _("licence condition")
        verbose_name_plural = _("licence conditions")
        indexes = [models.Index(fields=["case", "starts_on"], name="condition_case_start")]
        constraints = [
            models.CheckConstraint(
                condition=Q(category=Category.JUSTICE), name="licence_condition_is_justice"
            ),
            models.CheckConstraint(
                condition=Q(ends_on__isnull=True) | Q(ends_on__gte=F("starts_on")),
                name="licence_condition_dates_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.case} / {self.starts_on}"

    def in_force(self, on: datetime.date | None = None) -> bool:
        day = on or timezone.localdate()
        return self.starts_on <= day and (self.ends_on is None or self.ends_on >= day)


class Breach(VersionedCaseRecord):
    """A recorded breach of a licence condition, and what was done about it."""

    condition = models.ForeignKey(
        LicenceCondition, on_delete=models.CASCADE, related_name="breaches"
    )
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="breaches")
    occurred_on = models.DateField(_("date of the breach"))
    description = models.TextField(_("what happened"), max_length=TEXT_MAX_LENGTH)
    action_taken = models.TextField(_("action taken"), max_length=TEXT_MAX_LENGTH, blank=True)
    category = models.CharField(
        max_length=16, choices=Category.choices, default=Category.JUSTICE, editable=False
    )
    reported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-occurred_on", "-pk"]
        verbose_name = _("breach")
        verbose_name_plural = _("breaches")
        indexes = [models.Index(fields=["case", "-occurred_on"], name="breach_case_when")]
        constraints = [
            models.CheckConstraint(
                condition=Q(category=Category.JUSTICE), name="breach_is_justice"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.case} / {self.occurred_on}"


class Severity(models.TextChoices):
    LOW = "low", _("Low")
    MEDIUM = "medium", _("Medium")
    HIGH = "high", _("High")
    URGENT = "urgent", _("Urgent")


# A signal of these severities alerts the coordinator and the escalation organisations.
ESCALATING = frozenset({Severity.HIGH, Severity.URGENT})


class SignalStatus(models.TextChoices):
    OPEN = "open", pgettext_lazy("signal status", "Open")
    ACKNOWLEDGED = "acknowledged", pgettext_lazy("signal status", "Acknowledged")
    CLOSED = "closed", pgettext_lazy("signal status", "Closed")


class Signal(VersionedCaseRecord):
    """A signal of concern, with its severity and, when high or urgent, its escalation."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="signals")
    category = models.CharField(
        _("category"), max_length=16, choices=Category.choices, default=Category.RISK
    )
    severity = models.CharField(_("severity"), max_length=8, choices=Severity.choices)
    description = models.TextField(_("what is the concern"), max_length=TEXT_MAX_LENGTH)
    raised_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    raised_at = models.DateTimeField(default=timezone.now, editable=False)
    status = models.CharField(
        _("status"), max_length=16, choices=SignalStatus.choices, default=SignalStatus.OPEN
    )
    escalated = models.BooleanField(_("escalated"), default=False, editable=False)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledgement_note = models.TextField(
        _("acknowledgement"), max_length=TEXT_MAX_LENGTH, blank=True
    )
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-raised_at", "-pk"]
        verbose_name = _("signal of concern")
        verbose_name_plural = _("signals of concern")
        indexes = [models.Index(fields=["case", "-raised_at"], name="signal_case_when")]
        constraints = [
            models.CheckConstraint(
                condition=Q(category__in=Category.values), name="signal_category_valid"
            ),
            models.CheckConstraint(
                condition=Q(status__in=SignalStatus.values), name="signal_status_valid"
            ),
            # Escalation follows from the severity, and only from it.
            models.CheckConstraint(
                condition=Q(escalated=True, severity__in=sorted(ESCALATING))
                | Q(escalated=False, severity__in=[Severity.LOW, Severity.MEDIUM]),
                name="signal_escalated_by_severity",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.case} / {self.get_severity_display()}"


class SignalAlert(models.Model):
    """One recipient of an escalated signal; open until someone acknowledges it.

    Holds no case content: the signal is read through the policy when shown.
    """

    signal = models.ForeignKey(Signal, on_delete=models.CASCADE, related_name="alerts")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )

    class Meta:
        verbose_name = _("signal alert")
        verbose_name_plural = _("signal alerts")
        constraints = [
            models.UniqueConstraint(fields=["signal", "user"], name="signal_alert_once"),
        ]
        indexes = [
            models.Index(
                fields=["user", "-created_at"],
                condition=Q(closed_at__isnull=True),
                name="signal_alert_open_by_user",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.signal_id} → {self.user_id}"
