"""Checklist owners who cannot see the case: flagged, shown to the coordinator,
added to the team in one step or their items reassigned."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from prepare.access.categories import Category
from prepare.access.grants import case_grants_rebuild
from prepare.accounts.models import OrganisationType, Role
from prepare.accounts.services import api_token_create
from prepare.audit.models import Event, EventAction
from prepare.cases.models import CaseTeamMember
from prepare.notifications.models import Notification, NotificationKind
from prepare.partnerships.models import CategoryGrant
from prepare.plans.models import ChecklistItem, ItemStatus
from prepare.plans.selectors import my_tasks
from prepare.plans.services import OwnerAddition, checklist_owners_add, unreached_owner_ids
from tests.cast import Cast
from tests.factories import MembershipFactory, OrganisationFactory, UserFactory
from tests.plans.support import set_release
from tests.plans.test_services import fresh

HOUSING_TITLE = "HOUSING-ITEM-4c1d"


def housing(cast: Cast) -> Any:
    """A housing corporation, member of the partnership, granted social (read and
    write), not on K's team."""
    org = OrganisationFactory(name="Housing Testdam", type=OrganisationType.HOUSING)
    MembershipFactory(partnership=cast.partnership, organisation=org)
    CategoryGrant.objects.create(
        agreement=cast.agreement, organisation=org, category=Category.SOCIAL, access="write"
    )
    return org


def housing_item(cast: Cast, owner: Any, category: str = Category.SOCIAL) -> ChecklistItem:
    set_release(cast.case, cast.coordinator)
    return ChecklistItem.objects.create(
        case=cast.case,
        title=HOUSING_TITLE,
        category=category,
        owner_organisation=owner,
        offset_days=-10,
        due_on=timezone.localdate() + datetime.timedelta(days=10),
        created_by=cast.coordinator,
    )


def test_reach_follows_team_and_agreement(cast: Cast) -> None:
    org = housing(cast)
    item = housing_item(cast, org)
    # Probation is on the team and granted social: reaches; housing is not on the team.
    reached = housing_item(cast, cast.orgs["probation"])
    assert unreached_owner_ids(cast.case) == {org.pk}
    # The NGO is on the team but not granted justice.
    ngo_item = housing_item(cast, cast.orgs["ngo"], Category.JUSTICE)
    assert unreached_owner_ids(cast.case) == {org.pk, cast.orgs["ngo"].pk}
    # Police: only one officer is named on the team. Unassigned: not reached;
    # assigned to the named officer: reached.
    police_item = housing_item(cast, cast.orgs["police"], Category.RISK)
    assert cast.orgs["police"].pk in unreached_owner_ids(cast.case)
    ChecklistItem.objects.filter(pk=police_item.pk).update(assignee=cast.police_on_team)
    assert cast.orgs["police"].pk not in unreached_owner_ids(cast.case)
    # Done items are not flagged.
    ChecklistItem.objects.filter(pk=ngo_item.pk).update(
        status=ItemStatus.DONE, completed_at=timezone.now()
    )
    assert unreached_owner_ids(cast.case) == {org.pk}
    CaseTeamMember.objects.create(case=cast.case, organisation=org, purpose="Housing")
    case_grants_rebuild(cast.case)
    assert unreached_owner_ids(cast.case) == set()
    assert item.pk and reached.pk


