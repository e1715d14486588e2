"""API of the caller's notifications: the list, marking read, the unread count."""

from __future__ import annotations

import datetime
import json

import pytest
from django.utils import timezone

from prepare.audit.models import Event, EventAction
from prepare.notifications.models import Notification, NotificationKind
from tests.api.conftest import API, token_client
from tests.oracle import CAST_ACTORS as ACTORS

pytestmark = pytest.mark.django_db

LIST = f"{API}/notifications/"
COUNT = f"{API}/notifications/count/"
READ_ALL = f"{API}/notifications/read-all/"


def read_url(notification):
    return f"{API}/notifications/{notification.pk}/read/"


def post(client, url, data=None):
    return client.generic("POST", url, json.dumps(data or {}), content_type="application/json")


def notify(user, n=1, *, read=False, title="Release of TST-2026-0001", case_id=None, kind=None):
    start = timezone.now() - datetime.timedelta(hours=n)
    rows = [
        Notification(
            user=user,
            kind=kind or NotificationKind.RELEASE,
            case_id=case_id,
            title=f"{title} #{i}",
            url=f"/cases/{case_id}/" if case_id else "",
            created_at=start + datetime.timedelta(minutes=i),
            read_at=timezone.now() if read else None,
            dedupe_key=f"test:{user.pk}:{title}:{i}:{read}",
        )
        for i in range(n)
    ]
    return Notification.objects.bulk_create(rows)


def unread(user):
    return Notification.objects.filter(user=user, read_at__isnull=True).count()


# --- The list --------------------------------------------------------------------------------


def test_the_list_shows_only_ones_own_newest_first(cast):
    mine = notify(cast.coordinator, 3, case_id=cast.case.pk)
    notify(cast.case_manager, 2, title="Someone else's", case_id=cast.other_case.pk)
    client = token_client(cast.coordinator)
    before = Event.objects.count()

    response = client.get(LIST)

    assert response.status_code == 200
    body = response.json()
    assert (body["count"], body["count_capped"], body["next"], body["previous"]) == (
        3,
        False,
        None,
        None,
    )
    assert [row["id"] for row in body["results"]] == [n.pk for n in reversed(mine)]
    newest = mine[-1]
    assert body["results"][0] == {
        "id": newest.pk,
        "kind": "release",
        "title": "Release of TST-2026-0001 #2",
        "message_key": "",
        "params": {},
        "case": cast.case.pk,
        "url": f"/cases/{cast.case.pk}/",
        "created_at": newest.created_at.isoformat().replace("+00:00", "Z"),
        "read_at": None,
    }
    assert "Someone else" not in response.content.decode()
    # The page names a case by its reference: one list event naming it, as the web list.
    (event,) = Event.objects.order_by("seq")[before:]
    assert (event.action, event.actor_id, event.organisation_id, event.role) == (
        EventAction.LIST,
        cast.coordinator.pk,
        cast.coordinator.organisation_id,
        "coordinator",
    )
    assert event.case_ids == [cast.case.pk]
    assert event.detail == {"view": "api_notifications", "page": 1, "unread": False}
    assert event.request_id == response["X-Request-ID"]


def test_a_page_naming_no_case_is_not_logged(cast):
    notify(cast.coordinator, 2)  # about no case (e.g. a general reminder)
    client = token_client(cast.coordinator)
    before = Event.objects.count()
    response = client.get(LIST)
    assert len(response.json()["results"]) == 2
    assert Event.objects.count() == before


def test_unread_true_lists_only_the_unread_ones(cast):
    (unread_one,) = notify(cast.coordinator, 1, title="Unread", case_id=cast.case.pk)
    notify(cast.coordinator, 2, read=True, title="Read", case_id=cast.other_case.pk)
    client = token_client(cast.coordinator)

    only_unread = client.get(LIST, {"unread": "true"}).json()
    everything = client.get(LIST, {"unread": "false"}).json()

    assert [row["id"] for row in only_unread["results"]] == [unread_one.pk]
    assert len(everything["results"]) == 3
    assert all(row["read_at"] for row in everything["results"] if row["id"] != unread_one.pk)
    listed = Event.objects.filter(action="list").order_by("seq")
    assert [(e.case_ids, e.detail["unread"]) for e in listed] == [
        ([cast.case.pk], True),
        (sorted([cast.case.pk, cast.other_case.pk]), False),
    ]


