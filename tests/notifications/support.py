"""Helpers for the notification tests: key dates, the local day, running the job."""

from __future__ import annotations

import datetime
import zoneinfo
from typing import Any

from django.utils import timezone

from prepare.accounts.models import User
from prepare.cases.lifecycle.services import key_date_set
from prepare.cases.models import Case, KeyDate
from prepare.notifications.models import Notification
from prepare.notifications.reminders import run_reminders


def local_today(case: Case, now: datetime.datetime) -> datetime.date:
    return now.astimezone(zoneinfo.ZoneInfo(case.partnership.timezone)).date()


def set_date(actor: User, case: Case, kind: str, day: datetime.date) -> KeyDate:
    """Create or move a key date through the service, as a user would."""
    current = KeyDate.objects.filter(case=case, kind=kind).first()
    return key_date_set(
        actor=actor,
        case_id=case.pk,
        kind=kind,
        date=day,
        version=current.version if current else None,
    )


def run(capture: Any, now: datetime.datetime | None = None) -> dict[str, int]:
    """Run the job as the worker does, with the after-commit e-mails executed."""
    with capture(execute=True):
        return run_reminders(now or timezone.now())


def received(kind: str | None = None) -> dict[str, set[str]]:
    """username -> dedupe keys of the notifications they received."""
    found: dict[str, set[str]] = {}
    rows = Notification.objects.all()
    if kind:
        rows = rows.filter(kind=kind)
    for username, key in rows.values_list("user__username", "dedupe_key"):
        found.setdefault(username, set()).add(key)
    return found
