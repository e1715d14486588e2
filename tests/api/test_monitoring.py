"""The monitoring API: contacts, licence conditions and breaches, signals."""

from __future__ import annotations

import datetime
import json
from typing import Any

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from prepare.accounts.services import api_token_create
from prepare.audit.models import Event
from prepare.monitoring.models import Breach, Contact, LicenceCondition, Signal, SignalAlert
from tests.cast import ALL, Cast
from tests.monitoring.support import (
    add_condition,
    add_contacts,
    contact_sentinel,
    name_for_escalation,
)
from tests.oracle import CAST_ACTORS as ACTORS
from tests.oracle import access

pytestmark = pytest.mark.django_db

API = "/api/v1"


def token_client(user: Any) -> Client:
    _, raw = api_token_create(actor=user, name="monitoring-test")
    return Client(headers={"Authorization": f"Bearer {raw}"})


def send(client: Client, method: str, url: str, data: Any = None, **headers: str) -> Any:
    return client.generic(
        method,
        url,
        data=json.dumps(data or {}),
        content_type="application/json",
        headers=headers,
    )


@pytest.mark.parametrize("actor", ACTORS)
def test_contacts_are_listed_only_in_readable_categories(cast: Cast, actor: str) -> None:
    contacts = add_contacts(cast)
    user = cast.actors[actor]
    a = access(cast, user, cast.case)
    response = token_client(user).get(f"{API}/cases/{cast.case.pk}/contacts/")
    body = response.content.decode()
    if not a.sees:
        assert response.status_code == 404
        assert [c for c in ALL if contact_sentinel(c) in body] == []
        return
    assert response.status_code == 200
    results = response.json()["results"]
    assert {r["category"] for r in results} == set(a.read)
    assert {c for c in ALL if contact_sentinel(c) in body} == set(a.read)
    event = Event.objects.get(request_id=response["X-Request-ID"], action="list")
    assert event.case_id == cast.case.pk
    assert sorted(event.detail["contacts"]) == sorted(contacts[c].pk for c in a.read)


def test_recording_and_changing_a_contact(cast: Cast) -> None:
    client = token_client(cast.case_manager)
    when = (timezone.now() - datetime.timedelta(hours=3)).isoformat()
    created = send(
        client,
        "POST",
        f"{API}/cases/{cast.case.pk}/contacts/",
        {"category": "risk", "kind": "call", "occurred_at": when, "summary": "First"},
    )
    assert created.status_code == 201, created.content
    assert created["ETag"] == '"1"'
    contact_id = created.json()["id"]
    url = f"{API}/contacts/{contact_id}/"
    assert send(client, "PATCH", url, {"summary": "No version"}).status_code == 428
    changed = send(client, "PATCH", url, {"summary": "Second"}, **{"If-Match": '"1"'})
    assert changed.status_code == 200 and changed["ETag"] == '"2"'
    assert (
        send(client, "PATCH", url, {"summary": "Stale"}, **{"If-Match": '"1"'}).status_code == 412
    )
    assert send(client, "PATCH", url, {"summary": "Stale", "version": 1}).status_code == 409
    contact = Contact.objects.get(pk=contact_id)
    assert (contact.summary, contact.version) == ("Second", 2)
    # The category cannot be changed.
    refused = send(client, "PATCH", url, {"category": "social", "version": 2})
    assert refused.status_code == 400
    contact.refresh_from_db()
    assert contact.category == "risk"


def test_contact_writes_need_the_category(cast: Cast) -> None:
    when = timezone.now().isoformat()
    payload = {"category": "social", "kind": "call", "occurred_at": when, "summary": "x"}
    url = f"{API}/cases/{cast.case.pk}/contacts/"
    assert send(token_client(cast.ngo_mentor), "POST", url, payload).status_code == 403
    assert send(token_client(cast.police_off_team), "POST", url, payload).status_code == 404
    assert not Contact.objects.exists()
    contact = add_contacts(cast)["social"]
    patch = f"{API}/contacts/{contact.pk}/"
    headers = {"If-Match": '"1"'}
    assert (
        send(token_client(cast.ngo_mentor), "PATCH", patch, {"summary": "y"}, **headers).status_code
        == 403
    )
    assert (
        send(
            token_client(cast.police_on_team), "PATCH", patch, {"summary": "y"}, **headers
        ).status_code
        == 404
    )
    contact.refresh_from_db()
    assert contact.version == 1


def test_conditions_and_breaches(cast: Cast) -> None:
    manager = token_client(cast.case_manager)
    url = f"{API}/cases/{cast.case.pk}/licence-conditions/"
    start = (timezone.localdate() - datetime.timedelta(days=5)).isoformat()
    created = send(manager, "POST", url, {"text": "Curfew", "starts_on": start})
    assert created.status_code == 201, created.content
    condition_id = created.json()["id"]
    assert (
        send(
            token_client(cast.police_on_team), "POST", url, {"text": "x", "starts_on": start}
        ).status_code
        == 403
    )
    breaches = f"{API}/licence-conditions/{condition_id}/breaches/"
    today = timezone.localdate().isoformat()
    payload = {"occurred_on": today, "description": "Out at midnight"}
    assert send(token_client(cast.police_on_team), "POST", breaches, payload).status_code == 403
    assert send(token_client(cast.ngo_mentor), "POST", breaches, payload).status_code == 404
    recorded = send(manager, "POST", breaches, payload)
    assert recorded.status_code == 201, recorded.content
    assert Breach.objects.get().condition_id == condition_id
    listed = token_client(cast.police_on_team).get(url)
    assert listed.status_code == 200
    [row] = listed.json()["results"]
    assert row["text"] == "Curfew" and [b["description"] for b in row["breaches"]] == [
        "Out at midnight"
    ]
    # The NGO does not read justice: an empty list.
    assert token_client(cast.ngo_mentor).get(url).json()["results"] == []
    bad = send(manager, "POST", breaches, {"occurred_on": "2000-01-01", "description": "x"})
    assert bad.status_code == 400 and "occurred_on" in bad.json()


