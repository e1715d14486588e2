"""Four eyes on what widens access (SECURITY.md AC-07): a widening of the sharing
agreement waits for a second approver with a fresh code; a narrowing applies at
once. Acted by the cast, through the pages and the API."""

from __future__ import annotations

import datetime
import json

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from prepare.accounts.models import Role
from prepare.accounts.services import api_token_create
from prepare.audit.chain import verify
from prepare.audit.models import Event, EventAction, Outcome
from prepare.audit.services import audit_record
from prepare.notifications.models import Notification
from prepare.partnerships.access_changes.services import (
    StaleAccessChange,
    access_change_approve,
    agreement_change_submit,
)
from prepare.partnerships.models import AccessChangeRequest, AccessChangeStatus, CategoryGrant
from prepare.partnerships.services import agreement_create, agreement_digest
from tests.cast import current_code, sentinel, wrong_code
from tests.factories import UserFactory
from tests.partnerships.html import form_values

T0 = datetime.datetime(2026, 12, 7, 10, 0, tzinfo=datetime.UTC)
STEP = datetime.timedelta(seconds=60)  # a new window of the one-time codes


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def second(cast):
    """Another coordinator of the cast's partnership: the second pair of eyes."""
    return UserFactory(
        username="coordinator2", organisation=cast.orgs["municipality"], role=Role.COORDINATOR
    )


def edit_url(cast) -> str:
    return reverse("partnerships:agreement_edit", args=[cast.partnership.pk, cast.agreement.pk])


def change_url(request: AccessChangeRequest) -> str:
    return reverse("partnerships:access_change", args=[request.pk])


def loaded_form(client: Client, url: str) -> dict[str, str]:
    response = client.get(url)
    assert response.status_code == 200
    values = form_values(response.content.decode(), action=url)
    values.pop("csrfmiddlewaretoken", None)
    return values


def cell(cast, org: str, category: str) -> str:
    return f"cell-{cast.orgs[org].pk}-{category}"


def ngo_health(cast) -> str | None:
    grant = CategoryGrant.objects.filter(
        agreement=cast.agreement, organisation=cast.orgs["ngo"], category="health"
    ).first()
    return grant.access if grant else None


def propose_ngo_health(cast, as_user) -> AccessChangeRequest:
    coordinator = as_user(cast.coordinator)
    data = loaded_form(coordinator, edit_url(cast))
    data[cell(cast, "ngo", "health")] = "read"
    data["code"] = current_code(cast.coordinator)
    response = coordinator.post(edit_url(cast), data)
    [request] = AccessChangeRequest.objects.all()
    assert response.status_code == 302
    assert response["Location"] == change_url(request)
    return request


def steps(request: AccessChangeRequest) -> list[tuple[str, str, str]]:
    return [
        (e.detail.get("step", ""), e.detail.get("refused", ""), e.outcome)
        for e in Event.objects.filter(
            action=EventAction.PERMISSION_CHANGE, object_id=str(request.pk)
        ).order_by("seq")
    ]


def mentor_reads_health(cast, as_user) -> bool:
    page = as_user(cast.ngo_mentor).get(reverse("cases:case", args=[cast.case.pk]))
    assert page.status_code == 200
    return sentinel("health") in page.content.decode()


# --- The whole path, through the pages ------------------------------------------------------


