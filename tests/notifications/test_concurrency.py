"""Two workers at once: each reminder is inserted, audited and mailed once.

Real transactions, one connection per thread, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import datetime

import pytest
from django.core import mail
from django.utils import timezone

from prepare.audit.chain import verify
from prepare.audit.models import Event
from prepare.cases.models import KeyDateKind
from prepare.notifications.models import Notification, NotificationKind
from prepare.notifications.reminders import WORKER_NAME, run_reminders
from prepare.notifications.scheduler import PERIODIC_TASKS, schedule_due
from tests.access.support import flushable_audit, run_in_threads
from tests.cast import build_cast
from tests.notifications.support import local_today, set_date

__all__ = ["flushable_audit"]


@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_send_each_reminder_once(flushable_audit):
    cast = build_cast()
    now = timezone.now()
    day = local_today(cast.case, now) + datetime.timedelta(days=7)
    set_date(cast.coordinator, cast.case, KeyDateKind.EXPECTED_RELEASE, day)
    mail.outbox = []

    results = run_in_threads(2, lambda i: run_reminders(now))

    assert not [r for r in results if isinstance(r, Exception)], results
    assert sum(r[NotificationKind.RELEASE] for r in results) == 3
    assert Notification.objects.count() == 3
    assert len({(n.user_id, n.dedupe_key) for n in Notification.objects.all()}) == 3
    assert sorted(m.to[0] for m in mail.outbox) == [
        "case_manager@example.org",
        "coordinator@example.org",
        "police_on_team@example.org",
    ]
    worker_events = Event.objects.filter(actor_username=WORKER_NAME)
    assert sum(e.detail["notifications"] for e in worker_events) == 3
    assert verify() is None


@pytest.mark.django_db(transaction=True)
def test_two_schedulers_at_once_enqueue_a_periodic_task_once(flushable_audit):
    from django_tasks_db.models import DBTaskResult

    from prepare.notifications import tasks  # registers the reminders

    assert PERIODIC_TASKS["reminders"].task is tasks.send_reminders
    now = timezone.now()

    results = run_in_threads(2, lambda i: schedule_due(now))

    assert sorted("reminders" in names for names in results) == [False, True]
    assert DBTaskResult.objects.filter(task_path__endswith="send_reminders").count() == 1
