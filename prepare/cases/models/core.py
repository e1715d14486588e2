from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from prepare.access.categories import Action, Category
from prepare.accounts.models import Organisation
from prepare.cases.models.records import CaseRecord, VersionedCaseRecord
from prepare.partnerships.models import Partnership

if TYPE_CHECKING:
    from prepare.accounts.models import User


class DataSubjectCategory(models.TextChoices):
    """Law Enforcement Directive, Art. 6."""

    CONVICTED = "convicted", _("Convicted of an offence")
    SUSPECT = "suspect", _("Suspect")
    OTHER = "other", _("Other (e.g. at risk, voluntary track)")


class Person(models.Model):
    """The person a case is about: minimal identity, category ``identity``."""

    given_name = models.CharField(_("given name"), max_length=100)
    family_name = models.CharField(_("family name"), max_length=100)
    birth_date = models.DateField(_("date of birth"), null=True, blank=True)
    identifier = models.CharField(
        _("identifier"),
        max_length=64,
        blank=True,
        help_text=_("Prison or probation number; leave empty if not needed."),
    )
    data_subject_category = models.CharField(
        _("data-subject category"), max_length=16, choices=DataSubjectCategory.choices
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("person")
        verbose_name_plural = _("persons")
        indexes = [models.Index(fields=["family_name", "given_name", "birth_date"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(data_subject_category__in=DataSubjectCategory.values),
                name="person_data_subject_category_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.given_name} {self.family_name}"


class CaseStatus(models.TextChoices):
    REFERRED = "referred", _("Referred")
    TRIAGE = "triage", _("In triage")
    PRE_RELEASE = "pre_release", _("Active: pre-release")
    COMMUNITY = "community", _("Active: in the community")
    CLOSING = "closing", _("Closing")
    CLOSED = "closed", _("Closed")
    FOLLOW_UP = "follow_up", _("Follow-up")
    ARCHIVED = "archived", _("Archived")


class CaseOutcome(models.TextChoices):
    REINTEGRATED = "reintegrated", _("Reintegrated")
    REOFFENDED = "reoffended", _("Reoffended")
    MOVED = "moved", _("Moved (elsewhere or abroad)")
    SENTENCE_ENDED = "sentence_ended", _("Sentence ended")
    DIED = "died", _("Died")
    NO_ACTION = "no_action", _("No action after triage")
    CRIMINAL_JUSTICE = "criminal_justice", _("Handed to the criminal-justice track")
    OTHER = "other", _("Other")


# Team access ends by itself once a case is closed; the coordinator keeps it.
ENDED_STATUSES = frozenset({CaseStatus.CLOSED, CaseStatus.FOLLOW_UP, CaseStatus.ARCHIVED})


class CaseQuerySet(models.QuerySet["Case"]):
    def visible_to(self, user: User, action: str = Action.READ) -> CaseQuerySet:
        from prepare.access.policy import case_filter

        return self.filter(case_filter(user, action))


class Case(models.Model):
    person = models.ForeignKey(
        Person, on_delete=models.PROTECT, related_name="cases", verbose_name=_("person")
    )
    partnership = models.ForeignKey(
        Partnership, on_delete=models.PROTECT, related_name="cases", verbose_name=_("partnership")
    )
    reference = models.CharField(_("reference"), max_length=32, unique=True)
    status = models.CharField(
        _("status"), max_length=16, choices=CaseStatus.choices, default=CaseStatus.REFERRED
    )
    opened_on = models.DateField(_("opened on"), default=timezone.localdate)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)
    version = models.PositiveIntegerField(default=1)
    # Closure: set when the coordinator approves it.
    outcome = models.CharField(_("outcome"), max_length=20, choices=CaseOutcome.choices, blank=True)
    closed_on = models.DateField(_("closed on"), null=True, blank=True)
    # Set when retention anonymised the case: only structured facts remain.
    anonymised_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = CaseQuerySet.as_manager()

    class Meta:
        verbose_name = _("case")
        verbose_name_plural = _("cases")
        indexes = [models.Index(fields=["partnership", "-updated_at"])]

    def __str__(self) -> str:
        return self.reference


class TeamMemberQuerySet(models.QuerySet["CaseTeamMember"]):
    def visible_to(self, user: User) -> TeamMemberQuerySet:
        from prepare.access.policy import visible_cases

        return self.filter(case__in=visible_cases(user, Action.READ).values("pk"))

    def active(self, on: object | None = None) -> TeamMemberQuerySet:
        day = on or timezone.localdate()
        return self.filter(Q(ends_on__isnull=True) | Q(ends_on__gte=day))


class CaseTeamMember(models.Model):
    """An organisation (``user`` empty) or a named practitioner on a case team."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="team")
    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="+", verbose_name=_("organisation")
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("named practitioner"),
    )
    purpose = models.CharField(_("purpose"), max_length=300)
    ends_on = models.DateField(_("until"), null=True, blank=True)
    added_at = models.DateTimeField(default=timezone.now, editable=False)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True
    )

    objects = TeamMemberQuerySet.as_manager()

    class Meta:
        ordering = ["organisation__name", "pk"]
        verbose_name = _("case team member")
        verbose_name_plural = _("case team members")
        constraints = [
            models.UniqueConstraint(
                fields=["case", "organisation"],
                condition=Q(user__isnull=True),
                name="team_organisation_once",
            ),
            models.UniqueConstraint(
                fields=["case", "user"], condition=Q(user__isnull=False), name="team_user_once"
            ),
        ]
        indexes = [models.Index(fields=["user", "case"])]

    def __str__(self) -> str:
        return str(self.user or self.organisation)


class NoteKind(models.TextChoices):
    """Law Enforcement Directive, Art. 7: facts apart from assessments."""

    FACT = "fact", _("Fact")
    ASSESSMENT = "assessment", _("Assessment")


class CaseNote(VersionedCaseRecord):
    """A statement on a case. Edited only by its author's organisation; others
    answer with a reply (a note of their own, ``reply_to`` the one it answers)."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="notes")
    kind = models.CharField(_("fact or assessment"), max_length=16, choices=NoteKind.choices)
    text = models.TextField(_("note"), max_length=10_000)
    reply_to = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="replies",
        verbose_name=_("in reply to"),
    )

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("case note")
        verbose_name_plural = _("case notes")
        indexes = [models.Index(fields=["case", "category", "-created_at"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(category__in=Category.values), name="note_category_valid"
            ),
            models.CheckConstraint(condition=Q(kind__in=NoteKind.values), name="note_kind_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.case} / {self.get_category_display()}"


class CaseNoteVersion(CaseRecord):
    """An earlier version of a note (rectification history): what it said before
    an edit, who had written that version and when, and who replaced it when.

    ``category`` is the category the version had; it is read only by who may
    read that category (and the note), through ``visible_to`` like any record.
    """

    note = models.ForeignKey(CaseNote, on_delete=models.CASCADE, related_name="versions")
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="+")
    version = models.PositiveIntegerField()
    kind = models.CharField(max_length=16, choices=NoteKind.choices)
    text = models.TextField(max_length=10_000)
    written_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    written_at = models.DateTimeField()
    replaced_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    replaced_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["note", "version"]
        verbose_name = _("earlier version of a note")
        verbose_name_plural = _("earlier versions of notes")
        constraints = [
            models.CheckConstraint(
                condition=Q(category__in=Category.values), name="note_version_category_valid"
            ),
            models.UniqueConstraint(fields=["note", "version"], name="note_version_once"),
        ]

    def __str__(self) -> str:
        return f"{self.note_id} v{self.version}"