def test_a_widening_waits_for_a_second_approver_and_applies_only_then(
    cast, as_user, second, frozen
):
    assert not mentor_reads_health(cast, as_user)

    request = propose_ngo_health(cast, as_user)

    # Nothing of it applies yet: the NGO's mentor still does not read health.
    assert request.status == AccessChangeStatus.PENDING
    assert request.payload["cells"] == [
        {"organisation": cast.orgs["ngo"].pk, "category": "health", "from": "", "to": "read"}
    ]
    assert request.base == agreement_digest(cast.agreement)
    assert ngo_health(cast) is None
    assert not mentor_reads_health(cast, as_user)
    # The possible approvers are told, in their language; the proposer is not.
    told = set(Notification.objects.filter(kind="access_change").values_list("user_id", flat=True))
    assert told == {second.pk, cast.auditor.pk}
    notice = Notification.objects.get(user=second)
    assert notice.text == (
        "A change of the sharing agreement of Testdam partnership widens access: to approve"
    )
    assert notice.url == change_url(request)

    # One approver is not enough: the proposer's own approval is refused and logged.
    frozen.shift(STEP)
    proposer = as_user(cast.coordinator)
    own = proposer.post(
        change_url(request), {"action": "approve", "approve-code": current_code(cast.coordinator)}
    )
    assert own.status_code == 403
    assert "you proposed this change yourself" in own.content.decode()
    request.refresh_from_db()
    assert request.status == AccessChangeStatus.PENDING
    assert ngo_health(cast) is None

    # The second approver sees the diff, and a wrong code is refused and logged.
    approver = as_user(second)
    page = approver.get(change_url(request))
    body = page.content.decode()
    assert "Exit Testdam" in body and "Health" in body and "Widens access" in body
    wrong = approver.post(
        change_url(request), {"action": "approve", "approve-code": wrong_code(second)}
    )
    assert wrong.status_code == 422
    request.refresh_from_db()
    assert request.status == AccessChangeStatus.PENDING
    assert not mentor_reads_health(cast, as_user)

    frozen.shift(STEP)  # past the device's throttle after a wrong code
    approved = approver.post(
        change_url(request), {"action": "approve", "approve-code": current_code(second)}
    )

    assert approved.status_code == 302
    request.refresh_from_db()
    assert (request.status, request.decided_by_id) == (AccessChangeStatus.APPROVED, second.pk)
    assert ngo_health(cast) == "read"
    assert mentor_reads_health(cast, as_user)
    assert steps(request) == [
        ("proposed", "", Outcome.SUCCESS),
        ("approved", "self_approval", Outcome.DENIED),
        ("approved", "step_up", Outcome.DENIED),
        ("approved", "", Outcome.SUCCESS),
    ]
    [applied] = Event.objects.filter(action=EventAction.AGREEMENT_CHANGE)
    assert applied.actor_id == second.pk
    assert applied.detail["access_change"] == request.pk
    assert applied.detail["changes"] == [
        {"organisation": cast.orgs["ngo"].pk, "category": "health", "from": "", "to": "read"}
    ]
    # Decided: the approvers' notifications need nothing more.
    assert not Notification.objects.filter(kind="access_change", read_at__isnull=True).exists()
    assert verify() is None


def test_a_widening_needs_the_proposers_fresh_code(cast, as_user):
    coordinator = as_user(cast.coordinator)
    data = loaded_form(coordinator, edit_url(cast))
    data[cell(cast, "ngo", "health")] = "read"
    data["code"] = wrong_code(cast.coordinator)
    response = coordinator.post(edit_url(cast), data)
    assert response.status_code == 422
    assert "The code is wrong" in response.content.decode()
    assert AccessChangeRequest.objects.count() == 0
    assert ngo_health(cast) is None
    [event] = Event.objects.filter(action=EventAction.PERMISSION_CHANGE)
    assert (event.outcome, event.detail["refused"]) == (Outcome.DENIED, "step_up")


def test_a_replayed_code_is_refused(cast, as_user, second, frozen):
    first = propose_ngo_health(cast, as_user)
    frozen.shift(STEP)
    code = current_code(second)
    assert (
        as_user(second)
        .post(change_url(first), {"action": "approve", "approve-code": code})
        .status_code
        == 302
    )
    # A new change, proposed in the same window of the approver's codes.
    again = agreement_change_submit(
        actor=cast.coordinator,
        agreement_id=cast.agreement.pk,
        cells={(cast.orgs["ngo"].pk, "risk"): "read"},
        expected_digest=agreement_digest(cast.agreement),
        code=current_code(cast.coordinator),
    ).pending
    assert again is not None

    replay = as_user(second).post(change_url(again), {"action": "approve", "approve-code": code})

    assert replay.status_code == 422
    again.refresh_from_db()
    assert again.status == AccessChangeStatus.PENDING
    assert not CategoryGrant.objects.filter(organisation=cast.orgs["ngo"], category="risk").exists()


