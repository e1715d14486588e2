"""Erasure of a closed case on request: four eyes and step-up (AC-07).

One coordinator asks, a second person (the DPO here) approves; each types a
fresh one-time code. The approval erases the case from every table, like the
retention job, and the audit chain still verifies.
"""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from prepare.audit import chain
from prepare.audit.chain import verify
from prepare.audit.models import Event, EventAction, Outcome
from prepare.cases.models import Case, CaseStatus, ErasureRequest, ErasureStatus, LegalHold
from prepare.notifications.models import Notification, NotificationKind
from tests.cases.test_retention import close, event_text, plant, tables_holding
from tests.cast import Cast, current_code, wrong_code
from tests.factories import UserFactory

MARK = "ERASEME"
REASON = "Request for erasure under art. 17 received on 3 November"
HX = {"HTTP_HX_REQUEST": "true"}

pytestmark = pytest.mark.django_db


def closed(cast: Cast) -> Case:
    plant(cast, cast.case, MARK)
    # plant() writes a row of every case-bound kind, erasure requests included.
    ErasureRequest.objects.filter(case=cast.case).delete()
    close(cast.case, timezone.localdate() - datetime.timedelta(days=3))
    return cast.case


def ask(cast: Cast, as_user, case: Case, *, code: str | None = None, reason: str = REASON):
    return as_user(cast.coordinator).post(
        reverse("cases:erasure", args=[case.pk]),
        {
            "op": "request",
            "erasure-reason": reason,
            "erasure-code": code if code is not None else current_code(cast.coordinator),
        },
    )


def dpo_approve(cast: Cast, as_user, request: ErasureRequest, code: str | None = None):
    return as_user(cast.auditor).post(
        reverse("cases:erasure_requests"),
        {
            "op": "approve",
            "approve-erasure": str(request.pk),
            "approve-code": code if code is not None else current_code(cast.auditor),
        },
    )


def test_one_asks_another_approves_and_the_case_is_gone(cast: Cast, as_user) -> None:
    case = closed(cast)
    assert len(tables_holding(MARK)) >= 10
    before = Event.objects.count()

    asked = ask(cast, as_user, case)
    assert asked.status_code == 302, asked.content.decode()[-3000:]
    request = ErasureRequest.objects.get(case=case)
    assert (request.status, request.requested_by_id) == (ErasureStatus.PENDING, cast.coordinator.pk)
    # The DPO is told; the asker is not.
    alerts = Notification.objects.filter(kind=NotificationKind.ERASURE, case_id=case.pk)
    assert set(alerts.values_list("user_id", flat=True)) == {cast.auditor.pk}
    alert = alerts.get()
    assert (alert.message_key, alert.params) == ("erasure_to_approve", {"ref": case.reference})
    assert case.reference in alert.text
    # The asker's own approval does not count: still pending, nothing erased.
    own = as_user(cast.coordinator).post(
        reverse("cases:erasure", args=[case.pk]),
        {
            "op": "approve",
            "approve-erasure": str(request.pk),
            "approve-code": current_code(cast.coordinator),
        },
    )
    assert own.status_code == 422
    assert "A second person must approve" in own.content.decode()
    assert ErasureRequest.objects.get(pk=request.pk).status == ErasureStatus.PENDING
    assert Case.objects.filter(pk=case.pk).exists()
    # The DPO sees it by reference, with the reason, and approves with a code.
    page = as_user(cast.auditor).get(reverse("cases:erasure_requests"))
    assert page.status_code == 200
    assert case.reference in page.content.decode() and REASON in page.content.decode()
    approved = dpo_approve(cast, as_user, request)
    assert approved.status_code == 302

    assert not Case.objects.filter(pk=case.pk).exists()
    assert not ErasureRequest.objects.filter(pk=request.pk).exists()
    assert tables_holding(MARK) == []
    assert tables_holding(REASON) == []
    assert not alerts.filter(read_at__isnull=True).exists()
    steps = [
        (e.action, e.detail.get("step"), e.actor_username, e.outcome)
        for e in Event.objects.filter(seq__gt=before, case_id=case.pk).order_by("seq")
        if e.action == EventAction.ERASE
    ]
    assert steps == [
        (EventAction.ERASE, "requested", cast.coordinator.username, Outcome.SUCCESS),
        (EventAction.ERASE, "approved", cast.auditor.username, Outcome.SUCCESS),
        (EventAction.ERASE, None, cast.auditor.username, Outcome.SUCCESS),
    ]
    tomb = Event.objects.filter(case_id=case.pk, detail__action="erase").get()
    assert tomb.detail["erasure_request"] == request.pk
    for event in Event.objects.filter(seq__gt=before):
        assert MARK not in event_text(event)
        assert REASON not in event_text(event)
    assert verify() is None


