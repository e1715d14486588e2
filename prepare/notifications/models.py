"""In-app notifications, personal calendar feeds and the scheduler's memory."""

from __future__ import annotations

import hashlib
import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class NotificationKind(models.TextChoices):
    RELEASE = "release", _("Release approaching")
    CHECKLIST_DUE = "checklist_due", _("Checklist item due")
    CHECKLIST_OVERDUE = "checklist_overdue", _("Checklist item overdue")
    REVIEW_DUE = "review_due", _("Review due")
    SIGNAL = "signal", _("Signal to acknowledge")
    FOLLOW_UP = "follow_up", _("Follow-up review")
    ERASURE = "erasure", _("Erasure to approve")
    CHECKLIST_OWNER = "checklist_owner", _("Checklist owner cannot see the case")
    TRANSFER_PROPOSED = "transfer_proposed", _("Transfer to decide")
    TRANSFER_ACCEPTED = "transfer_accepted", _("Transfer accepted")
    TRANSFER_DECLINED = "transfer_declined", _("Transfer declined")
    BREAK_GLASS = "break_glass", _("Emergency access to review")
    ACCESS_CHANGE = "access_change", _("Access change to approve")
    ACCOUNT = "account", _("Your account changed")
    ASSESSMENT_REVIEW = "assessment_review", _("Assessment review due")


class Notification(models.Model):
    """One reminder or alert for one user.

    The title names the case by its reference and says what is due, nothing
    more: it travels by e-mail and shows on every page's bell. The unique
    (user, dedupe_key) pair is what makes a reminder exactly-once, whatever
    the number of workers or restarts: the second insert of a key fails.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(_("kind"), max_length=20, choices=NotificationKind.choices)
    # A plain number, not a foreign key: erasing a case must not be blocked by,
    # nor silently cascade into, its reminders (retention removes them itself).
    case_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    # What it says: a key of prepare.notifications.messages.MESSAGES and its
    # parameters, rendered in the reader's language when read. ``title`` is
    # only the fallback of rows from before message keys whose text could not
    # be mapped to one; new rows leave it empty.
    message_key = models.CharField(max_length=60, blank=True)
    params = models.JSONField(default=dict, blank=True)
    title = models.CharField(_("title"), max_length=200, blank=True)
    url = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    read_at = models.DateTimeField(null=True, blank=True)
    dedupe_key = models.CharField(max_length=200)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        constraints = [
            models.UniqueConstraint(fields=["user", "dedupe_key"], name="notification_once"),
            models.CheckConstraint(
                condition=Q(kind__in=NotificationKind.values), name="notification_kind_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["user", "-created_at", "-id"], name="notification_user_recent"),
            # The bell counts only unread rows: a small partial index.
            models.Index(
                fields=["user"], condition=Q(read_at__isnull=True), name="notification_unread"
            ),
        ]

    def __str__(self) -> str:
        return self.text

    @property
    def text(self) -> str:
        """What it says, in the active language (the reader's)."""
        from prepare.notifications.messages import render_message

        return render_message(self.message_key, self.params, self.title)

    @property
    def is_read(self) -> bool:
        return self.read_at is not None


class CalendarFeedToken(models.Model):
    """A personal, revocable calendar-feed address. Only the secret's digest is stored."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="calendar_feed_tokens"
    )
    digest = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("calendar feed")
        verbose_name_plural = _("calendar feeds")
        constraints = [
            models.UniqueConstraint(
                fields=["user"], condition=Q(revoked_at__isnull=True), name="one_live_feed_per_user"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.created_at:%Y-%m-%d})"

    @staticmethod
    def new_secret() -> uuid.UUID:
        # A random (version 4) UUID: 122 bits from the operating system's
        # CSPRNG, and a shape the URL resolver checks before any query.
        return uuid.uuid4()

    @staticmethod
    def digest_of(secret: uuid.UUID) -> str:
        return hashlib.sha256(str(secret).encode()).hexdigest()

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class PeriodicRun(models.Model):
    """When the scheduler last enqueued a periodic task, shared by every worker.

    Workers claim a run with a conditional UPDATE on this row, so that two
    schedulers at once enqueue a periodic task once per interval.
    """

    name = models.CharField(max_length=100, unique=True)
    last_enqueued_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("periodic task run")
        verbose_name_plural = _("periodic task runs")

    def __str__(self) -> str:
        return self.name
