"""Reads of the notifications app, always for one user."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db.models import Exists, OuterRef, QuerySet
from django.urls import reverse
from django.utils import timezone

from prepare.access.categories import Action, Category
from prepare.access.policy import visible_cases_without_glass
from prepare.accounts.models import User
from prepare.audit.models import EventAction
from prepare.audit.services import audit_record
from prepare.cases.models import KeyDate, KeyDateKind
from prepare.notifications.ics import AllDayEvent
from prepare.notifications.models import CalendarFeedToken, Notification

PER_PAGE = 25
FEED_DAYS = 365
# A calendar holds at most this many dates; a coordinator of a very large
# partnership gets the nearest ones.
FEED_MAX_EVENTS = 2000


def unread_count(user: User) -> int:
    return unread_of(user).count()


def unread_of(user: User) -> QuerySet[Notification]:
    """The user's unread notifications (a partial index serves them)."""
    return Notification.objects.filter(user=user, read_at__isnull=True)


def notifications_of(actor: User, *, unread: bool = False) -> QuerySet[Notification]:
    """The actor's own notifications (only the unread ones if asked), newest first."""
    rows = Notification.objects.filter(user=actor)
    if unread:
        rows = rows.filter(read_at__isnull=True)
    return rows.order_by("-created_at", "-pk")


def notifications_shown(
    *, actor: User, case_ids: Iterable[int | None], view: str, page: int, **detail: Any
) -> None:
    """Log a page of notifications as a list event, if it names any case.

    Titles hold a case's reference and a date, nothing more, and each link
    leads to the case page, which applies the policy again.
    """
    named = {i for i in case_ids if i is not None}
    if named:
        audit_record(
            action=EventAction.LIST,
            actor=actor,
            case_ids=named,
            detail={"view": view, "page": page, **detail},
        )


@dataclass
class NotificationPage:
    """One page of notifications, read without counting them all: a user's
    history only grows, and a page costs the same at the first notification or
    the ten thousandth."""

    object_list: list[Notification]
    number: int
    has_next: bool

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    def has_other_pages(self) -> bool:
        return self.has_previous or self.has_next

    def previous_page_number(self) -> int:
        return self.number - 1

    def next_page_number(self) -> int:
        return self.number + 1


def notification_page(*, actor: User, page: int) -> NotificationPage:
    """The actor's notifications, newest first; a page naming cases is audited as a list.

    A page past the end shows the first one."""
    rows = notifications_of(actor)
    number = max(page, 1)
    found = list(rows[(number - 1) * PER_PAGE : number * PER_PAGE + 1])
    if not found and number > 1:
        number = 1
        found = list(rows[: PER_PAGE + 1])
    result = NotificationPage(
        object_list=found[:PER_PAGE], number=number, has_next=len(found) > PER_PAGE
    )
    notifications_shown(
        actor=actor,
        case_ids=[n.case_id for n in result.object_list],
        view="notifications",
        page=result.number,
    )
    return result


def feed_owner(secret: uuid.UUID) -> User | None:
    """The active user whose live feed address this is, or None."""
    token = (
        CalendarFeedToken.objects.select_related("user")
        .filter(
            digest=CalendarFeedToken.digest_of(secret),
            revoked_at__isnull=True,
            user__is_active=True,
        )
        .first()
    )
    if token is None:
        return None
    CalendarFeedToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
    return token.user


def live_feed(user: User) -> CalendarFeedToken | None:
    return CalendarFeedToken.objects.filter(user=user, revoked_at__isnull=True).first()


@dataclass(frozen=True)
class FeedDate:
    key_date_id: int
    case_id: int
    reference: str
    kind: str
    day: datetime.date

    @property
    def kind_label(self) -> str:
        return str(KeyDateKind(self.kind).label)


def feed_dates(*, user: User, today: datetime.date | None = None) -> list[FeedDate]:
    """The user's key dates of the coming year, through the policy, audited as a list.

    Only cases the user reaches as part of the team or as coordinator, with
    ``justice`` granted: emergency access does not follow into a calendar.
    """
    today = today or timezone.localdate()
    working = visible_cases_without_glass(user).filter(pk=OuterRef("case_id"))
    rows = (
        KeyDate.objects.visible_to(user, Action.READ)
        .filter(Exists(working))
        .filter(date__gte=today, date__lte=today + datetime.timedelta(days=FEED_DAYS))
        .order_by("date", "case_id", "kind")
        .values_list("pk", "case_id", "case__reference", "kind", "date")[:FEED_MAX_EVENTS]
    )
    dates = [FeedDate(pk, case_id, ref, kind, day) for pk, case_id, ref, kind, day in rows]
    audit_record(
        action=EventAction.LIST,
        actor=user,
        case_ids={d.case_id for d in dates},
        category=Category.JUSTICE,
        detail={"view": "calendar_feed", "key_dates": len(dates)},
    )
    return dates


def feed_events(dates: list[FeedDate], *, site: str) -> list[AllDayEvent]:
    """Calendar events: reference and kind of date, no name, a UID that survives a move."""
    return [
        AllDayEvent(
            uid=f"key-date-{d.key_date_id}@prepare",
            day=d.day,
            summary=f"{d.reference}: {d.kind_label}",
            url=f"{site}{reverse('cases:case', args=[d.case_id])}" if site else "",
        )
        for d in dates
    ]
