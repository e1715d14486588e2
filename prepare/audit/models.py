"""The append-only audit log, chained by HMAC so that any edit shows."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class EventAction(models.TextChoices):
    VIEW = "view", _("View")
    LIST = "list", _("List")
    SEARCH = "search", _("Search")
    CREATE = "create", _("Create")
    UPDATE = "update", _("Update")
    DELETE = "delete", _("Delete")
    EXPORT = "export", _("Export")
    PRINT = "print", _("Print")
    TRANSFER = "transfer", _("Transfer")
    ERASE = "erase", _("Erase")
    LOGIN = "login", _("Sign-in")
    LOGIN_FAILED = "login_failed", _("Failed sign-in")
    LOCKED_OUT = "locked_out", _("Locked out")
    LOGOUT = "logout", _("Sign-out")
    MFA_CHANGE = "mfa_change", _("Second factor changed")
    BREAK_GLASS = "break_glass", _("Break-glass access")
    TEAM_CHANGE = "team_change", _("Case team changed")
    AGREEMENT_CHANGE = "agreement_change", _("Sharing agreement changed")
    PERMISSION_CHANGE = "permission_change", _("Permission changed")
    TOKEN_CHANGE = "token_change", _("API token changed")
    PASSWORD_CHANGE = "password_change", _("Password changed")
    SESSION_END = "session_end", _("Sessions ended")
    DENIED = "denied", _("Access refused")


class Outcome(models.TextChoices):
    SUCCESS = "success", _("Success")
    DENIED = "denied", _("Denied")
    FAILURE = "failure", _("Failure")


class Event(models.Model):
    """One audit event. Never updated, never deleted (see docs/decisions).

    Holds identifiers and field names only, never case content, so that the
    log itself carries no special-category data and survives erasure.
    """

    # Empty only inside the transaction that writes the event (see chain.append).
    seq = models.PositiveBigIntegerField(unique=True, null=True, editable=False)
    occurred_at = models.DateTimeField(db_index=True)
    actor_id = models.BigIntegerField(null=True, db_index=True)
    actor_username = models.CharField(max_length=150, blank=True)
    organisation_id = models.BigIntegerField(null=True)
    role = models.CharField(max_length=20, blank=True)
    action = models.CharField(max_length=20, choices=EventAction.choices)
    outcome = models.CharField(max_length=8, choices=Outcome.choices, default=Outcome.SUCCESS)
    case_id = models.BigIntegerField(null=True, db_index=True)
    case_ids = models.JSONField(default=list, blank=True)
    object_type = models.CharField(max_length=64, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    category = models.CharField(max_length=16, blank=True)
    purpose = models.CharField(max_length=300, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    request_id = models.CharField(max_length=36, blank=True)
    source_ip = models.GenericIPAddressField(null=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["-seq"]
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")

    def __str__(self) -> str:
        return f"#{self.seq} {self.action}"


class CaseAccessIndex(models.Model):
    """Which events touched which case, for the case's access log.

    List events name many cases; this index lets the coordinator's access
    log find them with one indexed query. It is derived data: rebuilt from
    ``Event.case_ids`` if lost, and not part of the chain.
    """

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="+")
    case_id = models.BigIntegerField()

    class Meta:
        indexes = [models.Index(fields=["case_id", "-event"])]

    def __str__(self) -> str:
        return f"event {self.event_id} / case {self.case_id}"


class DenialWindow(models.Model):
    """How many refused requests of one user were recorded, and how many only
    counted, in one fixed window (``prepare.audit.denials``).

    Working data for the cap, not evidence: the events carry the evidence,
    and a window's count of suppressed denials goes into the chain as one
    summary event once the window is over (``summarised``).
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    recorded = models.PositiveIntegerField(default=0)
    suppressed = models.PositiveIntegerField(default=0)
    summarised = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "starts_at"], name="denial_window_once"),
        ]
        indexes = [
            models.Index(
                fields=["ends_at"],
                condition=models.Q(suppressed__gt=0, summarised=False),
                name="denial_window_unsummarised",
            ),
        ]

    def __str__(self) -> str:
        return f"denials of {self.user_id} from {self.starts_at:%Y-%m-%d %H:%M}"


class ChainHead(models.Model):
    """The last link of the chain; its row lock serialises writers."""

    seq = models.PositiveBigIntegerField(default=0)
    hash = models.CharField(max_length=64)

    def __str__(self) -> str:
        return f"chain head #{self.seq}"
