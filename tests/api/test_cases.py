"""The caseload and case endpoints: rows, filters, pagination, audit, query counts."""

from __future__ import annotations

import datetime
import json

import pytest
from django.test import Client
from django.utils import timezone

from prepare.access.grants import case_grants_rebuild
from prepare.audit.chain import verify
from prepare.audit.models import Event, EventAction
from prepare.cases.models import Case, CaseStatus
from tests.api.conftest import API, token_client
from tests.cast import Cast
from tests.factories import PersonFactory


def _add_cases(cast: Cast, n: int, *, status: str = CaseStatus.REFERRED) -> list[Case]:
    """``n`` more cases of the cast's partnership, older than K, oldest last."""
    start = cast.case.updated_at - datetime.timedelta(days=1)
    cases = []
    for i in range(n):
        case = Case.objects.create(
            person=PersonFactory(),
            partnership=cast.partnership,
            reference=f"TST-2026-{i + 100:04d}",
            status=status,
            updated_at=start - datetime.timedelta(minutes=i),
        )
        case_grants_rebuild(case)
        cases.append(case)
    return cases


def _list_events() -> list[Event]:
    return list(Event.objects.filter(action=EventAction.LIST).order_by("seq"))


def test_list_rows_and_identity(cast):
    response = token_client(cast.coordinator).get(f"{API}/cases/")
    row = response.json()["results"][0]
    assert row == {
        "id": cast.case.pk,
        "reference": "TST-2026-0001",
        "status": "pre_release",
        "partnership": cast.partnership.pk,
        "opened_on": cast.case.opened_on.isoformat(),
        "updated_at": row["updated_at"],
        "version": 1,
        "person": {"given_name": "Sentinelia", "family_name": "Identitas"},
    }
    row = token_client(cast.ngo_mentor).get(f"{API}/cases/").json()["results"][0]
    assert row["id"] == cast.case.pk
    assert row["person"] is None


def test_list_is_one_audit_event_naming_the_cases_returned(cast):
    extra = _add_cases(cast, 3)
    response = token_client(cast.coordinator).get(f"{API}/cases/")
    returned = [row["id"] for row in response.json()["results"]]
    assert returned == [cast.case.pk] + [c.pk for c in extra]
    events = _list_events()
    assert len(events) == 1
    event = events[0]
    assert event.actor_id == cast.coordinator.pk
    assert event.organisation_id == cast.coordinator.organisation_id
    assert sorted(event.case_ids) == sorted(returned)
    assert event.category == "identity"
    assert event.detail["view"] == "api.cases"
    assert "Sentinelia" not in json.dumps(event.detail)
    assert verify() is None


def test_list_event_without_identity_names_no_identity(cast):
    token_client(cast.ngo_mentor).get(f"{API}/cases/")
    event = _list_events()[0]
    assert event.case_ids == [cast.case.pk]
    assert event.category == ""


def test_ordered_by_last_activity(cast):
    older = _add_cases(cast, 3)
    client = token_client(cast.case_manager)
    # The probation office is teamed on the new cases too.
    for case in older:
        case.team.create(organisation=cast.orgs["probation"], purpose="Supervision")
        case_grants_rebuild(case)
    ids = [row["id"] for row in client.get(f"{API}/cases/").json()["results"]]
    assert ids == [cast.case.pk] + [c.pk for c in older]
    oldest = older[-1]
    response = client.post(
        f"{API}/cases/{oldest.pk}/notes/",
        {"category": "social", "kind": "fact", "text": "Found a flat"},
        content_type="application/json",
    )
    assert response.status_code == 201
    ids = [row["id"] for row in client.get(f"{API}/cases/").json()["results"]]
    assert ids[0] == oldest.pk


def test_filters(cast):
    _add_cases(cast, 2, status=CaseStatus.TRIAGE)
    client = token_client(cast.coordinator)
    pre = client.get(f"{API}/cases/", {"status": "pre_release"}).json()
    assert [row["id"] for row in pre["results"]] == [cast.case.pk]
    triage = client.get(f"{API}/cases/", {"status": "triage"}).json()
    assert pre["count"] == 1
    assert triage["count"] == 2
    assert {row["status"] for row in triage["results"]} == {"triage"}
    own = client.get(f"{API}/cases/", {"partnership": cast.partnership.pk}).json()
    assert own["count"] == 3
    other = client.get(f"{API}/cases/", {"partnership": cast.other_partnership.pk}).json()
    assert other["results"] == []
    unfiltered = client.get(f"{API}/cases/", {"status": "", "partnership": ""}).json()
    assert unfiltered["count"] == 3


