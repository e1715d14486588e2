"""The caseload's orders, filters and "what is next" columns (issue 9, item 8):
each order and filter is read from the grant index in SQL, the columns are read
for the page's cases only and only from readable records, and a page costs the
same number of queries at 10 and 500 cases in every order and with every filter."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from prepare.access.grants import case_grants_release
from prepare.accounts.models import User
from prepare.audit.models import EventAction
from prepare.audit.services import audit_record
from prepare.cases.models import Case, KeyDate, KeyDateKind
from prepare.cases.selectors import caseload
from prepare.monitoring.models import Severity, Signal, SignalStatus
from prepare.plans.models import ChecklistItem, ItemStatus
from tests.access.test_caseload import bulk_cases
from tests.cast import Cast, verified_client

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate


def fresh(user: User) -> User:
    return User.objects.get(pk=user.pk)


def with_release(case: Case, days: int, actor: User) -> None:
    KeyDate.objects.update_or_create(
        case=case,
        kind=KeyDateKind.EXPECTED_RELEASE,
        defaults={"date": TODAY() + datetime.timedelta(days=days), "updated_by": actor},
    )
    case_grants_release(case, TODAY() + datetime.timedelta(days=days))


def overdue_item(case: Case, category: str, actor: User) -> ChecklistItem:
    return ChecklistItem.objects.create(
        case=case,
        category=category,
        title=f"Overdue {category}",
        due_on=TODAY() - datetime.timedelta(days=3),
        status=ItemStatus.OPEN,
        created_by=actor,
    )


def open_signal(case: Case, category: str, severity: str, actor: User) -> Signal:
    return Signal.objects.create(
        case=case,
        category=category,
        severity=severity,
        escalated=severity in (Severity.HIGH, Severity.URGENT),
        description="A concern",
        raised_by=actor,
        created_by=actor,
        updated_by=actor,
        status=SignalStatus.OPEN,
    )


def ids(page) -> list[int]:  # type: ignore[no-untyped-def]
    return [r.case.pk for r in page.rows]


def test_orders(cast: Cast) -> None:
    a, b, c = bulk_cases(cast, 3)
    with_release(b, 10, cast.case_manager)
    with_release(a, 40, cast.case_manager)
    manager = fresh(cast.case_manager)
    assert ids(caseload(actor=manager)) == [cast.case.pk, c.pk, b.pk, a.pk]
    by_reference = ids(caseload(actor=manager, sort="reference"))
    assert by_reference == [a.pk, b.pk, c.pk, cast.case.pk]  # BULK-… before TST-…
    # By release date: the cases that have one, soonest first.
    assert ids(caseload(actor=manager, sort="release")) == [b.pk, a.pk]
    assert caseload(actor=manager, sort="release").total == 2


def test_filters_in_sql(cast: Cast) -> None:
    a, b, c = bulk_cases(cast, 3)
    with_release(a, 20, cast.case_manager)
    with_release(b, 60, cast.case_manager)
    overdue_item(c, "social", cast.case_manager)
    open_signal(b, "risk", Severity.HIGH, cast.case_manager)
    manager = fresh(cast.case_manager)
    assert ids(caseload(actor=manager, release_days=30)) == [a.pk]
    assert sorted(ids(caseload(actor=manager, release_days=90))) == sorted([a.pk, b.pk])
    assert ids(caseload(actor=manager, overdue=True)) == [c.pk]
    assert ids(caseload(actor=manager, signals=True)) == [b.pk]
    assert ids(caseload(actor=manager, signals=True, overdue=True)) == []
    # A done item, or one not yet due, is not overdue; a closed signal not open.
    ChecklistItem.objects.filter(case=c).update(status=ItemStatus.DONE, completed_at=timezone.now())
    assert ids(caseload(actor=manager, overdue=True)) == []
    Signal.objects.filter(case=b).update(status=SignalStatus.CLOSED)
    assert ids(caseload(actor=manager, signals=True)) == []


def test_filters_and_columns_count_only_readable_records(cast: Cast) -> None:
    """The NGO reads social and interventions only: an overdue health item, a
    risk signal and the (justice) key dates are neither counted nor shown to
    it, nor do they make the case match its filters."""
    k = cast.case
    with_release(k, 15, cast.case_manager)
    overdue_item(k, "health", cast.case_manager)
    overdue_item(k, "social", cast.case_manager)
    open_signal(k, "risk", Severity.URGENT, cast.case_manager)
    manager = caseload(actor=fresh(cast.case_manager))
    row = manager.rows[0]
    assert row.next_date is not None and row.next_date.days_left == 15
    assert row.next_date.kind == KeyDateKind.EXPECTED_RELEASE
    assert (row.overdue, row.signals) == (2, {"urgent": 1})
    mentor = caseload(actor=fresh(cast.ngo_mentor)).rows[0]
    assert (mentor.next_date, mentor.overdue, mentor.signals) == (None, 1, {})
    assert ids(caseload(actor=fresh(cast.ngo_mentor), signals=True)) == []
    ChecklistItem.objects.filter(case=k, category="social").delete()
    assert ids(caseload(actor=fresh(cast.ngo_mentor), overdue=True)) == []
    assert ids(caseload(actor=fresh(cast.case_manager), overdue=True)) == [k.pk]
    # The page shows them, in words.
    body = verified_client(cast.case_manager).get(reverse("cases:caseload")).content.decode()
    assert "Expected release" in body and "in 15 days" in body and "1 urgent" in body


COMBINATIONS = [
    {},
    {"sort": "reference"},
    {"sort": "release"},
    {"status": "community"},
    {"release_days": 90},
    {"overdue": True},
    {"signals": True},
    {"sort": "reference", "overdue": True, "signals": True, "release_days": 180},
]


def _furnish(cast: Cast, cases: list[Case]) -> None:
    for i, case in enumerate(cases):
        with_release(case, 5 + i % 150, cast.case_manager)
        if i % 2 == 0:
            overdue_item(case, "social", cast.case_manager)
        if i % 3 == 0:
            open_signal(case, "risk", Severity.LOW, cast.case_manager)


def test_the_query_count_is_the_same_at_10_and_500_cases_in_every_order_and_filter(
    cast: Cast,
) -> None:
    audit_record(action=EventAction.LOGIN, actor=cast.case_manager)  # the chain exists
    _furnish(cast, bulk_cases(cast, 9))
    small: dict[int, int] = {}
    for n, options in enumerate(COMBINATIONS):
        actor = fresh(cast.case_manager)
        with CaptureQueriesContext(connection) as queries:
            page = caseload(actor=actor, **options)
        assert page.rows, options
        small[n] = len(queries.captured_queries)
    _furnish(cast, bulk_cases(cast, 491, start=9))
    for n, options in enumerate(COMBINATIONS):
        actor = fresh(cast.case_manager)
        with CaptureQueriesContext(connection) as queries:
            page = caseload(actor=actor, **options)
        assert len(page.rows) == 25, options
        assert len(queries.captured_queries) == small[n], options
        # One scan of the grant index gives the page and the capped count.
        scans = [
            q["sql"] for q in queries.captured_queries if 'FROM "access_casegrant"' in q["sql"]
        ]
        assert len(scans) == 1, options


def test_the_page_takes_the_filters_and_keeps_them(cast: Cast) -> None:
    (a,) = bulk_cases(cast, 1)
    overdue_item(a, "social", cast.case_manager)
    client = verified_client(cast.case_manager)
    body = client.get(
        reverse("cases:caseload"), {"overdue": "on", "sort": "reference"}
    ).content.decode()
    assert a.reference in body and cast.case.reference not in body
    assert "Clear filters" in body
    bad = client.get(reverse("cases:caseload"), {"release": "7", "sort": "sideways"})
    assert bad.status_code == 200  # a bad value only drops its own filter
    assert cast.case.reference in bad.content.decode()


def test_the_api_sorts_and_filters_the_same_way(cast: Cast) -> None:
    from prepare.accounts.services import api_token_create

    a, b = bulk_cases(cast, 2)
    overdue_item(b, "social", cast.case_manager)
    with_release(a, 20, cast.case_manager)
    _, raw = api_token_create(actor=cast.case_manager, name="caseload")
    from django.test import Client

    api = Client(headers={"Authorization": f"Bearer {raw}"})

    def refs(**params: str) -> list[str]:
        response = api.get("/api/v1/cases/", params)
        assert response.status_code == 200, response.json()
        return [row["reference"] for row in response.json()["results"]]

    assert refs(sort="reference") == [a.reference, b.reference, cast.case.reference]
    assert refs(sort="release") == [a.reference]
    assert refs(release="30") == [a.reference]
    assert refs(overdue="true") == [b.reference]
    assert refs(signals="true") == []
    assert api.get("/api/v1/cases/", {"sort": "sideways"}).status_code == 400
    assert api.get("/api/v1/cases/", {"release": "7"}).status_code == 400