def test_an_owner_added_to_the_team_sees_the_item_in_my_tasks(cast: Cast, as_user: Any) -> None:
    org = housing(cast)
    worker = UserFactory(username="housing_worker", organisation=org, role=Role.PRACTITIONER)
    item = housing_item(cast, org)
    assert my_tasks(actor=fresh(worker)).rows == []
    client = as_user(worker)
    assert HOUSING_TITLE not in client.get(reverse("plans:my_tasks")).content.decode()
    assert client.get("/api/v1/my-tasks/").json()["results"] == []

    coordinator = as_user(cast.coordinator)
    page = coordinator.get(reverse("plans:checklist_owners", args=[cast.case.pk]))
    assert page.status_code == 200
    body = page.content.decode()
    assert "Housing Testdam" in body and HOUSING_TITLE in body
    assert f'value="Release planning: {HOUSING_TITLE}"' in body
    response = coordinator.post(
        reverse("plans:checklist_owners", args=[cast.case.pk]),
        {
            "organisation": [str(org.pk)],
            f"purpose-{org.pk}": f"Release planning: {HOUSING_TITLE}",
            f"ends_on-{org.pk}": (timezone.localdate() + datetime.timedelta(days=120)).isoformat(),
        },
    )
    assert response.status_code == 302
    member = CaseTeamMember.objects.get(case=cast.case, organisation=org)
    assert member.purpose == f"Release planning: {HOUSING_TITLE}"
    assert member.ends_on == timezone.localdate() + datetime.timedelta(days=120)
    event = Event.objects.filter(action=EventAction.TEAM_CHANGE).latest("seq")
    assert event.detail["recipient_organisation"] == org.pk
    assert event.detail["legal_basis"] == cast.agreement.legal_basis
    assert event.detail["legal_reference"] == cast.agreement.legal_reference

    rows = my_tasks(actor=fresh(worker)).rows
    assert [r.item.pk for r in rows] == [item.pk]
    assert HOUSING_TITLE in client.get(reverse("plans:my_tasks")).content.decode()
    api = client.get("/api/v1/my-tasks/").json()
    assert [row["id"] for row in api["results"]] == [item.pk]


# --- The flag: board, case page, API; gone when resolved ---------------------------------


def _api(user: Any) -> Client:
    _, raw = api_token_create(actor=user, name="owners")
    return Client(headers={"Authorization": f"Bearer {raw}"})


def _flags(cast: Cast, as_user: Any) -> dict[str, Any]:
    """What each place says about K's housing item, as the coordinator sees it."""
    client = as_user(cast.coordinator)
    board = client.get(reverse("plans:release_board")).content.decode()
    page = client.get(reverse("cases:case", args=[cast.case.pk])).content.decode()
    api = _api(cast.coordinator)
    items = api.get(f"/api/v1/cases/{cast.case.pk}/checklist/").json()["items"]
    rows = api.get("/api/v1/release-board/").json()["results"]
    return {
        "board": "1 item whose owner cannot see the case" in board,
        "board_notice": "1 release on this page has checklist items owned" in board,
        "page": "owner cannot see the case" in page,
        "page_link": reverse("plans:checklist_owners", args=[cast.case.pk]) in page,
        "api_item": [i["owner_cannot_see_case"] for i in items if i["title"] == HOUSING_TITLE],
        "api_board": [r["checklist"]["owner_cannot_see_case"] for r in rows],
    }


FLAGGED = {
    "board": True,
    "board_notice": True,
    "page": True,
    "page_link": True,
    "api_item": [True],
    "api_board": [1],
}
CLEAR = {
    "board": False,
    "board_notice": False,
    "page": False,
    "page_link": False,
    "api_item": [False],
    "api_board": [0],
}


def test_the_flag_shows_until_the_owner_is_added_to_the_team(cast: Cast, as_user: Any) -> None:
    org = housing(cast)
    housing_item(cast, org)
    assert _flags(cast, as_user) == FLAGGED
    # The case manager, who does not coordinate, sees the flag without the link.
    page = as_user(cast.case_manager).get(reverse("cases:case", args=[cast.case.pk]))
    body = page.content.decode()
    assert "owner cannot see the case" in body
    assert reverse("plans:checklist_owners", args=[cast.case.pk]) not in body

    checklist_owners_add(
        actor=fresh(cast.coordinator),
        case_id=cast.case.pk,
        additions=[OwnerAddition(org.pk, "Release planning: housing", None)],
    )
    assert _flags(cast, as_user) == CLEAR


def test_the_flag_goes_when_the_item_is_reassigned(cast: Cast, as_user: Any) -> None:
    org = housing(cast)
    item = housing_item(cast, org)
    from prepare.plans.services import owner_notices_update

    owner_notices_update(cast.case)
    notice = Notification.objects.get(user=cast.coordinator, kind=NotificationKind.CHECKLIST_OWNER)
    assert notice.read_at is None and "Housing Testdam" in notice.title
    assert cast.case.reference in notice.title

    client = as_user(cast.coordinator)
    owners_url = reverse("plans:checklist_owners", args=[cast.case.pk])
    response = client.post(
        reverse("plans:checklist_item", args=[cast.case.pk, item.pk]),
        {
            "op": "assign",
            "owner_organisation": str(cast.orgs["probation"].pk),
            "version": "1",
            "next": "owners",
        },
    )
    assert (response.status_code, response["Location"]) == (302, owners_url)
    item.refresh_from_db()
    assert (item.owner_organisation_id, item.version) == (cast.orgs["probation"].pk, 2)
    assert _flags(cast, as_user) == CLEAR
    notice.refresh_from_db()
    assert notice.read_at is not None  # settled: nothing to do any more
    body = client.get(owners_url).content.decode()
    assert "Every organisation that owns an open item" in body