@pytest.mark.parametrize("query", [{"unread": "maybe"}, {"page": "0"}, {"page_size": "101"}])
def test_bad_queries_are_refused(cast, query):
    notify(cast.coordinator, 1, case_id=cast.case.pk)
    response = token_client(cast.coordinator).get(LIST, query)
    assert response.status_code in (400, 404)
    if response.status_code == 400:
        assert set(response.json()) == set(query)
    assert not Event.objects.filter(action="list").exists()


def test_the_list_pages(cast):
    notify(cast.coordinator, 7, case_id=cast.case.pk)
    client = token_client(cast.coordinator)
    first = client.get(LIST, {"page_size": 3}).json()
    last = client.get(LIST, {"page_size": 3, "page": 3}).json()
    assert (len(first["results"]), first["count"]) == (3, 7)
    assert "page=2" in first["next"]
    assert (len(last["results"]), last["next"]) == (1, None)
    assert client.get(LIST, {"page_size": 3, "page": 4}).status_code == 404
    seen = {row["id"] for row in first["results"]} | {row["id"] for row in last["results"]}
    assert len(seen) == 4


@pytest.mark.parametrize("count", [3, 60])
def test_the_list_query_count_does_not_grow(cast, django_assert_num_queries, count):
    notify(cast.coordinator, count, case_id=cast.case.pk)
    notify(cast.coordinator, count, title="Other case", case_id=cast.other_case.pk)
    client = token_client(cast.coordinator)
    client.get(LIST)  # starts the audit chain

    # token (with its user; its use was recorded within the minute); the page;
    # its count; the list
    # event (head, insert, head update, access index); savepoints (4): the
    # same for 6 notifications or 120.
    with django_assert_num_queries(11):
        response = client.get(LIST)
    assert len(response.json()["results"]) == min(2 * count, 50)


@pytest.mark.parametrize("count", [0, 40])
def test_the_unread_count_is_the_bell(cast, django_assert_num_queries, count):
    notify(cast.coordinator, count)
    notify(cast.coordinator, 5, read=True, title="Read")
    notify(cast.case_manager, 3, title="Theirs")
    client = token_client(cast.coordinator)
    before = Event.objects.count()

    # token (with its user), its first use; the count; savepoints (2).
    with django_assert_num_queries(5):
        response = client.get(COUNT)

    assert response.json() == {"unread": count}
    assert Event.objects.count() == before  # a number, no case data


# --- Marking read ----------------------------------------------------------------------------


def test_mark_one_read_is_idempotent_and_logged(cast):
    first, second = notify(cast.coordinator, 2, case_id=cast.case.pk)
    client = token_client(cast.coordinator)

    response = post(client, read_url(first))

    assert response.status_code == 200
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.read_at is not None and second.read_at is None
    body = response.json()
    assert (body["id"], body["case"], body["title"]) == (first.pk, cast.case.pk, first.title)
    assert body["read_at"] == first.read_at.isoformat().replace("+00:00", "Z")
    event = Event.objects.get(request_id=response["X-Request-ID"])
    assert (event.action, event.actor_id, event.object_type, event.object_id) == (
        "update",
        cast.coordinator.pk,
        "notifications.notification",
        str(first.pk),
    )
    assert (event.case_ids, event.detail) == ([cast.case.pk], {"changed": ["read_at"]})
    # Marking it again keeps the first time it was read, and says nothing changed.
    when = first.read_at
    again = post(client, read_url(first))
    assert again.status_code == 200
    assert again.json()["read_at"] == body["read_at"]
    first.refresh_from_db()
    assert first.read_at == when
    assert Event.objects.get(request_id=again["X-Request-ID"]).detail == {"changed": []}
    assert unread(cast.coordinator) == 1


