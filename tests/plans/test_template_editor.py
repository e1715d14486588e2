"""The coordinator's editor of the partnership's release-checklist template (pages).

Acted by the cast: the coordinator edits; every other member of the
partnership gets 403 and the outsider 404, on every page and every change.
Each change is checked on the stored rows, on the audit log and on the next
case checklist started from the template.
"""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.db import transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import override

from prepare.accounts.models import OrganisationType, User
from prepare.audit.chain import verify
from prepare.audit.models import Event, EventAction
from prepare.cases.models import Case, CaseStatus
from prepare.partnerships.models import Membership
from prepare.plans import template_editing
from prepare.plans.models import ChecklistItem, ChecklistTemplate, ChecklistTemplateItem
from prepare.plans.services import DEFAULT_ITEMS, default_template, release_planning_start
from tests.access.support import flushable_audit, run_in_threads
from tests.cast import Cast, build_cast
from tests.factories import MembershipFactory, OrganisationFactory, PersonFactory
from tests.partnerships.html import form_values, table_with_caption
from tests.plans.support import set_release

pytestmark = pytest.mark.django_db

__all__ = ["flushable_audit"]

MEMBERS = ("case_manager", "police_on_team", "police_off_team", "ngo_mentor", "auditor", "trainer")
CAPTION = "Items of the template, in the order cases receive them"
# Every signed-in page: session, user, second-factor device, the user's grants
# (one query), the navigation's counts, and the request's transaction (a
# savepoint pair here, BEGIN and COMMIT in production) (as in tests/partnerships).
# Each page below is the first request of its session, which records the
# session's last activity (a savepoint pair and the update): 3 more.
REQUEST_OVERHEAD = 7 + 3


# --- Helpers ------------------------------------------------------------------------------


def editor_url(cast: Cast) -> str:
    return reverse("partnerships:checklist_template", args=[cast.partnership.pk])


def add_url(cast: Cast) -> str:
    return reverse("partnerships:checklist_template_item_add", args=[cast.partnership.pk])


def item_url(cast: Cast, item: ChecklistTemplateItem, action: str = "") -> str:
    name = "partnerships:checklist_template_item" + (f"_{action}" if action else "")
    return reverse(name, args=[cast.partnership.pk, item.pk])


def items(cast: Cast) -> list[ChecklistTemplateItem]:
    return list(
        ChecklistTemplateItem.objects.filter(
            template__partnership=cast.partnership, template__is_default=True
        )
        .select_related("owner_organisation")
        .order_by("position", "pk")
    )


def by_key(cast: Cast) -> dict[str, ChecklistTemplateItem]:
    return {i.key: i for i in items(cast) if i.key}


def rows(cast: Cast, client: Client) -> list[list[str]]:
    response = client.get(editor_url(cast))
    assert response.status_code == 200
    return table_with_caption(response.content.decode(), CAPTION)[1:]


def template_events(action: str | None = None) -> list[Event]:
    events = Event.objects.filter(object_type="plans.checklisttemplateitem").order_by("seq")
    if action:
        events = events.filter(action=action)
    return list(events)


def snapshot() -> list[tuple[Any, ...]]:
    return list(
        ChecklistTemplateItem.objects.order_by("pk").values_list(
            "pk",
            "key",
            "title",
            "category",
            "owner_type",
            "owner_organisation_id",
            "offset_days",
            "position",
            "version",
        )
    )


def fresh(user: User) -> User:
    return User.objects.get(pk=user.pk)


def new_case(cast: Cast, number: int) -> Case:
    """A case of the cast's partnership with probation on its team and a release date."""
    from prepare.access.grants import case_grants_rebuild
    from prepare.cases.models import CaseTeamMember

    case = Case.objects.create(
        person=PersonFactory(),
        partnership=cast.partnership,
        reference=f"TST-2026-{number:04d}",
        status=CaseStatus.PRE_RELEASE,
    )
    CaseTeamMember.objects.create(case=case, organisation=cast.orgs["probation"], purpose="Sup")
    case_grants_rebuild(case)
    set_release(case, cast.case_manager, 100)
    return case


def start(cast: Cast, case: Case) -> dict[str, ChecklistItem]:
    created = release_planning_start(actor=fresh(cast.case_manager), case_id=case.pk)
    return {i.key or i.title: i for i in created}


VALID = {"title": "Bus pass", "category": "social", "owner": "", "offset_days": "-3"}


# --- Who may open and change the template -------------------------------------------------