def test_assigning_to_an_owner_who_cannot_see_shows_the_coordinator_the_owners(
    cast: Cast, as_user: Any
) -> None:
    org = housing(cast)
    item = housing_item(cast, cast.orgs["probation"])
    response = as_user(cast.coordinator).post(
        reverse("plans:checklist_item", args=[cast.case.pk, item.pk]),
        {"op": "assign", "owner_organisation": str(org.pk), "version": "1"},
    )
    assert response["Location"] == reverse("plans:checklist_owners", args=[cast.case.pk])
    # The case manager goes back to the checklist, which flags the item.
    item.refresh_from_db()
    response = as_user(cast.case_manager).post(
        reverse("plans:checklist_item", args=[cast.case.pk, item.pk]),
        {"op": "assign", "owner_organisation": str(org.pk), "version": str(item.version)},
    )
    assert response["Location"] == reverse("plans:case_checklist", args=[cast.case.pk])
    assert (
        Notification.objects.filter(
            user=cast.coordinator, kind=NotificationKind.CHECKLIST_OWNER, read_at__isnull=True
        ).count()
        == 1
    )  # once, however often it happens


def test_starting_planning_shows_the_coordinator_the_owners_and_notifies(
    cast: Cast, as_user: Any
) -> None:
    # The default template gives the police briefing to the police, of whom
    # only one officer is on K's team.
    set_release(cast.case, cast.coordinator, 100)
    response = as_user(cast.coordinator).post(reverse("plans:checklist_start", args=[cast.case.pk]))
    owners_url = reverse("plans:checklist_owners", args=[cast.case.pk])
    assert (response.status_code, response["Location"]) == (302, owners_url)
    police = cast.orgs["police"]
    assert unreached_owner_ids(cast.case) == {police.pk}
    notice = Notification.objects.get(kind=NotificationKind.CHECKLIST_OWNER)
    assert (notice.user_id, notice.case_id, notice.url) == (
        cast.coordinator.pk,
        cast.case.pk,
        owners_url,
    )
    body = as_user(cast.coordinator).get(owners_url).content.decode()
    assert "Police Testdam" in body and "Police briefing" in body
    # What the police would read, as the agreement grants it, and nothing else.
    shown = body[body.index("What it would see") : body.index("Add Police Testdam")]
    assert "Intelligence" in shown and "Risk" in shown and "Health" not in shown


def test_starting_as_case_manager_stays_on_the_checklist(cast: Cast, as_user: Any) -> None:
    set_release(cast.case, cast.coordinator, 100)
    response = as_user(cast.case_manager).post(
        reverse("plans:checklist_start", args=[cast.case.pk])
    )
    assert response["Location"] == reverse("plans:case_checklist", args=[cast.case.pk])
    assert Notification.objects.filter(
        user=cast.coordinator, kind=NotificationKind.CHECKLIST_OWNER
    ).exists()


# --- The one-step add refuses ---------------------------------------------------------------


def _state(cast: Cast) -> tuple[Any, ...]:
    return (
        sorted(CaseTeamMember.objects.values_list("pk", "organisation_id", "purpose")),
        Event.objects.filter(action=EventAction.TEAM_CHANGE).count(),
    )


@pytest.mark.parametrize("actor", ["case_manager", "police_on_team", "ngo_mentor"])
def test_the_add_refuses_a_non_coordinator(cast: Cast, as_user: Any, actor: str) -> None:
    org = housing(cast)
    housing_item(cast, org)
    before = _state(cast)
    user = getattr(cast, actor)
    url = reverse("plans:checklist_owners", args=[cast.case.pk])
    page = as_user(user).post(url, {"organisation": str(org.pk), f"purpose-{org.pk}": "x"})
    assert page.status_code == 403
    assert as_user(user).get(url).status_code == 403
    api = _api(user).post(
        f"/api/v1/cases/{cast.case.pk}/checklist/owners/",
        {"organisations": [{"organisation": org.pk, "purpose": "x"}]},
        content_type="application/json",
    )
    assert api.status_code == 403
    assert _state(cast) == before
    # Someone who does not see the case learns nothing of it.
    assert as_user(cast.outsider).post(url, {"organisation": str(org.pk)}).status_code == 404


