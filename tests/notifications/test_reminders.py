"""The reminder job: who gets what, once, and what moving a date does."""

from __future__ import annotations

import datetime

import pytest
from django.core import mail
from django.db import IntegrityError, transaction
from django.utils import timezone

from prepare.access.categories import Category
from prepare.access.grants import case_grants_touch
from prepare.audit.chain import verify
from prepare.audit.models import Event, EventAction
from prepare.cases.models import Case, CaseStatus, KeyDate, KeyDateKind
from prepare.monitoring.models import Severity
from prepare.monitoring.services import signal_raise
from prepare.notifications import reminders
from prepare.notifications.models import Notification, NotificationKind
from prepare.notifications.reminders import (
    WORKER_NAME,
    release_threshold_due,
    release_thresholds,
    run_reminders,
)
from prepare.partnerships.models import Membership
from prepare.plans.models import ChecklistItem, ItemStatus
from tests.cast import ALL, sentinel
from tests.notifications.support import local_today, received, run, set_date

DAY = datetime.timedelta(days=1)
# Who may read justice on the cast's case K as part of its team or as its
# coordinator: the NGO is on the team without justice, the other police
# officer is not named on it, the auditor and trainer never read cases.
JUSTICE_READERS = {"coordinator", "case_manager", "police_on_team"}
SECRETS = [sentinel(c) for c in ALL] + ["Sentinelia", "Identitas"]


@pytest.fixture
def now():
    return timezone.now()


def long_date(day) -> str:
    """English, day-first, as the reader sees it: 6 January 2027."""
    return f"{day.day} {day:%B} {day.year}"


def _release_in(cast, now, days: int) -> datetime.date:
    day = local_today(cast.case, now) + days * DAY
    set_date(cast.coordinator, cast.case, KeyDateKind.EXPECTED_RELEASE, day)
    return day


# --- Release approaching ---------------------------------------------------------------


def test_release_reminder_reaches_the_justice_readers_of_the_team_once(
    cast, now, django_capture_on_commit_callbacks
):
    day = _release_in(cast, now, 30)

    first = run(django_capture_on_commit_callbacks, now)
    second = run(django_capture_on_commit_callbacks, now)

    key = f"release:{cast.case.pk}:{day.isoformat()}:30"
    assert received() == {name: {key} for name in JUSTICE_READERS}
    assert first[NotificationKind.RELEASE] == 3
    assert second == dict.fromkeys(NotificationKind.values, 0)
    stored = {(n.message_key, tuple(sorted(n.params.items()))) for n in Notification.objects.all()}
    assert stored == {
        ("release_in_days", (("date", day.isoformat()), ("days", 30), ("ref", "TST-2026-0001")))
    }
    texts = {n.text for n in Notification.objects.all()}
    assert texts == {f"Release of TST-2026-0001 in 30 days ({long_date(day)})"}
    assert set(Notification.objects.values_list("url", flat=True)) == {f"/cases/{cast.case.pk}/"}
    # One e-mail per recipient, sent by the run that inserted the row.
    assert sorted(m.to[0] for m in mail.outbox) == sorted(
        f"{name}@example.org" for name in JUSTICE_READERS
    )


def test_reminder_mails_and_titles_hold_the_reference_and_nothing_of_the_case(
    cast, now, django_capture_on_commit_callbacks
):
    _release_in(cast, now, 7)
    run(django_capture_on_commit_callbacks, now)
    assert len(mail.outbox) == 3
    for message in mail.outbox:
        text = message.subject + message.body
        assert "TST-2026-0001" in text
        assert [s for s in SECRETS if s in text] == []
    for notification in Notification.objects.all():
        text = notification.text + str(notification.params)
        assert [s for s in SECRETS if s in text] == []