def _requests(cast: Cast) -> list[tuple[str, str, dict[str, str]]]:
    """(method, url, data) of every page and every change, about the first item."""
    first = items(cast)[0]
    version = str(first.version)
    edit = {"title": "Mine", "category": "social", "owner": "", "offset_days": "-5"}
    return [
        ("GET", editor_url(cast), {}),
        ("GET", add_url(cast), {}),
        ("POST", add_url(cast), VALID),
        ("GET", item_url(cast, first), {}),
        ("POST", item_url(cast, first), {**edit, "version": version}),
        ("GET", item_url(cast, first, "remove"), {}),
        ("POST", item_url(cast, first, "remove"), {"version": version}),
        ("POST", item_url(cast, first, "move"), {"direction": "down", "version": version}),
    ]


@pytest.mark.parametrize("actor", [*MEMBERS, "outsider"])
def test_only_the_coordinator_reaches_any_page_or_change(
    cast: Cast, as_user: Any, actor: str
) -> None:
    default_template(cast.partnership)
    before = snapshot()
    client = as_user(cast.actors[actor])
    expected = 404 if actor == "outsider" else 403
    for method, url, data in _requests(cast):
        response = client.get(url) if method == "GET" else client.post(url, data)
        assert response.status_code == expected, (method, url)
        assert "Housing" not in response.content.decode()
    assert snapshot() == before
    assert template_events() == []


def test_the_coordinator_reaches_every_page_and_change(cast: Cast, as_user: Any) -> None:
    default_template(cast.partnership)
    client = as_user(cast.coordinator)
    first = items(cast)[0]
    edit = {"title": "Mine", "category": "social", "owner": "", "offset_days": "-5"}

    def version() -> str:
        return str(ChecklistTemplateItem.objects.get(pk=first.pk).version)

    answers = [
        client.get(editor_url(cast)).status_code,
        client.get(add_url(cast)).status_code,
        client.post(add_url(cast), VALID).status_code,
        client.get(item_url(cast, first)).status_code,
        client.post(item_url(cast, first), {**edit, "version": version()}).status_code,
        client.post(
            item_url(cast, first, "move"), {"direction": "down", "version": version()}
        ).status_code,
        client.get(item_url(cast, first, "remove")).status_code,
        client.post(item_url(cast, first, "remove"), {"version": version()}).status_code,
    ]
    assert answers == [200, 200, 302, 200, 302, 302, 200, 302]
    assert [e.detail["op"] for e in template_events()] == [
        "checklist_template_item_add",
        "checklist_template_item_update",
        "checklist_template_item_move",
        "checklist_template_item_remove",
    ]


def test_another_partnerships_template_and_items_are_404(cast: Cast, as_user: Any) -> None:
    other_item = default_template(cast.other_partnership).items.first()
    assert other_item is not None
    client = as_user(cast.coordinator)
    assert (
        client.get(
            reverse("partnerships:checklist_template", args=[cast.other_partnership.pk])
        ).status_code
        == 404
    )
    # An item of the other partnership, addressed under the coordinator's own.
    default_template(cast.partnership)
    for action in ("", "remove"):
        assert client.get(item_url(cast, other_item, action)).status_code == 404
    moved = client.post(item_url(cast, other_item, "move"), {"direction": "up", "version": "1"})
    assert moved.status_code == 404
    assert ChecklistTemplateItem.objects.get(pk=other_item.pk).version == 1


def test_a_former_member_gets_404(cast: Cast, as_user: Any) -> None:
    Membership.objects.filter(partnership=cast.partnership, organisation=cast.orgs["ngo"]).update(
        ends_on=timezone.localdate() - datetime.timedelta(days=1)
    )
    assert as_user(cast.ngo_mentor).get(editor_url(cast)).status_code == 404


def test_the_partnership_page_links_the_editor_for_the_coordinator_only(
    cast: Cast, as_user: Any
) -> None:
    detail = reverse("partnerships:detail", args=[cast.partnership.pk])
    assert editor_url(cast) in as_user(cast.coordinator).get(detail).content.decode()
    assert editor_url(cast) not in as_user(cast.case_manager).get(detail).content.decode()


# --- The list ------------------------------------------------------------------------------


