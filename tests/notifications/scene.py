"""The notification planted in the shared scene (``tests.routes_table.build_scene``).

The case manager has one unread reminder naming K, so that the API's
notification list has case data to log and "mark read" a record to mark.
"""

from __future__ import annotations

from django.urls import reverse

from prepare.accounts.models import User
from prepare.notifications.models import Notification, NotificationKind
from tests.cast import Cast

SCENE_KEY = "scene:release"
MISSING_ID = 987_654


def plant_notification(cast: Cast) -> Notification:
    """The case manager's unread release reminder about K."""
    notification, _ = Notification.objects.get_or_create(
        user=cast.case_manager,
        dedupe_key=SCENE_KEY,
        defaults={
            "kind": NotificationKind.RELEASE,
            "case_id": cast.case.pk,
            "title": f"Release of {cast.case.reference} in 30 days",
            "url": reverse("cases:case", args=[cast.case.pk]),
        },
    )
    return notification


def notification_id_of(user: User) -> int:
    """The user's planted notification, or an id that exists nowhere."""
    found = Notification.objects.filter(user=user, dedupe_key=SCENE_KEY).values_list(
        "pk", flat=True
    )
    return found.first() or MISSING_ID