def test_each_release_point_is_sent_when_reached_and_a_late_worker_sends_only_the_latest(
    cast, now, django_capture_on_commit_callbacks
):
    day = _release_in(cast, now, 95)
    assert run(django_capture_on_commit_callbacks, now)[NotificationKind.RELEASE] == 0

    # Five days later the 90-day point is reached.
    run(django_capture_on_commit_callbacks, now + 5 * DAY)
    # The worker was down from then until five days before the release: the
    # 30-day point passed unsent, only the 7-day one goes out.
    run(django_capture_on_commit_callbacks, now + 90 * DAY)
    run(django_capture_on_commit_callbacks, now + 95 * DAY)  # the day itself: nothing new
    run(django_capture_on_commit_callbacks, now + 96 * DAY)  # after it: nothing

    keys = {f"release:{cast.case.pk}:{day.isoformat()}:{d}" for d in (90, 7)}
    assert received() == {name: keys for name in JUSTICE_READERS}
    assert len(mail.outbox) == 6


def test_moving_the_release_before_it_is_due_reminds_of_the_new_date_only(
    cast, now, django_capture_on_commit_callbacks
):
    first = _release_in(cast, now, 100)
    run(django_capture_on_commit_callbacks, now)
    moved = _release_in(cast, now, 20)

    run(django_capture_on_commit_callbacks, now)
    # When the old date's 90-day point comes, nothing is sent for it.
    run(django_capture_on_commit_callbacks, now + 10 * DAY)
    run(django_capture_on_commit_callbacks, now + 13 * DAY)

    keys = {f"release:{cast.case.pk}:{moved.isoformat()}:{d}" for d in (30, 7)}
    assert received() == {name: keys for name in JUSTICE_READERS}
    assert not Notification.objects.filter(dedupe_key__contains=first.isoformat()).exists()


def test_moving_a_reminded_release_later_reminds_again_for_the_new_date(
    cast, now, django_capture_on_commit_callbacks
):
    first = _release_in(cast, now, 30)
    run(django_capture_on_commit_callbacks, now)
    moved = _release_in(cast, now, 60)
    run(django_capture_on_commit_callbacks, now)

    assert received() == {
        name: {
            f"release:{cast.case.pk}:{first.isoformat()}:30",
            f"release:{cast.case.pk}:{moved.isoformat()}:90",
        }
        for name in JUSTICE_READERS
    }


def test_partnership_reminder_days_are_configurable(cast, now, django_capture_on_commit_callbacks):
    cast.partnership.release_reminder_days = [14]
    cast.partnership.save()
    _release_in(cast, now, 20)
    assert run(django_capture_on_commit_callbacks, now)[NotificationKind.RELEASE] == 0
    assert run(django_capture_on_commit_callbacks, now + 6 * DAY)[NotificationKind.RELEASE] == 3


def test_closed_cases_and_other_partnerships_get_no_release_reminder(
    cast, now, django_capture_on_commit_callbacks
):
    other = cast.other_case
    KeyDate.objects.create(
        case=other,
        kind=KeyDateKind.EXPECTED_RELEASE,
        date=local_today(other, now) + 7 * DAY,
        updated_by=cast.outsider,
    )
    _release_in(cast, now, 7)
    Case.objects.filter(pk=cast.case.pk).update(status=CaseStatus.CLOSED)
    cast.case.refresh_from_db()
    case_grants_touch(cast.case)

    run(django_capture_on_commit_callbacks, now)

    # The other partnership's coordinator (the outsider) is reminded of their
    # own case; nobody of the closed case.
    assert received() == {
        "outsider": {f"release:{other.pk}:{(local_today(other, now) + 7 * DAY).isoformat()}:7"}
    }


def test_thresholds_are_cleaned_and_the_latest_reached_wins():
    assert release_thresholds([90, "30", 7, True, -1, 400, 7]) == [7, 90]
    assert release_thresholds(None) == []
    assert release_threshold_due(95, [7, 30, 90]) is None
    assert release_threshold_due(90, [7, 30, 90]) == 90
    assert release_threshold_due(12, [7, 30, 90]) == 30
    assert release_threshold_due(0, [7, 30, 90]) == 7
    assert release_threshold_due(-1, [7, 30, 90]) is None