def test_a_high_signal_escalates_and_is_acknowledged(
    cast: Cast, django_capture_on_commit_callbacks
) -> None:
    name_for_escalation(cast, "police")
    url = f"{API}/cases/{cast.case.pk}/signals/"
    with django_capture_on_commit_callbacks(execute=True):
        raised = send(
            token_client(cast.case_manager),
            "POST",
            url,
            {"severity": "high", "description": "API concern 2468"},
        )
    assert raised.status_code == 201, raised.content
    data = raised.json()
    assert (data["category"], data["escalated"], data["status"]) == ("risk", True, "open")
    alerted = set(SignalAlert.objects.values_list("user__username", flat=True))
    assert alerted == {"coordinator", "police_on_team"}
    assert len(mail.outbox) == 2
    assert all("API concern" not in m.subject + m.body for m in mail.outbox)
    ack = f"{API}/signals/{data['id']}/acknowledge/"
    # The NGO cannot read risk: 404. Without a version: 428.
    assert send(token_client(cast.ngo_mentor), "POST", ack, {"note": "x"}).status_code == 404
    police = token_client(cast.police_on_team)
    assert send(police, "POST", ack, {"note": "Seen"}).status_code == 428
    done = send(police, "POST", ack, {"note": "Seen"}, **{"If-Match": '"1"'})
    assert done.status_code == 200, done.content
    assert done.json()["status"] == "acknowledged" and done["ETag"] == '"2"'
    assert not SignalAlert.objects.filter(closed_at__isnull=True).exists()
    coordinator = token_client(cast.coordinator)
    assert (
        send(coordinator, "POST", ack, {"note": "Me too"}, **{"If-Match": '"1"'}).status_code == 412
    )
    assert send(coordinator, "POST", ack, {"note": "Me too", "version": 1}).status_code == 409
    signal = Signal.objects.get()
    assert (signal.acknowledged_by_id, signal.acknowledgement_note) == (
        cast.police_on_team.pk,
        "Seen",
    )


@pytest.mark.parametrize("actor", ACTORS)
def test_signals_are_listed_only_in_readable_categories(cast: Cast, actor: str) -> None:
    for category in ("risk", "intelligence", "social"):
        Signal.objects.create(
            case=cast.case,
            category=category,
            severity="low",
            description=contact_sentinel(category),
            raised_by=cast.coordinator,
            created_by=cast.coordinator,
            updated_by=cast.coordinator,
        )
    user = cast.actors[actor]
    a = access(cast, user, cast.case)
    response = token_client(user).get(f"{API}/cases/{cast.case.pk}/signals/")
    if not a.sees:
        assert response.status_code == 404
        return
    assert {r["category"] for r in response.json()["results"]} == {
        "risk",
        "intelligence",
        "social",
    } & a.read


def test_signal_writes_need_the_category(cast: Cast) -> None:
    url = f"{API}/cases/{cast.case.pk}/signals/"
    payload = {"severity": "urgent", "category": "health", "description": "x"}
    assert send(token_client(cast.case_manager), "POST", url, payload).status_code == 403
    assert send(token_client(cast.outsider), "POST", url, payload).status_code == 404
    assert not Signal.objects.exists()


# The request's savepoint (2), the token (1; its use was recorded by the request
# before, within the minute), grants (3), the
# case (1), the page and its capped count (2), the audit event (6); the
# conditions add their breaches (1).
@pytest.mark.parametrize(
    ("path", "queries"),
    [("contacts", 13), ("licence-conditions", 14), ("signals", 13)],
)
def test_lists_have_a_fixed_number_of_queries(
    cast: Cast, django_assert_num_queries, path: str, queries: int
) -> None:
    client = token_client(cast.coordinator)
    url = f"{API}/cases/{cast.case.pk}/{path}/"

    def grow() -> None:
        add_contacts(cast)
        condition = add_condition(cast)
        Breach.objects.create(
            condition=condition,
            case=cast.case,
            occurred_on=timezone.localdate(),
            description="x",
            reported_by=cast.case_manager,
            created_by=cast.case_manager,
            updated_by=cast.case_manager,
        )
        Signal.objects.create(
            case=cast.case,
            severity="low",
            description="x",
            raised_by=cast.coordinator,
            created_by=cast.coordinator,
            updated_by=cast.coordinator,
        )

    client.get(url)  # the token's first use is recorded; then within the minute, not again
    grow()
    with django_assert_num_queries(queries):
        assert client.get(url).status_code == 200
    grow()
    grow()
    with django_assert_num_queries(queries):
        assert client.get(url).status_code == 200
    assert LicenceCondition.objects.count() == 3
