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
# authors and records (1), their earlier files (1: the cast's documents were
# replaced once each), the latest completed assessment of each instrument (1),
# and the one audit event (stored, access index, then sealed: check, chain
# head, seal, head update: 6). The next review of each instrument comes from
# that same read of the latest assessments.
CASE_MANAGER_QUERIES = 32
# The coordinator's page also looks for a pending erasure request (1). The
# partnerships a transfer could go to are no longer read: proposing one is on
# the transfer's own page, under "More actions".
COORDINATOR_QUERIES = CASE_MANAGER_QUERIES + 1


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


def _summary(body: str) -> str:
    return body[body.index('class="case-summary"') : body.index('class="page-nav"')]


def _cell(summary: str, label: str) -> str:
    """The text of one cell of the summary, from its heading to the next one."""
    start = summary.index(f">{label}</h3>")
    end = summary.find('class="case-summary__cell', start)
    return summary[start : end if end != -1 else None]


def test_summary_shows_the_next_date_and_what_is_overdue(cast: Cast, as_user: Any) -> None:
    fill_case(cast, 2)  # sentence start 5 days ago, earliest release in 5 days
    body = as_user(cast.case_manager).get(_case_url(cast)).content.decode()
    summary = _summary(body)

    next_date = _cell(summary, "Next key date")
    assert "Earliest conditional release" in next_date and "In 5 days" in next_date
    # One of the two items is due yesterday, the other today.
    planning = _cell(summary, "Release planning")
    assert "0 of 2 done" in planning and "1 overdue" in planning
    # Two high signals, open, both waiting for the manager.
    signals = _cell(summary, "Signals not acknowledged")
    assert "badge--severity-high" in signals and "High</span> 2" in signals
    assert "urgent" not in signals.lower()
    assert "2 waiting for your acknowledgement" in signals
    # The most recent contact, an hour ago: today.
    contact = _cell(summary, "Last contact")
    assert "Today" in contact and "Meeting" in contact
    assert "Probation" in _cell(summary, "Case team")


def test_the_next_date_is_the_expected_release_when_it_is_ahead(cast: Cast, as_user: Any) -> None:
    fill_case(cast, 7)  # seven kinds, from 5 days ago, 10 days apart
    today = timezone.localdate()
    expected = KeyDate.objects.get(case=cast.case, kind=KeyDateKind.EXPECTED_RELEASE)
    assert expected.date == today + datetime.timedelta(days=15)  # not the first ahead
    client = as_user(cast.case_manager)

    cell = _cell(_summary(client.get(_case_url(cast)).content.decode()), "Next key date")
    assert "Expected release" in cell and "In 15 days" in cell
    assert "Earliest conditional release" not in cell

    # Once the expected release has passed, the first date ahead is the next one.
    KeyDate.objects.filter(pk=expected.pk).update(date=today - datetime.timedelta(days=1))
    cell = _cell(_summary(client.get(_case_url(cast)).content.decode()), "Next key date")
    assert "Earliest conditional release" in cell and "In 5 days" in cell

    # Today counts as ahead, and says so.
    KeyDate.objects.filter(pk=expected.pk).update(date=today)
    cell = _cell(_summary(client.get(_case_url(cast)).content.decode()), "Next key date")
    assert "Expected release" in cell and "Today" in cell


def test_summary_counts_open_signals_by_severity(cast: Cast, as_user: Any) -> None:
    manager = cast.case_manager
    for severity, status in [
        ("urgent", "open"),
        ("high", "open"),
        ("high", "open"),
        ("low", "open"),
        ("medium", "acknowledged"),
        ("urgent", "closed"),
    ]:
        Signal.objects.create(
            case=cast.case,
            category="risk",
            severity=severity,
            escalated=severity in ("high", "urgent"),
            status=status,
            description="s",
            raised_by=manager,
            created_by=manager,
            updated_by=manager,
        )
    cell = _cell(
        _summary(as_user(manager).get(_case_url(cast)).content.decode()),
        "Signals not acknowledged",
    )

    # Most severe first; acknowledged and closed signals are not open.
    assert cell.index("Urgent</span> 1") < cell.index("High</span> 2") < cell.index("Low</span> 1")
    assert "Medium" not in cell
    assert "waiting for your acknowledgement" not in cell  # nobody alerted the manager


def test_summary_says_when_nothing_is_due(cast: Cast, as_user: Any) -> None:
    summary = _summary(as_user(cast.case_manager).get(_case_url(cast)).content.decode())

    assert "No key date ahead" in _cell(summary, "Next key date")
    assert "Not started" in _cell(summary, "Release planning")
    assert "None that you may see" in _cell(summary, "Signals not acknowledged")