def test_the_add_refuses_an_organisation_outside_the_partnership(cast: Cast, as_user: Any) -> None:
    org = housing(cast)
    housing_item(cast, org)
    elsewhere = cast.orgs["elsewhere"]
    before = _state(cast)
    url = reverse("plans:checklist_owners", args=[cast.case.pk])
    response = as_user(cast.coordinator).post(
        url,
        {
            "organisation": [str(org.pk), str(elsewhere.pk)],
            f"purpose-{org.pk}": "Housing",
            f"purpose-{elsewhere.pk}": "Curious",
        },
    )
    assert response.status_code == 422
    assert "City of Elsewhere is not a current member of this partnership." in (
        response.content.decode()
    )
    api = _api(cast.coordinator).post(
        f"/api/v1/cases/{cast.case.pk}/checklist/owners/",
        {"organisations": [{"organisation": elsewhere.pk, "purpose": "Curious"}]},
        content_type="application/json",
    )
    assert api.status_code == 400
    # All or none: the housing corporation was not added either.
    assert _state(cast) == before


def test_the_add_refuses_an_owner_already_on_the_team_or_owing_nothing(cast: Cast) -> None:
    org = housing(cast)
    housing_item(cast, org)
    coordinator = fresh(cast.coordinator)
    # Probation is on the team and owes nothing it cannot see.
    with pytest.raises(ValidationError, match="owns no open item"):
        checklist_owners_add(
            actor=coordinator,
            case_id=cast.case.pk,
            additions=[OwnerAddition(cast.orgs["probation"].pk, "x", None)],
        )
    # The NGO is on the team but its agreement does not grant justice.
    housing_item(cast, cast.orgs["ngo"], Category.JUSTICE)
    with pytest.raises(ValidationError, match="does not let Exit Testdam read"):
        checklist_owners_add(
            actor=coordinator,
            case_id=cast.case.pk,
            additions=[OwnerAddition(cast.orgs["ngo"].pk, "x", None)],
        )
    with pytest.raises(ValidationError, match="at least one"):
        checklist_owners_add(actor=coordinator, case_id=cast.case.pk, additions=[])
    assert not CaseTeamMember.objects.filter(organisation=org).exists()


def test_the_form_needs_a_purpose(cast: Cast, as_user: Any) -> None:
    org = housing(cast)
    housing_item(cast, org)
    response = as_user(cast.coordinator).post(
        reverse("plans:checklist_owners", args=[cast.case.pk]),
        {"organisation": str(org.pk), f"purpose-{org.pk}": "  "},
    )
    assert response.status_code == 422
    assert "Say why this organisation needs to know." in response.content.decode()
    assert not CaseTeamMember.objects.filter(organisation=org).exists()


# --- The API ---------------------------------------------------------------------------------


def test_the_api_lists_the_owners_and_adds_them(cast: Cast) -> None:
    org = housing(cast)
    item = housing_item(cast, org)
    api = _api(cast.coordinator)
    url = f"/api/v1/cases/{cast.case.pk}/checklist/owners/"
    (owner,) = api.get(url).json()["owners"]
    assert owner["organisation"] == {"id": org.pk, "name": "Housing Testdam"}
    assert [i["id"] for i in owner["items"]] == [item.pk]
    assert (owner["reason"], owner["addable"], owner["categories"]) == (
        "not_on_team",
        True,
        ["social"],
    )
    assert owner["purpose"] == f"Release planning: {HOUSING_TITLE}"
    # 90 days after the release (in 20 days), the later of the release and the item.
    release = timezone.localdate() + datetime.timedelta(days=20)
    assert owner["ends_on"] == (release + datetime.timedelta(days=90)).isoformat()
    response = api.post(
        url,
        {"organisations": [{"organisation": org.pk, "purpose": owner["purpose"]}]},
        content_type="application/json",
    )
    assert response.status_code == 201
    body = response.json()
    member = CaseTeamMember.objects.get(case=cast.case, organisation=org)
    assert body == {"owners": [], "added": [member.pk]}
    assert member.ends_on is None
    worker = UserFactory(organisation=org, role=Role.PRACTITIONER)
    tasks = _api(worker).get("/api/v1/my-tasks/").json()["results"]
    assert [t["id"] for t in tasks] == [item.pk]


