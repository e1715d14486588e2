"""Closure safeguards (issue 9, item 1): no closure while a transfer is
pending; the proposal lists what is still open and the proposer confirms each
group; another coordinator approves (or, by the partnership's setting, its
single coordinator); no transfer of a closing, closed or archived case."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from prepare.access.errors import WriteForbidden
from prepare.accounts.services import api_token_create
from prepare.audit.models import Event, EventAction
from prepare.cases.lifecycle.open_items import OPEN_ITEMS_CAP
from prepare.cases.lifecycle.services import (
    ClosureBlocked,
    ConfirmationsMissing,
    case_transition,
)
from prepare.cases.models import (
    Case,
    CaseStatus,
    CaseTransition,
    ClosureDecision,
    ClosureProposal,
    Transfer,
    TransferStatus,
)
from prepare.cases.transfer.services import TransferRefused, transfer_accept, transfer_propose
from prepare.monitoring.models import Severity, Signal
from prepare.plans.models import ChecklistItem
from tests.cast import Cast, sentinel
from tests.factories import UserFactory
from tests.plans.support import plant_checklist

pytestmark = pytest.mark.django_db

ALL_GROUPS = ("key_dates", "checklist", "signals")


def state(case: Case) -> tuple[Any, ...]:
    case.refresh_from_db()
    return (
        case.status,
        case.version,
        case.partnership_id,
        CaseTransition.objects.filter(case=case).count(),
        ClosureProposal.objects.filter(case=case).count(),
        # A refusal is recorded as ``denied``: not a change.
        Event.objects.exclude(action__in=["view", "list", "search", "denied"])
        .exclude(outcome="denied")
        .count(),
    )


def open_transfer(cast: Cast) -> Transfer:
    return Transfer.objects.create(
        case=cast.case,
        from_partnership=cast.partnership,
        to_partnership=cast.other_partnership,
        handover_summary="Moves to Elsewhere.",
        summary_category="social",
        proposed_by=cast.coordinator,
    )


def plant_signal(cast: Cast, category: str = "risk") -> Signal:
    return Signal.objects.create(
        case=cast.case,
        category=category,
        severity=Severity.HIGH,
        escalated=True,
        description=sentinel(category),
        raised_by=cast.coordinator,
        created_by=cast.coordinator,
        updated_by=cast.coordinator,
    )


def propose(cast: Cast, actor: Any = None, confirmed: tuple[str, ...] = ALL_GROUPS) -> Case:
    case = Case.objects.get(pk=cast.case.pk)
    return case_transition(
        actor=actor or cast.coordinator,
        case_id=case.pk,
        to_status=CaseStatus.CLOSING,
        reason="Licence ended",
        version=case.version,
        confirmed=confirmed,
    )


def approve(cast: Cast, actor: Any) -> Case:
    case = Case.objects.get(pk=cast.case.pk)
    return case_transition(
        actor=actor,
        case_id=case.pk,
        to_status=CaseStatus.CLOSED,
        reason="Plan completed",
        version=case.version,
        outcome="sentence_ended",
    )


def second_coordinator(cast: Cast) -> Any:
    return UserFactory(
        username="second_coordinator", organisation=cast.orgs["municipality"], role="coordinator"
    )


def api(user: Any) -> Client:
    _, raw = api_token_create(actor=user, name="closure")
    return Client(headers={"Authorization": f"Bearer {raw}"})


# --- A pending transfer blocks closure --------------------------------------------------


def test_closure_is_refused_while_a_transfer_is_pending(cast: Cast) -> None:
    open_transfer(cast)
    before = state(cast.case)
    with pytest.raises(ClosureBlocked) as refused:
        propose(cast)
    assert refused.value.code == "transfer_pending"
    assert "Withdraw the transfer" in " ".join(refused.value.messages)
    assert state(cast.case) == before


def test_the_page_refuses_closure_with_a_pending_transfer_and_says_why(
    cast: Cast, as_user: Any
) -> None:
    open_transfer(cast)
    client = as_user(cast.coordinator)
    page = client.get(reverse("cases:lifecycle_section", args=[cast.case.pk])).content.decode()
    assert "A transfer of this case to another partnership is pending" in page
    before = state(cast.case)
    response = client.post(
        reverse("cases:transition", args=[cast.case.pk]),
        {"to_status": "closing", "reason": "Licence ended", "version": "1", "confirm": "on"},
    )
    assert response.status_code == 409
    assert "Withdraw the transfer before closing the case" in response.content.decode()
    assert state(cast.case) == before


def test_the_api_refuses_closure_with_a_pending_transfer_409(cast: Cast) -> None:
    open_transfer(cast)
    client = api(cast.coordinator)
    before = state(cast.case)
    response = client.post(
        reverse("v1_case_transitions", args=[cast.case.pk]),
        {"to_status": "closing", "reason": "Licence ended", "version": 1, "confirm": []},
        content_type="application/json",
    )
    assert response.status_code == 409
    assert "Withdraw the transfer before closing the case" in response.json()["detail"]
    assert state(cast.case) == before


def test_approval_is_refused_too_while_a_transfer_is_pending(cast: Cast) -> None:
    propose(cast)
    # Proposed before the closure started (the propose service now refuses it).
    open_transfer(cast)
    before = state(cast.case)
    with pytest.raises(ClosureBlocked):
        approve(cast, second_coordinator(cast))
    assert state(cast.case) == before


# --- What is still open, confirmed group by group ----------------------------------------


def test_the_proposal_lists_what_is_open_through_the_policy(cast: Cast, as_user: Any) -> None:
    plant_checklist(cast.case, cast.coordinator)
    plant_signal(cast, "risk")
    plant_signal(cast, "intelligence")
    body = (
        as_user(cast.case_manager)
        .get(reverse("cases:lifecycle_section", args=[cast.case.pk]))
        .content.decode()
    )
    # Probation reads seven categories of the checklist; intelligence is not one.
    assert "Open checklist items (7)" in body
    assert sentinel("intelligence") not in body and sentinel("ideology") not in body
    assert sentinel("risk") in body  # an item's title, granted
    assert "Signals of concern not acknowledged (1)" in body
    assert "Key dates still ahead (1)" in body
    assert 'name="confirm_checklist"' in body and 'name="confirm_signals"' in body
    event = Event.objects.filter(action="view", case_id=cast.case.pk).latest("occurred_at")
    shown = event.detail["open_items"]
    assert len(shown["checklist"]) == 7 and len(shown["signals"]) == 1


def test_a_proposal_without_its_confirmations_is_refused_and_changes_nothing(
    cast: Cast, as_user: Any
) -> None:
    plant_checklist(cast.case, cast.coordinator)
    before = state(cast.case)
    response = as_user(cast.coordinator).post(
        reverse("cases:transition", args=[cast.case.pk]),
        {
            "to_status": "closing",
            "reason": "Licence ended",
            "version": "1",
            "confirm_key_dates": "on",
        },
    )
    assert response.status_code == 422
    body = response.content.decode()
    message = "Confirm this to propose closure, or deal with these first."
    # Next to the field and in the error summary.
    assert 'id="move-closing-confirm_checklist_error"' in body
    assert body.count(message) == 2
    assert state(cast.case) == before
    with pytest.raises(ConfirmationsMissing) as refused:
        propose(cast, confirmed=("key_dates",))
    assert [g.key for g in refused.value.missing] == ["checklist"]
    assert state(cast.case) == before


def test_the_confirmed_counts_are_recorded_and_audited(cast: Cast) -> None:
    plant_checklist(cast.case, cast.coordinator)
    plant_signal(cast)
    case = propose(cast)
    assert case.status == CaseStatus.CLOSING
    proposal = ClosureProposal.objects.get(case=case)
    # The coordinator reads every category but intelligence: 8 items.
    assert proposal.confirmed == {"checklist": 8, "key_dates": 1, "signals": 1}
    assert (proposal.proposed_by_id, proposal.decision) == (cast.coordinator.pk, "pending")
    event = Event.objects.filter(action="update", case_id=case.pk).latest("occurred_at")
    assert event.detail["closure"] == {"proposal": proposal.pk, "confirmed": proposal.confirmed}
    assert sentinel("risk") not in str(event.detail)


def test_with_nothing_open_no_confirmation_is_needed(cast: Cast) -> None:
    case = propose(cast, confirmed=())
    assert ClosureProposal.objects.get(case=case).confirmed == {}


def test_open_counts_are_bounded(cast: Cast, as_user: Any) -> None:
    plant_checklist(cast.case, cast.coordinator)
    for i in range(OPEN_ITEMS_CAP + 5):
        ChecklistItem.objects.create(
            case=cast.case,
            title=f"Extra {i}",
            category="social",
            due_on="2040-01-01",
            created_by=cast.coordinator,
        )
    body = (
        as_user(cast.coordinator)
        .get(reverse("cases:lifecycle_section", args=[cast.case.pk]))
        .content.decode()
    )
    assert f"Open checklist items ({OPEN_ITEMS_CAP}+)" in body


@pytest.mark.parametrize("extra", [0, 40])
def test_the_proposal_costs_the_same_whatever_is_open(
    cast: Cast, as_user: Any, django_assert_num_queries: Any, extra: int
) -> None:
    plant_checklist(cast.case, cast.coordinator)
    for i in range(extra):
        ChecklistItem.objects.create(
            case=cast.case,
            title=f"x{i}",
            category="social",
            due_on="2040-01-01",
            created_by=cast.coordinator,
        )
        plant_signal(cast)
    client = as_user(cast.coordinator)
    client.get(reverse("cases:lifecycle_section", args=[cast.case.pk]))
    with django_assert_num_queries(20):
        response = client.get(
            reverse("cases:lifecycle_section", args=[cast.case.pk]), headers={"HX-Request": "true"}
        )
    assert response.status_code == 200


# --- Four eyes ---------------------------------------------------------------------------


def test_the_proposer_cannot_approve_their_own_closure(cast: Cast, as_user: Any) -> None:
    propose(cast)
    second_coordinator(cast)
    before = state(cast.case)
    with pytest.raises(WriteForbidden):
        approve(cast, cast.coordinator)
    assert state(cast.case) == before
    client = as_user(cast.coordinator)
    page = client.get(reverse("cases:lifecycle_section", args=[cast.case.pk])).content.decode()
    assert "another coordinator of the partnership approves it" in page
    assert 'value="closed"' not in page
    response = client.post(
        reverse("cases:transition", args=[cast.case.pk]),
        {
            "to_status": "closed",
            "reason": "Done",
            "outcome": "sentence_ended",
            "confirm": "on",
            "version": str(Case.objects.get(pk=cast.case.pk).version),
        },
    )
    assert response.status_code == 403
    assert "You proposed this closure" in response.content.decode()
    assert state(cast.case) == before


def test_another_coordinator_approves(cast: Cast) -> None:
    propose(cast)
    other = second_coordinator(cast)
    case = approve(cast, other)
    assert case.status == CaseStatus.CLOSED
    proposal = ClosureProposal.objects.get(case=case)
    assert (proposal.decision, proposal.decided_by_id, proposal.self_approved) == (
        ClosureDecision.APPROVED,
        other.pk,
        False,
    )
    event = Event.objects.filter(action="update", case_id=case.pk).latest("occurred_at")
    assert "self_approval" not in event.detail


def test_a_single_coordinator_approves_their_own_only_if_the_partnership_allows(
    cast: Cast,
) -> None:
    propose(cast)
    with pytest.raises(WriteForbidden):
        approve(cast, cast.coordinator)
    cast.partnership.closure_self_approval = True
    cast.partnership.save(update_fields=["closure_self_approval"])
    case = approve(cast, cast.coordinator)
    assert case.status == CaseStatus.CLOSED
    assert ClosureProposal.objects.get(case=case).self_approved is True
    event = Event.objects.filter(action="update", case_id=case.pk).latest("occurred_at")
    assert event.detail["self_approval"] is True


def test_the_setting_does_not_waive_four_eyes_where_there_is_a_second_coordinator(
    cast: Cast,
) -> None:
    cast.partnership.closure_self_approval = True
    cast.partnership.save(update_fields=["closure_self_approval"])
    propose(cast)
    second_coordinator(cast)
    before = state(cast.case)
    with pytest.raises(WriteForbidden):
        approve(cast, cast.coordinator)
    assert state(cast.case) == before


def test_keeping_the_case_open_settles_the_proposal(cast: Cast) -> None:
    propose(cast)
    case = Case.objects.get(pk=cast.case.pk)
    case_transition(
        actor=cast.coordinator,
        case_id=case.pk,
        to_status=CaseStatus.PRE_RELEASE,
        reason="Not yet",
        version=case.version,
    )
    assert ClosureProposal.objects.get(case=case).decision == ClosureDecision.KEPT_OPEN


def test_the_closure_setting_is_the_coordinators_and_audited(cast: Cast, as_user: Any) -> None:
    url = reverse("partnerships:closure", args=[cast.partnership.pk])
    data = {"self_approval": "on", "current": "four-eyes"}
    refused = as_user(cast.case_manager).post(url, data)
    assert refused.status_code == 403
    cast.partnership.refresh_from_db()
    assert cast.partnership.closure_self_approval is False
    assert as_user(cast.case_manager).get(url).status_code == 200
    assert as_user(cast.outsider).get(url).status_code == 404
    response = as_user(cast.coordinator).post(url, data)
    assert response.status_code == 302
    cast.partnership.refresh_from_db()
    assert cast.partnership.closure_self_approval is True
    event = Event.objects.get(action=EventAction.PERMISSION_CHANGE)
    assert event.detail["closure_self_approval"] == {"from": False, "to": True}
    stale = as_user(cast.coordinator).post(url, {"current": "four-eyes"})
    assert stale.status_code == 409
    cast.partnership.refresh_from_db()
    assert cast.partnership.closure_self_approval is True


# --- No transfer of a closing, closed or archived case -------------------------------------


@pytest.mark.parametrize("status", ["closing", "closed", "follow_up", "archived"])
def test_a_transfer_of_a_case_being_closed_is_not_proposed(cast: Cast, status: str) -> None:
    Case.objects.filter(pk=cast.case.pk).update(status=status)
    with pytest.raises(TransferRefused) as refused:
        transfer_propose(
            actor=cast.coordinator,
            case_id=cast.case.pk,
            to_partnership_id=cast.other_partnership.pk,
            handover_summary="Moves.",
            summary_category="social",
        )
    assert refused.value.code == "case_closed"
    assert not Transfer.objects.filter(case=cast.case).exists()


def test_a_transfer_proposed_before_closure_is_not_accepted_after(cast: Cast, as_user: Any) -> None:
    transfer = open_transfer(cast)
    # The closure started meanwhile (put in closing directly: the services
    # refuse closure while the transfer is pending).
    Case.objects.filter(pk=cast.case.pk).update(status=CaseStatus.CLOSING)
    before = state(cast.case)
    with pytest.raises(TransferRefused) as refused:
        transfer_accept(actor=cast.outsider, transfer_id=transfer.pk)
    assert "closing, closed or archived" in " ".join(refused.value.messages)
    response = as_user(cast.outsider).post(
        reverse("cases:transfer_decide", args=[transfer.pk]), {"decision": "accept", "reason": ""}
    )
    assert response.status_code in (409, 422)
    assert "closing, closed or archived" in response.content.decode()
    assert state(cast.case) == before
    assert Transfer.objects.get(pk=transfer.pk).status == TransferStatus.PROPOSED
    client = api(cast.outsider)
    before = state(cast.case)
    refused_api = client.post(
        reverse("v1_transfer_accept", args=[transfer.pk]), {}, content_type="application/json"
    )
    assert 400 <= refused_api.status_code < 500
    assert state(cast.case) == before


# --- The API -------------------------------------------------------------------------------


def test_the_api_shows_what_is_open_and_needs_the_confirmations(cast: Cast) -> None:
    plant_checklist(cast.case, cast.coordinator)
    client = api(cast.coordinator)
    url = reverse("v1_case_transitions", args=[cast.case.pk])
    listed = client.get(url).json()
    groups = {g["group"]: g for g in listed["open_items"]}
    assert groups["checklist"]["count"] == 8 and groups["signals"]["count"] == 0
    assert listed["transfer_pending"] is False
    before = state(cast.case)
    refused = client.post(
        url,
        {"to_status": "closing", "reason": "Done", "version": 1, "confirm": ["key_dates"]},
        content_type="application/json",
    )
    assert refused.status_code == 422
    assert state(cast.case) == before
    done = client.post(
        url,
        {"to_status": "closing", "reason": "Done", "version": 1, "confirm": list(ALL_GROUPS)},
        content_type="application/json",
    )
    assert done.status_code == 201
    assert ClosureProposal.objects.get(case=cast.case).confirmed == {"checklist": 8, "key_dates": 1}
    proposal = client.get(url).json()["closure_proposal"]
    assert proposal["confirmed"] == {"checklist": 8, "key_dates": 1}