def test_a_stale_change_is_refused_and_marked_superseded(cast, as_user, second):
    request = propose_ngo_health(cast, as_user)
    # The agreement changes by another way: a new version ends the current one.
    agreement_create(
        actor=cast.coordinator,
        partnership_id=cast.partnership.pk,
        title="Second version",
        legal_basis="covenant",
        legal_reference="Art. 1",
        valid_from=timezone.localdate() + datetime.timedelta(days=30),
    )

    response = as_user(second).post(
        change_url(request), {"action": "approve", "approve-code": current_code(second)}
    )

    assert response.status_code == 409
    assert "the agreement was changed after it was proposed" in response.content.decode()
    request.refresh_from_db()
    assert request.status == AccessChangeStatus.SUPERSEDED
    assert ngo_health(cast) is None
    assert steps(request)[-1] == ("approved", "stale", Outcome.DENIED)


def test_the_service_refuses_a_stale_change(cast, second):
    request = agreement_change_submit(
        actor=cast.coordinator,
        agreement_id=cast.agreement.pk,
        cells={(cast.orgs["ngo"].pk, "health"): "read"},
        expected_digest=agreement_digest(cast.agreement),
        code=current_code(cast.coordinator),
    ).pending
    assert request is not None
    CategoryGrant.objects.filter(agreement=cast.agreement, category="risk").delete()
    with pytest.raises(StaleAccessChange):
        access_change_approve(actor=second, request_id=request.pk, code=current_code(second))
    assert ngo_health(cast) is None


def test_a_narrowing_applies_at_once_and_supersedes_the_pending_change(cast, as_user, frozen):
    request = propose_ngo_health(cast, as_user)
    coordinator = as_user(cast.coordinator)
    data = loaded_form(coordinator, edit_url(cast))
    assert data[cell(cast, "ngo", "health")] == "none"  # pending, not applied
    data[cell(cast, "police", "intelligence")] = "read"  # write -> read
    response = coordinator.post(edit_url(cast), data)  # no code: nothing widens
    assert response.status_code == 302
    assert (
        CategoryGrant.objects.get(
            agreement=cast.agreement, organisation=cast.orgs["police"], category="intelligence"
        ).access
        == "read"
    )
    request.refresh_from_db()
    assert request.status == AccessChangeStatus.SUPERSEDED
    assert AccessChangeRequest.objects.filter(status="pending").count() == 0


def test_the_period_extends_only_with_approval_and_shortens_at_once(cast, as_user, second):
    end = timezone.localdate() + datetime.timedelta(days=365)
    cast.agreement.valid_until = end
    cast.agreement.save()
    coordinator = as_user(cast.coordinator)
    data = loaded_form(coordinator, edit_url(cast))
    data["valid_until"] = (end + datetime.timedelta(days=365)).isoformat()
    data["code"] = current_code(cast.coordinator)
    assert coordinator.post(edit_url(cast), data).status_code == 302
    cast.agreement.refresh_from_db()
    assert cast.agreement.valid_until == end
    [request] = AccessChangeRequest.objects.all()
    assert request.payload["valid_until"] == {
        "from": end.isoformat(),
        "to": (end + datetime.timedelta(days=365)).isoformat(),
    }
    page = as_user(second).get(change_url(request)).content.decode()
    assert "valid until" in page and "Widens access" in page

    shorter = loaded_form(coordinator, edit_url(cast))
    shorter["valid_until"] = (end - datetime.timedelta(days=100)).isoformat()
    assert coordinator.post(edit_url(cast), shorter).status_code == 302
    cast.agreement.refresh_from_db()
    assert cast.agreement.valid_until == end - datetime.timedelta(days=100)
    request.refresh_from_db()
    assert request.status == AccessChangeStatus.SUPERSEDED


def test_the_data_protection_officer_approves(cast, as_user):
    request = propose_ngo_health(cast, as_user)
    response = as_user(cast.auditor).post(
        change_url(request), {"action": "approve", "approve-code": current_code(cast.auditor)}
    )
    assert response.status_code == 302
    assert ngo_health(cast) == "read"


