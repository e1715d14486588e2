"""The bell, the list, marking as read."""

from __future__ import annotations

import datetime
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from prepare.audit.models import Event, EventAction
from prepare.notifications.models import Notification, NotificationKind

LIST = reverse("notifications:list")
# Session, user, device; the page's rows (one more than a page, no count of
# them all); the bell (one count); the request's transaction (a savepoint pair).
QUERIES = 7
# The list event, in a savepoint: chain head read, event, head update, case index.
AUDIT_EVENT = 6


def _notify(
    user,
    n: int = 1,
    *,
    read: bool = False,
    title: str = "Release of TST-2026-0001",
    case_id: int | None = None,
):
    start = timezone.now() - datetime.timedelta(hours=n)
    rows = [
        Notification(
            user=user,
            kind=NotificationKind.RELEASE,
            case_id=case_id,
            title=f"{title} #{i}",
            url="/cases/1/",
            created_at=start + datetime.timedelta(minutes=i),
            read_at=timezone.now() if read else None,
            dedupe_key=f"test:{user.pk}:{i}:{read}",
        )
        for i in range(n)
    ]
    return Notification.objects.bulk_create(rows)


def _bell(html: str) -> str:
    match = re.search(r'<a href="/notifications/"[^>]*>(.*?)</a>', html, re.S)
    assert match, "no bell in the navigation"
    return re.sub(r"<[^>]+>", "", match.group(1)).strip()


def test_the_bell_counts_the_users_unread_notifications(cast, as_user):
    _notify(cast.coordinator, 2)
    _notify(cast.coordinator, 3, read=True)
    _notify(cast.case_manager, 4)

    page = as_user(cast.coordinator).get(reverse("cases:caseload"))

    assert page.status_code == 200
    assert _bell(page.content.decode()) == "Notifications 2(2 unread)"
    quiet = as_user(cast.police_on_team).get(reverse("cases:caseload"))
    assert _bell(quiet.content.decode()) == "Notifications"


def test_the_navigation_counts_cost_one_query(cast, as_user, django_assert_num_queries):
    """The bell costs one query, only when a template asks and only after the
    second factor; a dashboard that shows the signals waiting for the user
    gets a gate in that same query, and the count through the policy (a
    second query) only when the user has an open alert at all."""
    from django.test import RequestFactory

    from prepare.access.policy import grants_for
    from prepare.accounts.context_processors import count_alerts_too, navigation
    from prepare.monitoring.models import Severity
    from prepare.monitoring.services import signal_raise

    _notify(cast.coordinator, 2)
    request = RequestFactory().get("/")
    request.user = cast.coordinator
    request.user.is_verified = lambda: True  # type: ignore[attr-defined]
    grants_for(cast.coordinator)  # as every case page has, before it renders
    with django_assert_num_queries(0):
        counts = navigation(request)["nav"]["counts"]
    with django_assert_num_queries(1):
        assert (counts.unread, counts.alerts) == (2, 0)  # the bell only
    count_alerts_too(request)
    with django_assert_num_queries(1):  # no open alert: the gate says so
        counts = navigation(request)["nav"]["counts"]
        assert (counts.unread, counts.alerts) == (2, 0)
    signal_raise(
        actor=cast.case_manager, case_id=cast.case.pk, severity=Severity.HIGH, description="x"
    )
    count_alerts_too(request)
    with django_assert_num_queries(2):
        counts = navigation(request)["nav"]["counts"]
        assert (counts.unread, counts.alerts) == (2, 1)
    request.user.is_verified = lambda: False  # type: ignore[attr-defined]
    with django_assert_num_queries(0):
        assert navigation(request)["nav"]["counts"] is None


def test_an_open_alert_on_a_case_no_longer_reached_is_not_counted(cast, as_user) -> None:
    """The gate counts the user's alert rows, but what is shown is what the
    policy still lets them read: here an alert left open for an officer who is
    not (or no longer) on the case's team."""
    from django.test import RequestFactory

    from prepare.accounts.context_processors import count_alerts_too, navigation
    from prepare.monitoring.models import Severity, SignalAlert
    from prepare.monitoring.selectors import open_alerts_of
    from prepare.monitoring.services import signal_raise

    signal = signal_raise(
        actor=cast.case_manager, case_id=cast.case.pk, severity=Severity.HIGH, description="x"
    )
    outsider = cast.police_off_team
    SignalAlert.objects.get_or_create(signal=signal, user=outsider)
    assert open_alerts_of(actor=outsider).count() == 1
    request = RequestFactory().get("/")
    request.user = outsider
    request.user.is_verified = lambda: True  # type: ignore[attr-defined]
    count_alerts_too(request)
    assert navigation(request)["nav"]["counts"].alerts == 0
    # The alert of someone who reads the case (the coordinator) is counted.
    request.user = cast.coordinator
    request.user.is_verified = lambda: True  # type: ignore[attr-defined]
    count_alerts_too(request)
    assert navigation(request)["nav"]["counts"].alerts == 1