# --- Checklist items ---------------------------------------------------------------------


def _item(cast, *, due_on, category=Category.SOCIAL, owner="probation", assignee=None, **kw):
    return ChecklistItem.objects.create(
        case=cast.case,
        title="Housing",
        category=category,
        owner_organisation=cast.orgs[owner] if owner else None,
        assignee=assignee,
        due_on=due_on,
        created_by=cast.coordinator,
        **kw,
    )


def test_checklist_items_due_and_overdue_reach_the_owner_or_the_assignee(
    cast, now, django_capture_on_commit_callbacks
):
    today = local_today(cast.case, now)
    soon = _item(cast, due_on=today + 3 * DAY)  # owner: probation -> the case manager
    late = _item(
        cast,
        due_on=today - 2 * DAY,
        category=Category.RISK,
        owner="police",
        assignee=cast.police_on_team,
    )
    _item(cast, due_on=today + 20 * DAY)  # not yet
    _item(cast, due_on=today - DAY, status=ItemStatus.DONE, completed_at=now)  # done
    # Owned by the NGO in a category it may not read: nobody is told.
    _item(cast, due_on=today + DAY, owner="ngo", category=Category.HEALTH)
    # Owned by nobody: the coordinator hands it out.
    unowned = _item(cast, due_on=today + 2 * DAY, owner=None)

    run(django_capture_on_commit_callbacks, now)
    run(django_capture_on_commit_callbacks, now)

    assert received() == {
        "case_manager": {f"checklist_due:{soon.pk}:{soon.due_on.isoformat()}"},
        "police_on_team": {f"checklist_overdue:{late.pk}:{late.due_on.isoformat()}"},
        "coordinator": {f"checklist_due:{unowned.pk}:{unowned.due_on.isoformat()}"},
    }
    overdue = Notification.objects.get(kind=NotificationKind.CHECKLIST_OVERDUE)
    assert overdue.text == (
        f"Checklist item of TST-2026-0001 is overdue (due {long_date(late.due_on)})"
    )
    assert "Housing" not in overdue.text + str(overdue.params)  # the item's title is content
    # A due item becomes overdue: one more reminder, then nothing.
    run(django_capture_on_commit_callbacks, now + 4 * DAY)
    assert received(NotificationKind.CHECKLIST_OVERDUE)["case_manager"] == {
        f"checklist_overdue:{soon.pk}:{soon.due_on.isoformat()}"
    }


def test_an_assignee_who_lost_access_is_not_reminded(cast, now, django_capture_on_commit_callbacks):
    today = local_today(cast.case, now)
    _item(
        cast,
        due_on=today + DAY,
        category=Category.RISK,
        owner="police",
        assignee=cast.police_off_team,
    )
    # Assigned to someone who may not read the item's category.
    _item(
        cast,
        due_on=today + DAY,
        category=Category.JUSTICE,
        owner="probation",
        assignee=cast.ngo_mentor,
    )
    run(django_capture_on_commit_callbacks, now)
    assert received() == {}


def test_moving_the_release_moves_the_checklist_reminders(
    cast, now, django_capture_on_commit_callbacks
):
    from prepare.plans.services import release_planning_start

    _release_in(cast, now, 200)
    release_planning_start(actor=cast.coordinator, case_id=cast.case.pk)
    planned = dict(ChecklistItem.objects.filter(case=cast.case).values_list("pk", "due_on"))
    run(django_capture_on_commit_callbacks, now)
    assert received(NotificationKind.CHECKLIST_DUE) == {}

    # The release comes forward: the items now due within a week, or overdue,
    # remind their owners at their new dates, never at the planned ones.
    release = _release_in(cast, now, 10)
    run(django_capture_on_commit_callbacks, now)

    moved = dict(ChecklistItem.objects.filter(case=cast.case).values_list("pk", "due_on"))
    assert all(moved[pk] != planned[pk] for pk in planned)
    keys = Notification.objects.filter(
        kind__in=[NotificationKind.CHECKLIST_DUE, NotificationKind.CHECKLIST_OVERDUE]
    ).values_list("dedupe_key", flat=True)
    assert keys
    for key in keys:
        _kind, item_pk, due_on = key.split(":")
        assert due_on == moved[int(item_pk)].isoformat()
        assert moved[int(item_pk)] <= release
    # Every item due in the coming week reached someone.
    today = local_today(cast.case, now)
    soon = {pk for pk, day in moved.items() if today <= day <= today + 7 * DAY}
    assert soon
    assert soon <= {int(k.split(":")[1]) for k in keys}


