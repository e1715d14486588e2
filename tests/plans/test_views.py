"""Release-planning pages: the case's checklist, the release board and my tasks."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from prepare.access.grants import case_grants_rebuild
from prepare.audit.models import Event, EventAction
from prepare.audit.services import audit_record
from prepare.cases.models import Case, CaseStatus, CaseTeamMember, KeyDate, KeyDateKind
from prepare.plans.models import ChecklistItem, ItemStatus
from prepare.plans.selectors import my_tasks, release_board
from tests.cast import Cast, sentinel
from tests.factories import PersonFactory
from tests.plans.support import plant_checklist, set_release
from tests.plans.test_services import fresh

HTMX = {"HX-Request": "true"}
TODAY = timezone.localdate


def days(n: int) -> datetime.date:
    return TODAY() + datetime.timedelta(days=n)


# --- The case's checklist ------------------------------------------------------------------


def test_the_section_offers_to_start_and_starting_fills_it(cast: Cast, as_user: Any) -> None:
    set_release(cast.case, cast.case_manager, 100)
    client = as_user(cast.case_manager)
    url = reverse("plans:case_checklist", args=[cast.case.pk])
    section = client.get(url, headers=HTMX)
    assert section.status_code == 200
    body = section.content.decode()
    assert "Start release planning" in body and "<html" not in body

    started = client.post(reverse("plans:checklist_start", args=[cast.case.pk]), headers=HTMX)
    assert started.status_code == 200
    body = started.content.decode()
    assert ChecklistItem.objects.filter(case=cast.case).count() == 12
    assert "Start release planning" not in body
    # Probation reads every category of the template.
    for title in ("Housing", "Licence conditions explained", "Continuity of care", "Mentor"):
        assert title in body
    assert "0 of 12 done" in body
    # The NGO reads social and interventions only.
    ngo = as_user(cast.ngo_mentor).get(url, headers=HTMX).content.decode()
    assert "Housing" in ngo and "Mentor" in ngo
    for title in ("Licence conditions explained", "Continuity of care", "Police briefing"):
        assert title not in ngo
    assert "0 of 8 done" in ngo
    assert "Expected release" not in ngo  # justice is not shared with the NGO


def test_police_see_only_their_categories_and_no_start_button(cast: Cast, as_user: Any) -> None:
    plant_checklist(cast.case, cast.coordinator)
    response = as_user(cast.police_on_team).get(
        reverse("plans:case_checklist", args=[cast.case.pk])
    )
    assert response.status_code == 200
    body = response.content.decode()
    shown = {
        c for c in ("justice", "risk", "social", "health", "intelligence") if sentinel(c) in body
    }
    assert shown == {"justice", "risk", "intelligence"}
    assert "Start release planning" not in body
    event = Event.objects.filter(action=EventAction.VIEW).latest("seq")
    assert event.case_id == cast.case.pk and event.detail["view"] == "case_checklist"
    assert sorted(event.detail["categories"]) == [
        "identity",
        "intelligence",
        "justice",
        "meetings",
        "risk",
    ]


def test_overdue_items_say_so_in_words(cast: Cast, as_user: Any) -> None:
    items = plant_checklist(cast.case, cast.coordinator)
    ChecklistItem.objects.filter(pk=items["justice"].pk).update(due_on=days(-3))
    body = (
        as_user(cast.case_manager)
        .get(reverse("plans:case_checklist", args=[cast.case.pk]))
        .content.decode()
    )
    assert 'class="overdue">overdue<' in body
    assert "1 overdue" in body


def test_the_page_costs_the_same_with_more_items(
    cast: Cast, as_user: Any, django_assert_max_num_queries: Any
) -> None:
    plant_checklist(cast.case, cast.coordinator)
    client = as_user(cast.case_manager)
    url = reverse("plans:case_checklist", args=[cast.case.pk])
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for n in range(30):
        ChecklistItem.objects.create(
            case=cast.case,
            title=f"Extra {n}",
            category="social",
            due_on=days(n),
            created_by=cast.coordinator,
        )
    with CaptureQueriesContext(connection) as many:
        assert client.get(url).status_code == 200
    assert len(few.captured_queries) == len(many.captured_queries)
    with django_assert_max_num_queries(40):
        client.get(url)


def test_a_stale_change_is_refused_and_changes_nothing(cast: Cast, as_user: Any) -> None:
    items = plant_checklist(cast.case, cast.coordinator)
    item = items["justice"]
    url = reverse("plans:checklist_item", args=[cast.case.pk, item.pk])
    client = as_user(cast.case_manager)
    stale = client.post(url, {"op": "complete", "note": "", "version": "4"}, headers=HTMX)
    assert stale.status_code == 409
    missing = client.post(url, {"op": "complete", "note": ""})
    assert missing.status_code == 428
    item.refresh_from_db()
    assert (item.status, item.version) == (ItemStatus.OPEN, 1)
    ok = client.post(url, {"op": "complete", "note": "Explained", "version": "1"})
    assert ok.status_code == 302
    item.refresh_from_db()
    assert (item.status, item.version, item.completion_note) == (ItemStatus.DONE, 2, "Explained")


def test_not_applicable_without_a_reason_is_a_form_error(cast: Cast, as_user: Any) -> None:
    items = plant_checklist(cast.case, cast.coordinator)
    url = reverse("plans:checklist_item", args=[cast.case.pk, items["social"].pk])
    response = as_user(cast.case_manager).post(
        url, {"op": "not_applicable", "note": "", "version": "1"}, headers=HTMX
    )
    assert response.status_code == 422
    assert "Say why this item does not apply." in response.content.decode()
    assert ChecklistItem.objects.get(pk=items["social"].pk).status == ItemStatus.OPEN


def test_write_refused_by_category(cast: Cast, as_user: Any) -> None:
    items = plant_checklist(cast.case, cast.coordinator)
    police = as_user(cast.police_on_team)
    justice = reverse("plans:checklist_item", args=[cast.case.pk, items["justice"].pk])
    social = reverse("plans:checklist_item", args=[cast.case.pk, items["social"].pk])
    data = {"op": "complete", "note": "", "version": "1"}
    assert police.post(justice, data).status_code == 403
    assert police.post(social, data).status_code == 404
    assert not ChecklistItem.objects.exclude(status=ItemStatus.OPEN).exists()


def test_add_an_item(cast: Cast, as_user: Any) -> None:
    plant_checklist(cast.case, cast.coordinator)
    url = reverse("plans:checklist_item_add", args=[cast.case.pk])
    response = as_user(cast.case_manager).post(
        url,
        {
            "title": "Bus pass",
            "category": "social",
            "offset_days": "-3",
            "owner_organisation": cast.orgs["probation"].pk,
        },
    )
    assert response.status_code == 302
    item = ChecklistItem.objects.get(title="Bus pass")
    release = KeyDate.objects.get(case=cast.case, kind=KeyDateKind.EXPECTED_RELEASE).date
    assert (item.due_on, item.offset_days, item.owner_organisation_id) == (
        release - datetime.timedelta(days=3),
        -3,
        cast.orgs["probation"].pk,
    )


# --- The release board ----------------------------------------------------------------------


def bulk_cases(cast: Cast, releases: list[int], start: int = 10) -> list[Case]:
    """Cases of the cast's partnership, probation on each team, released in ``releases`` days,
    each with a planted checklist, one item of which is overdue."""
    cases = []
    for n, release_in in enumerate(releases, start=start):
        case = Case.objects.create(
            person=PersonFactory(given_name=f"Given{n}", family_name=f"Family{n}"),
            partnership=cast.partnership,
            reference=f"TST-2026-{n:04d}",
            status=CaseStatus.PRE_RELEASE,
        )
        CaseTeamMember.objects.create(case=case, organisation=cast.orgs["probation"], purpose="x")
        KeyDate.objects.create(
            case=case,
            kind=KeyDateKind.EXPECTED_RELEASE,
            date=days(release_in),
            updated_by=cast.coordinator,
        )
        case_grants_rebuild(case)
        for category, due_in, status in (
            ("justice", -2, ItemStatus.OPEN),
            ("social", 5, ItemStatus.DONE),
            ("social", 6, ItemStatus.OPEN),
            ("intelligence", -9, ItemStatus.OPEN),  # probation cannot read it
        ):
            ChecklistItem.objects.create(
                case=case,
                title="t",
                category=category,
                due_on=days(due_in),
                status=status,
                completed_at=timezone.now() if status != ItemStatus.OPEN else None,
                created_by=cast.coordinator,
            )
        cases.append(case)
    return cases


@pytest.mark.parametrize(("window", "shown"), [(30, [10]), (90, [10, 11]), (180, [10, 11, 12])])
def test_the_board_windows(cast: Cast, as_user: Any, window: int, shown: list[int]) -> None:
    bulk_cases(cast, [10, 60, 120, 200])
    response = as_user(cast.case_manager).get(reverse("plans:release_board"), {"days": window})
    assert response.status_code == 200
    body = response.content.decode()
    refs = [f"TST-2026-{n:04d}" for n in (10, 11, 12, 13)]
    assert [r for r in refs if r in body] == [f"TST-2026-{n:04d}" for n in shown]
    # Done of applicable, over the items probation may read; one readable overdue.
    assert body.count("1 of 3 done") == len(shown)
    assert body.count('class="overdue">1 overdue<') == len(shown)
    event = Event.objects.filter(action=EventAction.LIST).latest("seq")
    assert event.detail["view"] == "release_board" and event.detail["days"] == window
    assert sorted(event.case_ids) == sorted(
        Case.objects.filter(reference__in=[f"TST-2026-{n:04d}" for n in shown]).values_list(
            "pk", flat=True
        )
    )


def test_the_board_shows_only_readable_release_dates(cast: Cast, as_user: Any) -> None:
    bulk_cases(cast, [10])
    set_release(cast.case, cast.coordinator, 5)
    # The NGO is on K's team but reads no justice: no release date, no row.
    body = as_user(cast.ngo_mentor).get(reverse("plans:release_board")).content.decode()
    assert cast.case.reference not in body
    # Off the team: nothing, even with justice granted.
    body = as_user(cast.police_off_team).get(reverse("plans:release_board")).content.decode()
    assert cast.case.reference not in body and "TST-2026-0010" not in body
    # The coordinator sees both, names included (identity granted).
    body = as_user(cast.coordinator).get(reverse("plans:release_board")).content.decode()
    assert cast.case.reference in body and "Sentinelia" in body and "Given10" in body


def test_the_board_costs_the_same_at_5_and_50_cases(
    cast: Cast, django_assert_num_queries: Any
) -> None:
    audit_record(action=EventAction.LOGIN, actor=cast.case_manager)  # the chain exists
    bulk_cases(cast, [10 + n for n in range(5)])
    with CaptureQueriesContext(connection) as small:
        page = release_board(actor=fresh(cast.case_manager), days=90)
    assert (page.total, len(page.rows)) == (5, 5)
    bulk_cases(cast, [10 + n for n in range(45)], start=100)
    with CaptureQueriesContext(connection) as large:
        page = release_board(actor=fresh(cast.case_manager), days=90)
    assert (page.total, len(page.rows), page.has_next) == (50, 25, True)
    assert len(small.captured_queries) == len(large.captured_queries)
    with django_assert_num_queries(len(large.captured_queries)):
        second = release_board(actor=fresh(cast.case_manager), days=90, page=2)
    assert len(second.rows) == 25 and not second.has_next
    assert [r.release_on for r in second.rows] == sorted(r.release_on for r in second.rows)
    assert all(r.progress.overdue == 1 for r in second.rows)


def test_the_board_page_costs_the_same_at_5_and_50_cases(cast: Cast, as_user: Any) -> None:
    client = as_user(cast.case_manager)
    bulk_cases(cast, [10 + n for n in range(5)])
    client.get(reverse("plans:release_board"))
    with CaptureQueriesContext(connection) as small:
        assert client.get(reverse("plans:release_board")).status_code == 200
    bulk_cases(cast, [10 + n for n in range(45)], start=100)
    with CaptureQueriesContext(connection) as large:
        assert client.get(reverse("plans:release_board")).status_code == 200
    assert len(small.captured_queries) == len(large.captured_queries)


# --- My tasks ---------------------------------------------------------------------------------


def test_my_tasks(cast: Cast, as_user: Any) -> None:
    items = plant_checklist(cast.case, cast.coordinator, owner=cast.orgs["probation"])
    ChecklistItem.objects.filter(pk=items["social"].pk).update(due_on=days(-4))
    ChecklistItem.objects.filter(pk=items["justice"].pk).update(assignee=cast.coordinator)
    ChecklistItem.objects.filter(pk=items["health"].pk).update(
        status=ItemStatus.DONE, completed_at=timezone.now()
    )
    response = as_user(cast.case_manager).get(reverse("plans:my_tasks"))
    assert response.status_code == 200
    body = response.content.decode()
    # Probation's unassigned open items in the categories probation reads.
    expected = ["social", "identity", "risk", "interventions", "meetings"]
    assert [c for c in expected if sentinel(c) in body] == expected
    assert sentinel("justice") not in body  # assigned to someone else
    assert sentinel("health") not in body  # done
    assert sentinel("intelligence") not in body  # not readable by probation
    assert body.index(sentinel("social")) < body.index(sentinel("identity"))  # overdue first
    assert "overdue" in body
    event = Event.objects.filter(action=EventAction.LIST).latest("seq")
    assert event.case_ids == [cast.case.pk] and event.detail["view"] == "my_tasks"

    coordinator = as_user(cast.coordinator).get(reverse("plans:my_tasks")).content.decode()
    assert sentinel("justice") in coordinator and sentinel("social") not in coordinator


def test_my_tasks_costs_the_same_with_more_items(cast: Cast) -> None:
    audit_record(action=EventAction.LOGIN, actor=cast.case_manager)
    plant_checklist(cast.case, cast.coordinator, owner=cast.orgs["probation"])
    with CaptureQueriesContext(connection) as few:
        small = my_tasks(actor=fresh(cast.case_manager))
    for case in bulk_cases(cast, [10 + n for n in range(20)]):
        ChecklistItem.objects.filter(case=case).update(owner_organisation=cast.orgs["probation"])
    with CaptureQueriesContext(connection) as many:
        large = my_tasks(actor=fresh(cast.case_manager))
    assert len(large.rows) > len(small.rows)
    assert len(few.captured_queries) == len(many.captured_queries)


def test_my_tasks_lists_the_signals_to_acknowledge(cast: Cast, as_user: Any) -> None:
    from prepare.monitoring.services import signal_raise

    signal = signal_raise(
        actor=fresh(cast.police_on_team),
        case_id=cast.case.pk,
        severity="urgent",
        description=sentinel("risk"),
        category="risk",
    )
    body = as_user(cast.coordinator).get(reverse("plans:my_tasks")).content.decode()
    assert "Signals to acknowledge" in body
    assert cast.case.reference in body and "Urgent" in body
    assert sentinel("risk") not in body  # the list names the case, not the concern
    listed = Event.objects.filter(action=EventAction.LIST, detail__view="signals_owed").latest(
        "seq"
    )
    assert listed.case_ids == [cast.case.pk] and listed.detail["signals"] == [signal.pk]


def test_my_tasks_reads_the_soonest_items_a_window_at_a_time(cast: Cast) -> None:
    """The soonest items of both owners (the actor, the organisation), in due
    order, past items the policy hides: more windows are read when a window's
    items are not readable, and none past the list's length."""
    from prepare.plans.selectors import soonest_owed_tasks

    items = plant_checklist(cast.case, cast.coordinator, owner=cast.orgs["probation"])
    # Intelligence is not readable by probation: make it the soonest of all,
    # with several hidden copies, so that the first window holds mostly those.
    hidden = items["intelligence"]
    for n in range(6):
        ChecklistItem.objects.create(
            case=cast.case,
            title=f"hidden {n}",
            category=hidden.category,
            owner_organisation=cast.orgs["probation"],
            offset_days=-90,
            due_on=days(-30 + n),
            created_by=cast.coordinator,
        )
    ChecklistItem.objects.filter(pk=items["risk"].pk).update(
        assignee=cast.case_manager, due_on=days(-1)
    )
    ChecklistItem.objects.filter(pk=items["social"].pk).update(due_on=days(-2))
    manager = fresh(cast.case_manager)
    found = soonest_owed_tasks(manager, 3)
    assert [i.category for i in found] == ["social", "risk", found[2].category]
    assert all(i.category != "intelligence" for i in found)
    assert [i.due_on for i in found] == sorted(i.due_on for i in found)
    everything = soonest_owed_tasks(manager, 100)
    from prepare.access.categories import Category

    assert {i.category for i in everything} == set(Category.values) - {"intelligence", "ideology"}
