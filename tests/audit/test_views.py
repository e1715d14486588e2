"""The coordinator's access log of a case and the auditor's search of the log."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from prepare.audit.chain import verify
from prepare.audit.models import Event, EventAction, Outcome
from prepare.audit.services import audit_record
from tests.partnerships.html import table_with_caption

# Every signed-in page: session, user, second-factor device, the user's grants
# (one query), the navigation's counts, and the request's transaction (a
# savepoint pair here, BEGIN and COMMIT in production).
REQUEST_OVERHEAD = 7
# The first request of a session, and then one a minute, records the session's
# last activity (a savepoint pair and the update).
SESSION_SAVE = 3
# One audit event: the event stored, then at the end of the request the check
# that it is still there, the chain head, its seal and the head's update; plus
# the case index row when the event names a case.
AUDIT_EVENT = 5
AUDIT_EVENT_ON_CASE = AUDIT_EVENT + 1
# The case through the policy, the page of the log, the organisations' names.
ACCESS_LOG_QUERIES = REQUEST_OVERHEAD + 3 + AUDIT_EVENT_ON_CASE
# The auditor's pages are decided by role alone: no grants are computed.
AUDITOR_OVERHEAD = REQUEST_OVERHEAD - 1
# The page of events, the organisations' names, the organisations of the filter.
SEARCH_QUERIES = AUDITOR_OVERHEAD + 3 + AUDIT_EVENT


def log_url(case) -> str:
    return reverse("audit:case_access_log", args=[case.pk])


def log_rows(response) -> list[list[str]]:
    return table_with_caption(response.content.decode(), "Who accessed this case")[1:]


def search_rows(response) -> list[list[str]]:
    rows = table_with_caption(response.content.decode(), "Matching events")[1:]
    return [r for r in rows if r != ["No event matches these filters."]]


def searches() -> list[Event]:
    return list(Event.objects.filter(action=EventAction.SEARCH).order_by("seq"))


# --- The access log of a case ------------------------------------------------------


def test_coordinator_sees_who_accessed_the_case(cast, as_user, django_assert_num_queries):
    assert (
        as_user(cast.ngo_mentor).get(reverse("cases:case", args=[cast.case.pk])).status_code == 200
    )
    coordinator = as_user(cast.coordinator)
    with django_assert_num_queries(ACCESS_LOG_QUERIES + SESSION_SAVE):
        response = coordinator.get(log_url(cast.case))
    assert response.status_code == 200
    rows = log_rows(response)
    # Columns: time, user, organisation, role, action, category, purpose, outcome.
    mentor_views = [r for r in rows if r[1] == "ngo_mentor"]
    assert len(mentor_views) == 1
    assert mentor_views[0][2:5] == ["Exit Testdam", "Practitioner", "View"]
    assert mentor_views[0][7] == "Success"
    # Every event that touched the case is listed, and nothing else.
    touching = [
        e
        for e in Event.objects.filter(case_id=cast.case.pk)
        if e.detail.get("view") != "access_log"
    ]
    assert len(rows) == len(touching)
    # Reading the access log is itself logged, against the case.
    event = Event.objects.get(detail__view="access_log")
    assert event.action == EventAction.VIEW
    assert event.actor_id == cast.coordinator.pk
    assert event.case_id == cast.case.pk
    assert event.detail == {"view": "access_log", "before": None, "after": None}
    assert verify() is None


def test_access_log_lists_list_events_naming_the_case(cast, as_user):
    assert as_user(cast.case_manager).get(reverse("cases:caseload")).status_code == 200
    rows = log_rows(as_user(cast.coordinator).get(log_url(cast.case)))
    assert ["case_manager", "Probation Testdam", "Case manager", "List"] in [r[1:5] for r in rows]


def test_access_log_shows_times_in_the_partnerships_time_zone(cast, as_user):
    cast.partnership.timezone = "Asia/Tokyo"
    cast.partnership.save(update_fields=["timezone"])
    audit_record(action=EventAction.VIEW, actor=cast.case_manager, case=cast.case)
    response = as_user(cast.coordinator).get(log_url(cast.case))
    html = response.content.decode()
    assert "times in Asia/Tokyo" in html
    assert 'datetime="' in html
    assert "+09:00" in html


@pytest.mark.parametrize(
    ("actor", "status"),
    [
        ("case_manager", 403),
        ("police_on_team", 403),
        ("ngo_mentor", 403),
        ("police_off_team", 404),
        ("auditor", 404),
        ("trainer", 404),
        ("outsider", 404),
    ],
)
def test_access_log_is_for_the_coordinator_only(cast, as_user, actor, status):
    before = Event.objects.filter(detail__view="access_log").count()
    response = as_user(cast.actors[actor]).get(log_url(cast.case))
    assert response.status_code == status
    assert "Who accessed this case" not in response.content.decode()
    assert Event.objects.filter(detail__view="access_log").count() == before


def test_coordinator_of_another_partnership_gets_404(cast, as_user):
    assert as_user(cast.outsider).get(log_url(cast.case)).status_code == 404
    assert as_user(cast.coordinator).get(log_url(cast.other_case)).status_code == 404


def test_access_log_pages_by_50_with_bounded_queries(cast, as_user, django_assert_num_queries):
    for i in range(60):
        actor = (cast.case_manager, cast.police_on_team, cast.ngo_mentor)[i % 3]
        audit_record(action=EventAction.VIEW, actor=actor, case=cast.case, purpose=f"p{i}")
    audit_record(action=EventAction.VIEW, actor=cast.case_manager, case=cast.other_case)
    client = as_user(cast.coordinator)
    with django_assert_num_queries(ACCESS_LOG_QUERIES + SESSION_SAVE):
        first = client.get(log_url(cast.case))
    rows = log_rows(first)
    assert [r[6] for r in rows] == [f"p{i}" for i in range(59, 9, -1)]
    html = first.content.decode()
    assert "Older events" in html
    assert "Newer events" not in html
    last_id = Event.objects.get(purpose="p10").pk
    assert f'href="?before={last_id}"' in html
    # Reading page 1 added an event on top; page 2 neither repeats nor skips.
    with django_assert_num_queries(ACCESS_LOG_QUERIES):
        second = client.get(log_url(cast.case), {"before": last_id})
    assert [r[6] for r in log_rows(second)] == [f"p{i}" for i in range(9, -1, -1)]
    html = second.content.decode()
    assert "Older events" not in html
    first_id = Event.objects.get(purpose="p9").pk
    assert f'href="?after={first_id}"' in html
    back = client.get(log_url(cast.case), {"after": first_id})
    assert [r[6] for r in log_rows(back)] == [f"p{i}" for i in range(59, 9, -1)]
    # Above them: the two readings of the log so far.
    assert "Newer events" in back.content.decode()
    event = Event.objects.filter(detail__view="access_log").order_by("-seq").first()
    assert event.detail == {"view": "access_log", "before": None, "after": first_id}


def test_access_log_ignores_a_bad_page_number(cast, as_user):
    response = as_user(cast.coordinator).get(log_url(cast.case) + "?before=abc&after=-1")
    assert response.status_code == 200
    assert Event.objects.get(detail__view="access_log").detail["before"] is None


# --- The auditor's search ---------------------------------------------------------------


@pytest.mark.parametrize(
    "actor",
    ["coordinator", "case_manager", "police_on_team", "ngo_mentor", "trainer", "outsider"],
)
def test_search_is_for_auditors_only(cast, as_user, actor):
    client = as_user(cast.actors[actor])
    assert client.get(reverse("audit:search")).status_code == 403
    assert client.post(reverse("audit:verify")).status_code == 403
    assert searches() == []


def test_anonymous_user_is_sent_to_sign_in(cast, client):
    response = client.get(reverse("audit:search"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


def test_auditor_sees_the_log_newest_first_and_the_search_is_logged(
    cast, as_user, django_assert_num_queries
):
    as_user(cast.ngo_mentor).get(reverse("cases:case", args=[cast.case.pk]))
    client = as_user(cast.auditor)
    newest = Event.objects.order_by("-seq").first()
    with django_assert_num_queries(SEARCH_QUERIES + SESSION_SAVE):
        response = client.get(reverse("audit:search"))
    assert response.status_code == 200
    rows = search_rows(response)
    assert rows[0][0] == str(newest.seq)
    seqs = [int(r[0]) for r in rows]
    assert seqs == sorted(seqs, reverse=True)
    [search] = searches()
    assert search.actor_id == cast.auditor.pk
    assert search.detail["view"] == "audit_search"
    assert search.detail["filters"] == {}
    assert search.detail["results"] == len(rows)
    assert search.case_id is None


def test_filter_by_user_name_and_action(cast, as_user):
    as_user(cast.ngo_mentor).get(reverse("cases:case", args=[cast.case.pk]))
    as_user(cast.case_manager).get(reverse("cases:case", args=[cast.case.pk]))
    response = as_user(cast.auditor).get(
        reverse("audit:search"), {"actor": "ngo_mentor", "action": "view"}
    )
    rows = search_rows(response)
    assert len(rows) == 1
    # Columns: event, time, user, organisation, role, action, case, ...
    assert rows[0][2:7] == ["ngo_mentor", "Exit Testdam", "Practitioner", "View", str(cast.case.pk)]
    [search] = searches()
    assert search.detail["filters"] == {"actor_username": "ngo_mentor", "action": "view"}


def test_filter_by_case_finds_list_events_naming_it(cast, as_user):
    as_user(cast.case_manager).get(reverse("cases:caseload"))
    audit_record(action=EventAction.VIEW, actor=cast.outsider, case=cast.other_case)
    response = as_user(cast.auditor).get(reverse("audit:search"), {"case": cast.case.pk})
    rows = search_rows(response)
    listed = [e for e in Event.objects.all() if cast.case.pk in e.case_ids]
    expected = {e.seq for e in listed} | set(
        Event.objects.filter(case_id=cast.case.pk).values_list("seq", flat=True)
    )
    expected -= {searches()[0].seq}
    assert len(listed) == 1
    assert sorted(int(r[0]) for r in rows) == sorted(expected)
    assert "List" in [r[5] for r in rows]
    assert "outsider" not in [r[2] for r in rows]
    assert searches()[0].detail["filters"] == {"case": cast.case.pk}


def test_filter_by_organisation_and_outcome(cast, as_user):
    audit_record(action=EventAction.VIEW, actor=cast.police_on_team, case=cast.case)
    audit_record(
        action=EventAction.VIEW, actor=cast.police_off_team, case=cast.case, outcome=Outcome.DENIED
    )
    audit_record(action=EventAction.VIEW, actor=cast.ngo_mentor, outcome=Outcome.DENIED)
    response = as_user(cast.auditor).get(
        reverse("audit:search"), {"organisation": cast.orgs["police"].pk, "outcome": "denied"}
    )
    rows = search_rows(response)
    assert [(r[2], r[-1]) for r in rows] == [("police_off_team", "Denied")]


def test_filter_by_dates(cast, as_user):
    audit_record(action=EventAction.VIEW, actor=cast.ngo_mentor, case=cast.case)
    today = timezone.localdate()
    client = as_user(cast.auditor)
    tomorrow = (today + datetime.timedelta(days=1)).isoformat()
    assert search_rows(client.get(reverse("audit:search"), {"date_from": tomorrow})) == []
    yesterday = (today - datetime.timedelta(days=1)).isoformat()
    assert search_rows(client.get(reverse("audit:search"), {"date_to": yesterday})) == []
    rows = search_rows(
        client.get(
            reverse("audit:search"), {"date_from": today.isoformat(), "date_to": today.isoformat()}
        )
    )
    assert "ngo_mentor" in [r[2] for r in rows]
    assert searches()[-1].detail["filters"] == {
        "date_from": today.isoformat(),
        "date_to": today.isoformat(),
    }


def test_invalid_filters_answer_400_and_read_nothing(cast, as_user):
    response = as_user(cast.auditor).get(
        reverse("audit:search"),
        {"date_from": "2026-02-10", "date_to": "2026-02-01", "action": "nonsense"},
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "There is a problem" in html
    assert "The end date cannot be before the start date." in html
    assert searches() == []


def test_search_pages_newest_first_by_keyset(cast, as_user, django_assert_num_queries):
    for i in range(70):
        audit_record(
            action=EventAction.VIEW, actor=cast.ngo_mentor, case=cast.case, purpose=f"p{i}"
        )
    client = as_user(cast.auditor)
    first = client.get(reverse("audit:search"), {"actor": "ngo_mentor"})
    rows = search_rows(first)
    assert len(rows) == 50
    assert rows[0][8] == "p69"
    last_seq = int(rows[-1][0])
    html = first.content.decode()
    assert f"before={last_seq}" in html
    assert "Newer events" not in html
    with django_assert_num_queries(SEARCH_QUERIES):
        second = client.get(reverse("audit:search"), {"actor": "ngo_mentor", "before": last_seq})
    older = search_rows(second)
    assert [r[8] for r in older] == [f"p{i}" for i in range(19, -1, -1)]
    assert "Older events" not in second.content.decode()
    newer_link = f"after={older[0][0]}"
    assert newer_link in second.content.decode()
    back = client.get(reverse("audit:search"), {"actor": "ngo_mentor", "after": older[0][0]})
    assert [r[0] for r in search_rows(back)] == [r[0] for r in rows]


def test_chain_check_reports_intact_and_is_logged(cast, as_user, django_assert_num_queries):
    audit_record(action=EventAction.VIEW, actor=cast.ngo_mentor, case=cast.case)
    client = as_user(cast.auditor)
    # The check looks for an event stored without its seal, reads the chain in
    # batches of 2,000 events, then its head.
    with django_assert_num_queries(AUDITOR_OVERHEAD + 4 + AUDIT_EVENT + SESSION_SAVE):
        response = client.post(reverse("audit:verify"))
    assert response.status_code == 200
    assert "The audit log is intact." in response.content.decode()
    event = Event.objects.get(detail__view="chain_verify")
    assert event.action == EventAction.VIEW
    assert event.actor_id == cast.auditor.pk
    assert event.detail == {"view": "chain_verify", "intact": True, "problem_seq": None}


def test_chain_check_reports_the_first_problem(cast, as_user, settings):
    audit_record(action=EventAction.VIEW, actor=cast.ngo_mentor, case=cast.case)
    client = as_user(cast.auditor)
    # Events sealed with another key fail the check from the first one on.
    settings.AUDIT_CHAIN_KEY = "a key that did not seal these events"
    response = client.post(reverse("audit:verify"))
    html = response.content.decode()
    assert "The audit log is not intact." in html
    assert "event #1" in html
    event = Event.objects.get(detail__view="chain_verify")
    assert event.detail["intact"] is False
    assert event.detail["problem_seq"] == 1


def test_chain_check_is_a_post(cast, as_user):
    assert as_user(cast.auditor).get(reverse("audit:verify")).status_code == 405
    assert not Event.objects.filter(detail__view="chain_verify").exists()


def test_search_page_offers_the_check_as_a_form(cast, as_user):
    html = as_user(cast.auditor).get(reverse("audit:search")).content.decode()
    assert f'action="{reverse("audit:verify")}"' in html
    assert 'method="post"' in html
