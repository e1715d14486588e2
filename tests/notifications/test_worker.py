"""``prepare worker``: the periodic tasks, the scheduler and the queue."""

from __future__ import annotations

import datetime
import io

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from prepare.cases.models import KeyDateKind
from prepare.notifications.models import Notification, PeriodicRun
from prepare.notifications.scheduler import PERIODIC_TASKS, Periodic, discover, schedule_due
from prepare.notifications.tasks import send_reminders
from tests.access.support import flushable_audit
from tests.cast import build_cast
from tests.notifications.support import local_today, set_date

__all__ = ["flushable_audit"]

REMINDERS = "prepare.notifications.tasks.send_reminders"


def _release_in_a_week(cast):
    day = local_today(cast.case, timezone.now()) + datetime.timedelta(days=7)
    set_date(cast.coordinator, cast.case, KeyDateKind.EXPECTED_RELEASE, day)


def test_the_reminders_are_registered_every_few_minutes(settings):
    registry = discover()
    assert registry["reminders"] == Periodic(
        send_reminders, datetime.timedelta(minutes=settings.REMINDER_INTERVAL_MINUTES)
    )
    task, interval = registry["reminders"]  # a (task, interval) pair
    assert task.name == "send_reminders" and interval > datetime.timedelta(0)


def test_worker_once_runs_every_periodic_task_in_process(cast, django_capture_on_commit_callbacks):
    _release_in_a_week(cast)
    out = io.StringIO()

    with django_capture_on_commit_callbacks(execute=True):
        call_command("worker", "--once", stdout=out)
    with django_capture_on_commit_callbacks(execute=True):
        call_command("worker", "--once", stdout=io.StringIO())

    assert "reminders: {" in out.getvalue() and "'release': 3" in out.getvalue()
    assert Notification.objects.count() == 3
    assert len(mail.outbox) == 3
    assert PeriodicRun.objects.get(name="reminders").last_enqueued_at is not None


def test_the_scheduler_enqueues_once_per_interval(db):
    discover()
    now = timezone.now()
    interval = PERIODIC_TASKS["reminders"].interval

    assert "reminders" in schedule_due(now)
    assert "reminders" not in schedule_due(now + interval / 2)
    assert "reminders" in schedule_due(now + interval)

    queued = DBTaskResult.objects.filter(task_path=REMINDERS)
    assert queued.count() == 2
    assert PeriodicRun.objects.get(name="reminders").last_enqueued_at == now + interval


def test_another_apps_periodic_task_joins_the_schedule(db, monkeypatch):
    monkeypatch.setitem(
        PERIODIC_TASKS, "daily", Periodic(send_reminders, datetime.timedelta(days=1))
    )
    now = timezone.now()
    assert set(schedule_due(now)) >= {"daily", "reminders"}
    assert "daily" not in schedule_due(now + datetime.timedelta(hours=23))
    assert "daily" in schedule_due(now + datetime.timedelta(days=1))


@pytest.mark.django_db(transaction=True)
def test_worker_batch_enqueues_what_is_due_and_runs_the_queue(flushable_audit):
    cast = build_cast()
    _release_in_a_week(cast)
    mail.outbox = []
    out = io.StringIO()

    call_command("worker", "--batch", "--interval", "0", stdout=out)

    assert "reminders" in out.getvalue().splitlines()[0]
    result = DBTaskResult.objects.get(task_path=REMINDERS)
    assert result.status == "SUCCESSFUL"
    assert result.return_value["release"] == 3
    assert Notification.objects.count() == 3
    assert len(mail.outbox) == 3

    # Within the interval a second run finds nothing due and sends nothing.
    call_command("worker", "--batch", "--interval", "0", stdout=out)
    assert out.getvalue().splitlines()[-1] == "enqueued: nothing due"
    assert DBTaskResult.objects.filter(task_path=REMINDERS).count() == 1
    assert not DBTaskResult.objects.filter(status="READY").exists()
    assert len(mail.outbox) == 3