# --- Reviews and follow-ups (the coordinators) --------------------------------------------


def test_a_review_due_within_a_week_reminds_the_coordinator(
    cast, now, django_capture_on_commit_callbacks
):
    today = local_today(cast.case, now)
    set_date(cast.coordinator, cast.case, KeyDateKind.NEXT_REVIEW, today + 10 * DAY)
    run(django_capture_on_commit_callbacks, now)
    assert received() == {}
    run(django_capture_on_commit_callbacks, now + 3 * DAY)
    assert received() == {"coordinator": {f"review:{cast.case.pk}:{(today + 10 * DAY)}"}}


def test_follow_up_reviews_remind_the_coordinator_of_a_closed_case(
    cast, now, django_capture_on_commit_callbacks
):
    today = local_today(cast.case, now)
    for kind, day in ((KeyDateKind.FOLLOW_UP_6, today - DAY), (KeyDateKind.FOLLOW_UP_12, today)):
        KeyDate.objects.create(case=cast.case, kind=kind, date=day, updated_by=cast.coordinator)
    later = KeyDate.objects.get(kind=KeyDateKind.FOLLOW_UP_12)
    later.date = today + 180 * DAY
    later.save()
    Case.objects.filter(pk=cast.case.pk).update(status=CaseStatus.CLOSED)
    cast.case.refresh_from_db()
    case_grants_touch(cast.case)

    run(django_capture_on_commit_callbacks, now)

    assert received() == {
        "coordinator": {f"follow_up:{cast.case.pk}:follow_up_6:{(today - DAY).isoformat()}"}
    }
    assert Notification.objects.get().text == (
        f"6-month follow-up review of TST-2026-0001 is due ({long_date(today - DAY)})"
    )


# --- Signals --------------------------------------------------------------------------------


def test_an_escalated_signal_is_in_the_bell_at_once_and_mailed_again_a_day_later(
    cast, now, django_capture_on_commit_callbacks
):
    Membership.objects.filter(organisation=cast.orgs["police"]).update(escalation=True)
    with django_capture_on_commit_callbacks(execute=True):
        signal = signal_raise(
            actor=cast.case_manager,
            case_id=cast.case.pk,
            severity=Severity.URGENT,
            description=sentinel("risk"),
        )
    raised_mails = len(mail.outbox)  # monitoring's own alert e-mails
    assert raised_mails >= 1

    run(django_capture_on_commit_callbacks, now)
    # The coordinator and the police officer on the team; the officer who is
    # not on the team is a police user too but cannot read the case.
    assert received() == {
        "coordinator": {f"signal:{signal.pk}"},
        "police_on_team": {f"signal:{signal.pk}"},
    }
    assert len(mail.outbox) == raised_mails  # the alert was mailed already

    run(django_capture_on_commit_callbacks, now + 2 * DAY)
    late = f"signal_unacknowledged:{signal.pk}"
    assert received() == {
        "coordinator": {f"signal:{signal.pk}", late},
        "police_on_team": {f"signal:{signal.pk}", late},
    }
    assert len(mail.outbox) == raised_mails + 2
    assert Notification.objects.get(user=cast.coordinator, dedupe_key=late).text == (
        "Urgent signal on TST-2026-0001 still not acknowledged"
    )