@pytest.mark.parametrize("owner", [a for a in ACTORS if a != "coordinator"])
def test_someone_elses_notification_is_not_found(cast, owner):
    (theirs,) = notify(cast.actors[owner], case_id=cast.case.pk)
    client = token_client(cast.coordinator)
    before = Event.objects.count()
    response = post(client, read_url(theirs))
    assert response.status_code == 404
    assert theirs.title not in response.content.decode()
    theirs.refresh_from_db()
    assert theirs.read_at is None
    # Nothing but the record of the refusal (naming no case: the route has none).
    (refused,) = Event.objects.all()[: Event.objects.count() - before]
    assert (refused.action, refused.actor_id, refused.case_id) == (
        EventAction.DENIED,
        cast.coordinator.pk,
        None,
    )
    missing = post(client, f"{API}/notifications/987654/read/")
    assert missing.status_code == 404
    assert response.json() == missing.json()  # no oracle: the same answer


def test_marking_read_accepts_no_fields(cast):
    (mine,) = notify(cast.coordinator, case_id=cast.case.pk)
    client = token_client(cast.coordinator)
    response = post(client, read_url(mine), {"read_at": "2020-01-01T00:00:00Z"})
    assert response.status_code == 400
    assert "read_at" in response.json()
    mine.refresh_from_db()
    assert mine.read_at is None
    refused = post(client, READ_ALL, {"user": cast.case_manager.pk})
    assert refused.status_code == 400
    assert unread(cast.coordinator) == 1


def test_read_all_marks_only_ones_own_and_says_how_many(cast):
    notify(cast.coordinator, 3, case_id=cast.case.pk)
    notify(cast.coordinator, 2, read=True, title="Already read")
    notify(cast.case_manager, 2, title="Theirs")
    client = token_client(cast.coordinator)

    response = post(client, READ_ALL)

    assert response.status_code == 200
    assert response.json() == {"marked": 3}
    assert unread(cast.coordinator) == 0
    assert unread(cast.case_manager) == 2
    event = Event.objects.get(request_id=response["X-Request-ID"])
    assert (event.action, event.actor_id, event.case_ids) == ("update", cast.coordinator.pk, [])
    assert event.detail == {"changed": ["read_at"], "notifications": 3}
    assert client.get(COUNT).json() == {"unread": 0}
    # Nothing left to mark: zero, and nothing to log.
    again = post(client, READ_ALL)
    assert again.json() == {"marked": 0}
    assert not Event.objects.filter(request_id=again["X-Request-ID"]).exists()


def test_reading_is_a_post(cast):
    (mine,) = notify(cast.coordinator)
    client = token_client(cast.coordinator)
    assert client.get(read_url(mine)).status_code == 405
    assert client.get(READ_ALL).status_code == 405
    assert post(client, LIST).status_code == 405
    mine.refresh_from_db()
    assert mine.read_at is None


# --- Every actor sees and marks only their own ---------------------------------------------


@pytest.mark.parametrize("name", ACTORS)
def test_each_actor_reaches_only_their_own(cast, name):
    own = {a: notify(cast.actors[a], 2, title=f"For {a}") for a in ACTORS}
    client = token_client(cast.actors[name])

    listed = client.get(LIST).json()
    assert {row["id"] for row in listed["results"]} == {n.pk for n in own[name]}
    assert client.get(COUNT).json() == {"unread": 2}
    for other in ACTORS:
        answer = post(client, read_url(own[other][0]))
        assert answer.status_code == (200 if other == name else 404)
    assert post(client, READ_ALL).json() == {"marked": 1}
    for other in ACTORS:
        assert unread(cast.actors[other]) == (0 if other == name else 2)
