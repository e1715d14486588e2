"""The personal iCalendar feed: the writer, the token, the policy and the audit."""

from __future__ import annotations

import datetime
import re
import uuid

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from prepare.audit.models import Event, EventAction
from prepare.cases.models import KeyDate, KeyDateKind
from prepare.notifications.ics import AllDayEvent, calendar, escape_text, fold
from prepare.notifications.models import CalendarFeedToken
from tests.cast import ALL, sentinel
from tests.notifications.support import set_date

SETTINGS = reverse("notifications:calendar_settings")
DAY = datetime.timedelta(days=1)
SECRETS = [sentinel(c) for c in ALL] + ["Sentinelia", "Identitas"]

# --- The writer ---------------------------------------------------------------------------


def test_text_values_are_escaped():
    assert escape_text("a,b;c\\d\ne\r\nf") == "a\\,b\\;c\\\\d\\ne\\nf"


def test_long_lines_fold_at_75_octets_without_splitting_a_character():
    line = "SUMMARY:" + "é" * 100  # two octets each
    folded = fold(line)
    pieces = folded.split("\r\n")
    assert all(len(p.encode()) <= 75 for p in pieces)
    assert all(p.startswith(" ") for p in pieces[1:])
    assert "".join(p[1:] if i else p for i, p in enumerate(pieces)) == line
    assert fold("SHORT:x") == "SHORT:x"
    exact = "X:" + "a" * 73
    assert fold(exact) == exact
    assert fold(exact + "b") == exact + "\r\n b"


def test_a_calendar_is_crlf_terminated_with_all_day_events():
    text = calendar(
        [AllDayEvent(uid="u-1@prepare", day=datetime.date(2026, 12, 31), summary="A, B")],
        name="Key dates",
        stamp=datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC),
    )
    assert text.endswith("END:VCALENDAR\r\n")
    assert "\n" not in text.replace("\r\n", "")
    lines = text.split("\r\n")
    assert lines[:2] == ["BEGIN:VCALENDAR", "VERSION:2.0"]
    assert "DTSTART;VALUE=DATE:20261231" in lines
    assert "DTEND;VALUE=DATE:20270101" in lines
    assert "DTSTAMP:20260102T030405Z" in lines
    assert "SUMMARY:A\\, B" in lines
    assert lines.count("BEGIN:VEVENT") == lines.count("END:VEVENT") == 1


# --- Settings: create once, revoke ---------------------------------------------------------


def _feed_url(html: str) -> str:
    match = re.search(r"(http://testserver/notifications/calendar/[0-9a-f-]{36}\.ics)", html)
    assert match, "the page shows no feed address"
    return match.group(1).removeprefix("http://testserver")


def _subscribe(client: Client) -> str:
    response = client.post(SETTINGS, {"action": "create"})
    assert response.status_code == 200
    return _feed_url(response.content.decode())


def test_the_address_is_shown_once_and_only_its_digest_is_stored(cast, as_user):
    client = as_user(cast.coordinator)
    url = _subscribe(client)
    secret = url.split("/")[-1].removesuffix(".ics")

    again = client.get(SETTINGS).content.decode()
    assert secret not in again
    assert "You have a calendar address" in again
    token = CalendarFeedToken.objects.get(user=cast.coordinator)
    assert token.digest == CalendarFeedToken.digest_of(uuid.UUID(secret))
    assert secret not in token.digest
    event = Event.objects.filter(action=EventAction.TOKEN_CHANGE).last()
    assert event.actor_id == cast.coordinator.pk
    assert event.detail == {"change": "created", "token": "calendar_feed"}


def test_a_new_address_replaces_the_old_one(cast, as_user):
    client = as_user(cast.coordinator)
    old = _subscribe(client)
    new = _subscribe(client)
    assert Client().get(old).status_code == 404
    assert Client().get(new).status_code == 200
    assert CalendarFeedToken.objects.filter(user=cast.coordinator, revoked_at=None).count() == 1


def test_a_revoked_address_answers_404(cast, as_user):
    client = as_user(cast.coordinator)
    url = _subscribe(client)
    assert Client().get(url).status_code == 200

    response = client.post(SETTINGS, {"action": "revoke"})

    assert response.status_code == 302
    assert Client().get(url).status_code == 404
    assert "You have no calendar address." in client.get(SETTINGS).content.decode()
    assert client.post(SETTINGS, {"action": "bogus"}).status_code == 400


def test_an_unknown_address_and_a_disabled_user_answer_404(cast, as_user):
    assert (
        Client().get(reverse("notifications:calendar_feed", args=[uuid.uuid4()])).status_code == 404
    )
    url = _subscribe(as_user(cast.case_manager))
    cast.case_manager.is_active = False
    cast.case_manager.save()
    response = Client().get(url)
    assert response.status_code == 404
    assert "BEGIN:VCALENDAR" not in response.content.decode()


