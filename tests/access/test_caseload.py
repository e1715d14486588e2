"""The caseload index: one row per visible case, newest activity first, and a
page that costs the same number of queries at ten cases or five hundred."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from prepare.access.grants import case_grants_rebuild, case_grants_touch
from prepare.access.models import CaseGrant
from prepare.access.policy import caseload_grants
from prepare.accounts.models import User
from prepare.audit.models import Event, EventAction
from prepare.audit.services import audit_record
from prepare.cases.models import Case, CaseStatus, CaseTeamMember, Person
from prepare.cases.selectors import COUNT_CAP, caseload
from prepare.cases.services import case_create, note_create, team_member_add
from tests.cast import Cast
from tests.factories import PersonFactory

# Queries for one caseload page, whatever the number of cases: the actor's
# grants (one query), the page's ids with the capped count (one range scan),
# the page's cases, what is next for them (next key date, overdue items, open
# signals: three), and the audit event, linked at once outside a request
# (savepoint, chain head, event, head update, case index, release).
CASELOAD_QUERIES = 12


def bulk_cases(cast: Cast, count: int, *, start: int = 0, rebuild: bool = True) -> list[Case]:
    """``count`` cases of the cast's partnership with probation on their team.

    The grant index comes from ``case_grants_rebuild``, or with ``rebuild=False``
    from rows written in bulk as it would write them (checked on one case).
    """
    base = timezone.now() - datetime.timedelta(days=1)
    persons = Person.objects.bulk_create(
        [
            Person(given_name=f"Bulk{start + i}", family_name="Case", data_subject_category="other")
            for i in range(count)
        ]
    )
    cases = Case.objects.bulk_create(
        [
            Case(
                person=person,
                partnership=cast.partnership,
                reference=f"BULK-{start + i:05d}",
                status=CaseStatus.COMMUNITY,
                updated_at=base + datetime.timedelta(seconds=start + i),
            )
            for i, person in enumerate(persons)
        ]
    )
    CaseTeamMember.objects.bulk_create(
        [
            CaseTeamMember(case=case, organisation=cast.orgs["probation"], purpose="Supervision")
            for case in cases
        ]
    )
    if rebuild:
        for case in cases:
            case_grants_rebuild(case)
        return cases
    rows = [
        CaseGrant(
            case=case,
            organisation=org,
            partnership=cast.partnership,
            status=case.status,
            sort_key=case.updated_at,
            coordination=coordination,
            whole_organisation=not coordination,
        )
        for case in cases
        for org, coordination in (
            (cast.orgs["municipality"], True),
            (cast.orgs["probation"], False),
        )
    ]
    CaseGrant.objects.bulk_create(rows)
    fields = ("organisation_id", "status", "sort_key", "coordination", "whole_organisation")
    written = sorted(CaseGrant.objects.filter(case=cases[0]).values_list(*fields))
    case_grants_rebuild(cases[0])
    assert sorted(CaseGrant.objects.filter(case=cases[0]).values_list(*fields)) == written
    return cases


def fresh(user: User) -> User:
    """The user as a new request would load it: no grants cached yet."""
    return User.objects.get(pk=user.pk)


def test_each_case_once_when_the_coordinating_organisation_is_also_on_the_team(
    cast: Cast,
) -> None:
    team_member_add(
        actor=cast.coordinator,
        case_id=cast.case.pk,
        organisation=cast.orgs["municipality"],
        purpose="Housing support",
    )
    more = bulk_cases(cast, 3)
    for case in more:
        CaseTeamMember.objects.create(
            case=case, organisation=cast.orgs["municipality"], purpose="Housing"
        )
        case_grants_rebuild(case)

    ids = list(caseload_grants(fresh(cast.coordinator)).values_list("case_id", flat=True))
    assert sorted(ids) == sorted([cast.case.pk, *(c.pk for c in more)])
    page = caseload(actor=fresh(cast.coordinator))
    assert [r.case.pk for r in page.rows] == ids
    assert page.total == 4
    visible = Case.objects.visible_to(fresh(cast.coordinator)).values_list("pk", flat=True)
    assert sorted(visible) == sorted(ids)


def test_ordered_by_last_activity(cast: Cast) -> None:
    older, newer = bulk_cases(cast, 2)
    ids = list(caseload_grants(fresh(cast.case_manager)).values_list("case_id", flat=True))
    # The cast's case was created now; the bulk cases a day ago, newer last.
    assert ids == [cast.case.pk, newer.pk, older.pk]

    note_create(
        actor=cast.case_manager, case_id=older.pk, category="justice", kind="fact", text="x"
    )
    ids = list(caseload_grants(fresh(cast.case_manager)).values_list("case_id", flat=True))
    assert ids == [older.pk, cast.case.pk, newer.pk]
    page = caseload(actor=fresh(cast.case_manager))
    assert [r.case.pk for r in page.rows] == ids


def test_a_page_costs_the_same_at_10_and_500_cases(cast: Cast, django_assert_num_queries) -> None:
    audit_record(action=EventAction.LOGIN, actor=cast.case_manager)  # the chain exists
    bulk_cases(cast, 9)
    actor = fresh(cast.case_manager)
    with CaptureQueriesContext(connection) as small:
        page = caseload(actor=actor)
    assert (page.total, len(page.rows), page.has_next) == (10, 10, False)

    bulk_cases(cast, 490, start=9)
    actor = fresh(cast.case_manager)
    with CaptureQueriesContext(connection) as large:
        page = caseload(actor=actor)
    assert (page.total, page.total_capped, len(page.rows), page.has_next) == (500, False, 25, True)
    assert len(small.captured_queries) == len(large.captured_queries)

    actor = fresh(cast.case_manager)
    with django_assert_num_queries(CASELOAD_QUERIES):
        second = caseload(actor=actor, page=2)
    assert len(second.rows) == 25
    assert not {r.case.pk for r in page.rows} & {r.case.pk for r in second.rows}

    # The consultation names exactly the cases shown.
    event = Event.objects.filter(action=EventAction.LIST).order_by("-seq").first()
    assert event is not None
    assert event.case_ids == sorted(r.case.pk for r in second.rows)
    assert event.actor_id == actor.pk


def test_the_total_is_capped_without_counting_beyond_the_cap(cast: Cast) -> None:
    bulk_cases(cast, COUNT_CAP + 4, rebuild=False)
    with CaptureQueriesContext(connection) as queries:
        page = caseload(actor=fresh(cast.case_manager))
    assert (page.total, page.total_capped) == (COUNT_CAP, True)
    # The page and the capped total come from one range scan of the index.
    sql = [q["sql"].upper() for q in queries.captured_queries]
    # (The only counts are those of the "what is next" columns, per page case.)
    page_ids = ", ".join(str(r.case.pk) for r in sorted(page.rows, key=lambda r: r.case.pk))
    assert not [q for q in sql if "COUNT(" in q and f"IN ({page_ids})" not in q]
    scans = [q for q in sql if 'FROM "ACCESS_CASEGRANT"' in q]
    assert len(scans) == 1
    assert f"LIMIT {COUNT_CAP + 1}" in scans[0]


def test_outsiders_caseload_holds_none_of_the_partnership(cast: Cast) -> None:
    bulk_cases(cast, 5)
    assert list(caseload_grants(fresh(cast.outsider)).values_list("case_id", flat=True)) == [
        cast.other_case.pk
    ]
    for name in ("police_off_team", "auditor", "trainer"):
        page = caseload(actor=fresh(cast.actors[name]))
        assert (page.rows, page.total) == ([], 0), name


def test_filters_by_status_and_partnership(cast: Cast) -> None:
    bulk_cases(cast, 3)
    page = caseload(actor=fresh(cast.case_manager), status=CaseStatus.PRE_RELEASE)
    assert [r.case.pk for r in page.rows] == [cast.case.pk]
    page = caseload(actor=fresh(cast.case_manager), partnership_id=cast.other_partnership.pk)
    assert page.rows == []


def test_identity_shown_only_with_the_identity_grant(cast: Cast) -> None:
    rows = {n: caseload(actor=fresh(cast.actors[n])).rows for n in ("case_manager", "ngo_mentor")}
    assert [r.display_name for r in rows["case_manager"]] == ["Sentinelia Identitas"]
    assert [r.display_name for r in rows["ngo_mentor"]] == [""]


@pytest.mark.parametrize("closed", [CaseStatus.CLOSED, CaseStatus.FOLLOW_UP, CaseStatus.ARCHIVED])
def test_a_closed_case_leaves_the_teams_caseload_not_the_coordinators(
    cast: Cast, closed: str
) -> None:
    case = case_create(
        actor=cast.case_manager, partnership=cast.partnership, person=PersonFactory()
    )
    assert case.pk in caseload_grants(fresh(cast.case_manager)).values_list("case_id", flat=True)
    Case.objects.filter(pk=case.pk).update(status=closed)
    case.refresh_from_db()
    case_grants_touch(case)
    assert case.pk not in caseload_grants(fresh(cast.case_manager)).values_list(
        "case_id", flat=True
    )
    assert case.pk in caseload_grants(fresh(cast.coordinator)).values_list("case_id", flat=True)


# --- The release window of the grant index -----------------------------------------


def test_the_grant_rows_carry_the_expected_release_date(cast: Cast) -> None:
    """``key_date_set`` copies the date to every grant row of the case, a move
    follows, and a rebuild (a team change) keeps it: the release board reads
    the organisation's rows in date order."""
    import datetime

    from django.utils import timezone

    from prepare.access.policy import release_grants
    from prepare.cases.lifecycle.services import key_date_set
    from prepare.cases.models import KeyDateKind

    def release_dates() -> set[datetime.date | None]:
        return set(CaseGrant.objects.filter(case=cast.case).values_list("release_on", flat=True))

    today = timezone.localdate()
    assert release_dates() == {None}
    first = today + datetime.timedelta(days=40)
    key_date = key_date_set(
        actor=cast.case_manager,
        case_id=cast.case.pk,
        kind=KeyDateKind.EXPECTED_RELEASE,
        date=first,
        version=None,
    )
    assert release_dates() == {first}
    moved = today + datetime.timedelta(days=120)
    key_date_set(
        actor=cast.case_manager,
        case_id=cast.case.pk,
        kind=KeyDateKind.EXPECTED_RELEASE,
        date=moved,
        version=key_date.version,
    )
    assert release_dates() == {moved}
    case_grants_rebuild(cast.case)
    assert release_dates() == {moved}

    manager = fresh(cast.case_manager)
    soon = release_grants(manager, today, today + datetime.timedelta(days=90))
    later = release_grants(manager, today, today + datetime.timedelta(days=180))
    assert list(soon.values_list("case_id", flat=True)) == []
    assert list(later.values_list("case_id", flat=True)) == [cast.case.pk]
    # The NGO may not read the justice category: no release reaches it.
    mentor = fresh(cast.ngo_mentor)
    assert not release_grants(mentor, today, today + datetime.timedelta(days=180)).exists()
