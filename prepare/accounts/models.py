from __future__ import annotations

import hashlib
import secrets
import zoneinfo

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


def validate_time_zone(value: str) -> None:
    if value and value not in zoneinfo.available_timezones():
        raise ValidationError(_("Not a known time zone."), code="time_zone")


def validate_languages(value: object) -> None:
    """A list of distinct language codes of the installation (settings.LANGUAGES)."""
    known = {code for code, _name in settings.LANGUAGES}
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValidationError(_("Choose languages from the list."), code="languages")
    unknown = [v for v in value if v not in known]
    if unknown:
        raise ValidationError(
            _("Not a language of this installation: %(codes)s"),
            code="languages",
            params={"codes": ", ".join(unknown)},
        )
    if len(set(value)) != len(value):
        raise ValidationError(_("Each language once."), code="languages")


class OrganisationType(models.TextChoices):
    LOCAL_AUTHORITY = "local_authority", _("Local authority")
    PROBATION = "probation", _("Probation")
    PRISON = "prison", _("Prison")
    POLICE = "police", _("Police")
    YOUTH_PROTECTION = "youth_protection", _("Youth judicial protection")
    SOCIAL_SERVICES = "social_services", _("Social services")
    EMPLOYMENT = "employment", _("Employment")
    HOUSING = "housing", _("Housing")
    HEALTH = "health", _("Health")
    EDUCATION = "education", _("Education")
    EXIT_NGO = "exit_ngo", _("Exit work / NGO")
    RESTORATIVE_JUSTICE = "restorative_justice", _("Restorative justice")
    OTHER = "other", _("Other")


class Organisation(models.Model):
    name = models.CharField(_("name"), max_length=200, unique=True)
    type = models.CharField(_("type"), max_length=32, choices=OrganisationType.choices)
    city = models.CharField(_("city"), max_length=100, blank=True)
    country = models.CharField(_("country"), max_length=2, blank=True, help_text=_("ISO code"))
    # The languages the organisation works in (codes of settings.LANGUAGES).
    languages = models.JSONField(
        _("languages"), default=list, blank=True, validators=[validate_languages]
    )
    is_active = models.BooleanField(_("active"), default=True)
    # Optimistic locking: an edit names the version it read.
    version = models.PositiveIntegerField(default=1, editable=False)

    class Meta:
        ordering = ["name"]
        verbose_name = _("organisation")
        verbose_name_plural = _("organisations")

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    COORDINATOR = "coordinator", _("Coordinator")
    CASE_MANAGER = "case_manager", _("Case manager")
    PRACTITIONER = "practitioner", _("Practitioner")
    OBSERVER = "observer", _("Observer")
    TRAINER = "trainer", _("Trainer")
    ANALYST = "analyst", _("Analyst")
    AUDITOR = "auditor", _("Auditor / data-protection officer")
    ADMINISTRATOR = "administrator", _("Administrator")


# Roles that work on case data at all; the others never see a case.
CASE_READING_ROLES = frozenset(
    {Role.COORDINATOR, Role.CASE_MANAGER, Role.PRACTITIONER, Role.OBSERVER}
)
CASE_WRITING_ROLES = frozenset({Role.COORDINATOR, Role.CASE_MANAGER, Role.PRACTITIONER})


class User(AbstractUser):
    organisation = models.ForeignKey(
        Organisation,
        on_delete=models.PROTECT,
        related_name="staff",
        null=True,
        blank=True,
        verbose_name=_("organisation"),
    )
    role = models.CharField(_("role"), max_length=20, choices=Role.choices, default=Role.OBSERVER)
    # The user's own choices, applied to every request they make and to
    # everything sent to them (notifications, e-mails). Empty: the browser's
    # language, and times in each partnership's zone (else the installation's).
    language = models.CharField(
        _("language"), max_length=10, blank=True, choices=settings.LANGUAGES
    )
    time_zone = models.CharField(
        _("time zone"), max_length=64, blank=True, validators=[validate_time_zone]
    )

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.get_full_name() or self.username

    @property
    def reads_cases(self) -> bool:
        return (
            self.is_active and self.organisation_id is not None and self.role in CASE_READING_ROLES
        )

    @property
    def writes_cases(self) -> bool:
        return (
            self.is_active and self.organisation_id is not None and self.role in CASE_WRITING_ROLES
        )


class ApiToken(models.Model):
    """A personal, revocable API token. Only its SHA-256 digest is stored."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(max_length=8, editable=False)
    digest = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @staticmethod
    def digest_of(raw: str) -> str:
        return hashlib.sha256(raw.encode()).hexdigest()

    @staticmethod
    def new_secret() -> str:
        return "prp_" + secrets.token_urlsafe(32)

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
