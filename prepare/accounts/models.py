from __future__ import annotations

import hashlib
import re
import secrets
import zoneinfo
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


def validate_time_zone(value: str) -> None:
    if value and value not in zoneinfo.available_timezones():
        raise ValidationError(_("Not a known time zone."), code="time_zone")


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
    is_active = models.BooleanField(_("active"), default=True)

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


class UserClaim(models.TextChoices):
    """Which claim of the ID token names the user, and which field of the
    account it is compared with."""

    EMAIL = "email", _("E-mail address (claim “email”, compared with the account's e-mail)")
    PREFERRED_USERNAME = (
        "preferred_username",
        _("Username (claim “preferred_username”, compared with the account's username)"),
    )
    SUB = "sub", _("Subject identifier (claim “sub”, compared with the account's username)")


class IdentityProvider(models.Model):
    """An organisation's OpenID Connect identity provider (single sign-on).

    Kept in the database so that it changes without a redeploy. The client
    secret is stored sealed (``prepare.accounts.sso.sealing``) and never shown
    again once saved. A login through it only ever signs in an existing,
    active account of ``organisation``; it never creates one.
    """

    organisation = models.OneToOneField(
        Organisation,
        on_delete=models.PROTECT,
        related_name="identity_provider",
        verbose_name=_("organisation"),
    )
    issuer = models.URLField(
        _("issuer"),
        max_length=300,
        help_text=_(
            "The provider's issuer identifier, exactly as in its ID tokens, e.g. "
            "https://login.example.org/realms/probation. Its discovery document is read "
            "from ISSUER/.well-known/openid-configuration."
        ),
    )
    client_id = models.CharField(_("client ID"), max_length=200)
    client_secret_sealed = models.TextField(editable=False)
    user_claim = models.CharField(
        _("claim that names the user"),
        max_length=32,
        choices=UserClaim.choices,
        default=UserClaim.EMAIL,
    )
    allowed_domains = models.JSONField(
        _("allowed e-mail domains"),
        default=list,
        blank=True,
        help_text=_(
            "The ID token's e-mail address must be in one of these domains. People also "
            "find their organisation's sign-in by typing their address or domain."
        ),
    )
    asserts_mfa = models.BooleanField(
        _("the provider asserts a second factor"),
        default=False,
        help_text=_(
            "Only if the provider enforces a second factor and says so in the ID token "
            "(“amr” contains “mfa”, or “acr” is one of the values below). Otherwise people "
            "still enter their PREPARE authentication code after signing in."
        ),
    )
    mfa_acr_values = models.JSONField(
        _("“acr” values that mean a second factor"), default=list, blank=True
    )
    requires_sso = models.BooleanField(
        _("require single sign-on"),
        default=False,
        help_text=_(
            "People of this organisation can no longer sign in with a password; they "
            "use “Sign in with your organisation”."
        ),
    )
    is_enabled = models.BooleanField(_("enabled"), default=True)
    version = models.PositiveIntegerField(default=1, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)
    secret_set_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["organisation__name"]
        verbose_name = _("identity provider")
        verbose_name_plural = _("identity providers")

    def __str__(self) -> str:
        return f"{self.organisation_id}: {self.issuer}"

    def clean(self) -> None:
        domains = [str(d).strip().lower() for d in self.allowed_domains or [] if str(d).strip()]
        bad = [d for d in domains if not _DOMAIN.fullmatch(d)]
        if bad:
            raise ValidationError(
                {"allowed_domains": _("Not a domain name: %(bad)s") % {"bad": ", ".join(bad)}}
            )
        self.allowed_domains = sorted(set(domains))
        taken = sorted(
            {
                d
                for other in IdentityProvider.objects.exclude(pk=self.pk).values_list(
                    "allowed_domains", flat=True
                )
                for d in other or []
            }
            & set(self.allowed_domains)
        )
        if taken:
            raise ValidationError(
                {
                    "allowed_domains": _("Another organisation's provider already has: %(taken)s")
                    % {"taken": ", ".join(taken)}
                }
            )
        self.mfa_acr_values = [str(v).strip() for v in self.mfa_acr_values or [] if str(v).strip()]
        parts = urlsplit(self.issuer or "")
        # The provider's answers carry identities: only over TLS, except a
        # provider on this very machine (a test or a local development one).
        if self.issuer and (
            parts.query
            or parts.fragment
            or (parts.scheme != "https" and parts.hostname not in ("127.0.0.1", "localhost", "::1"))
        ):
            raise ValidationError(
                {"issuer": _("The issuer must be an https:// address without ? or #.")}
            )


# What an administrator sets on a provider, besides its organisation and secret.
PROVIDER_SETTINGS = (
    "issuer",
    "client_id",
    "user_claim",
    "allowed_domains",
    "asserts_mfa",
    "mfa_acr_values",
    "requires_sso",
    "is_enabled",
)

_DOMAIN = re.compile(r"(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")