def test_rejecting_and_withdrawing_apply_nothing(cast, as_user, second, frozen):
    request = propose_ngo_health(cast, as_user)
    no_reason = as_user(second).post(change_url(request), {"action": "reject", "reject-reason": ""})
    assert no_reason.status_code == 400
    rejected = as_user(second).post(
        change_url(request), {"action": "reject", "reject-reason": "Not in the covenant."}
    )
    assert rejected.status_code == 302
    request.refresh_from_db()
    assert (request.status, request.reason) == (AccessChangeStatus.REJECTED, "Not in the covenant.")
    assert ngo_health(cast) is None

    frozen.shift(STEP)
    again = propose_ngo_health_again(cast, as_user)
    assert as_user(second).post(change_url(again), {"action": "withdraw"}).status_code == 403
    assert (
        as_user(cast.coordinator).post(change_url(again), {"action": "withdraw"}).status_code == 302
    )
    again.refresh_from_db()
    assert again.status == AccessChangeStatus.WITHDRAWN
    assert ngo_health(cast) is None
    assert [s for s, _, _ in steps(again)] == ["proposed", "withdrawn"]


def propose_ngo_health_again(cast, as_user) -> AccessChangeRequest:
    coordinator = as_user(cast.coordinator)
    data = loaded_form(coordinator, edit_url(cast))
    data[cell(cast, "ngo", "health")] = "read"
    data["code"] = current_code(cast.coordinator)
    assert coordinator.post(edit_url(cast), data).status_code == 302
    return AccessChangeRequest.objects.get(status="pending")


@pytest.mark.parametrize(
    ("actor", "status"),
    [("trainer", 403), ("case_manager", 403), ("ngo_mentor", 403), ("outsider", 404)],
)
def test_who_is_not_an_approver_sees_no_change(cast, as_user, actor, status):
    """Members who do not coordinate (nor are the DPO) get 403, others 404."""
    request = propose_ngo_health(cast, as_user)
    user = getattr(cast, actor)
    client = as_user(user)
    list_url = reverse("partnerships:access_changes", args=[cast.partnership.pk])
    assert client.get(list_url).status_code == status
    assert client.get(change_url(request)).status_code == status
    code = current_code(user)
    refused = client.post(change_url(request), {"action": "approve", "approve-code": code})
    assert refused.status_code == status
    request.refresh_from_db()
    assert request.status == AccessChangeStatus.PENDING
    assert ngo_health(cast) is None


def test_the_demo_skips_the_codes_as_at_sign_in(cast, as_user, second, settings):
    settings.DEMO = True
    settings.DEMO_SKIP_MFA = True
    coordinator = as_user(cast.coordinator)
    data = loaded_form(coordinator, edit_url(cast))
    data[cell(cast, "ngo", "health")] = "read"
    assert coordinator.post(edit_url(cast), data).status_code == 302
    [request] = AccessChangeRequest.objects.all()
    # Still four eyes: the code is skipped, the second approver is not.
    assert (
        as_user(cast.coordinator)
        .post(change_url(request), {"action": "approve", "approve-code": "x"})
        .status_code
        == 403
    )
    assert (
        as_user(second)
        .post(change_url(request), {"action": "approve", "approve-code": "x"})
        .status_code
        == 302
    )
    assert ngo_health(cast) == "read"


# --- Query counts ------------------------------------------------------------------------

# Every signed-in page after the session's first: session, user, second-factor
# device, the user's grants, the navigation's counts, a savepoint pair.
REQUEST_OVERHEAD = 7
# The partnership, the pending changes (with their proposers), the decided ones.
LIST_QUERIES = REQUEST_OVERHEAD + 3
# The change (with partnership, proposer, decider), the agreement, the organisations named.
DETAIL_QUERIES = REQUEST_OVERHEAD + 3


def test_the_pages_cost_the_same_for_one_change_or_many(
    cast, as_user, second, frozen, django_assert_num_queries
):
    audit_record(action=EventAction.LOGIN, actor=cast.coordinator)
    request = propose_ngo_health(cast, as_user)
    list_url = reverse("partnerships:access_changes", args=[cast.partnership.pk])
    client = as_user(second)
    assert client.get(list_url).status_code == 200  # the session's first page
    for count in (1, 6):
        while AccessChangeRequest.objects.count() < count:
            AccessChangeRequest.objects.create(
                kind="agreement",
                partnership=cast.partnership,
                payload={
                    **request.payload,
                    "cells": request.payload["cells"] * 3,
                },
                base=request.base,
                proposed_by=cast.coordinator,
            )
        last = AccessChangeRequest.objects.order_by("-pk").first()
        with django_assert_num_queries(LIST_QUERIES):
            assert client.get(list_url).status_code == 200
        with django_assert_num_queries(DETAIL_QUERIES):
            assert client.get(change_url(last)).status_code == 200


