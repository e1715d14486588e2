"""Each role lands where its work is: the rule, the pages, and their cost."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.shortcuts import resolve_url
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from prepare.access.abilities import Home, home_for
from prepare.access.grants import case_grants_rebuild
from prepare.accounts.models import Role
from prepare.audit.models import Event, EventAction
from prepare.cases.models import (
    Case,
    CaseStatus,
    CaseTeamMember,
    KeyDate,
    KeyDateKind,
    Transfer,
)
from prepare.monitoring.models import Signal, SignalAlert
from prepare.plans.models import ChecklistItem
from tests.cast import Cast
from tests.factories import PersonFactory, UserFactory


def days(n: int) -> datetime.date:
    return timezone.localdate() + datetime.timedelta(days=n)


def fill(cast: Cast, n: int, start: int = 10) -> list[Case]:
    """``n`` cases of the cast's partnership with probation on the team, each with
    everything the today page lists: a release in 10 days, a review in 5, an
    overdue item owed by probation, a high signal alerting the case manager and
    the coordinator; and as many referrals waiting for triage and transfers
    proposed to the partnership."""
    cases = []
    for i in range(start, start + n):
        case = Case.objects.create(
            person=PersonFactory(given_name=f"Given{i}", family_name=f"Family{i}"),
            partnership=cast.partnership,
            reference=f"TST-2026-{i:04d}",
            status=CaseStatus.PRE_RELEASE,
        )
        CaseTeamMember.objects.create(case=case, organisation=cast.orgs["probation"], purpose="x")
        for kind, in_days in ((KeyDateKind.EXPECTED_RELEASE, 10), (KeyDateKind.NEXT_REVIEW, 5)):
            KeyDate.objects.create(
                case=case, kind=kind, date=days(in_days), updated_by=cast.coordinator
            )
        case_grants_rebuild(case)
        ChecklistItem.objects.create(
            case=case,
            title=f"Housing {i}",
            category="justice",
            due_on=days(-2),
            owner_organisation=cast.orgs["probation"],
            created_by=cast.coordinator,
        )
        signal = Signal.objects.create(
            case=case,
            category="risk",
            severity="high",
            escalated=True,
            description="s",
            raised_by=cast.coordinator,
            created_by=cast.coordinator,
            updated_by=cast.coordinator,
        )
        for user in (cast.case_manager, cast.coordinator):
            SignalAlert.objects.create(signal=signal, user=user)
        referred = Case.objects.create(
            person=PersonFactory(),
            partnership=cast.partnership,
            reference=f"TST-2026-{i + 500:04d}",
            status=CaseStatus.REFERRED,
        )
        case_grants_rebuild(referred)
        moving = Case.objects.create(
            person=PersonFactory(),
            partnership=cast.other_partnership,
            reference=f"ELS-2026-{i:04d}",
            status=CaseStatus.COMMUNITY,
        )
        case_grants_rebuild(moving)
        Transfer.objects.create(
            case=moving,
            from_partnership=cast.other_partnership,
            to_partnership=cast.partnership,
            handover_summary="Moves in",
            proposed_by=cast.actors["outsider"],
        )
        cases.append(case)
    return cases


# --- The rule ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "home"),
    [
        (Role.COORDINATOR, Home.TODAY),
        (Role.CASE_MANAGER, Home.TODAY),
        (Role.PRACTITIONER, Home.TODAY),
        (Role.OBSERVER, Home.TODAY),
        (Role.AUDITOR, Home.DATA_PROTECTION),
        (Role.ADMINISTRATOR, Home.ADMINISTRATION),
        (Role.TRAINER, Home.INTRODUCTION),
        (Role.ANALYST, Home.INTRODUCTION),
    ],
)
def test_each_role_has_its_home(cast: Cast, role: str, home: str) -> None:
    user = UserFactory(organisation=cast.orgs["probation"], role=role)
    assert home_for(user) == home


def test_a_case_role_without_an_organisation_sees_no_today(db: None) -> None:
    # No organisation: no case can reach them, so no list of cases either.
    assert home_for(UserFactory(organisation=None, role=Role.CASE_MANAGER)) == Home.INTRODUCTION


def test_signing_in_lands_on_the_home_page() -> None:
    assert resolve_url(settings.LOGIN_REDIRECT_URL) == "/" == reverse("home:home")


# --- The pages ----------------------------------------------------------------------------


def test_the_case_manager_lands_on_today(cast: Cast, as_user: Any) -> None:
    fill(cast, 2)
    body = as_user(cast.case_manager).get("/").content.decode()

    assert "<h1>Today</h1>" in body
    assert "Housing 10" in body and "Housing 11" in body  # owed by probation, overdue
    assert "2 overdue" in body
    assert body.count("badge--severity-high") == 2  # waiting for the acknowledgement
    assert "Given10 Family10" in body  # releases and reviews, identity granted
    assert 'id="reviews-heading"' in body and "Next review" in body
    # Coordinators' lists only.
    assert "Incoming transfers" not in body and "Triage queue</h2>" not in body
    # One list event per list, naming the cases shown.
    views = {
        e.detail["view"]: e
        for e in Event.objects.filter(action=EventAction.LIST, actor_id=cast.case_manager.pk)
    }
    assert {"home.tasks", "home.signals", "release_board", "home.reviews"} <= set(views)
    tens = {c.pk for c in Case.objects.filter(reference__in=["TST-2026-0010", "TST-2026-0011"])}
    assert set(views["home.reviews"].case_ids) == tens


def test_the_coordinator_also_sees_transfers_and_triage(cast: Cast, as_user: Any) -> None:
    fill(cast, 2)
    body = as_user(cast.coordinator).get("/").content.decode()

    assert "Incoming transfers" in body and "ELS-2026-0010" in body
    assert "Triage queue</h2>" in body and "TST-2026-0510" in body


def test_today_shows_only_what_the_policy_lets_through(cast: Cast, as_user: Any) -> None:
    fill(cast, 2)
    # The NGO is on no team of these cases; the police officer off the team neither.
    for actor in ("ngo_mentor", "police_off_team"):
        body = as_user(cast.actors[actor]).get("/").content.decode()
        assert "<h1>Today</h1>" in body
        assert "TST-2026-0010" not in body and "Given10" not in body, actor


def test_the_lists_are_short_with_a_link_to_the_whole_list(cast: Cast, as_user: Any) -> None:
    fill(cast, 7)
    body = as_user(cast.coordinator).get("/").content.decode()

    triage = body[body.index('id="triage-heading"') :]
    assert triage.count("<li>") == 5
    assert reverse("cases:triage_queue") in triage
    assert reverse("plans:my_tasks") in body and reverse("monitoring:alerts") in body


@pytest.mark.parametrize(
    ("actor", "target"),
    [("auditor", "audit:search")],
)
def test_the_data_protection_officer_lands_on_the_audit_log(
    cast: Cast, as_user: Any, actor: str, target: str
) -> None:
    response = as_user(cast.actors[actor]).get("/")
    assert (response.status_code, response["Location"]) == (302, reverse(target))


def test_the_administrator_lands_on_administration(cast: Cast, as_user: Any) -> None:
    admin = UserFactory(organisation=None, role=Role.ADMINISTRATOR)
    response = as_user(admin).get("/")
    assert (response.status_code, response["Location"]) == (302, reverse("administration:home"))


@pytest.mark.parametrize("role", [Role.TRAINER, Role.ANALYST])
def test_trainers_and_analysts_read_what_prepare_holds_for_them(
    cast: Cast, as_user: Any, role: str
) -> None:
    fill(cast, 2)
    user = UserFactory(organisation=cast.orgs["municipality"], role=role)
    response = as_user(user).get("/")
    body = response.content.decode()

    assert response.status_code == 200
    assert "What you will find here now" in body and "What is coming" in body
    assert "My cases" not in body and "TST-2026" not in body
    assert not Event.objects.filter(actor_id=user.pk, action=EventAction.LIST).exists()


# --- What each costs ----------------------------------------------------------------------

# The request (session, user, device, the navigation's unread count, the
# transaction's savepoints), the grants, my tasks (per owner: a window of items
# and its policy check; the user's own assignments: one), the signals owed, the
# releases (window of grant rows, dates, checklist counts), the reviews (key
# dates, and the assessments whose review is due: one query, named in the same
# event), each list's audit event, and the sealing of the events: the same at
# any size.
CASE_MANAGER_HOME = 28
# And the incoming transfers with their packages (the records per category
# handed over, counted per kind of record) and the triage queue with its
# referrals, each with its own event. (One grouped query per kind of case
# record: a new record model adds one, whatever the data size; assessments
# added one.)
COORDINATOR_HOME = 50
# The request only: the page reads no case data.
INTRODUCTION_HOME = 6


@pytest.mark.parametrize(
    ("actor", "expected"),
    [("case_manager", CASE_MANAGER_HOME), ("coordinator", COORDINATOR_HOME)],
)
def test_today_costs_the_same_at_2_and_12_cases(
    cast: Cast, as_user: Any, django_assert_num_queries: Any, actor: str, expected: int
) -> None:
    client = as_user(cast.actors[actor])
    fill(cast, 2)
    client.get("/")  # the audit chain has its head already
    with CaptureQueriesContext(connection) as small:
        assert client.get("/").status_code == 200
    fill(cast, 10, start=100)
    with django_assert_num_queries(expected):
        body = client.get("/").content.decode()
    assert len(small.captured_queries) == expected
    assert "TST-2026-0100" in body or "TST-2026-0010" in body


def test_the_introduction_costs_the_same_whatever_the_cases(
    cast: Cast, as_user: Any, django_assert_num_queries: Any
) -> None:
    client = as_user(cast.trainer)
    fill(cast, 2)
    client.get("/")  # the session's last activity is written once a minute
    with CaptureQueriesContext(connection) as small:
        client.get("/")
    fill(cast, 10, start=100)
    with django_assert_num_queries(INTRODUCTION_HOME):
        client.get("/")
    assert len(small.captured_queries) == INTRODUCTION_HOME
