from __future__ import annotations

import datetime
import hashlib
import re
import secrets
import uuid
import zoneinfo
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.contrib.sessions.base_session import AbstractBaseSession
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.crypto import salted_hmac
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
    # Manages the accounts of the user's own organisation (invites, changes
    # roles, deactivates), beside whatever role they have: an office manager
    # of the probation service is an observer or a case manager who also does
    # this. A flag, not a role: see docs/decisions (account managers).
    manages_accounts = models.BooleanField(
        _("manages accounts"),
        default=False,
        help_text=_("May invite, change and deactivate the accounts of their organisation."),
    )
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


class RevokedBecause(models.TextChoices):
    """Why a token was revoked or a session ended (shown to the person, audited)."""

    USER = "user", _("Ended by you")
    ADMINISTRATOR = "administrator", _("Ended by an administrator")
    PASSWORD_CHANGE = "password_change", _("Password changed")
    FACTOR_CHANGE = "factor_change", _("Second factor changed")
    DEACTIVATION = "deactivation", _("Account deactivated")
    ORGANISATION = "organisation", _("Organisation deactivated")


def token_expiry_default() -> datetime.datetime:
    return timezone.now() + datetime.timedelta(days=settings.API_TOKEN_DEFAULT_DAYS)


class ApiToken(models.Model):
    """A personal, revocable API token. Only its SHA-256 digest is stored.

    It works until ``expires_at`` (chosen at creation, at most
    ``API_TOKEN_MAX_DAYS``), stops after ``API_TOKEN_IDLE_DAYS`` without use,
    and is revoked when its owner's credentials end
    (``prepare.accounts.credentials.credentials_end``).
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(max_length=8, editable=False)
    digest = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(_("expires"), default=token_expiry_default)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_because = models.CharField(
        max_length=20, blank=True, choices=RevokedBecause.choices, editable=False
    )

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
        return self.refusal() is None

    def idle_until(self) -> datetime.datetime:
        idle = datetime.timedelta(days=settings.API_TOKEN_IDLE_DAYS)
        return (self.last_used_at or self.created_at) + idle

    def refusal(self, now: datetime.datetime | None = None) -> str | None:
        """Why the token cannot be used now ("revoked", "expired", "idle"), or None."""
        now = now or timezone.now()
        if self.revoked_at is not None:
            return "revoked"
        if now >= self.expires_at:
            return "expired"
        if now >= self.idle_until():
            return "idle"
        return None


class InvitationQuerySet(models.QuerySet["Invitation"]):
    def open(self) -> InvitationQuerySet:
        """Neither used nor replaced: the account's current link, live or expired."""
        return self.filter(used_at__isnull=True, revoked_at__isnull=True)


class Invitation(models.Model):
    """A one-time enrolment link for an account that is not active yet.

    The account (``user``) is created inactive with no usable password when the
    person is invited; following the link, they choose a password and confirm
    an authenticator in one step, and only then is the account active. Only a
    keyed digest of the link's token is stored (``digest_of``): the token
    itself is in the e-mail and nowhere else. Re-sending replaces the open
    invitation (``revoked_at``) with a new one.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="invitations")
    digest = models.CharField(max_length=64, unique=True, editable=False)
    invited_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    # Replaced by a newer link (re-sent).
    revoked_at = models.DateTimeField(null=True, blank=True)
    # Past its deadline and made harmless by the scheduled task (the pending
    # authenticator secret removed); the account may still be invited again.
    lapsed_at = models.DateTimeField(null=True, blank=True)

    objects = InvitationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")
        constraints = [
            models.UniqueConstraint(
                fields=["user"],
                condition=models.Q(used_at__isnull=True, revoked_at__isnull=True),
                name="invitation_one_open_per_user",
            ),
        ]
        indexes = [
            models.Index(
                fields=["expires_at"],
                condition=models.Q(used_at__isnull=True, revoked_at__isnull=True),
                name="invitation_open_deadline",
            ),
        ]

    def __str__(self) -> str:
        return f"invitation {self.pk} of user {self.user_id}"

    @staticmethod
    def new_token() -> str:
        # A random (version 4) UUID: 122 bits from the operating system's
        # CSPRNG, and a shape the URL resolver checks before any query.
        return str(uuid.uuid4())

    @staticmethod
    def digest_of(token: str) -> str:
        """A keyed digest (HMAC-SHA256 under a key derived from SECRET_KEY): a copy
        of the table does not let anyone forge or recognise a link."""
        return salted_hmac("prepare.accounts.invitation", token, algorithm="sha256").hexdigest()

    def state(self, now: datetime.datetime | None = None) -> str:
        if self.used_at is not None:
            return "used"
        if self.revoked_at is not None:
            return "replaced"
        if self.expires_at <= (now or timezone.now()):
            return "expired"
        return "live"


class StoredSession(AbstractBaseSession):
    """The session store (``SESSION_ENGINE = "prepare.accounts.session_store"``):
    Django's database sessions plus the signed-in user, so that a user's
    sessions can be ended without reading every session there is."""

    user = models.ForeignKey(
        User, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )

    class Meta:
        db_table = "accounts_stored_session"
        verbose_name = _("stored session")
        verbose_name_plural = _("stored sessions")

    @classmethod
    def get_session_store_class(cls) -> type:
        from prepare.accounts.session_store import SessionStore

        return SessionStore


class SignedInSession(models.Model):
    """What a person sees of one of their sessions: never the session key, only
    its digest; the network (not the address) and the browser it came from;
    when it started and was last seen (recorded at most once a minute)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="signed_in_sessions")
    key_digest = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_seen_at = models.DateTimeField(default=timezone.now)
    network = models.CharField(max_length=64, blank=True)
    browser = models.CharField(max_length=40, blank=True)
    system = models.CharField(max_length=20, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "-last_seen_at"], name="signed_in_by_user")]
        verbose_name = _("session")
        verbose_name_plural = _("sessions")

    def __str__(self) -> str:
        return f"session {self.pk} of user {self.user_id}"

    @staticmethod
    def digest_of(session_key: str) -> str:
        return hashlib.sha256(f"prepare-session:{session_key}".encode()).hexdigest()


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


class TrainingRecord(models.Model):
    """A training a person completed, which an instrument may require.

    Recorded by hand for now (an administrator or the organisation's account
    manager); completing a training programme will add them too. A record
    that has expired no longer qualifies.
    """

    user = models.ForeignKey(
        User, on_delete=models.CASCADE, related_name="training_records", verbose_name=_("person")
    )
    # The training's key, as instruments name it (e.g. "risk-assessment-basics").
    training = models.SlugField(_("training"), max_length=64)
    completed_on = models.DateField(_("completed on"))
    expires_on = models.DateField(_("expires on"), null=True, blank=True)
    note = models.CharField(_("note"), max_length=200, blank=True)
    recorded_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    recorded_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["user", "training", "-completed_on"]
        verbose_name = _("training record")
        verbose_name_plural = _("training records")
        indexes = [models.Index(fields=["user", "training"], name="training_record_user")]
        constraints = [
            models.CheckConstraint(
                condition=Q(expires_on__isnull=True) | Q(expires_on__gt=F("completed_on")),
                name="training_record_expires_after_completion",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.training}"

    def qualifies_on(self, day: datetime.date) -> bool:
        return self.completed_on <= day and (self.expires_on is None or day < self.expires_on)
