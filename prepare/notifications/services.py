"""Writes of the notifications app: reading notifications, calendar feed tokens."""

from __future__ import annotations

import uuid

from django.db import transaction
from django.utils import timezone

from prepare.access.errors import NotVisible
from prepare.accounts.models import User
from prepare.audit.models import EventAction
from prepare.audit.services import audit_record
from prepare.notifications.models import CalendarFeedToken, Notification


@transaction.atomic
def notification_mark_read(*, actor: User, notification_id: int) -> Notification:
    """Mark one of the actor's notifications as read; someone else's is a 404.

    Idempotent: the first time it was read is kept. Logged each time, naming
    the notification's case (the answer shows its title).
    """
    notification = Notification.objects.filter(pk=notification_id, user=actor).first()
    if notification is None:
        raise NotVisible
    changed = []
    if notification.read_at is None:
        notification.read_at = timezone.now()
        Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(
            read_at=notification.read_at
        )
        changed = ["read_at"]
    audit_record(
        action=EventAction.UPDATE,
        actor=actor,
        obj=notification,
        case_ids=[notification.case_id] if notification.case_id is not None else [],
        detail={"changed": changed},
    )
    return notification


@transaction.atomic
def notifications_mark_all_read(*, actor: User) -> int:
    """Mark all the actor's unread notifications as read; how many. Logged if any."""
    count = Notification.objects.filter(user=actor, read_at__isnull=True).update(
        read_at=timezone.now()
    )
    if count:
        audit_record(
            action=EventAction.UPDATE,
            actor=actor,
            detail={"changed": ["read_at"], "notifications": count},
        )
    return count


@transaction.atomic
def calendar_feed_create(*, actor: User) -> tuple[CalendarFeedToken, uuid.UUID]:
    """A new feed address for the actor; the previous one stops working.

    Returns the secret, which is not stored and cannot be shown again.
    """
    _revoke_live(actor)
    secret = CalendarFeedToken.new_secret()
    token = CalendarFeedToken.objects.create(user=actor, digest=CalendarFeedToken.digest_of(secret))
    audit_record(
        action=EventAction.TOKEN_CHANGE,
        actor=actor,
        obj=token,
        detail={"change": "created", "token": "calendar_feed"},
    )
    return token, secret


@transaction.atomic
def calendar_feed_revoke(*, actor: User) -> bool:
    """Revoke the actor's feed address; False if there was none."""
    return _revoke_live(actor) is not None


def _revoke_live(actor: User) -> CalendarFeedToken | None:
    live = (
        CalendarFeedToken.objects.select_for_update()
        .filter(user=actor, revoked_at__isnull=True)
        .first()
    )
    if live is None:
        return None
    live.revoked_at = timezone.now()
    live.save(update_fields=["revoked_at"])
    audit_record(
        action=EventAction.TOKEN_CHANGE,
        actor=actor,
        obj=live,
        detail={"change": "revoked", "token": "calendar_feed"},
    )
    return live
