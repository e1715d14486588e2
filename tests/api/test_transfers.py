"""API v1: transfers (propose, inbox and outbox, package, accept, decline, withdraw)."""

from __future__ import annotations

import datetime
import json

import pytest
import time_machine
from django.utils import timezone

from prepare.access.categories import Category
from prepare.audit.chain import verify
from prepare.audit.models import Event, EventAction
from prepare.cases.models import Case, CaseTeamMember, Transfer, TransferGrace, TransferStatus
from tests.api.conftest import API, assert_no_leak
from tests.cases.test_transfers import RECEIVER, SUMMARY, narrow_receiver, propose
from tests.cast import sentinel


def post(client, url, data=None):
    return client.post(url, json.dumps(data or {}), content_type="application/json")


def proposal(cast, **change):
    return {
        "to_partnership": cast.other_partnership.pk,
        "handover_summary": SUMMARY,
        "summary_category": Category.SOCIAL,
        **change,
    }


# --- Propose ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("actor", "status"),
    [
        ("coordinator", 201),
        ("case_manager", 403),
        ("ngo_mentor", 403),
        ("police_off_team", 404),
        ("auditor", 404),
        ("outsider", 404),
    ],
)
def test_only_the_coordinator_proposes(cast, api, actor, status):
    response = post(
        api(cast.actors[actor]), f"{API}/cases/{cast.case.pk}/transfers/", proposal(cast)
    )

    assert response.status_code == status, response.content
    assert Transfer.objects.exists() is (status == 201)
    if status == 201:
        body = response.json()
        assert (body["direction"], body["status"], body["case"]) == (
            "out",
            "proposed",
            cast.case.pk,
        )
        assert body["to_partnership"]["id"] == cast.other_partnership.pk
        assert body["recipient_organisation"]["id"] == cast.orgs["elsewhere"].pk
        # The sender sees what it hands over (the default: what both agreements
        # share, never intelligence), without numbers.
        assert body["categories"] == [
            {"category": c, "records": None, "readable": False}
            for c in Category.values
            if c != Category.INTELLIGENCE
        ]
        assert body["records_kept"] is None
        (event,) = Event.objects.filter(action=EventAction.TRANSFER)
        assert event.detail["sending_legal_basis"] == cast.agreement.legal_basis


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"to_partnership": "own"}, "to_partnership"),
        ({"to_partnership": 987_654}, "to_partnership"),
        ({"handover_summary": ""}, "handover_summary"),
        ({"summary_category": "gossip"}, "summary_category"),
        ({"status": "accepted"}, "status"),  # not settable
        ({"from_partnership": 1}, "from_partnership"),
        ({"categories": []}, "categories"),  # an empty choice
        ({"categories": ["gossip"]}, "categories"),
        ({"categories": "justice"}, "categories"),  # not a list
    ],
)
def test_a_bad_proposal_answers_400(cast, api, change, field):
    if change.get("to_partnership") == "own":
        change = {"to_partnership": cast.partnership.pk}
    response = post(
        api(cast.coordinator), f"{API}/cases/{cast.case.pk}/transfers/", proposal(cast, **change)
    )

    assert response.status_code == 400
    assert field in response.json()
    assert not Transfer.objects.exists()


def test_the_proposer_chooses_the_categories_handed_over(cast, api):
    narrow_receiver(cast)
    client = api(cast.coordinator)

    response = post(
        client,
        f"{API}/cases/{cast.case.pk}/transfers/",
        proposal(cast, categories=[Category.SOCIAL, Category.INTELLIGENCE, Category.SOCIAL]),
    )

    assert response.status_code == 201, response.content
    (transfer,) = Transfer.objects.all()
    assert transfer.categories == [Category.SOCIAL, Category.INTELLIGENCE]
    assert [c["category"] for c in response.json()["categories"]] == transfer.categories
    (event,) = Event.objects.filter(action=EventAction.TRANSFER)
    assert event.detail["categories_handed_over"] == transfer.categories
    # The cast holds a note and a document per category.
    assert event.detail["records_handed_over"] == {"social": 2, "intelligence": 2}
    assert event.detail["records_kept"] == 2 * (len(Category.values) - 2)
    # The receiver's package: these two with their numbers, and the rest as a total.
    body = api(cast.outsider).get(f"{API}/transfers/{transfer.pk}/").json()
    assert body["categories"] == [
        {"category": "social", "records": 2, "readable": True},
        {"category": "intelligence", "records": 2, "readable": False},
    ]
    assert body["records_kept"] == 2 * (len(Category.values) - 2)
    assert_no_leak(json.dumps(body), frozenset({"identity", "social"}))