# --- Setting the expected release date ------------------------------------------------------


def _set_release(client: Client, cast: Cast, in_days: int) -> Any:
    date = timezone.localdate() + datetime.timedelta(days=in_days)
    return client.post(
        reverse("cases:key_dates", args=[cast.case.pk]),
        {"kind": "expected_release", "date": date.isoformat()},
    )


def test_setting_the_release_date_offers_to_start_planning(cast: Cast, as_user: Any) -> None:
    client = as_user(cast.case_manager)
    response = _set_release(client, cast, 120)
    checklist_url = reverse("plans:case_checklist", args=[cast.case.pk])
    assert response["Location"] == f"{checklist_url}#checklist-start"
    assert not ChecklistItem.objects.filter(case=cast.case).exists()
    page = client.get(response["Location"]).content.decode()
    assert "Release planning has not started for this case. Start it now" in page
    assert 'id="checklist-start"' in page
    # One click starts it.
    client.post(reverse("plans:checklist_start", args=[cast.case.pk]))
    assert ChecklistItem.objects.filter(case=cast.case).count() == 12
    # Moving the date once planning runs offers nothing more.
    key_date = cast.case.key_dates.get(kind="expected_release")
    response = client.post(
        reverse("cases:key_dates", args=[cast.case.pk]),
        {
            "kind": "expected_release",
            "date": (timezone.localdate() + datetime.timedelta(days=130)).isoformat(),
            "version": str(key_date.version),
        },
    )
    assert response["Location"].endswith("#key-dates")


def test_no_offer_to_those_who_may_not_start(cast: Cast, as_user: Any) -> None:
    """The police read justice but do not write it: they cannot set the date;
    a case in triage is not offered either."""
    from prepare.cases.models import Case

    Case.objects.filter(pk=cast.case.pk).update(status="triage")
    response = _set_release(as_user(cast.case_manager), cast, 120)
    assert response["Location"].endswith("#key-dates")


def test_the_partnership_setting_starts_planning_with_the_date(cast: Cast, as_user: Any) -> None:
    cast.partnership.release_planning_autostart = True
    cast.partnership.save()
    response = _set_release(as_user(cast.coordinator), cast, 120)
    # Started; the police briefing's owner cannot see the case: the coordinator sees them.
    assert ChecklistItem.objects.filter(case=cast.case).count() == 12
    assert response["Location"] == reverse("plans:checklist_owners", args=[cast.case.pk])
    starts = Event.objects.filter(action=EventAction.CREATE, case_id=cast.case.pk).filter(
        detail__op="release_planning_start"
    )
    assert list(starts.values_list("actor_id", flat=True)) == [cast.coordinator.pk]


