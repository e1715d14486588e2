"""One case from referral to erasure, through the pages, as the issue's "done
means" describes it: referral, triage, an active case, release planning,
reminders, a contact and a signal, a transfer, closure and erasure, each
step visible in the audit log, and the chain verified at the end.

Every step is a request a user makes in the browser (the Django test
client); only the worker's run is called directly, as `prepare worker` does.
"""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from prepare.audit.chain import verify
from prepare.audit.models import Event, EventAction
from prepare.cases.models import Case, CaseStatus, Person, Transfer
from prepare.notifications.models import Notification, NotificationKind
from prepare.notifications.reminders import run_reminders
from prepare.plans.models import ChecklistItem
from tests.cast import Cast, current_code
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

FAMILY = "Storyline"


def ok(response: Any) -> Any:
    assert response.status_code in (200, 201, 204, 302), (
        response.status_code,
        response.content.decode()[-1500:],
    )
    return response


def version(case: Case) -> str:
    return str(Case.objects.get(pk=case.pk).version)


def test_a_case_from_referral_to_erasure(cast: Cast, as_user: Any) -> None:
    coordinator = as_user(cast.coordinator)
    today = timezone.localdate()
    start = Event.objects.count()

    # 1. Referral by the coordinator (from a court), then triage.
    ok(
        coordinator.post(
            reverse("cases:referral_create"),
            {
                "partnership": str(cast.partnership.pk),
                "referrer_type": "court",
                "referring_organisation": "",
                "given_name": "Ada",
                "family_name": FAMILY,
                "birth_date": "1990-05-17",
                "identifier": "",
                "data_subject_category": "convicted",
                "reason": "Sentenced for preparing an attack; release in three weeks.",
                "reason_category": "risk",
                "decision": "",
            },
        )
    )
    case = Case.objects.get(person__family_name=FAMILY)
    assert case.status == CaseStatus.REFERRED
    ok(
        coordinator.post(
            reverse("cases:transition", args=[case.pk]),
            {
                "to_status": "triage",
                "reason": "Complete referral",
                "version": version(case),
                "confirm": "on",
            },
        )
    )
    ok(
        coordinator.post(
            reverse("cases:triage_decide", args=[case.pk]),
            {
                "outcome": "multi_agency",
                "active_status": "pre_release",
                "reasons": "Release close; housing and mentoring needed.",
                "version": version(case),
            },
        )
    )
    case.refresh_from_db()
    assert case.status == CaseStatus.PRE_RELEASE

    # 2. Release planning: the release date, then the checklist from the template.
    release = today + datetime.timedelta(days=20)
    ok(
        coordinator.post(
            reverse("cases:key_dates", args=[case.pk]),
            {"kind": "expected_release", "date": release.isoformat(), "version": ""},
        )
    )
    ok(coordinator.post(reverse("plans:checklist_start", args=[case.pk])))
    items = ChecklistItem.objects.filter(case=case)
    assert items.count() >= 12
    assert all(i.due_on == release + datetime.timedelta(days=i.offset_days) for i in items)

    # 3. The worker's reminders reach the coordinator's bell.
    run_reminders(timezone.now())
    bell = Notification.objects.filter(user=cast.coordinator, case_id=case.pk)
    assert bell.filter(kind=NotificationKind.RELEASE).exists()
    listed = coordinator.get(reverse("notifications:list")).content.decode()
    assert case.reference in listed

    # 4. Monitoring: a contact and a high signal.
    now = timezone.localtime()
    ok(
        coordinator.post(
            reverse("monitoring:contact_create", args=[case.pk]),
            {
                "contact-category": "meetings",
                "contact-kind": "meeting",
                "contact-occurred_at": now.strftime("%Y-%m-%dT%H:%M"),
                "contact-summary": "Prison visit to prepare the release plan.",
            },
        )
    )
    ok(
        coordinator.post(
            reverse("monitoring:signal_create", args=[case.pk]),
            {
                "signal-severity": "high",
                "signal-category": "meetings",
                "signal-description": "Contact with a known recruiter reported.",
            },
        )
    )

    # 5. The person moves: transfer, accepted by the receiving coordinator.
    ok(
        coordinator.post(
            reverse("cases:transfer_section", args=[case.pk]),
            {
                "to_partnership": str(cast.other_partnership.pk),
                "summary_category": "meetings",
                "handover_summary": "Moves to live with family; plan and mentor in place.",
                # What the new city needs; police intelligence stays behind.
                "categories": [
                    "identity",
                    "justice",
                    "risk",
                    "social",
                    "interventions",
                    "meetings",
                ],
            },
        )
    )
    transfer = Transfer.objects.get(case=case)
    receiver = as_user(cast.outsider)
    ok(
        receiver.post(
            reverse("cases:transfer_decide", args=[transfer.pk]),
            {"decision": "accept", "reason": ""},
        )
    )
    case.refresh_from_db()
    assert case.partnership_id == cast.other_partnership.pk

    # 6. Closure on the receiving side: proposed with what is still open
    # confirmed group by group, then approved by a second coordinator.
    refused = receiver.post(
        reverse("cases:transition", args=[case.pk]),
        {"to_status": "closing", "reason": "Licence ended", "version": version(case)},
    )
    assert refused.status_code == 422
    assert "Open checklist items" in refused.content.decode()
    ok(
        receiver.post(
            reverse("cases:transition", args=[case.pk]),
            {
                "to_status": "closing",
                "reason": "Licence ended",
                "version": version(case),
                "confirm_key_dates": "on",
                "confirm_checklist": "on",
                "confirm_signals": "on",
                "confirm": "on",
            },
        )
    )
    second = UserFactory(
        username="elsewhere_second", organisation=cast.orgs["elsewhere"], role="coordinator"
    )
    ok(
        as_user(second).post(
            reverse("cases:transition", args=[case.pk]),
            {
                "to_status": "closed",
                "reason": "Plan completed",
                "outcome": "sentence_ended",
                "version": version(case),
                "confirm": "on",
            },
        )
    )
    case.refresh_from_db()
    assert case.status == CaseStatus.CLOSED

    # 7. Erasure: the receiving coordinator asks, that partnership's DPO approves.
    ok(
        receiver.post(
            reverse("cases:erasure", args=[case.pk]),
            {
                "op": "request",
                "erasure-reason": "The person asked for erasure after the case ended.",
                "erasure-code": current_code(cast.outsider),
            },
        )
    )
    dpo = UserFactory(username="elsewhere_dpo", organisation=cast.orgs["elsewhere"], role="auditor")
    request = case.erasure_requests.get()
    ok(
        as_user(dpo).post(
            reverse("cases:erasure_requests"),
            {
                "op": "approve",
                "approve-erasure": str(request.pk),
                "approve-code": current_code(dpo),
            },
        )
    )
    assert not Case.objects.filter(pk=case.pk).exists()
    assert not Person.objects.filter(family_name=FAMILY).exists()

    # Every step is in the audit log, on the case, in order; the chain holds.
    events = Event.objects.filter(seq__gt=start, case_id=case.pk).order_by("seq")
    actions = list(events.values_list("action", flat=True))
    steps = [
        EventAction.CREATE,  # the referral
        EventAction.UPDATE,  # transitions, triage, key dates
        EventAction.TRANSFER,
        EventAction.ERASE,
    ]
    positions = [actions.index(step) for step in steps]
    assert positions == sorted(positions), actions
    details = [e.detail for e in events]
    assert any(d.get("step") == "accepted" and d.get("side") == "sending" for d in details)
    assert any(d.get("step") == "requested" for d in details)
    assert any(d.get("step") == "approved" for d in details)
    assert any(d.get("action") == "erase" for d in details)  # the tombstone
    # The auditor's search finds the whole story by the case's id.
    search = as_user(cast.auditor).get(reverse("audit:search"), {"case": case.pk})
    assert search.status_code == 200
    body = search.content.decode()
    for label in ("Create", "Transfer", "Erase"):
        assert f"<td>{label}</td>" in body, label
    assert verify() is None