def test_the_first_open_creates_the_shipped_default_in_order(cast: Cast, as_user: Any) -> None:
    assert not ChecklistTemplate.objects.filter(partnership=cast.partnership).exists()
    client = as_user(cast.coordinator)
    shown = rows(cast, client)
    assert [i.key for i in items(cast)] == [d.key for d in DEFAULT_ITEMS]
    assert shown[0][:5] == [
        "1",
        "Housing",
        "Social situation",
        "Housing (organisation type)",
        "T-90 days",
    ]
    assert shown[9][:5] == [
        "10",
        "Licence conditions explained",
        "Justice",
        "Probation (organisation type)",
        "T-7 days",
    ]
    assert len(shown) == len(DEFAULT_ITEMS)
    body = client.get(editor_url(cast)).content.decode()
    assert "Checklists already started are copies: they do not change." in body
    # Opening again creates nothing more.
    assert ChecklistTemplate.objects.filter(partnership=cast.partnership).count() == 1
    assert ChecklistTemplateItem.objects.count() == len(DEFAULT_ITEMS)
    # Reading the template is no change: nothing about a template item is logged.
    assert template_events() == []


def test_due_days_read_as_t_minus_on_the_day_and_t_plus(cast: Cast, as_user: Any) -> None:
    template = default_template(cast.partnership)
    template.items.all().delete()
    for position, offset in enumerate((-1, 0, 1, 7, -365)):
        ChecklistTemplateItem.objects.create(
            template=template,
            title=f"Item {position}",
            category="social",
            offset_days=offset,
            position=position,
        )
    shown = rows(cast, as_user(cast.coordinator))
    assert [r[4] for r in shown] == ["T-1 day", "on the day", "T+1 day", "T+7 days", "T-365 days"]
    assert [r[3] for r in shown] == ["Nobody: chosen on each case"] * 5


def test_the_first_item_cannot_move_up_nor_the_last_down(cast: Cast, as_user: Any) -> None:
    default_template(cast.partnership)
    body = as_user(cast.coordinator).get(editor_url(cast)).content.decode()
    first, last = items(cast)[0], items(cast)[-1]
    up = 'name="direction" value="up"'
    down = 'name="direction" value="down"'
    assert body.count(up) == body.count(down) == len(DEFAULT_ITEMS) - 1
    assert 'Move up<span class="visually-hidden"> Housing</span>' not in body
    assert 'Move down<span class="visually-hidden"> Housing</span>' in body
    assert f'id="template-item-{first.pk}"' in body and f'id="template-item-{last.pk}"' in body


@pytest.mark.parametrize("extra", [0, 40])
def test_the_editor_queries_do_not_grow_with_the_template(
    cast: Cast, as_user: Any, django_assert_num_queries: Any, extra: int
) -> None:
    template = default_template(cast.partnership)
    organisations = [OrganisationFactory(type=OrganisationType.HOUSING) for _ in range(3)]
    for org in organisations:
        MembershipFactory(partnership=cast.partnership, organisation=org)
    for n in range(extra):
        ChecklistTemplateItem.objects.create(
            template=template,
            title=f"Extra {n}",
            category="social",
            owner_organisation=organisations[n % 3],
            offset_days=-n,
            position=100 + n,
        )
    client = as_user(cast.coordinator)
    # The request's overhead; then the partnership, the template, its items
    # with their owners, and the partnership's organisations.
    with django_assert_num_queries(REQUEST_OVERHEAD + 4):
        response = client.get(editor_url(cast))
    assert response.status_code == 200
    assert len(table_with_caption(response.content.decode(), CAPTION)) == 1 + 12 + extra


@pytest.mark.parametrize("extra", [0, 40])
def test_the_item_form_queries_do_not_grow_with_the_partnership(
    cast: Cast, as_user: Any, django_assert_num_queries: Any, extra: int
) -> None:
    default_template(cast.partnership)
    for _ in range(extra):
        MembershipFactory(partnership=cast.partnership)
    first = items(cast)[0]
    client = as_user(cast.coordinator)
    # The request's overhead; the partnership, the item, the organisations.
    with django_assert_num_queries(REQUEST_OVERHEAD + 3):
        response = client.get(item_url(cast, first))
    assert response.status_code == 200
    assert response.content.decode().count('<option value="org:') == 4 + extra


# --- Adding ---------------------------------------------------------------------------------