def test_an_acknowledged_signal_is_not_reminded(cast, now, django_capture_on_commit_callbacks):
    signal = signal_raise(
        actor=cast.case_manager,
        case_id=cast.case.pk,
        severity=Severity.HIGH,
        description="x",
    )
    type(signal).objects.filter(pk=signal.pk).update(status="acknowledged")
    run(django_capture_on_commit_callbacks, now + 2 * DAY)
    assert received() == {}


# --- Audit ------------------------------------------------------------------------------------


def test_each_batch_of_new_reminders_is_one_audit_event_naming_the_cases(
    cast, now, django_capture_on_commit_callbacks
):
    _release_in(cast, now, 7)
    before = Event.objects.count()
    run(django_capture_on_commit_callbacks, now)
    run(django_capture_on_commit_callbacks, now)
    events = list(Event.objects.order_by("seq")[before:])
    assert len(events) == 1
    event = events[0]
    assert (event.action, event.actor_id, event.actor_username) == (
        EventAction.CREATE,
        None,
        WORKER_NAME,
    )
    assert event.case_ids == [cast.case.pk]
    recipients = sorted(Notification.objects.values_list("user_id", flat=True))
    assert event.detail == {
        "job": "reminders",
        "notifications": 3,
        "kinds": {"release": 3},
        "recipients": recipients,
    }
    assert verify() is None


def test_the_unique_constraint_decides_when_two_workers_both_find_a_row_missing(
    cast, now, django_capture_on_commit_callbacks, monkeypatch
):
    _release_in(cast, now, 7)
    run(django_capture_on_commit_callbacks, now)
    sent = len(mail.outbox)
    events = Event.objects.count()
    # The second worker's look-up ran before the first one's rows committed.
    monkeypatch.setattr(reminders, "_already_inserted", lambda batch: set())

    assert run(django_capture_on_commit_callbacks, now)[NotificationKind.RELEASE] == 0

    assert Notification.objects.count() == 3
    assert len(mail.outbox) == sent
    assert Event.objects.count() == events
    with pytest.raises(IntegrityError), transaction.atomic():
        Notification.objects.create(
            user=cast.coordinator,
            kind=NotificationKind.RELEASE,
            title="x",
            dedupe_key=Notification.objects.filter(user=cast.coordinator).get().dedupe_key,
        )


def test_run_reminders_without_a_time_uses_now(cast, django_capture_on_commit_callbacks):
    _release_in(cast, timezone.now(), 7)
    with django_capture_on_commit_callbacks(execute=True):
        assert run_reminders()[NotificationKind.RELEASE] == 3


def _more_cases(cast, now, count: int) -> None:
    from prepare.access.grants import case_grants_rebuild
    from prepare.cases.models import CaseTeamMember
    from tests.factories import PersonFactory

    for i in range(count):
        case = Case.objects.create(
            person=PersonFactory(),
            partnership=cast.partnership,
            reference=f"TST-2026-1{i:03d}",
            status=CaseStatus.PRE_RELEASE,
        )
        CaseTeamMember.objects.create(case=case, organisation=cast.orgs["probation"], purpose="x")
        case_grants_rebuild(case)
        KeyDate.objects.create(
            case=case,
            kind=KeyDateKind.EXPECTED_RELEASE,
            date=local_today(case, now) + 7 * DAY,
            updated_by=cast.coordinator,
        )


@pytest.mark.parametrize("extra", [2, 40])
def test_a_run_with_nothing_new_costs_the_same_at_any_number_of_cases(
    cast, now, extra, django_capture_on_commit_callbacks, django_assert_num_queries
):
    _more_cases(cast, now, extra)
    first = run(django_capture_on_commit_callbacks, now)
    assert first[NotificationKind.RELEASE] == 2 * extra  # coordinator and case manager
    # Six scans (the sixth: assessment reviews) and the partnerships' reminder
    # days; per batch the team, its organisations' users, the coordinators, the
    # recipients (one query), each recipient's grants (1) and reach (1), the
    # rows already there (in a savepoint).
    with django_assert_num_queries(18):
        second = run(django_capture_on_commit_callbacks, now)
    assert sum(second.values()) == 0