def test_summary_hides_the_key_dates_of_an_organisation_without_justice(
    cast: Cast, as_user: Any
) -> None:
    fill_case(cast, 2)
    body = as_user(cast.ngo_mentor).get(_case_url(cast)).content.decode()
    summary = _summary(body)

    assert "Earliest conditional release" not in body
    assert "Not shared with your organisation" in _cell(summary, "Next key date")
    assert "item 0" not in body and "condition 0" not in body  # justice
    assert sentinel("justice") not in body


def test_the_navigation_lists_every_section_in_order(cast: Cast, as_user: Any) -> None:
    from prepare.cases.page import SECTIONS

    body = as_user(cast.case_manager).get(_case_url(cast)).content.decode()
    nav = body[
        body.index('class="page-nav"') : body.index("</nav>", body.index('class="page-nav"'))
    ]

    links = [f'href="#{s.anchor}"' for s in SECTIONS]
    assert [nav.index(link) for link in links] == sorted(nav.index(link) for link in links)
    # Each section is on the page, in the same order, under its anchor.
    positions = [body.index(f'id="{s.anchor}"') for s in SECTIONS]
    assert positions == sorted(positions)


def test_consequential_actions_are_behind_more_actions(cast: Cast, as_user: Any) -> None:
    """No status move, transfer or hold form on the case page: links under a
    closed "More actions" disclosure, to the pages where each is confirmed."""
    body = as_user(cast.coordinator).get(_case_url(cast)).content.decode()

    more = body[
        body.index('id="more-actions"') : body.index("</details>", body.index('id="more-actions"'))
    ]
    assert (
        "<details" in body[body.index('id="more-actions"') - 40 : body.index('id="more-actions"')]
    )
    assert (
        " open"
        not in body[body.index('id="more-actions"') - 40 : body.index('id="more-actions"') + 40]
    )
    assert reverse("cases:lifecycle_section", args=[cast.case.pk]) in more
    assert reverse("cases:transfer_section", args=[cast.case.pk]) in more
    assert reverse("cases:retention_section", args=[cast.case.pk]) in more
    assert "Released into the community" in more  # named, not a button
    for action in ("cases:transition", "cases:legal_hold_place", "cases:legal_hold_release"):
        assert f'action="{reverse(action, args=[cast.case.pk])}"' not in body
    assert 'id="propose-transfer-heading"' not in body


def test_more_actions_offers_only_what_the_user_may_do(cast: Cast, as_user: Any) -> None:
    body = as_user(cast.police_on_team).get(_case_url(cast)).content.decode()
    more = body[
        body.index('id="more-actions"') : body.index("</details>", body.index('id="more-actions"'))
    ]

    assert reverse("cases:transfer_section", args=[cast.case.pk]) not in more
    assert reverse("cases:retention_section", args=[cast.case.pk]) not in more


def test_a_status_move_without_confirmation_is_refused(cast: Cast, as_user: Any) -> None:
    client = as_user(cast.case_manager)
    url = reverse("cases:transition", args=[cast.case.pk])
    data = {"to_status": "community", "reason": "Released on licence.", "version": "1"}
    events = Event.objects.count()

    response = client.post(url, data)

    assert response.status_code == 422
    assert "Tick the box to confirm the change of status. Nothing was changed." in (
        response.content.decode()
    )
    cast.case.refresh_from_db()
    assert (cast.case.status, cast.case.version) == ("pre_release", 1)
    assert not CaseTransition.objects.filter(case=cast.case).exists()
    assert not Event.objects.filter(action=EventAction.UPDATE).exists()
    assert Event.objects.count() == events + 1  # the page shown again: one view

    # Confirmed, the move is made and says so, announced, on the case page.
    response = client.post(url, {**data, "confirm": "on"}, follow=True)
    cast.case.refresh_from_db()
    assert cast.case.status == "community"
    assert response.redirect_chain[-1][0].endswith("#lifecycle")
    body = response.content.decode()
    region = body[body.index('id="messages"') : body.index("</div>", body.index('id="messages"'))]
    assert 'role="status"' in region and "The status of the case is changed." in region


def test_the_status_page_asks_for_confirmation_of_each_move(cast: Cast, as_user: Any) -> None:
    body = (
        as_user(cast.case_manager)
        .get(reverse("cases:lifecycle_section", args=[cast.case.pk]))
        .content.decode()
    )

    assert (
        'id="moves"' in body
        and "open" in body[body.index('id="moves"') : body.index('id="moves"') + 20]
    )
    assert body.count('type="checkbox" name="confirm"') == 2  # released, closure proposed
    assert "I confirm: Released into the community" in body
