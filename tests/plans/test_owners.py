"""Checklist owners who cannot see the case: flagged, shown to the coordinator,
added to the team in one step or their items reassigned."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from prepare.access.categories import Category
from prepare.access.grants import case_grants_rebuild
from prepare.accounts.models import OrganisationType, Role
from prepare.audit.models import Event, EventAction
from prepare.cases.models import CaseTeamMember
from prepare.notifications.models import Notification, NotificationKind
from prepare.partnerships.models import CategoryGrant
from prepare.plans.models import ChecklistItem, ItemStatus
from prepare.plans.selectors import checklist_owners, my_tasks
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