def test_the_list_shows_only_ones_own_notifications_newest_first(
    cast, as_user, django_assert_num_queries
):
    _notify(cast.coordinator, 3, case_id=cast.case.pk)
    _notify(cast.case_manager, 2, title="Someone else's", case_id=cast.other_case.pk)
    client = as_user(cast.coordinator)
    client.get(LIST)  # warm the session
    before = Event.objects.count()
    with django_assert_num_queries(QUERIES + AUDIT_EVENT):
        page = client.get(LIST)
    html = page.content.decode()
    assert page.status_code == 200
    assert "Someone else" not in html
    positions = [html.index(f"Release of TST-2026-0001 #{i}") for i in (2, 1, 0)]
    assert positions == sorted(positions)
    assert html.count('action="/notifications/') == 4  # three rows and "mark all"
    # The page names a case by its reference: one list event naming it.
    (event,) = Event.objects.order_by("seq")[before:]
    assert (event.action, event.actor_id) == (EventAction.LIST, cast.coordinator.pk)
    assert event.case_ids == [cast.case.pk]
    assert event.detail == {"view": "notifications", "page": 1}


def test_the_list_pages_by_25_with_the_same_number_of_queries(
    cast, as_user, django_assert_num_queries
):
    _notify(cast.coordinator, 60)
    client = as_user(cast.coordinator)
    client.get(LIST)
    with django_assert_num_queries(QUERIES):
        first = client.get(LIST)
    with django_assert_num_queries(QUERIES):
        third = client.get(LIST + "?page=3")
    assert first.content.decode().count('<th scope="row">') == 25
    assert third.content.decode().count('<th scope="row">') == 10
    assert 'rel="next"' in first.content.decode()
    assert 'rel="next"' not in third.content.decode()
    assert 'rel="prev"' in third.content.decode()
    assert client.get(LIST + "?page=²").status_code == 200
    # Past the end: the first page, as the newest notifications are there.
    beyond = client.get(LIST + "?page=9").content.decode()
    assert beyond.count('<th scope="row">') == 25 and "(page 1)" in beyond


def test_mark_one_as_read(cast, as_user):
    first, second = _notify(cast.coordinator, 2)
    client = as_user(cast.coordinator)

    response = client.post(reverse("notifications:mark_read", args=[first.pk]), {"page": "2"})

    assert response.status_code == 302
    assert response["Location"] == LIST + "?page=2"
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.read_at is not None and second.read_at is None
    # Marking it again keeps the first time it was read.
    when = first.read_at
    client.post(reverse("notifications:mark_read", args=[first.pk]))
    first.refresh_from_db()
    assert first.read_at == when


def test_someone_elses_notification_is_not_found(cast, as_user):
    (theirs,) = _notify(cast.case_manager)
    response = as_user(cast.coordinator).post(reverse("notifications:mark_read", args=[theirs.pk]))
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_mark_all_as_read_touches_only_ones_own(cast, as_user):
    _notify(cast.coordinator, 3)
    _notify(cast.case_manager, 2)
    client = as_user(cast.coordinator)
    response = client.post(reverse("notifications:mark_all_read"))
    assert response.status_code == 302
    assert not Notification.objects.filter(user=cast.coordinator, read_at__isnull=True).exists()
    assert Notification.objects.filter(user=cast.case_manager, read_at__isnull=True).count() == 2
    page = client.get(LIST)
    assert _bell(page.content.decode()) == "Notifications"
    assert "All notifications are marked as read." in page.content.decode()


@pytest.mark.parametrize("name", ["notifications:mark_all_read"])
def test_reading_is_a_post(cast, as_user, name):
    assert as_user(cast.coordinator).get(reverse(name)).status_code == 405


def test_titles_are_escaped(cast, as_user):
    _notify(cast.coordinator, title="<script>alert(1)</script>")
    html = as_user(cast.coordinator).get(LIST).content.decode()
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