def test_the_setting_starts_planning_through_the_api_too(cast: Cast) -> None:
    cast.partnership.release_planning_autostart = True
    cast.partnership.save()
    date = (timezone.localdate() + datetime.timedelta(days=120)).isoformat()
    response = _api(cast.case_manager).put(
        f"/api/v1/cases/{cast.case.pk}/key-dates/",
        {"dates": [{"kind": "expected_release", "date": date}]},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    assert ChecklistItem.objects.filter(case=cast.case).count() == 12


def test_the_setting_is_the_coordinators_and_audited(cast: Cast, as_user: Any) -> None:
    url = reverse("partnerships:checklist_settings", args=[cast.partnership.pk])
    editor = reverse("partnerships:checklist_template", args=[cast.partnership.pk])
    assert 'name="autostart"' in as_user(cast.coordinator).get(editor).content.decode()
    assert (
        as_user(cast.case_manager).post(url, {"autostart": "on", "current": "off"}).status_code
        == 403
    )
    assert (
        as_user(cast.outsider).post(url, {"autostart": "on", "current": "off"}).status_code == 404
    )
    cast.partnership.refresh_from_db()
    assert cast.partnership.release_planning_autostart is False

    client = as_user(cast.coordinator)
    assert client.post(url, {"autostart": "on", "current": "off"}).status_code == 302
    cast.partnership.refresh_from_db()
    assert cast.partnership.release_planning_autostart is True
    event = Event.objects.filter(action=EventAction.UPDATE, actor_id=cast.coordinator.pk).latest(
        "seq"
    )
    assert event.detail["release_planning_autostart"] == {"from": False, "to": True}
    # Based on what is no longer the setting: refused, nothing changed.
    assert client.post(url, {"current": "off"}).status_code == 409
    assert client.post(url, {}).status_code == 428
    cast.partnership.refresh_from_db()
    assert cast.partnership.release_planning_autostart is True


# --- Query counts --------------------------------------------------------------------------


def _owners_of(cast: Cast, n: int, start: int = 0) -> None:
    """``n`` organisations of the partnership, each owning two open items of K
    (social) that it cannot see."""
    for i in range(start, start + n):
        org = OrganisationFactory(name=f"Owner {i:02d}", type=OrganisationType.HOUSING)
        MembershipFactory(partnership=cast.partnership, organisation=org)
        CategoryGrant.objects.create(
            agreement=cast.agreement, organisation=org, category=Category.SOCIAL, access="read"
        )
        for j in range(2):
            ChecklistItem.objects.create(
                case=cast.case,
                title=f"owned {i}-{j}",
                category=Category.SOCIAL,
                owner_organisation=org,
                due_on=timezone.localdate() + datetime.timedelta(days=j),
                created_by=cast.coordinator,
            )


def test_the_owners_page_costs_the_same_at_2_and_12_owners(
    cast: Cast, as_user: Any, django_assert_num_queries: Any
) -> None:
    set_release(cast.case, cast.coordinator)
    client = as_user(cast.coordinator)
    url = reverse("plans:checklist_owners", args=[cast.case.pk])
    _owners_of(cast, 2)
    client.get(url)
    with CaptureQueriesContext(connection) as small:
        body = client.get(url).content.decode()
    assert body.count('name="organisation"') == 2
    _owners_of(cast, 10, start=2)
    with django_assert_num_queries(len(small.captured_queries)):
        body = client.get(url).content.decode()
    assert body.count('name="organisation"') == 12
    assert all(f"owned {i}-1" in body for i in range(12))
    assert len(small.captured_queries) == OWNERS_PAGE_QUERIES


# The request (session, user, device, the navigation's counts, the transaction:
# 6), the grants (1), the case (1), the items with their owners (1), the release
# date (1), the owners' memberships, grants and team places (3), the
# partnership's organisations for reassigning (1), the event (6).
OWNERS_PAGE_QUERIES = 20


def test_the_board_costs_the_same_with_owners_who_cannot_see(
    cast: Cast, as_user: Any, django_assert_num_queries: Any
) -> None:
    from tests.plans.test_views import bulk_cases

    client = as_user(cast.coordinator)
    cases = bulk_cases(cast, [10 + n for n in range(3)])
    org = housing(cast)
    ChecklistItem.objects.filter(case__in=cases).update(owner_organisation=org)
    client.get(reverse("plans:release_board"))
    with CaptureQueriesContext(connection) as small:
        body = client.get(reverse("plans:release_board")).content.decode()
    assert body.count("whose owner cannot see the case") == 3
    cases = bulk_cases(cast, [10 + n for n in range(30)], start=100)
    ChecklistItem.objects.filter(case__in=cases).update(owner_organisation=org)
    with django_assert_num_queries(len(small.captured_queries)):
        body = client.get(reverse("plans:release_board")).content.decode()
    assert "25 releases on this page have checklist items owned" in body


def test_starting_from_the_case_page_sends_the_coordinator_to_the_owners(
    cast: Cast, as_user: Any
) -> None:
    set_release(cast.case, cast.coordinator, 100)
    response = as_user(cast.coordinator).post(
        reverse("plans:checklist_start", args=[cast.case.pk]), headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    assert response["HX-Redirect"] == reverse("plans:checklist_owners", args=[cast.case.pk])


def test_an_ended_team_place_is_refused_with_what_to_do(cast: Cast) -> None:
    org = housing(cast)
    housing_item(cast, org)
    CaseTeamMember.objects.create(
        case=cast.case,
        organisation=org,
        purpose="Earlier housing search",
        ends_on=timezone.localdate() - datetime.timedelta(days=1),
    )
    case_grants_rebuild(cast.case)
    assert unreached_owner_ids(cast.case) == {org.pk}
    with pytest.raises(ValidationError, match="place on the team has ended"):
        checklist_owners_add(
            actor=fresh(cast.coordinator),
            case_id=cast.case.pk,
            additions=[OwnerAddition(org.pk, "Release planning", None)],
        )
    assert CaseTeamMember.objects.filter(case=cast.case, organisation=org).count() == 1