def test_a_coordinator_approves_a_dpo_request_on_the_case_page(cast: Cast, as_user) -> None:
    case = closed(cast)
    asked = as_user(cast.auditor).post(
        reverse("cases:erasure_requests"),
        {
            "op": "request",
            "erasure-reference": case.reference,
            "erasure-reason": REASON,
            "erasure-code": current_code(cast.auditor),
        },
    )
    assert asked.status_code == 302
    request = ErasureRequest.objects.get(case=case)
    section = as_user(cast.coordinator).get(
        reverse("cases:retention_section", args=[case.pk]), **HX
    )
    body = section.content.decode()
    assert "Approve and erase the case" in body and REASON in body
    approved = as_user(cast.coordinator).post(
        reverse("cases:erasure", args=[case.pk]),
        {
            "op": "approve",
            "approve-erasure": str(request.pk),
            "approve-code": current_code(cast.coordinator),
        },
        **HX,
    )
    assert approved.status_code == 204
    assert approved["HX-Redirect"] == reverse("cases:caseload")
    assert not Case.objects.filter(pk=case.pk).exists()


def test_a_wrong_or_replayed_code_is_refused_recorded_and_loses_nothing(
    cast: Cast, as_user
) -> None:
    case = closed(cast)
    wrong = ask(
        cast,
        as_user,
        case,
        code=wrong_code(cast.coordinator),
    )
    assert wrong.status_code == 422
    assert "The code is wrong or was used already" in wrong.content.decode()
    assert REASON in wrong.content.decode()  # the form keeps what was typed
    assert not ErasureRequest.objects.exists()
    denied = Event.objects.filter(action=EventAction.ERASE, outcome=Outcome.DENIED).get()
    assert denied.detail == {"step": "requested", "refused": "step_up"}
    # The failure counts against the device (django-otp's throttle: the next
    # try must wait a second); no need to wait here.
    device = TOTPDevice.objects.get(user=cast.coordinator)
    assert device.throttling_failure_count == 1
    TOTPDevice.objects.filter(pk=device.pk).update(
        throttling_failure_count=0, throttling_failure_timestamp=None
    )
    # A good code works once; the same code again is a replay.
    code = current_code(cast.coordinator)
    assert ask(cast, as_user, case, code=code).status_code == 302
    request = ErasureRequest.objects.get(case=case)
    withdraw = as_user(cast.coordinator).post(
        reverse("cases:erasure", args=[case.pk]),
        {"op": "decline", "decline-erasure": str(request.pk)},
    )
    assert withdraw.status_code == 302
    assert ErasureRequest.objects.get(pk=request.pk).status == ErasureStatus.WITHDRAWN
    replay = ask(cast, as_user, case, code=code)
    assert replay.status_code == 422
    assert ErasureRequest.objects.filter(status=ErasureStatus.PENDING).count() == 0
    # The approver's code is checked just the same.
    ask_again = as_user(cast.auditor).post(
        reverse("cases:erasure_requests"),
        {
            "op": "request",
            "erasure-reference": case.reference,
            "erasure-reason": REASON,
            "erasure-code": current_code(cast.auditor),
        },
    )
    assert ask_again.status_code == 302
    pending = ErasureRequest.objects.get(status=ErasureStatus.PENDING)
    bad = as_user(cast.coordinator).post(
        reverse("cases:erasure", args=[case.pk]),
        {"op": "approve", "approve-erasure": str(pending.pk), "approve-code": "12"},
    )
    assert bad.status_code == 422
    assert Case.objects.filter(pk=case.pk).exists()
    assert ErasureRequest.objects.get(pk=pending.pk).status == ErasureStatus.PENDING


def test_only_a_closed_case_without_a_hold_can_be_erased(cast: Cast, as_user) -> None:
    case = cast.case
    assert case.status not in (CaseStatus.CLOSED, CaseStatus.ARCHIVED)
    active = ask(cast, as_user, case)
    assert active.status_code == 422
    assert "Only a closed case can be erased" in active.content.decode()
    close(case, timezone.localdate())
    hold = LegalHold.objects.create(
        case=case,
        reason="court order",
        until=timezone.localdate() + datetime.timedelta(days=30),
        placed_by=cast.coordinator,
    )
    held = ask(cast, as_user, case)
    assert held.status_code == 422
    assert "legal hold" in held.content.decode()
    assert not ErasureRequest.objects.exists()
    # A hold placed while a request waits stops the approval too.
    LegalHold.objects.filter(pk=hold.pk).update(
        released_at=timezone.now(), released_by=cast.coordinator
    )
    assert ask(cast, as_user, case).status_code == 302
    LegalHold.objects.create(
        case=case,
        reason="new inquiry",
        until=timezone.localdate() + datetime.timedelta(days=30),
        placed_by=cast.coordinator,
    )
    request = ErasureRequest.objects.get(status=ErasureStatus.PENDING)
    refused = dpo_approve(cast, as_user, request)
    assert refused.status_code == 422
    assert Case.objects.filter(pk=case.pk).exists()
    assert ErasureRequest.objects.get(pk=request.pk).status == ErasureStatus.PENDING