def test_the_coordinator_adds_an_item_at_the_end(cast: Cast, as_user: Any) -> None:
    default_template(cast.partnership)
    client = as_user(cast.coordinator)
    page = client.get(add_url(cast))
    assert page.status_code == 200
    assert form_values(page.content.decode(), action=add_url(cast)).keys() >= {"title", "owner"}
    response = client.post(
        add_url(cast),
        {
            "title": " Bus pass ",
            "category": "social",
            "owner": f"org:{cast.orgs['ngo'].pk}",
            "offset_days": "-3",
        },
    )
    assert response.status_code == 302
    added = items(cast)[-1]
    assert response["Location"] == f"{editor_url(cast)}#template-item-{added.pk}"
    assert (added.key, added.title, added.category, added.owner_organisation_id) == (
        "",
        "Bus pass",
        "social",
        cast.orgs["ngo"].pk,
    )
    assert (added.owner_type, added.offset_days, added.version) == ("", -3, 1)
    assert added.position > items(cast)[-2].position
    shown = rows(cast, client)
    assert shown[-1][:5] == ["13", "Bus pass", "Social situation", "Exit Testdam", "T-3 days"]
    (event,) = template_events(EventAction.CREATE)
    assert event.request_id == response["X-Request-ID"]
    assert (event.actor_id, event.case_id, event.object_id) == (
        cast.coordinator.pk,
        None,
        str(added.pk),
    )
    assert event.detail["op"] == "checklist_template_item_add"
    assert event.detail["partnership"] == cast.partnership.pk
    assert event.detail["after"] == {
        "key": "",
        "title": "Bus pass",
        "category": "social",
        "owner_type": "",
        "owner_organisation": cast.orgs["ngo"].pk,
        "offset_days": -3,
        "position": added.position,
    }


def test_adding_to_a_partnership_without_template_creates_the_default_first(
    cast: Cast, as_user: Any
) -> None:
    response = as_user(cast.coordinator).post(add_url(cast), VALID)
    assert response.status_code == 302
    assert [i.key for i in items(cast)] == [*(d.key for d in DEFAULT_ITEMS), ""]


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"title": "  "}, "title", "This field is required."),
        ({"category": ""}, "category", "This field is required."),
        ({"category": "gossip"}, "category", "Select a valid choice."),
        ({"offset_days": "366"}, "offset_days", "less than or equal to 365"),
        ({"offset_days": "-366"}, "offset_days", "greater than or equal to -365"),
        ({"offset_days": "soon"}, "offset_days", "Enter a whole number."),
        ({"owner": "type:wizards"}, "owner", "Select a valid choice."),
        ({"owner": "org:elsewhere"}, "owner", "Select a valid choice."),
    ],
)
def test_an_invalid_item_is_refused_and_nothing_typed_is_lost(
    cast: Cast, as_user: Any, change: dict[str, str], field: str, message: str
) -> None:
    default_template(cast.partnership)
    if change.get("owner") == "org:elsewhere":
        change = {"owner": f"org:{cast.orgs['elsewhere'].pk}"}
    before = snapshot()
    data = {**VALID, "title": "Bus pass for the first week", **change}
    response = as_user(cast.coordinator).post(add_url(cast), data)
    assert response.status_code == 422
    body = response.content.decode()
    summary = body[
        body.index('class="error-summary"') : body.index(
            "</ul>", body.index('class="error-summary"')
        )
    ]
    assert message in summary and f'href="#id_{field}"' in summary
    assert body.index('class="error-summary"') < body.index('name="title"')
    if field != "title":
        assert 'value="Bus pass for the first week"' in body
    if field != "offset_days":
        assert 'value="-3"' in body
    assert snapshot() == before
    assert template_events() == []


def test_a_full_template_takes_no_more_items(cast: Cast, as_user: Any) -> None:
    template = default_template(cast.partnership)
    ChecklistTemplateItem.objects.bulk_create(
        ChecklistTemplateItem(
            template=template, title=f"Extra {n}", category="social", offset_days=0, position=20 + n
        )
        for n in range(template_editing.MAX_ITEMS - len(DEFAULT_ITEMS))
    )
    client = as_user(cast.coordinator)
    page = client.get(editor_url(cast)).content.decode()
    assert add_url(cast) not in page and "its maximum of 100 items" in page
    response = client.post(add_url(cast), VALID)
    assert response.status_code == 422
    assert "at most 100 items" in response.content.decode()
    assert ChecklistTemplateItem.objects.filter(template=template).count() == 100


# --- Changing ------------------------------------------------------------------------------