@pytest.mark.parametrize(
    "query",
    [
        {"status": "open"},
        {"partnership": "x"},
        {"partnership": "0"},
        {"partnership": str(2**63)},
        {"page_size": "0"},
        {"page_size": "101"},
        {"page_size": "ten"},
    ],
)
def test_bad_query_is_400(cast, query):
    response = token_client(cast.coordinator).get(f"{API}/cases/", query)
    assert response.status_code == 400
    assert set(response.json()) <= {"status", "partnership", "page_size"}
    assert not _list_events()


def test_pagination(cast):
    _add_cases(cast, 60)
    client = token_client(cast.coordinator)
    first = client.get(f"{API}/cases/").json()
    assert (first["count"], first["count_capped"], len(first["results"])) == (61, False, 50)
    assert first["previous"] is None
    assert first["next"].endswith("/api/v1/cases/?page=2")
    second = client.get(first["next"]).json()
    assert len(second["results"]) == 11
    assert second["next"] is None
    assert second["previous"].endswith("/api/v1/cases/")
    seen = [r["id"] for r in first["results"] + second["results"]]
    assert len(set(seen)) == 61
    # The event of each page names that page's cases only.
    events = _list_events()
    assert [len(e.case_ids) for e in events] == [50, 11]
    assert sorted(events[1].case_ids) == sorted(r["id"] for r in second["results"])
    assert events[1].detail["page"] == 2
    small = client.get(f"{API}/cases/", {"page_size": 10, "page": 3}).json()
    assert [r["id"] for r in small["results"]] == seen[20:30]
    assert client.get(f"{API}/cases/", {"page": 3}).status_code == 404
    assert client.get(f"{API}/cases/", {"page": "zero"}).status_code == 404
    assert client.get(f"{API}/cases/", {"page": "99999999999"}).status_code == 404


def test_count_is_capped(cast, settings, monkeypatch):
    monkeypatch.setattr("prepare.api.pagination.COUNT_CAP", 5)
    _add_cases(cast, 6)
    body = token_client(cast.coordinator).get(f"{API}/cases/").json()
    assert (body["count"], body["count_capped"], len(body["results"])) == (5, True, 7)


@pytest.mark.parametrize("n", [10, 60])
def test_list_query_count_does_not_grow(cast, n, django_assert_num_queries):
    _add_cases(cast, n)
    client = token_client(cast.coordinator)
    # Token (2), grants (1), page ids, count, cases, audit event (stored, then
    # sealed: check, head, seal, head update), the request's transaction (2).
    with django_assert_num_queries(14):
        response = client.get(f"{API}/cases/")
    assert len(response.json()["results"]) == min(n + 1, 50)


def test_detail_query_count(cast, django_assert_num_queries):
    client = token_client(cast.coordinator)
    with django_assert_num_queries(13):
        response = client.get(f"{API}/cases/{cast.case.pk}/")
    assert response.status_code == 200


def test_detail_is_a_view_event(cast):
    token_client(cast.police_on_team).get(f"{API}/cases/{cast.case.pk}/")
    event = Event.objects.get(action=EventAction.VIEW)
    assert (event.case_id, event.actor_id, event.object_id) == (
        cast.case.pk,
        cast.police_on_team.pk,
        str(cast.case.pk),
    )
    assert event.category == "identity"
    assert event.request_id


def test_invisible_case_writes_no_view_event_and_no_oracle(cast):
    client = token_client(cast.police_off_team)
    missing = client.get(f"{API}/cases/999999/")
    hidden = client.get(f"{API}/cases/{cast.case.pk}/")
    assert missing.status_code == hidden.status_code == 404
    assert missing.json() == hidden.json()
    assert not Event.objects.filter(action=EventAction.VIEW).exists()


def test_case_read_is_refused_once_the_team_entry_ends(cast):
    client = token_client(cast.ngo_mentor)
    assert client.get(f"{API}/cases/{cast.case.pk}/").status_code == 200
    member = cast.case.team.get(organisation=cast.orgs["ngo"])
    member.ends_on = timezone.localdate() - datetime.timedelta(days=1)
    member.save()
    case_grants_rebuild(cast.case)
    assert client.get(f"{API}/cases/{cast.case.pk}/").status_code == 404
    assert client.get(f"{API}/cases/").json()["results"] == []


def test_anonymous_list_is_401_and_unaudited(cast):
    assert Client().get(f"{API}/cases/").status_code == 401
    assert not _list_events()
