"""Background tasks of the notifications app, and their place in the schedule."""

from __future__ import annotations

import datetime

from django.conf import settings
from django_tasks import task

from prepare.notifications.reminders import run_reminders
from prepare.notifications.scheduler import PERIODIC_TASKS, Periodic


@task()
def send_reminders() -> dict[str, int]:
    """Insert (and e-mail) every reminder that is due; idempotent."""
    return run_reminders()


PERIODIC_TASKS["reminders"] = Periodic(
    send_reminders,
    datetime.timedelta(minutes=max(1, getattr(settings, "REMINDER_INTERVAL_MINUTES", 15))),
)
