from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from prepare.access.categories import Action
from prepare.access.policy import get_case_or_404
from prepare.accounts.models import User
from prepare.audit.models import EventAction
from prepare.audit.services import audit_record
from prepare.cases.models import Case, CaseStatus, CaseTransition, KeyDate

# Entries per source: the timeline shows the most recent activity; older
# entries stay on the pages of each part. Keeps the page to one query per source.
PER_SOURCE = 100


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime.datetime
    kind: str  # "transition", "contact", "signal", "key_date", "checklist"
    title: str
    text: str
    category: str
    actor: str


def _name(user: Any) -> str:
    return (user.get_full_name() or user.get_username()) if user is not None else ""


def _midday(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(12, 0)))


def case_timeline(
    *, actor: User, case_id: Any, view: str = "timeline"
) -> tuple[Case, list[TimelineEntry]]:
    """The case and its timeline entries, newest first, as the actor may see them."""
    from prepare.monitoring.models import Contact, Signal
    from prepare.plans.models import ChecklistItem, ItemStatus

    case = get_case_or_404(actor, case_id)
    read = Action.READ
    entries: list[TimelineEntry] = []
    for tr in (
        CaseTransition.objects.visible_to(actor, read)
        .filter(case=case)
        .select_related("actor")[:PER_SOURCE]
    ):
        entries.append(
            TimelineEntry(
                at=tr.at,
                kind="transition",
                title=_("Status: %(from)s → %(to)s")
                % {"from": CaseStatus(tr.from_status).label, "to": CaseStatus(tr.to_status).label},
                text=tr.reason,
                category=tr.category,
                actor=_name(tr.actor),
            )
        )
    for contact in (
        Contact.objects.visible_to(actor, read)
        .filter(case=case)
        .select_related("who")
        .order_by("-occurred_at")[:PER_SOURCE]
    ):
        entries.append(
            TimelineEntry(
                at=contact.occurred_at,
                kind="contact",
                title=_("Contact: %(kind)s") % {"kind": contact.get_kind_display()},
                text=contact.summary,
                category=contact.category,
                actor=_name(contact.who),
            )
        )
    for signal in (
        Signal.objects.visible_to(actor, read)
        .filter(case=case)
        .select_related("raised_by")
        .order_by("-raised_at")[:PER_SOURCE]
    ):
        entries.append(
            TimelineEntry(
                at=signal.raised_at,
                kind="signal",
                title=_("Signal of concern (%(severity)s), %(status)s")
                % {
                    "severity": signal.get_severity_display(),
                    "status": signal.get_status_display(),
                },
                text=signal.description,
                category=signal.category,
                actor=_name(signal.raised_by),
            )
        )
    for key_date in (
        KeyDate.objects.visible_to(actor, read)
        .filter(case=case)
        .select_related("updated_by")
        .order_by("-date")[:PER_SOURCE]
    ):
        entries.append(
            TimelineEntry(
                at=_midday(key_date.date),
                kind="key_date",
                title=key_date.get_kind_display(),
                text=key_date.source,
                category=key_date.category,
                actor=_name(key_date.updated_by),
            )
        )
    for item in (
        ChecklistItem.objects.visible_to(actor, read)
        .filter(case=case, completed_at__isnull=False)
        .exclude(status=ItemStatus.OPEN)
        .select_related("completed_by")
        .order_by("-completed_at")[:PER_SOURCE]
    ):
        assert item.completed_at is not None
        entries.append(
            TimelineEntry(
                at=item.completed_at,
                kind="checklist",
                title=_("Release planning: %(title)s (%(status)s)")
                % {"title": item.display_title, "status": item.get_status_display()},
                text=item.completion_note,
                category=item.category,
                actor=_name(item.completed_by),
            )
        )
    entries.sort(key=lambda e: e.at, reverse=True)
    audit_record(
        action=EventAction.VIEW,
        actor=actor,
        case=case,
        obj=case,
        detail={
            "view": view,
            "categories": sorted({e.category for e in entries}),
            "entries": len(entries),
        },
    )
    return case, entries
