"""Release planning services: start from the template, item changes, rescheduling."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.http import Http404
from django.utils import timezone

from prepare.access.categories import Category
from prepare.access.errors import WriteForbidden
from prepare.accounts.models import OrganisationType, User
from prepare.audit.models import Event, EventAction
from prepare.cases.lifecycle.services import key_date_set
from prepare.cases.models import CaseTeamMember, KeyDate, KeyDateKind
from prepare.locking import StaleVersion
from prepare.plans import services
from prepare.plans.models import ChecklistItem, ChecklistTemplate, ItemStatus
from prepare.plans.services import (
    PlanningRefused,
    checklist_item_add,
    checklist_item_assign,
    checklist_item_complete,
    checklist_item_not_applicable,
    checklist_item_reopen,
    release_planning_start,
)
from tests.cast import Cast
from tests.factories import MembershipFactory, OrganisationFactory, UserFactory
from tests.plans.support import plant_checklist, set_release

RELEASE_IN = 100


def fresh(user: User) -> User:
    return User.objects.get(pk=user.pk)


def start(cast: Cast) -> list[ChecklistItem]:
    set_release(cast.case, cast.case_manager, RELEASE_IN)
    return release_planning_start(actor=fresh(cast.case_manager), case_id=cast.case.pk)


def by_key(cast: Cast) -> dict[str, ChecklistItem]:
    return {i.key: i for i in ChecklistItem.objects.filter(case=cast.case)}


# --- Starting from the template ---------------------------------------------------------


def test_start_creates_the_twelve_default_items_due_relative_to_the_release(cast: Cast) -> None:
    created = start(cast)
    release = timezone.localdate() + datetime.timedelta(days=RELEASE_IN)
    items = by_key(cast)
    assert len(created) == len(items) == 12
    offsets = {
        "housing": -90,
        "identity_papers": -60,
        "bank_account": -30,
        "benefits": -30,
        "health_insurance": -30,
        "continuity_of_care": -30,
        "work_or_training": -14,
        "mentor": -30,
        "family_contact": -14,
        "licence_conditions": -7,
        "police_briefing": -7,
        "victim_considerations": -30,
    }
    assert {k: i.offset_days for k, i in items.items()} == offsets
    assert {k: i.due_on for k, i in items.items()} == {
        k: release + datetime.timedelta(days=o) for k, o in offsets.items()
    }
    assert all(i.status == ItemStatus.OPEN and i.version == 1 for i in items.values())
    # Titles are stored as keys and shown translated.
    assert items["housing"].title == "" and items["housing"].display_title == "Housing"
    # The partnership's default template was created on first use.
    template = ChecklistTemplate.objects.get(partnership=cast.partnership, is_default=True)
    assert template.items.count() == 12
    event = Event.objects.filter(action=EventAction.CREATE, case_id=cast.case.pk).latest("seq")
    assert event.actor_id == cast.case_manager.pk
    assert sorted(event.detail["items"]) == sorted(i.pk for i in items.values())
    assert "Housing" not in str(event.detail)


def test_owners_are_the_partnerships_organisations_of_each_type(cast: Cast) -> None:
    # A second probation service in the partnership, not on the case team: the
    # one on the team owes the probation items.
    MembershipFactory(
        partnership=cast.partnership,
        organisation=OrganisationFactory(type=OrganisationType.PROBATION),
    )
    # Two housing corporations, neither on the team: nobody is picked.
    for _ in range(2):
        MembershipFactory(
            partnership=cast.partnership,
            organisation=OrganisationFactory(type=OrganisationType.HOUSING),
        )
    start(cast)
    owners = {k: i.owner_organisation_id for k, i in by_key(cast).items()}
    orgs = cast.orgs
    assert owners["family_contact"] == orgs["probation"].pk
    assert owners["licence_conditions"] == orgs["probation"].pk
    assert owners["victim_considerations"] == orgs["probation"].pk
    assert owners["police_briefing"] == orgs["police"].pk
    assert owners["mentor"] == orgs["ngo"].pk
    assert owners["identity_papers"] == orgs["municipality"].pk
    # No organisation of the type in the partnership, or no single one: unassigned.
    for key in ("housing", "benefits", "continuity_of_care", "work_or_training"):
        assert owners[key] is None, key


def test_the_one_on_the_team_is_picked_among_several(cast: Cast) -> None:
    housing = [OrganisationFactory(type=OrganisationType.HOUSING) for _ in range(2)]
    for org in housing:
        MembershipFactory(partnership=cast.partnership, organisation=org)
    CaseTeamMember.objects.create(case=cast.case, organisation=housing[1], purpose="Housing")
    start(cast)
    assert by_key(cast)["housing"].owner_organisation_id == housing[1].pk


def test_start_needs_an_expected_release(cast: Cast) -> None:
    with pytest.raises(PlanningRefused, match="expected release"):
        release_planning_start(actor=fresh(cast.case_manager), case_id=cast.case.pk)
    assert not ChecklistItem.objects.exists()
    assert not Event.objects.filter(action=EventAction.CREATE, case_id=cast.case.pk).exists()


def test_start_only_once(cast: Cast) -> None:
    start(cast)
    with pytest.raises(PlanningRefused, match="already started"):
        release_planning_start(actor=fresh(cast.coordinator), case_id=cast.case.pk)
    assert ChecklistItem.objects.filter(case=cast.case).count() == 12


@pytest.mark.parametrize(
    ("actor", "error"),
    [
        ("police_on_team", WriteForbidden),  # reads justice, may not write it
        ("ngo_mentor", WriteForbidden),  # no justice at all
        ("police_off_team", Http404),
        ("outsider", Http404),
        ("auditor", Http404),
    ],
)
def test_start_needs_write_on_justice(cast: Cast, actor: str, error: type) -> None:
    set_release(cast.case, cast.case_manager)
    with pytest.raises(error):
        release_planning_start(actor=fresh(cast.actors[actor]), case_id=cast.case.pk)
    assert not ChecklistItem.objects.exists()


# --- The release date moves --------------------------------------------------------------


def test_moving_the_release_moves_the_open_items_only(cast: Cast) -> None:
    start(cast)
    items = by_key(cast)
    actor = fresh(cast.case_manager)
    checklist_item_complete(actor=actor, item_id=items["family_contact"].pk, version=1)
    checklist_item_not_applicable(
        actor=actor, item_id=items["victim_considerations"].pk, version=1, reason="No victim"
    )
    fixed_day = timezone.localdate() + datetime.timedelta(days=50)
    fixed = checklist_item_add(
        actor=actor, case_id=cast.case.pk, title="Tag fitted", category="justice", due_on=fixed_day
    )
    before = {i.pk: (i.due_on, i.version) for i in ChecklistItem.objects.all()}
    key_date = KeyDate.objects.get(case=cast.case, kind=KeyDateKind.EXPECTED_RELEASE)
    last = Event.objects.latest("seq").seq

    key_date_set(
        actor=fresh(cast.case_manager),
        case_id=cast.case.pk,
        kind=KeyDateKind.EXPECTED_RELEASE,
        date=key_date.date + datetime.timedelta(days=14),
        version=key_date.version,
    )

    after = {i.pk: (i.due_on, i.version) for i in ChecklistItem.objects.all()}
    unmoved = {items["family_contact"].pk, items["victim_considerations"].pk, fixed.pk}
    for pk, (due, version) in before.items():
        if pk in unmoved:
            assert after[pk] == (due, version)
        else:
            assert after[pk] == (due + datetime.timedelta(days=14), version + 1)
    events = Event.objects.filter(seq__gt=last, detail__op="reschedule")
    assert [(e.action, e.actor_id, e.case_id) for e in events] == [
        (EventAction.UPDATE, cast.case_manager.pk, cast.case.pk)
    ]
    assert events[0].detail["items"] == sorted(set(before) - unmoved)


def test_a_case_without_checklist_reschedules_nothing(cast: Cast) -> None:
    assert services.checklist_reschedule(case=cast.case, release_on=timezone.localdate()) == []
    assert not Event.objects.filter(detail__op="reschedule").exists()


# --- Item changes, with version checks ---------------------------------------------------


def test_complete_with_a_note(cast: Cast) -> None:
    start(cast)
    item = by_key(cast)["licence_conditions"]
    checklist_item_complete(
        actor=fresh(cast.case_manager), item_id=item.pk, version=1, note="Explained on 3 May"
    )
    item.refresh_from_db()
    assert (item.status, item.version, item.completed_by_id) == (
        ItemStatus.DONE,
        2,
        cast.case_manager.pk,
    )
    assert item.completion_note == "Explained on 3 May" and item.completed_at is not None
    event = Event.objects.latest("seq")
    assert (event.action, event.object_id, event.category) == (
        EventAction.UPDATE,
        str(item.pk),
        Category.JUSTICE,
    )
    assert event.detail["op"] == "complete" and "Explained" not in str(event.detail)


@pytest.mark.parametrize("op", ["complete", "not_applicable", "assign", "reopen"])
def test_a_stale_version_changes_nothing(cast: Cast, op: str) -> None:
    start(cast)
    item = by_key(cast)["licence_conditions"]
    actor = fresh(cast.case_manager)
    if op == "reopen":
        checklist_item_complete(actor=actor, item_id=item.pk, version=1)
    item.refresh_from_db()
    before = ChecklistItem.objects.filter(pk=item.pk).values().get()
    events = Event.objects.count()
    stale = item.version + 5
    with pytest.raises(StaleVersion):
        match op:
            case "complete":
                checklist_item_complete(actor=actor, item_id=item.pk, version=stale)
            case "not_applicable":
                checklist_item_not_applicable(
                    actor=actor, item_id=item.pk, version=stale, reason="x"
                )
            case "assign":
                checklist_item_assign(
                    actor=actor,
                    item_id=item.pk,
                    version=stale,
                    owner_organisation=cast.orgs["municipality"],
                )
            case "reopen":
                checklist_item_reopen(actor=actor, item_id=item.pk, version=stale)
    assert ChecklistItem.objects.filter(pk=item.pk).values().get() == before
    assert Event.objects.count() == events


def test_not_applicable_needs_a_reason(cast: Cast) -> None:
    start(cast)
    item = by_key(cast)["victim_considerations"]
    with pytest.raises(ValidationError):
        checklist_item_not_applicable(
            actor=fresh(cast.case_manager), item_id=item.pk, version=1, reason="  "
        )
    item.refresh_from_db()
    assert (item.status, item.version) == (ItemStatus.OPEN, 1)


def test_reopen_follows_the_release_again(cast: Cast) -> None:
    start(cast)
    item = by_key(cast)["licence_conditions"]
    actor = fresh(cast.case_manager)
    checklist_item_complete(actor=actor, item_id=item.pk, version=1, note="done")
    # The release moves while the item is done: its date stays...
    key_date = KeyDate.objects.get(case=cast.case, kind=KeyDateKind.EXPECTED_RELEASE)
    key_date_set(
        actor=actor,
        case_id=cast.case.pk,
        kind=KeyDateKind.EXPECTED_RELEASE,
        date=key_date.date + datetime.timedelta(days=30),
        version=key_date.version,
    )
    item.refresh_from_db()
    assert item.version == 2
    # ... and follows the release again once reopened.
    checklist_item_reopen(actor=actor, item_id=item.pk, version=2)
    item.refresh_from_db()
    assert item.status == ItemStatus.OPEN and item.completion_note == ""
    assert item.due_on == key_date.date + datetime.timedelta(days=30 - 7)


def test_assign_to_an_organisation_and_one_of_its_people(cast: Cast) -> None:
    start(cast)
    item = by_key(cast)["mentor"]
    actor = fresh(cast.coordinator)
    checklist_item_assign(
        actor=actor,
        item_id=item.pk,
        version=1,
        owner_organisation=cast.orgs["ngo"],
        assignee=cast.ngo_mentor,
    )
    item.refresh_from_db()
    assert (item.owner_organisation_id, item.assignee_id, item.version) == (
        cast.orgs["ngo"].pk,
        cast.ngo_mentor.pk,
        2,
    )
    # Someone of another organisation, or who may not read the category, is refused.
    with pytest.raises(ValidationError):
        checklist_item_assign(
            actor=actor,
            item_id=item.pk,
            version=2,
            owner_organisation=cast.orgs["ngo"],
            assignee=cast.case_manager,
        )
    social = by_key(cast)["housing"]
    with pytest.raises(ValidationError):
        checklist_item_assign(
            actor=actor,
            item_id=social.pk,
            version=1,
            owner_organisation=cast.orgs["police"],
            assignee=cast.police_on_team,  # police read no social
        )
    # An organisation outside the partnership cannot owe anything.
    with pytest.raises(ValidationError):
        checklist_item_assign(
            actor=actor, item_id=item.pk, version=2, owner_organisation=cast.orgs["elsewhere"]
        )
    item.refresh_from_db()
    assert item.version == 2


# --- The category decides ------------------------------------------------------------------


def test_the_items_category_decides_who_may_change_it(cast: Cast) -> None:
    start(cast)
    items = by_key(cast)
    police = fresh(cast.police_on_team)
    # Police read justice but may not write it: 403.
    with pytest.raises(WriteForbidden):
        checklist_item_complete(actor=police, item_id=items["licence_conditions"].pk, version=1)
    # Police read nothing of social: the item does not exist for them.
    with pytest.raises(Http404):
        checklist_item_complete(actor=police, item_id=items["housing"].pk, version=1)
    # Their own item, in a category they write: done.
    checklist_item_complete(actor=police, item_id=items["police_briefing"].pk, version=1)
    # The NGO completes the mentor item (interventions, written by the NGO).
    checklist_item_complete(
        actor=fresh(cast.ngo_mentor), item_id=items["mentor"].pk, version=1, note="Matched"
    )
    done = set(ChecklistItem.objects.filter(status=ItemStatus.DONE).values_list("key", flat=True))
    assert done == {"police_briefing", "mentor"}


def test_adding_an_item_needs_write_on_its_category(cast: Cast) -> None:
    plant_checklist(cast.case, cast.coordinator)
    day = timezone.localdate() + datetime.timedelta(days=5)
    with pytest.raises(WriteForbidden):
        checklist_item_add(
            actor=fresh(cast.ngo_mentor),
            case_id=cast.case.pk,
            title="X",
            category="social",
            due_on=day,
        )
    item = checklist_item_add(
        actor=fresh(cast.ngo_mentor),
        case_id=cast.case.pk,
        title="Intake at the exit programme",
        category="interventions",
        due_on=day,
        owner_organisation=cast.orgs["ngo"],
    )
    assert (item.offset_days, item.due_on, item.created_by_id) == (None, day, cast.ngo_mentor.pk)
    # A due date counted from the release would disclose it to a reader without justice.
    with pytest.raises(ValidationError):
        checklist_item_add(
            actor=fresh(cast.ngo_mentor),
            case_id=cast.case.pk,
            title="Y",
            category="interventions",
            offset_days=-3,
        )
    assert ChecklistItem.objects.filter(created_by=cast.ngo_mentor).count() == 1


def test_adding_needs_the_plan_started(cast: Cast) -> None:
    with pytest.raises(PlanningRefused):
        checklist_item_add(
            actor=fresh(cast.case_manager),
            case_id=cast.case.pk,
            title="X",
            category="justice",
            due_on=timezone.localdate(),
        )


def test_an_observer_changes_nothing(cast: Cast) -> None:
    items = plant_checklist(cast.case, cast.coordinator)
    observer = UserFactory(organisation=cast.orgs["probation"], role="observer")
    with pytest.raises(WriteForbidden):
        checklist_item_complete(actor=observer, item_id=items["justice"].pk, version=1)
