"""The case page in one response: every section, a fixed number of queries, one
audit event naming what each section showed, and a summary on the first screen."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from prepare.accounts.models import Role
from prepare.audit.models import Event, EventAction
from prepare.cases.models import (
    CaseNote,
    CaseTeamMember,
    CaseTransition,
    KeyDate,
    KeyDateKind,
    LegalHold,
    NoteKind,
)
from prepare.documents.models import Document
from prepare.monitoring.models import Breach, Contact, ContactKind, Signal, SignalAlert
from prepare.plans.models import ChecklistItem
from tests.cast import Cast, sentinel
from tests.factories import UserFactory
from tests.monitoring.support import add_condition


def _case_url(cast: Cast) -> str:
    return reverse("cases:case", args=[cast.case.pk])


def fill_case(cast: Cast, n: int) -> None:
    """``n`` of every kind of record the case page shows (the key dates: ``n``
    kinds, at most all of them), in categories the case manager reads."""
    case, manager = cast.case, cast.case_manager
    today = timezone.localdate()
    now = timezone.now()
    for i in range(n):
        author = UserFactory(organisation=cast.orgs["probation"], role=Role.CASE_MANAGER)
        note = CaseNote.objects.create(
            case=case,
            category="risk",
            kind=NoteKind.FACT,
            text=f"note {i}",
            created_by=author,
            updated_by=author,
        )
        Document.objects.create(
            case=case,
            category="risk",
            note=note,
            title=f"document {i}",
            organisation=cast.orgs["probation"],
            storage_name=f"c{case.pk}/fill-{i}.txt",
            filename=f"report-{i}.txt",
            content_type="text/plain",
            size=10,
            sha256="0" * 64,
            created_by=author,
            updated_by=author,
        )
        CaseTeamMember.objects.create(
            case=case, organisation=cast.orgs["probation"], user=author, purpose="Supervision"
        )
        ChecklistItem.objects.create(
            case=case,
            title=f"item {i}",
            category="justice",
            due_on=today + datetime.timedelta(days=i - n // 2),
            created_by=manager,
        )
        Contact.objects.create(
            case=case,
            category="risk",
            kind=ContactKind.MEETING,
            occurred_at=now - datetime.timedelta(hours=i + 1),
            who=manager,
            summary=f"contact {i}",
            created_by=manager,
            updated_by=manager,
        )
        signal = Signal.objects.create(
            case=case,
            category="risk",
            severity="high",
            escalated=True,
            description=f"signal {i}",
            raised_by=manager,
            created_by=manager,
            updated_by=manager,
        )
        SignalAlert.objects.create(signal=signal, user=manager)
        condition = add_condition(cast, f"condition {i}")
        Breach.objects.create(
            condition=condition,
            case=case,
            occurred_on=today - datetime.timedelta(days=1),
            description=f"breach {i}",
            reported_by=manager,
            created_by=manager,
            updated_by=manager,
        )
        CaseTransition.objects.create(
            case=case,
            from_status=case.status,
            to_status=case.status,
            reason=f"transition {i}",
            category="meetings",
            actor=cast.coordinator,
        )
        LegalHold.objects.create(
            case=case,
            reason=f"hold {i}",
            until=today + datetime.timedelta(days=30 + i),
            placed_by=cast.coordinator,
        )
    for i, kind in enumerate(KeyDateKind.values[:n]):
        KeyDate.objects.update_or_create(
            case=case,
            kind=kind,
            defaults={"date": today + datetime.timedelta(days=10 * i - 5), "updated_by": manager},
        )


# The request (session, user, OTP device, the navigation's counts, and its
# transaction, a savepoint pair here: 6), the grants (1), the case and the write
# check (2), notes, team and the break-glass check (3), the key dates (1), the
# status history and triage decisions (2), the checklist (1), contacts,
# conditions, breaches and signals (4), transfers (1), legal holds (1), the
# conditions of the form to record a breach (1), the documents with their
# authors and records (1), and the one audit event (stored, access index, then
# sealed: check, chain head, seal, head update: 6).
CASE_MANAGER_QUERIES = 30
COORDINATOR_QUERIES = CASE_MANAGER_QUERIES + 2


@pytest.mark.parametrize("n", [2, 20])
@pytest.mark.parametrize(
    ("actor", "expected"),
    [("case_manager", CASE_MANAGER_QUERIES), ("coordinator", COORDINATOR_QUERIES)],
)
def test_case_page_query_count_does_not_grow_with_records(
    cast: Cast, as_user: Any, django_assert_num_queries: Any, n: int, actor: str, expected: int
) -> None:
    fill_case(cast, n)
    client = as_user(getattr(cast, actor))
    client.get(reverse("cases:caseload"))  # the audit chain has its head already

    with django_assert_num_queries(expected):
        response = client.get(_case_url(cast))

    body = response.content.decode()
    assert response.status_code == 200
    # Every kind of record is on the page, all n of them (the coordinator reads
    # no risk, so not the notes, contacts and signals planted in risk).
    if actor == "case_manager":
        assert all(f"<p>note {i}</p>" in body for i in range(n))
        assert all(f"<p>contact {i}</p>" in body for i in range(n))
        assert all(f"<p>signal {i}</p>" in body for i in range(n))
        assert all(f">document {i}</a>" in body for i in range(n))
    assert all(f"item {i}</strong>" in body for i in range(n))
    assert all(f"<p>condition {i}</p>" in body for i in range(n))
    assert all(f"transition {i}" in body for i in range(n))


def test_case_page_is_one_response_with_one_audit_event(cast: Cast, as_user: Any) -> None:
    fill_case(cast, 2)
    client = as_user(cast.case_manager)
    client.get(reverse("cases:caseload"))
    before = Event.objects.count()

    body = client.get(_case_url(cast)).content.decode()

    # No section waits for a second request.
    assert 'hx-trigger="load"' not in body
    for anchor in ("key-dates", "checklist", "monitoring", "notes", "lifecycle", "team"):
        assert f'href="#{anchor}"' in body and f'id="{anchor}"' in body
    for anchor in ("transfer", "retention"):
        assert f'href="#{anchor}"' in body and f'id="{anchor}"' in body
    (event,) = Event.objects.order_by("seq")[before:]
    assert (event.action, event.case_id, event.category) == (
        EventAction.VIEW,
        cast.case.pk,
        "identity",
    )
    detail = event.detail
    assert detail["view"] == "case"
    case = cast.case
    assert sorted(detail["notes"]) == sorted(
        CaseNote.objects.visible_to(cast.case_manager)
        .filter(case=case)
        .values_list("pk", flat=True)
    )
    sections = detail["sections"]
    assert sorted(sections["key_dates"]["key_dates"]) == sorted(
        KeyDate.objects.filter(case=case).values_list("pk", flat=True)
    )
    assert sorted(sections["checklist"]["items"]) == sorted(
        ChecklistItem.objects.filter(case=case).values_list("pk", flat=True)
    )
    assert sorted(sections["monitoring"]["signals"]) == sorted(
        Signal.objects.filter(case=case).values_list("pk", flat=True)
    )
    assert sorted(sections["monitoring"]["contacts"]) == sorted(
        Contact.objects.filter(case=case, category="risk").values_list("pk", flat=True)
    )
    assert sorted(sections["lifecycle"]["transitions"]) == sorted(
        CaseTransition.objects.filter(case=case).values_list("pk", flat=True)
    )
    # Only the holds in force, without their reasons: not the coordinator.
    assert len(sections["retention"]["holds"]) == 2
    assert "hold 0" not in body
    assert sections["transfer"] == {"transfers": []}
    assert {"justice", "meetings", "risk"} <= set(detail["categories"])
    # Identifiers only: no text of any record in the event.
    assert "note 0" not in str(detail) and "signal 0" not in str(detail)


def test_summary_shows_the_next_date_and_what_is_overdue(cast: Cast, as_user: Any) -> None:
    fill_case(cast, 2)  # sentence start 5 days ago, earliest release in 5 days
    body = as_user(cast.case_manager).get(_case_url(cast)).content.decode()
    summary = body[body.index('class="summary-list case-summary"') : body.index('class="page-nav"')]

    assert "Earliest conditional release" in summary and "in 5 days" in summary
    # One of the two items is due yesterday; both signals wait for the manager.
    assert "1 release-planning item overdue" in summary
    assert "2 signals waiting for your acknowledgement" in summary
    assert "2 signals of concern not acknowledged" in summary
    assert "Probation" in summary


def test_summary_says_when_nothing_is_due(cast: Cast, as_user: Any) -> None:
    body = as_user(cast.case_manager).get(_case_url(cast)).content.decode()
    summary = body[body.index('class="summary-list case-summary"') : body.index('class="page-nav"')]

    assert "Nothing overdue" in summary
    assert "No key date ahead" in summary


def test_summary_hides_the_key_dates_of_an_organisation_without_justice(
    cast: Cast, as_user: Any
) -> None:
    fill_case(cast, 2)
    body = as_user(cast.ngo_mentor).get(_case_url(cast)).content.decode()
    summary = body[body.index('class="summary-list case-summary"') : body.index('class="page-nav"')]

    assert "Earliest conditional release" not in body
    assert "Not shared with your organisation" in summary
    assert "item 0" not in body and "condition 0" not in body  # justice
    assert sentinel("justice") not in body