def test_refusing_needs_a_reason_and_keeps_the_case(cast: Cast, as_user) -> None:
    case = closed(cast)
    ask(cast, as_user, case)
    request = ErasureRequest.objects.get()
    url = reverse("cases:erasure_requests")
    empty = as_user(cast.auditor).post(
        url, {"op": "decline", "decline-erasure": str(request.pk), "decline-reason": ""}
    )
    assert empty.status_code == 422
    assert "Say why the erasure is refused" in empty.content.decode()
    assert ErasureRequest.objects.get().status == ErasureStatus.PENDING
    refused = as_user(cast.auditor).post(
        url,
        {"op": "decline", "decline-erasure": str(request.pk), "decline-reason": "Open complaint"},
    )
    assert refused.status_code == 302
    request.refresh_from_db()
    assert (request.status, request.decided_by_id) == (ErasureStatus.REFUSED, cast.auditor.pk)
    assert Case.objects.filter(pk=case.pk).exists()
    assert len(tables_holding(MARK)) >= 10
    assert not Notification.objects.filter(
        kind=NotificationKind.ERASURE, read_at__isnull=True
    ).exists()


def test_who_may_ask_and_approve(cast: Cast, as_user) -> None:
    url = reverse("cases:erasure", args=[cast.case.pk])
    data = {"op": "request", "erasure-reason": REASON, "erasure-code": "123456"}
    # While the case is open its team sees it, and may not touch its erasure.
    for actor in ("case_manager", "police_on_team", "ngo_mentor"):
        assert as_user(cast.actors[actor]).post(url, data).status_code == 403, actor
    case = closed(cast)
    # Team members who are not coordinators: 403; whoever does not see the case: 404.
    for actor in (
        "case_manager",
        "police_on_team",
        "ngo_mentor",
        "police_off_team",
        "auditor",
        "trainer",
    ):
        client = as_user(cast.actors[actor])
        sees = client.get(reverse("cases:case", args=[case.pk])).status_code == 200
        response = client.post(url, data)
        assert response.status_code == (403 if sees else 404), actor
    assert as_user(cast.outsider).post(url, data).status_code == 404
    assert not ErasureRequest.objects.exists()
    # The DPO page is for auditors only; a DPO of another organisation does
    # not reach the partnership's requests.
    assert as_user(cast.coordinator).get(reverse("cases:erasure_requests")).status_code == 403
    ask(cast, as_user, case)
    request = ErasureRequest.objects.get()
    stranger = UserFactory(
        username="other_dpo", organisation=cast.orgs["elsewhere"], role="auditor"
    )
    page = as_user(stranger).get(reverse("cases:erasure_requests"))
    assert case.reference not in page.content.decode()
    approve = as_user(stranger).post(
        reverse("cases:erasure_requests"),
        {
            "op": "approve",
            "approve-erasure": str(request.pk),
            "approve-code": current_code(stranger),
        },
    )
    assert approve.status_code == 404
    assert ErasureRequest.objects.get().status == ErasureStatus.PENDING


def test_the_case_page_offers_erasure_only_on_a_closed_case(cast: Cast, as_user) -> None:
    url = reverse("cases:retention_section", args=[cast.case.pk])
    assert "Ask for erasure" not in as_user(cast.coordinator).get(url, **HX).content.decode()
    close(cast.case, timezone.localdate())
    assert "Ask for erasure" in as_user(cast.coordinator).get(url, **HX).content.decode()
    assert "Ask for erasure" not in as_user(cast.case_manager).get(url, **HX).content.decode()


def test_an_approval_whose_audit_fails_erases_nothing(cast: Cast, as_user, monkeypatch) -> None:
    case = closed(cast)
    ask(cast, as_user, case)
    request = ErasureRequest.objects.get()
    before = Event.objects.count()

    def broken(event):
        raise RuntimeError("audit store unavailable")

    monkeypatch.setattr(chain, "append", broken)
    client = as_user(cast.auditor)
    client.raise_request_exception = False
    response = client.post(
        reverse("cases:erasure_requests"),
        {
            "op": "approve",
            "approve-erasure": str(request.pk),
            "approve-code": current_code(cast.auditor),
        },
    )
    assert response.status_code == 500
    assert MARK not in response.content.decode()
    assert Case.objects.filter(pk=case.pk).exists()
    assert ErasureRequest.objects.get(pk=request.pk).status == ErasureStatus.PENDING
    assert len(tables_holding(MARK)) >= 10
    assert Event.objects.count() == before