# --- The API ---------------------------------------------------------------------------------


def api(user) -> Client:
    _, raw = api_token_create(actor=user, name="test")
    return Client(headers={"Authorization": f"Bearer {raw}"})


def post(client: Client, url: str, body: dict) -> object:
    return client.post(url, json.dumps(body), content_type="application/json")


def test_the_api_proposes_and_a_second_approver_applies(cast, as_user, second, frozen):
    proposer = api(cast.coordinator)
    agreement_url = reverse("v1_agreement", args=[cast.partnership.pk, cast.agreement.pk])
    read = proposer.get(agreement_url)
    assert read.status_code == 200
    digest = read.json()["digest"]
    edit = {
        "cells": [
            {"organisation": cast.orgs["ngo"].pk, "category": "health", "access": "read"},
            {"organisation": cast.orgs["police"].pk, "category": "intelligence", "access": "read"},
        ],
        "digest": digest,
        "code": current_code(cast.coordinator),
    }
    submitted = post(
        proposer,
        reverse("v1_agreement_changes", args=[cast.partnership.pk, cast.agreement.pk]),
        edit,
    )
    assert submitted.status_code == 200, submitted.content
    answer = submitted.json()
    assert [c["category"] for c in answer["applied"]] == ["intelligence"]  # narrowed at once
    pending_id = answer["pending"]["id"]
    assert ngo_health(cast) is None

    listing = api(second).get(reverse("v1_access_changes", args=[cast.partnership.pk]))
    assert [r["id"] for r in listing.json()["pending"]] == [pending_id]
    detail = api(second).get(reverse("v1_access_change", args=[pending_id])).json()
    assert detail["lines"][0]["widens"] is True
    assert detail["may_decide"] is True

    frozen.shift(STEP)
    approve_url = reverse("v1_access_change_approve", args=[pending_id])
    own = post(proposer, approve_url, {"code": current_code(cast.coordinator)})
    assert own.status_code == 403
    wrong = post(api(second), approve_url, {"code": wrong_code(second)})
    assert wrong.status_code == 422
    assert ngo_health(cast) is None
    frozen.shift(STEP)  # past the device's throttle after a wrong code
    done = post(api(second), approve_url, {"code": current_code(second)})
    assert done.status_code == 200
    assert done.json()["status"] == "approved"
    assert ngo_health(cast) == "read"
    request = AccessChangeRequest.objects.get(pk=pending_id)
    # The refusals answered through the API are kept in the log.
    assert [r for _, r, _ in steps(request)] == ["", "self_approval", "step_up", ""]


def test_the_api_answers_404_and_403_as_the_pages(cast, as_user):
    request = propose_ngo_health(cast, as_user)
    assert api(cast.outsider).get(reverse("v1_access_change", args=[request.pk])).status_code == 404
    assert api(cast.trainer).get(reverse("v1_access_change", args=[request.pk])).status_code == 403
    url = reverse("v1_access_changes", args=[cast.partnership.pk])
    assert api(cast.outsider).get(url).status_code == 404
    assert api(cast.coordinator).get(url).status_code == 200


def test_a_lone_coordinator_is_told_that_nobody_can_approve(cast, as_user):
    from prepare.access.policy import access_change_approvers
    from prepare.accounts.models import User

    url = reverse("partnerships:agreement_edit", args=[cast.partnership.pk, cast.agreement.pk])
    told = "Nobody else can approve a change that widens access yet"
    assert told not in as_user(cast.coordinator).get(url).content.decode()

    others = access_change_approvers(cast.partnership).exclude(pk=cast.coordinator.pk)
    User.objects.filter(pk__in=list(others.values_list("pk", flat=True))).update(is_active=False)

    assert told in as_user(cast.coordinator).get(url).content.decode()
