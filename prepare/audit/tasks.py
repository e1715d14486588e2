"""Background tasks of the audit app: the summaries of capped denials.

``prepare worker`` imports this module (``scheduler.discover``), which puts the
task in the schedule.
"""

from __future__ import annotations

import datetime

from django.conf import settings
from django_tasks import task

from prepare.audit.denials import denials_summarise
from prepare.notifications.scheduler import PERIODIC_TASKS, Periodic


@task()
def summarise_denials() -> int:
    """Write one summary event per ended window of only-counted denials; idempotent."""
    return denials_summarise()


PERIODIC_TASKS["audit_denials_summarise"] = Periodic(
    summarise_denials,
    datetime.timedelta(minutes=max(1, int(getattr(settings, "AUDIT_DENIED_WINDOW_MINUTES", 10)))),
)