# --- The feed ------------------------------------------------------------------------------


@pytest.fixture
def dates(cast):
    today = timezone.localdate()
    set_date(cast.coordinator, cast.case, KeyDateKind.EXPECTED_RELEASE, today + 30 * DAY)
    set_date(cast.coordinator, cast.case, KeyDateKind.NEXT_REVIEW, today + 5 * DAY)
    set_date(cast.coordinator, cast.case, KeyDateKind.SENTENCE_START, today - 400 * DAY)
    set_date(cast.coordinator, cast.case, KeyDateKind.SENTENCE_END, today + 400 * DAY)
    KeyDate.objects.create(
        case=cast.other_case,
        kind=KeyDateKind.EXPECTED_RELEASE,
        date=today + 3 * DAY,
        updated_by=cast.outsider,
    )
    return today


def _events(text: str) -> list[dict[str, str]]:
    unfolded = text.replace("\r\n ", "")
    events = []
    for block in unfolded.split("BEGIN:VEVENT\r\n")[1:]:
        body = block.split("END:VEVENT")[0]
        fields = dict(line.split(":", 1) for line in body.split("\r\n") if line)
        events.append(fields)
    return events


def test_the_feed_lists_the_coming_years_key_dates_by_reference_and_kind(
    cast, as_user, dates, django_assert_max_num_queries
):
    url = _subscribe(as_user(cast.case_manager))
    with django_assert_max_num_queries(20):
        response = Client().get(url)

    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert response["Cache-Control"] == "no-store"
    text = response.content.decode()
    assert [s for s in SECRETS if s in text] == []
    events = _events(text)
    assert [(e["SUMMARY"], e["DTSTART;VALUE=DATE"]) for e in events] == [
        ("TST-2026-0001: Next review", f"{dates + 5 * DAY:%Y%m%d}"),
        ("TST-2026-0001: Expected release", f"{dates + 30 * DAY:%Y%m%d}"),
    ]
    assert events[1]["URL"] == f"http://testserver/cases/{cast.case.pk}/"
    assert CalendarFeedToken.objects.get(user=cast.case_manager).last_used_at is not None


def test_a_moved_date_keeps_its_uid(cast, as_user, dates):
    url = _subscribe(as_user(cast.coordinator))
    before = {e["SUMMARY"]: e["UID"] for e in _events(Client().get(url).content.decode())}
    set_date(cast.coordinator, cast.case, KeyDateKind.EXPECTED_RELEASE, dates + 60 * DAY)
    after = {e["SUMMARY"]: e for e in _events(Client().get(url).content.decode())}
    release = after["TST-2026-0001: Expected release"]
    assert release["UID"] == before["TST-2026-0001: Expected release"]
    assert release["DTSTART;VALUE=DATE"] == f"{dates + 60 * DAY:%Y%m%d}"


@pytest.mark.parametrize(
    ("actor", "sees_case"),
    [
        ("coordinator", True),
        ("case_manager", True),
        ("police_on_team", True),
        ("police_off_team", False),  # not on the team
        ("ngo_mentor", False),  # on the team, without justice
        ("auditor", False),
        ("outsider", False),  # another partnership: only its own case
    ],
)
def test_the_feed_follows_the_policy(cast, as_user, dates, actor, sees_case):
    user = cast.actors[actor]
    url = _subscribe(as_user(user))
    summaries = {e["SUMMARY"] for e in _events(Client().get(url).content.decode())}
    assert ("TST-2026-0001: Expected release" in summaries) is sees_case
    assert ("ELS-2026-0001: Expected release" in summaries) is (actor == "outsider")


def test_break_glass_access_does_not_follow_into_the_calendar(cast, as_user, dates):
    from prepare.access.models import BreakGlassAccess

    BreakGlassAccess.objects.create(
        case=cast.case,
        user=cast.police_off_team,
        justification="Imminent threat reported by the night shift",
        expires_at=timezone.now() + datetime.timedelta(hours=4),
    )
    url = _subscribe(as_user(cast.police_off_team))
    assert _events(Client().get(url).content.decode()) == []


def test_each_read_of_the_feed_is_audited_as_a_list_naming_the_cases(cast, as_user, dates):
    url = _subscribe(as_user(cast.coordinator))
    before = Event.objects.count()

    response = Client().get(url, REMOTE_ADDR="192.0.2.7")

    assert response.status_code == 200
    (event,) = Event.objects.order_by("seq")[before:]
    assert event.action == EventAction.LIST
    assert (event.actor_id, event.actor_username) == (cast.coordinator.pk, "coordinator")
    assert event.case_ids == [cast.case.pk]
    assert event.category == "justice"
    assert event.detail == {"view": "calendar_feed", "key_dates": 2}
    assert event.request_id == response["X-Request-ID"]
    assert event.source_ip == "192.0.2.7"