def test_after_acceptance_the_api_serves_no_record_kept_by_the_sender(cast, api):
    transfer = transfer_services_propose(cast, [Category.JUSTICE])
    assert post(api(cast.outsider), f"{API}/transfers/{transfer.pk}/accept/").status_code == 200
    client = api(cast.outsider)

    for url in (
        f"{API}/cases/{cast.case.pk}/",
        f"{API}/cases/{cast.case.pk}/notes/",
        f"{API}/cases/{cast.case.pk}/timeline/",
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        assert_no_leak(response.content.decode(), frozenset({"identity", "justice"}))
    notes = client.get(f"{API}/cases/{cast.case.pk}/notes/").json()["results"]
    assert [n["category"] for n in notes] == [Category.JUSTICE]
    for category, note in cast.notes.items():
        status = client.get(f"{API}/cases/{cast.case.pk}/notes/{note.pk}/").status_code
        assert status == (200 if category == Category.JUSTICE else 404), category


def transfer_services_propose(cast, categories):
    from prepare.cases.transfer import services as transfer_services

    return transfer_services.transfer_propose(
        actor=cast.coordinator,
        case_id=cast.case.pk,
        to_partnership_id=cast.other_partnership.pk,
        handover_summary=SUMMARY,
        summary_category=Category.SOCIAL,
        categories=categories,
    )


def test_a_second_open_proposal_answers_400(cast, api):
    client = api(cast.coordinator)
    assert post(client, f"{API}/cases/{cast.case.pk}/transfers/", proposal(cast)).status_code == 201
    again = post(client, f"{API}/cases/{cast.case.pk}/transfers/", proposal(cast))
    assert again.status_code == 400
    assert Transfer.objects.count() == 1


# --- Reading ---------------------------------------------------------------------


def test_the_receiver_gets_the_package_and_nothing_more(cast, api):
    narrow_receiver(cast)
    transfer = propose(cast)
    client = api(cast.outsider)

    response = client.get(f"{API}/transfers/{transfer.pk}/")

    assert response.status_code == 200
    body = response.json()
    assert body["direction"] == "in" and body["may_decide"] is True
    assert body["handover_summary"] == SUMMARY
    assert body["person"]["family_name"] == "Identitas"
    # Handed over by default: what both agreements share (the receiver's
    # narrowed grid), each with its number of records (the cast holds a note
    # and a document per category); the rest stays behind.
    assert body["categories"] == [
        {"category": c, "records": 2, "readable": True} for c in Category.values if c in RECEIVER
    ]
    assert body["records_kept"] == 2 * (len(Category.values) - len(RECEIVER))
    assert_no_leak(response.content.decode(), frozenset({"identity"}))
    event = Event.objects.filter(actor_id=cast.outsider.pk).latest("seq")
    assert (event.action, event.case_id, event.detail["view"]) == (
        EventAction.VIEW,
        cast.case.pk,
        "api.transfer",
    )
    # The case itself stays out of reach until acceptance.
    assert client.get(f"{API}/cases/{cast.case.pk}/").status_code == 404
    assert client.get(f"{API}/cases/{cast.case.pk}/notes/").status_code == 404


def test_no_summary_or_identity_without_their_categories(cast, api):
    narrow_receiver(cast, frozenset({Category.JUSTICE}))
    transfer = propose(cast, category=Category.HEALTH)

    body = api(cast.outsider).get(f"{API}/transfers/{transfer.pk}/").json()

    assert (body["handover_summary"], body["person"]) == (None, None)
    assert body["categories"] == [{"category": "justice", "records": 2, "readable": True}]
    assert body["records_kept"] == 2 * (len(Category.values) - 1)
    assert SUMMARY not in json.dumps(body)


@pytest.mark.parametrize(
    "actor", ["case_manager", "police_on_team", "police_off_team", "ngo_mentor", "auditor"]
)
def test_nobody_else_learns_of_the_transfer(cast, api, actor):
    transfer = propose(cast)
    client = api(cast.actors[actor])

    assert client.get(f"{API}/transfers/{transfer.pk}/").status_code == 404
    listed = client.get(f"{API}/transfers/")
    assert listed.status_code == 200
    assert listed.json()["results"] == []
    for step in ("accept", "decline", "withdraw"):
        response = post(client, f"{API}/transfers/{transfer.pk}/{step}/", {"reason": "x"})
        assert response.status_code == 404, step
    transfer.refresh_from_db()
    assert transfer.status == TransferStatus.PROPOSED


def test_inbox_and_outbox(cast, api):
    narrow_receiver(cast)
    transfer = propose(cast)

    inbox = api(cast.outsider).get(f"{API}/transfers/", {"direction": "in"}).json()
    outbox = api(cast.coordinator).get(f"{API}/transfers/").json()
    none_out = api(cast.outsider).get(f"{API}/transfers/", {"direction": "out"}).json()

    assert [(r["id"], r["direction"]) for r in inbox["results"]] == [(transfer.pk, "in")]
    assert inbox["results"][0]["handover_summary"] == SUMMARY
    assert [(r["id"], r["direction"], r["may_withdraw"]) for r in outbox["results"]] == [
        (transfer.pk, "out", True)
    ]
    assert none_out["results"] == []
    event = (
        Event.objects.filter(actor_id=cast.outsider.pk, action=EventAction.LIST)
        .order_by("seq")
        .first()
    )
    assert event is not None
    assert event.case_ids == [cast.case.pk]
    assert event.detail["view"] == "api.transfers"


@pytest.mark.parametrize("count", [1, 5])
def test_the_list_costs_the_same_for_any_number_of_transfers(
    cast, api, django_assert_num_queries, count
):
    from tests.cases.test_transfers import _more_transfers

    narrow_receiver(cast)
    _more_transfers(cast, count)
    client = api(cast.outsider)
    client.get(f"{API}/transfers/")  # the token's first use

    from prepare.cases.transfer.selectors import record_models

    # token (1: its use was recorded within the minute);
    # grants (1); the page, the capped count;
    # persons; one count per kind of record; the audit event (stored, then
    # sealed: check, head, seal, head update); the request's transaction (2).
    with django_assert_num_queries(13 + len(record_models())):
        response = client.get(f"{API}/transfers/")

    assert len(response.json()["results"]) == count


# --- Deciding ----------------------------------------------------------------------


def test_accepting_moves_the_case_and_the_old_team_reads_only_until_the_grace_ends(cast, api):
    narrow_receiver(cast)
    transfer = propose(cast)
    outsider = api(cast.outsider)

    response = post(outsider, f"{API}/transfers/{transfer.pk}/accept/")

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "accepted"
    case = Case.objects.get(pk=cast.case.pk)
    assert case.partnership_id == cast.other_partnership.pk
    assert not CaseTeamMember.objects.filter(case=case).exists()
    assert TransferGrace.objects.filter(case=case).exists()
    detail = outsider.get(f"{API}/cases/{case.pk}/")
    assert detail.status_code == 200
    assert set(detail.json()["abilities"]["read_categories"]) == RECEIVER
    notes = outsider.get(f"{API}/cases/{case.pk}/notes/").content.decode()
    assert {c for c in Category.values if sentinel(c) in notes} == RECEIVER

    manager = api(cast.case_manager)
    assert manager.get(f"{API}/cases/{case.pk}/").status_code == 200
    write = post(
        manager,
        f"{API}/cases/{case.pk}/notes/",
        {"category": "justice", "kind": "fact", "text": "after the move"},
    )
    assert write.status_code == 403
    note = cast.notes["justice"]
    patch = manager.patch(
        f"{API}/cases/{case.pk}/notes/{note.pk}/",
        json.dumps({"text": "changed"}),
        content_type="application/json",
        headers={"If-Match": '"1"'},
    )
    assert patch.status_code == 403
    assert post(outsider, f"{API}/transfers/{transfer.pk}/accept/").status_code == 409

    with time_machine.travel(timezone.now() + datetime.timedelta(days=15), tick=False):
        for actor in ("coordinator", "case_manager", "police_on_team", "ngo_mentor"):
            client = api(cast.actors[actor])
            assert client.get(f"{API}/cases/{case.pk}/").status_code == 404, actor
            assert client.get(f"{API}/cases/{case.pk}/notes/").status_code == 404, actor
        assert outsider.get(f"{API}/cases/{case.pk}/").status_code == 200
    assert verify() is None


def test_declining_needs_a_reason(cast, api):
    transfer = propose(cast)
    client = api(cast.outsider)

    assert post(client, f"{API}/transfers/{transfer.pk}/decline/").status_code == 400
    assert post(client, f"{API}/transfers/{transfer.pk}/decline/", {"why": "x"}).status_code == 400
    response = post(client, f"{API}/transfers/{transfer.pk}/decline/", {"reason": "No room"})

    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["decision_reason"]) == ("declined", "No room")
    assert (body["handover_summary"], body["person"], body["reference"]) == (None, None, None)
    assert Case.objects.get(pk=cast.case.pk).partnership_id == cast.partnership.pk
    assert client.get(f"{API}/cases/{cast.case.pk}/").status_code == 404


def test_only_the_sender_withdraws_and_only_the_receiver_decides(cast, api):
    transfer = propose(cast)
    coordinator = api(cast.coordinator)
    outsider = api(cast.outsider)

    assert post(coordinator, f"{API}/transfers/{transfer.pk}/accept/").status_code == 403
    assert post(outsider, f"{API}/transfers/{transfer.pk}/withdraw/").status_code == 403
    response = post(coordinator, f"{API}/transfers/{transfer.pk}/withdraw/")

    assert response.status_code == 200
    assert response.json()["status"] == "withdrawn"
    assert post(coordinator, f"{API}/transfers/{transfer.pk}/withdraw/").status_code == 409
    assert post(outsider, f"{API}/transfers/{transfer.pk}/accept/").status_code == 409
    assert Case.objects.get(pk=cast.case.pk).partnership_id == cast.partnership.pk
