"""The release-planning API: checklist, item changes with If-Match, release board."""

from __future__ import annotations

import datetime
import json
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from prepare.audit.models import Event, EventAction
from prepare.plans.models import ChecklistItem, ItemStatus
from tests.api.conftest import API, assert_no_leak, expect, token_client
from tests.cast import Cast, sentinel
from tests.plans.support import plant_checklist, set_release
from tests.plans.test_views import bulk_cases


def patch(client: Any, url: str, data: dict[str, Any], **headers: str) -> Any:
    return client.patch(url, json.dumps(data), content_type="application/json", headers=headers)


def post(client: Any, url: str, data: dict[str, Any]) -> Any:
    return client.post(url, json.dumps(data), content_type="application/json")


ACTORS = ["coordinator", "case_manager", "police_on_team", "police_off_team", "ngo_mentor"]


@pytest.mark.parametrize("actor", [*ACTORS, "auditor", "outsider"])
def test_the_checklist_shows_the_categories_the_caller_may_read(cast: Cast, actor: str) -> None:
    plant_checklist(cast.case, cast.coordinator)
    user = cast.actors[actor]
    e = expect(cast, user)
    response = token_client(user).get(f"{API}/cases/{cast.case.pk}/checklist/")
    if not e.reaches:
        assert response.status_code == 404
        return
    assert response.status_code == 200
    body = response.content.decode()
    assert_no_leak(body, e.read)
    data = response.json()
    assert sorted(i["category"] for i in data["items"]) == sorted(e.read)
    assert all(i["title"] == sentinel(i["category"]) for i in data["items"])
    assert (data["expected_release"] is not None) is ("justice" in e.read)
    event = Event.objects.filter(action=EventAction.VIEW).latest("seq")
    assert event.case_id == cast.case.pk and event.detail["view"] == "api_checklist"


def test_start_then_add(cast: Cast) -> None:
    client = token_client(cast.case_manager)
    url = f"{API}/cases/{cast.case.pk}/checklist/"
    refused = post(client, url, {"start": True})
    assert refused.status_code == 400  # no expected release yet
    assert not ChecklistItem.objects.exists()
    set_release(cast.case, cast.case_manager, 120)
    started = post(client, url, {"start": True})
    assert started.status_code == 201
    data = started.json()
    assert len(data["created"]) == 12 and data["started"] is True
    assert data["progress"]["total"] == 12
    again = post(client, url, {"start": True})
    assert again.status_code == 400
    added = post(
        client,
        url,
        {"title": "Bus pass", "category": "social", "offset_days": -2, "owner_organisation": None},
    )
    assert added.status_code == 201
    item = ChecklistItem.objects.get(pk=added.json()["created"][0])
    assert (item.title, item.offset_days) == ("Bus pass", -2)
    assert item.due_on == timezone.localdate() + datetime.timedelta(days=118)
    # Fields a client may not set are refused.
    assert (
        post(client, url, {"title": "X", "category": "social", "status": "done"}).status_code == 400
    )
    assert post(client, url, {"start": True, "title": "X"}).status_code == 400


def test_start_and_add_refused_by_the_policy(cast: Cast) -> None:
    set_release(cast.case, cast.coordinator)
    url = f"{API}/cases/{cast.case.pk}/checklist/"
    assert post(token_client(cast.police_on_team), url, {"start": True}).status_code == 403
    assert post(token_client(cast.police_off_team), url, {"start": True}).status_code == 404
    plant_checklist(cast.case, cast.coordinator)
    ngo = token_client(cast.ngo_mentor)
    day = (timezone.localdate() + datetime.timedelta(days=3)).isoformat()
    assert post(ngo, url, {"title": "X", "category": "social", "due_on": day}).status_code == 403
    assert (
        post(ngo, url, {"title": "X", "category": "interventions", "due_on": day}).status_code
        == 201
    )
    assert ChecklistItem.objects.filter(title="X").count() == 1


