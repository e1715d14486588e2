"""Background tasks of the cases app: the daily retention job.

``prepare worker`` imports this module (``scheduler.discover``), which puts
retention in the schedule; ``prepare retention run`` does the same by hand.
"""

from __future__ import annotations

import datetime

from django_tasks import task

from prepare.cases.retention.services import retention_run
from prepare.notifications.scheduler import PERIODIC_TASKS, Periodic


@task()
def apply_retention() -> dict[str, list[int]]:
    """Erase or anonymise the cases past retention; idempotent. Ids only."""
    report = retention_run()
    return {
        "erased": report.erased,
        "anonymised": report.anonymised,
        "held": report.held,
        "failed": report.failed,
    }


PERIODIC_TASKS["retention"] = Periodic(apply_retention, datetime.timedelta(days=1))