def test_the_coordinator_changes_every_field_of_an_item(cast: Cast, as_user: Any) -> None:
    default_template(cast.partnership)
    housing = by_key(cast)["housing"]
    client = as_user(cast.coordinator)
    page = client.get(item_url(cast, housing))
    values = form_values(page.content.decode(), action=item_url(cast, housing))
    assert (values["title"], values["owner"], values["offset_days"], values["version"]) == (
        "Housing",
        "type:housing",
        "-90",
        "1",
    )
    response = client.post(
        item_url(cast, housing),
        {
            "title": "Housing with a social landlord",
            "category": "health",
            "owner": f"org:{cast.orgs['probation'].pk}",
            "offset_days": "-120",
            "version": "1",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == f"{editor_url(cast)}#template-item-{housing.pk}"
    housing.refresh_from_db()
    assert (housing.key, housing.title, housing.category) == (
        "housing",
        "Housing with a social landlord",
        "health",
    )
    assert (housing.owner_type, housing.owner_organisation_id, housing.offset_days) == (
        "",
        cast.orgs["probation"].pk,
        -120,
    )
    assert housing.version == 2
    assert rows(cast, client)[0][:5] == [
        "1",
        "Housing with a social landlord",
        "Health",
        "Probation Testdam",
        "T-120 days",
    ]
    (event,) = template_events(EventAction.UPDATE)
    assert event.request_id == response["X-Request-ID"]
    assert event.case_id is None and event.object_id == str(housing.pk)
    assert event.detail["changes"] == {
        "title": {"from": "", "to": "Housing with a social landlord"},
        "category": {"from": "social", "to": "health"},
        "owner_type": {"from": "housing", "to": ""},
        "owner_organisation": {"from": None, "to": cast.orgs["probation"].pk},
        "offset_days": {"from": -90, "to": -120},
    }
    assert event.detail["version"] == 2 and event.detail["key"] == "housing"


def test_a_default_item_keeps_its_translated_title_until_reworded(cast: Cast, as_user: Any) -> None:
    default_template(cast.partnership)
    mentor = by_key(cast)["mentor"]
    client = as_user(cast.coordinator)
    same = {"category": "interventions", "owner": "type:exit_ngo", "version": "1"}
    # Saved with the default title as shown: nothing changes, it stays a key.
    kept = client.post(item_url(cast, mentor), {**same, "title": "Mentor", "offset_days": "-30"})
    assert kept.status_code == 302
    mentor.refresh_from_db()
    assert (mentor.title, mentor.version) == ("", 1)
    assert template_events() == []
    # Reworded: the coordinator's title wins, untranslated, here and on new cases.
    client.post(item_url(cast, mentor), {**same, "title": "Exit mentor", "offset_days": "-30"})
    mentor.refresh_from_db()
    assert (mentor.key, mentor.title, mentor.display_title) == (
        "mentor",
        "Exit mentor",
        "Exit mentor",
    )
    with override("fr"):
        assert mentor.display_title == "Exit mentor"
    created = start(cast, new_case(cast, 2))
    assert created["mentor"].display_title == "Exit mentor"
    # Emptied: back to the default title, translated for each reader.
    client.post(item_url(cast, mentor), {**same, "title": "", "offset_days": "-30", "version": "2"})
    mentor.refresh_from_db()
    assert (mentor.title, mentor.display_title, mentor.version) == ("", "Mentor", 3)


def test_the_default_title_shown_in_the_coordinators_language_keeps_the_key(
    cast: Cast, as_user: Any
) -> None:
    default_template(cast.partnership)
    housing = by_key(cast)["housing"]
    with override("fr"):
        french = str(housing.display_title)
    client = as_user(cast.coordinator)
    client.post(reverse("set_language"), {"language": "fr"})
    response = client.post(
        item_url(cast, housing),
        {
            "title": french,
            "category": "social",
            "owner": "type:housing",
            "offset_days": "-60",
            "version": "1",
        },
    )
    assert response.status_code == 302
    housing.refresh_from_db()
    assert (housing.title, housing.offset_days) == ("", -60)
    with override("en"):
        assert housing.display_title == "Housing"
    assert french != "Housing"


def test_an_unchanged_item_is_not_saved_again(cast: Cast, as_user: Any) -> None:
    default_template(cast.partnership)
    police = by_key(cast)["police_briefing"]
    client = as_user(cast.coordinator)
    values = form_values(
        client.get(item_url(cast, police)).content.decode(), item_url(cast, police)
    )
    values.pop("csrfmiddlewaretoken")
    response = client.post(item_url(cast, police), values)
    assert response.status_code == 302
    police.refresh_from_db()
    assert police.version == 1
    assert template_events() == []
    assert "Nothing changed" in client.get(editor_url(cast)).content.decode()


def test_an_invalid_change_keeps_what_was_typed(cast: Cast, as_user: Any) -> None:
    default_template(cast.partnership)
    bank = by_key(cast)["bank_account"]
    before = snapshot()
    response = as_user(cast.coordinator).post(
        item_url(cast, bank),
        {
            "title": "Bank account with a basic card",
            "category": "social",
            "owner": "type:social_services",
            "offset_days": "400",
            "version": "1",
        },
    )
    assert response.status_code == 422
    body = response.content.decode()
    assert "There is a problem" in body and 'href="#id_offset_days"' in body
    assert 'value="Bank account with a basic card"' in body and 'value="400"' in body
    assert snapshot() == before


def test_a_named_owner_must_be_in_the_partnership(cast: Cast, as_user: Any) -> None:
    default_template(cast.partnership)
    bank = by_key(cast)["bank_account"]
    data = {
        "title": "Bank account",
        "category": "social",
        "owner": f"org:{cast.orgs['elsewhere'].pk}",
        "offset_days": "-30",
        "version": "1",
    }
    response = as_user(cast.coordinator).post(item_url(cast, bank), data)
    assert response.status_code == 422
    bank.refresh_from_db()
    assert (bank.owner_type, bank.owner_organisation_id, bank.version) == (
        "social_services",
        None,
        1,
    )


def test_a_stale_change_shows_both_versions_and_keeps_the_typed_one(
    cast: Cast, as_user: Any
) -> None:
    default_template(cast.partnership)
    benefits = by_key(cast)["benefits"]
    coordinator = as_user(cast.coordinator)
    url = item_url(cast, benefits)
    # Someone else saves first.
    first = {"title": "Benefits claim", "category": "social", "owner": "", "offset_days": "-45"}
    assert coordinator.post(url, {**first, "version": "1"}).status_code == 302
    mine = {
        "title": "Benefits and allowances",
        "category": "justice",
        "owner": "",
        "offset_days": "-20",
    }
    response = coordinator.post(url, {**mine, "version": "1"})
    assert response.status_code == 409
    body = response.content.decode()
    assert "Someone else changed this record" in body
    assert (
        "The item as it is saved now" in body and "Benefits claim" in body and "T-45 days" in body
    )
    values = form_values(body, action=url)
    assert (values["title"], values["category"], values["offset_days"], values["version"]) == (
        "Benefits and allowances",
        "justice",
        "-20",
        "2",
    )
    benefits.refresh_from_db()
    assert (benefits.title, benefits.version) == ("Benefits claim", 2)
    # Saving again over the current version applies the coordinator's choices.
    values.pop("csrfmiddlewaretoken")
    assert coordinator.post(url, values).status_code == 302
    benefits.refresh_from_db()
    assert (benefits.title, benefits.category, benefits.version) == (
        "Benefits and allowances",
        "justice",
        3,
    )


@pytest.mark.parametrize("version", ["", "abc", "0"])
def test_a_change_without_a_version_is_428(cast: Cast, as_user: Any, version: str) -> None:
    default_template(cast.partnership)
    benefits = by_key(cast)["benefits"]
    before = snapshot()
    data = {**VALID, "title": "Benefits claim", "version": version}
    response = as_user(cast.coordinator).post(item_url(cast, benefits), data)
    assert response.status_code == 428
    assert 'value="Benefits claim"' in response.content.decode()
    assert snapshot() == before
    assert template_events() == []


# --- Removing --------------------------------------------------------------------------------


def test_the_coordinator_removes_an_item_after_confirming(cast: Cast, as_user: Any) -> None:
    default_template(cast.partnership)
    victims = by_key(cast)["victim_considerations"]
    client = as_user(cast.coordinator)
    confirm = client.get(item_url(cast, victims, "remove"))
    assert confirm.status_code == 200
    body = confirm.content.decode()
    assert "Remove “Victim considerations” from the template?" in body
    assert "T-30 days" in body and "Probation (organisation type)" in body
    response = client.post(item_url(cast, victims, "remove"), {"version": "1"})
    assert response.status_code == 302
    assert response["Location"] == editor_url(cast)
    assert not ChecklistTemplateItem.objects.filter(pk=victims.pk).exists()
    assert "Victim considerations" not in [r[1] for r in rows(cast, client)]
    (event,) = template_events(EventAction.DELETE)
    assert event.request_id == response["X-Request-ID"] and event.object_id == str(victims.pk)
    assert event.detail["before"] == {
        "key": "victim_considerations",
        "title": "",
        "category": "justice",
        "owner_type": "probation",
        "owner_organisation": None,
        "offset_days": -30,
        "position": victims.position,
    }


def test_a_stale_or_unversioned_removal_removes_nothing(cast: Cast, as_user: Any) -> None:
    default_template(cast.partnership)
    victims = by_key(cast)["victim_considerations"]
    ChecklistTemplateItem.objects.filter(pk=victims.pk).update(version=2, offset_days=-40)
    client = as_user(cast.coordinator)
    stale = client.post(item_url(cast, victims, "remove"), {"version": "1"})
    missing = client.post(item_url(cast, victims, "remove"), {})
    assert (stale.status_code, missing.status_code) == (409, 428)
    body = stale.content.decode()
    assert "Someone else changed this record" in body and "T-40 days" in body
    assert 'name="version" value="2"' in body
    assert ChecklistTemplateItem.objects.filter(pk=victims.pk).exists()
    assert template_events() == []


# --- Moving --------------------------------------------------------------------------------


def test_the_coordinator_moves_items_up_and_down(cast: Cast, as_user: Any) -> None:
    default_template(cast.partnership)
    client = as_user(cast.coordinator)
    order = [i.key for i in items(cast)]
    identity = by_key(cast)["identity_papers"]
    housing = by_key(cast)["housing"]
    response = client.post(item_url(cast, identity, "move"), {"direction": "up", "version": "1"})
    assert response.status_code == 302
    assert response["Location"] == f"{editor_url(cast)}#template-item-{identity.pk}"
    assert [i.key for i in items(cast)] == ["identity_papers", "housing", *order[2:]]
    # Both changed place, so both have a new version.
    assert {i.key: i.version for i in items(cast)[:2]} == {"identity_papers": 2, "housing": 2}
    (event,) = template_events(EventAction.UPDATE)
    assert event.detail["op"] == "checklist_template_item_move"
    assert event.detail["direction"] == "up" and event.detail["swapped_with"] == housing.pk
    assert event.detail["changes"] == {"position": {"from": 1, "to": 0}}
    client.post(item_url(cast, identity, "move"), {"direction": "down", "version": "2"})
    client.post(item_url(cast, identity, "move"), {"direction": "down", "version": "3"})
    assert [i.key for i in items(cast)][:3] == ["housing", "bank_account", "identity_papers"]
    assert rows(cast, client)[2][:2] == ["3", "Identity papers"]


def test_a_move_past_either_end_is_refused(cast: Cast, as_user: Any) -> None:
    default_template(cast.partnership)
    client = as_user(cast.coordinator)
    first, last = items(cast)[0], items(cast)[-1]
    before = snapshot()
    up = client.post(item_url(cast, first, "move"), {"direction": "up", "version": "1"})
    down = client.post(item_url(cast, last, "move"), {"direction": "down", "version": "1"})
    sideways = client.post(item_url(cast, first, "move"), {"direction": "left", "version": "1"})
    assert (up.status_code, down.status_code, sideways.status_code) == (422, 422, 422)
    assert "already the first" in up.content.decode()
    assert "already the last" in down.content.decode()
    assert snapshot() == before


def test_a_stale_or_unversioned_move_moves_nothing(cast: Cast, as_user: Any) -> None:
    default_template(cast.partnership)
    client = as_user(cast.coordinator)
    housing, identity = items(cast)[:2]
    # Someone else moved identity papers up: housing changed place too.
    client.post(item_url(cast, identity, "move"), {"direction": "up", "version": "1"})
    before = snapshot()
    stale = client.post(item_url(cast, housing, "move"), {"direction": "down", "version": "1"})
    missing = client.post(item_url(cast, housing, "move"), {"direction": "down"})
    assert (stale.status_code, missing.status_code) == (409, 428)
    assert "Someone else changed this record" in stale.content.decode()
    assert table_with_caption(stale.content.decode(), CAPTION)[1][1] == "Identity papers"
    assert snapshot() == before


def test_moving_repairs_equal_positions_first(cast: Cast, as_user: Any) -> None:
    template = default_template(cast.partnership)
    template.items.update(position=0)
    client = as_user(cast.coordinator)
    order = [i.pk for i in items(cast)]  # by pk, as all positions are equal
    third = ChecklistTemplateItem.objects.get(pk=order[2])
    response = client.post(item_url(cast, third, "move"), {"direction": "up", "version": "1"})
    assert response.status_code == 302
    assert [i.pk for i in items(cast)] == [order[0], order[2], order[1], *order[3:]]


# --- What the template changes, and what it does not ------------------------------------------


def test_a_case_started_after_an_edit_gets_it_and_one_started_before_does_not(
    cast: Cast, as_user: Any
) -> None:
    before_case = new_case(cast, 2)
    started_before = start(cast, before_case)
    snapshot_before = sorted(
        ChecklistItem.objects.filter(case=before_case).values_list(
            "pk",
            "key",
            "title",
            "category",
            "owner_organisation_id",
            "offset_days",
            "due_on",
            "version",
        )
    )
    client = as_user(cast.coordinator)
    housing = by_key(cast)["housing"]
    police = by_key(cast)["police_briefing"]
    client.post(
        item_url(cast, housing),
        {
            "title": "Housing arranged",
            "category": "social",
            "owner": f"org:{cast.orgs['municipality'].pk}",
            "offset_days": "-100",
            "version": "1",
        },
    )
    client.post(item_url(cast, police, "remove"), {"version": "1"})
    client.post(add_url(cast), {**VALID, "owner": "type:probation"})

    after_case = new_case(cast, 3)
    created = start(cast, after_case)
    release = timezone.localdate() + datetime.timedelta(days=100)
    assert "police_briefing" not in created
    assert created["housing"].display_title == "Housing arranged"
    assert created["housing"].owner_organisation_id == cast.orgs["municipality"].pk
    assert created["housing"].due_on == release - datetime.timedelta(days=100)
    assert created["Bus pass"].owner_organisation_id == cast.orgs["probation"].pk
    assert created["Bus pass"].due_on == release - datetime.timedelta(days=3)
    assert len(created) == len(DEFAULT_ITEMS)  # one removed, one added
    # The checklist started before is untouched.
    assert "police_briefing" in started_before
    assert (
        sorted(
            ChecklistItem.objects.filter(case=before_case).values_list(
                "pk",
                "key",
                "title",
                "category",
                "owner_organisation_id",
                "offset_days",
                "due_on",
                "version",
            )
        )
        == snapshot_before
    )


def test_a_named_owner_that_left_the_partnership_is_flagged_and_not_used(
    cast: Cast, as_user: Any
) -> None:
    default_template(cast.partnership)
    client = as_user(cast.coordinator)
    mentor = by_key(cast)["mentor"]
    client.post(
        item_url(cast, mentor),
        {
            "title": "",
            "category": "interventions",
            "owner": f"org:{cast.orgs['ngo'].pk}",
            "offset_days": "-30",
            "version": "1",
        },
    )
    Membership.objects.filter(partnership=cast.partnership, organisation=cast.orgs["ngo"]).update(
        ends_on=timezone.localdate() - datetime.timedelta(days=1)
    )
    assert "no longer in the partnership" in client.get(editor_url(cast)).content.decode()
    # The item can still be changed otherwise, its owner kept.
    form = client.get(item_url(cast, mentor)).content.decode()
    assert "Exit Testdam (no longer in the partnership)" in form
    kept = client.post(
        item_url(cast, mentor),
        {
            "title": "",
            "category": "interventions",
            "owner": f"org:{cast.orgs['ngo'].pk}",
            "offset_days": "-20",
            "version": "2",
        },
    )
    assert kept.status_code == 302
    mentor.refresh_from_db()
    assert (mentor.owner_organisation_id, mentor.offset_days) == (cast.orgs["ngo"].pk, -20)
    created = start(cast, new_case(cast, 2))
    assert created["mentor"].owner_organisation_id is None


# --- Two coordinators at once ------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_concurrent_changes_of_one_item_let_exactly_one_through(flushable_audit: Any) -> None:
    cast = build_cast()
    default_template(cast.partnership)
    housing = by_key(cast)["housing"]
    offsets = (-100, -110)

    def save(i: int) -> str:
        actor = User.objects.get(pk=cast.coordinator.pk)
        with transaction.atomic():
            template_editing.template_item_update(
                actor=actor,
                partnership_id=cast.partnership.pk,
                item_id=housing.pk,
                version=1,
                data=template_editing.ItemData(
                    title="", category="social", offset_days=offsets[i], owner_type="housing"
                ),
            )
        return "saved"

    results = run_in_threads(2, save)

    assert sorted(type(r).__name__ if isinstance(r, Exception) else r for r in results) == [
        "StaleVersion",
        "saved",
    ]
    housing.refresh_from_db()
    assert (housing.offset_days, housing.version) == (offsets[results.index("saved")], 2)
    assert len(template_events(EventAction.UPDATE)) == 1
    assert verify() is None


@pytest.mark.django_db(transaction=True)
def test_concurrent_additions_each_get_their_own_place(flushable_audit: Any) -> None:
    cast = build_cast()
    default_template(cast.partnership)

    def add(i: int) -> int:
        actor = User.objects.get(pk=cast.coordinator.pk)
        with transaction.atomic():
            item = template_editing.template_item_add(
                actor=actor,
                partnership_id=cast.partnership.pk,
                data=template_editing.ItemData(
                    title=f"Added {i}", category="social", offset_days=-i
                ),
            )
        return item.position

    results = run_in_threads(3, add)

    assert not [r for r in results if isinstance(r, Exception)], results
    positions = [i.position for i in items(cast)]
    assert len(set(positions)) == len(positions) == len(DEFAULT_ITEMS) + 3
    assert sorted(results) == positions[-3:]
    assert verify() is None