def test_patch_with_if_match(cast: Cast) -> None:
    items = plant_checklist(cast.case, cast.coordinator)
    item = items["justice"]
    url = f"{API}/checklist-items/{item.pk}/"
    client = token_client(cast.case_manager)

    assert patch(client, url, {"action": "complete"}).status_code == 428
    assert patch(client, url, {"action": "complete"}, **{"If-Match": '"5"'}).status_code == 412
    assert patch(client, url, {"action": "complete", "version": 5}).status_code == 409
    assert patch(client, url, {"action": "complete"}, **{"If-Match": "*"}).status_code == 428
    item.refresh_from_db()
    assert (item.status, item.version) == (ItemStatus.OPEN, 1)

    done = patch(client, url, {"action": "complete", "note": "Read out"}, **{"If-Match": '"1"'})
    assert done.status_code == 200
    assert done["ETag"] == '"2"'
    assert (done.json()["status"], done.json()["note"]) == ("done", "Read out")
    reopened = patch(client, url, {"action": "reopen"}, **{"If-Match": done["ETag"]})
    assert reopened.status_code == 200 and reopened.json()["status"] == "open"
    no_reason = patch(client, url, {"action": "not_applicable"}, **{"If-Match": '"3"'})
    assert no_reason.status_code == 400
    assigned = patch(
        client,
        url,
        {
            "action": "assign",
            "owner_organisation": cast.orgs["probation"].pk,
            "assignee": cast.case_manager.pk,
        },
        **{"If-Match": '"3"'},
    )
    assert assigned.status_code == 200
    item.refresh_from_db()
    assert (item.owner_organisation_id, item.assignee_id, item.version) == (
        cast.orgs["probation"].pk,
        cast.case_manager.pk,
        4,
    )
    events = Event.objects.filter(object_id=str(item.pk), action=EventAction.UPDATE)
    assert [e.detail["op"] for e in events.order_by("seq")] == ["complete", "reopen", "assign"]


def test_patch_refused_by_category(cast: Cast) -> None:
    items = plant_checklist(cast.case, cast.coordinator)
    police = token_client(cast.police_on_team)
    body = {"action": "complete"}
    justice = f"{API}/checklist-items/{items['justice'].pk}/"
    social = f"{API}/checklist-items/{items['social'].pk}/"
    assert patch(police, justice, body, **{"If-Match": '"1"'}).status_code == 403
    assert patch(police, social, body, **{"If-Match": '"1"'}).status_code == 404
    assert patch(police, f"{API}/checklist-items/987654/", body).status_code == 404
    assert not ChecklistItem.objects.exclude(status=ItemStatus.OPEN).exists()


def test_release_board(cast: Cast) -> None:
    bulk_cases(cast, [10, 60, 120])
    client = token_client(cast.case_manager)
    for days, count in ((30, 1), (90, 2), (180, 3)):
        response = client.get(f"{API}/release-board/", {"days": days})
        assert response.status_code == 200
        data = response.json()
        assert data["count"] == count
        assert [r["checklist"]["overdue"] for r in data["results"]] == [1] * count
        assert data["results"][0]["person"] == {"given_name": "Given10", "family_name": "Family10"}
    assert client.get(f"{API}/release-board/", {"days": 7}).status_code == 400
    event = Event.objects.filter(action=EventAction.LIST).latest("seq")
    assert event.detail["view"] == "api_release_board" and len(event.case_ids) == 3
    ngo = token_client(cast.ngo_mentor).get(f"{API}/release-board/").json()
    assert ngo["count"] == 0


def test_release_board_costs_the_same_at_5_and_50_cases(cast: Cast) -> None:
    client = token_client(cast.case_manager)
    bulk_cases(cast, [10 + n for n in range(5)])
    client.get(f"{API}/release-board/")
    with CaptureQueriesContext(connection) as small:
        assert client.get(f"{API}/release-board/").status_code == 200
    bulk_cases(cast, [10 + n for n in range(45)], start=100)
    with CaptureQueriesContext(connection) as large:
        response = client.get(f"{API}/release-board/")
    assert response.json()["count"] == 50
    assert len(small.captured_queries) == len(large.captured_queries)
