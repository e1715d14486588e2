"""The small scheduler that enqueues periodic, idempotent tasks.

``PERIODIC_TASKS`` maps a name to (task, interval). An app registers its own
in its ``tasks`` module, which the worker imports at start-up::

    from prepare.notifications.scheduler import PERIODIC_TASKS, Periodic

    PERIODIC_TASKS["retention"] = Periodic(apply_retention, timedelta(days=1))

The last time each task was enqueued is kept in the database
(``PeriodicRun``), and claiming a run is one conditional UPDATE: with any
number of workers, each periodic task is enqueued once per interval, and a
restart does not enqueue it again early. The tasks themselves must still be
idempotent (the reminders are): the queue runs a task at least once.
"""

from __future__ import annotations

import datetime
import logging
from typing import Any, NamedTuple

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.module_loading import autodiscover_modules

logger = logging.getLogger(__name__)


class Periodic(NamedTuple):
    task: Any  # a django_tasks Task taking no arguments
    interval: datetime.timedelta


PERIODIC_TASKS: dict[str, Periodic] = {}


def discover() -> dict[str, Periodic]:
    """Import every installed app's ``tasks`` module, which registers its periodic tasks."""
    autodiscover_modules("tasks")
    return PERIODIC_TASKS


def _claim(name: str, interval: datetime.timedelta, now: datetime.datetime) -> bool:
    """Record that ``name`` runs now, if its interval has passed; False if it has not."""
    from prepare.notifications.models import PeriodicRun

    try:
        with transaction.atomic():
            PeriodicRun.objects.get_or_create(name=name)
    except IntegrityError:
        pass  # another worker created the row at the same moment
    due = Q(last_enqueued_at__isnull=True) | Q(last_enqueued_at__lte=now - interval)
    return PeriodicRun.objects.filter(due, name=name).update(last_enqueued_at=now) == 1


def schedule_due(now: datetime.datetime | None = None) -> list[str]:
    """Enqueue every periodic task whose interval has passed; their names."""
    now = now or timezone.now()
    enqueued = []
    for name, periodic in sorted(PERIODIC_TASKS.items()):
        # The claim and the enqueue commit together on the database backend,
        # so a crash between them neither loses nor doubles a run.
        with transaction.atomic():
            if not _claim(name, periodic.interval, now):
                continue
            periodic.task.enqueue()
        enqueued.append(name)
    return enqueued


def run_all_now(now: datetime.datetime | None = None) -> dict[str, Any]:
    """Run every periodic task once, in this process (``prepare worker --once``)."""
    from prepare.notifications.models import PeriodicRun

    now = now or timezone.now()
    results: dict[str, Any] = {}
    for name, periodic in sorted(PERIODIC_TASKS.items()):
        results[name] = periodic.task.call()
        with transaction.atomic():
            PeriodicRun.objects.update_or_create(name=name, defaults={"last_enqueued_at": now})
    return results
