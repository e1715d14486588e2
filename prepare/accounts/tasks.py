"""Background tasks of the accounts app: expired enrolment links.

``prepare worker`` imports this module (``scheduler.discover``), which puts the
task in the schedule.
"""

from __future__ import annotations

import datetime

from django_tasks import task

from prepare.accounts.invitations import invitations_lapse
from prepare.notifications.scheduler import PERIODIC_TASKS, Periodic


@task()
def lapse_invitations() -> dict[str, int]:
    """Make expired enrolment links harmless and forget accounts never enrolled; idempotent."""
    return invitations_lapse()


PERIODIC_TASKS["accounts_invitations_lapse"] = Periodic(
    lapse_invitations, datetime.timedelta(minutes=15)
)
