"""The API of a partnership's release-checklist template, for its coordinator.

Every operation as every actor of the cast (coordinator 2xx, other members
403, outsider 404, nothing written when refused); each kind of change with
its stored effect and its audit event; optimistic locking through If-Match
(412) and the version field or parameter (409), and 428 without either.
"""

from __future__ import annotations

import datetime
import json
from typing import Any

import pytest
from django.db import DatabaseError
from django.utils import timezone

from prepare.access.grants import case_grants_rebuild
from prepare.accounts.models import OrganisationType, User
from prepare.audit.models import Event, EventAction
from prepare.cases.models import Case, CaseStatus, CaseTeamMember
from prepare.plans.models import ChecklistTemplate, ChecklistTemplateItem
from prepare.plans.services import DEFAULT_ITEMS, default_template, release_planning_start
from tests.api.conftest import API, token_client
from tests.cast import Cast
from tests.factories import MembershipFactory, OrganisationFactory, PersonFactory
from tests.plans.support import set_release

pytestmark = pytest.mark.django_db

MEMBERS = ["case_manager", "police_on_team", "police_off_team", "ngo_mentor", "auditor", "trainer"]
NEW = {"title": "Bus pass", "category": "social", "offset_days": -3}
# Every API request with a token: the token with its user, its last use, the
# user's grants (one query), and the request's transaction (a savepoint pair).
API_OVERHEAD = 5


def template_url(cast: Cast, partnership: Any = None) -> str:
    return f"{API}/partnerships/{(partnership or cast.partnership).pk}/checklist-template/"


def items_url(cast: Cast) -> str:
    return template_url(cast) + "items/"


def item_url(cast: Cast, item: ChecklistTemplateItem | int) -> str:
    pk = item if isinstance(item, int) else item.pk
    return f"{items_url(cast)}{pk}/"


def send(client: Any, method: str, url: str, data: Any = None, **headers: str) -> Any:
    body = json.dumps(data) if data is not None else ""
    return client.generic(method, url, body, content_type="application/json", headers=headers)


def items(cast: Cast) -> list[ChecklistTemplateItem]:
    return list(
        ChecklistTemplateItem.objects.filter(
            template__partnership=cast.partnership, template__is_default=True
        ).order_by("position", "pk")
    )


def by_key(cast: Cast) -> dict[str, ChecklistTemplateItem]:
    return {i.key: i for i in items(cast) if i.key}


def snapshot() -> list[tuple[Any, ...]]:
    return list(
        ChecklistTemplateItem.objects.order_by("pk").values_list(
            "pk",
            "title",
            "category",
            "owner_type",
            "owner_organisation_id",
            "offset_days",
            "position",
            "version",
        )
    )


def template_events() -> list[Event]:
    return list(Event.objects.filter(object_type="plans.checklisttemplateitem").order_by("seq"))


# --- Who may -----------------------------------------------------------------------------


def _operations(cast: Cast) -> list[tuple[str, str, Any, dict[str, str]]]:
    first = items(cast)[0]
    return [
        ("GET", template_url(cast), None, {}),
        ("POST", items_url(cast), NEW, {}),
        ("PATCH", item_url(cast, first), {"title": "Mine"}, {"If-Match": '"1"'}),
        ("PATCH", item_url(cast, first), {"move": "down", "version": 1}, {}),
        ("DELETE", item_url(cast, first), None, {"If-Match": '"1"'}),
    ]


@pytest.mark.parametrize("actor", [*MEMBERS, "outsider"])
def test_only_the_coordinator_may_use_any_operation(cast: Cast, actor: str) -> None:
    default_template(cast.partnership)
    before = snapshot()
    client = token_client(cast.actors[actor])
    expected = 404 if actor == "outsider" else 403
    for method, url, data, headers in _operations(cast):
        response = send(client, method, url, data, **headers)
        assert response.status_code == expected, (method, url)
        assert "Housing" not in response.content.decode()
    assert snapshot() == before
    assert template_events() == []


def test_the_coordinator_may_use_every_operation(cast: Cast) -> None:
    default_template(cast.partnership)
    client = token_client(cast.coordinator)
    first = items(cast)[0]
    answers = [
        send(client, "GET", template_url(cast)),
        send(client, "POST", items_url(cast), NEW),
        send(client, "PATCH", item_url(cast, first), {"title": "Mine"}, **{"If-Match": '"1"'}),
        send(client, "PATCH", item_url(cast, first), {"move": "down", "version": 2}),
        send(client, "DELETE", item_url(cast, first), **{"If-Match": '"3"'}),
    ]
    assert [a.status_code for a in answers] == [200, 201, 200, 200, 204]
    assert [e.action for e in template_events()] == [
        EventAction.CREATE,
        EventAction.UPDATE,
        EventAction.UPDATE,
        EventAction.DELETE,
    ]


def test_unknown_and_foreign_ids_are_404(cast: Cast) -> None:
    other_item = default_template(cast.other_partnership).items.first()
    assert other_item is not None
    default_template(cast.partnership)
    client = token_client(cast.coordinator)
    assert send(client, "GET", template_url(cast, cast.other_partnership)).status_code == 404
    assert send(client, "GET", f"{API}/partnerships/987654/checklist-template/").status_code == 404
    for pk in (other_item.pk, 987_654):
        patched = send(client, "PATCH", item_url(cast, pk), {"title": "X"}, **{"If-Match": '"1"'})
        deleted = send(client, "DELETE", item_url(cast, pk), **{"If-Match": '"1"'})
        assert (patched.status_code, deleted.status_code) == (404, 404)
    assert ChecklistTemplateItem.objects.get(pk=other_item.pk).title == ""


# --- Reading ---------------------------------------------------------------------------------


def test_the_template_lists_the_items_in_order(cast: Cast) -> None:
    response = token_client(cast.coordinator).get(template_url(cast))
    assert response.status_code == 200
    data = response.json()
    template = ChecklistTemplate.objects.get(partnership=cast.partnership, is_default=True)
    assert (data["partnership"], data["template"], data["max_items"]) == (
        cast.partnership.pk,
        template.pk,
        100,
    )
    assert [i["key"] for i in data["items"]] == [d.key for d in DEFAULT_ITEMS]
    assert data["items"][0] == {
        "id": items(cast)[0].pk,
        "key": "housing",
        "title": "Housing",
        "custom_title": False,
        "category": "social",
        "owner_type": "housing",
        "owner_organisation": None,
        "offset_days": -90,
        "version": 1,
    }
    # A read writes no audit event about the template: it holds no case data.
    assert template_events() == []


def test_the_default_titles_follow_the_callers_language(cast: Cast) -> None:
    response = token_client(cast.coordinator).get(
        template_url(cast), headers={"Accept-Language": "fr"}
    )
    assert response.json()["items"][0]["title"] == "Logement"
    response_en = token_client(cast.coordinator).get(
        template_url(cast), headers={"Accept-Language": "en"}
    )
    assert response_en.json()["items"][0]["title"] == "Housing"


@pytest.mark.parametrize("extra", [0, 40])
def test_the_template_queries_do_not_grow(
    cast: Cast, django_assert_num_queries: Any, extra: int
) -> None:
    template = default_template(cast.partnership)
    orgs = [OrganisationFactory(type=OrganisationType.HOUSING) for _ in range(3)]
    for org in orgs:
        MembershipFactory(partnership=cast.partnership, organisation=org)
    ChecklistTemplateItem.objects.bulk_create(
        ChecklistTemplateItem(
            template=template,
            title=f"Extra {n}",
            category="social",
            owner_organisation=orgs[n % 3],
            offset_days=n,
            position=50 + n,
        )
        for n in range(extra)
    )
    client = token_client(cast.coordinator)
    # The request's overhead; then the partnership, the template, the
    # partnership's organisations, and the items with their owners.
    with django_assert_num_queries(API_OVERHEAD + 4):
        response = client.get(template_url(cast))
    assert response.status_code == 200
    assert len(response.json()["items"]) == 12 + extra


# --- Adding ------------------------------------------------------------------------------------


def test_the_coordinator_adds_an_item(cast: Cast) -> None:
    client = token_client(cast.coordinator)
    payload = {**NEW, "owner_organisation": cast.orgs["ngo"].pk}
    response = send(client, "POST", items_url(cast), payload)
    assert response.status_code == 201
    added = items(cast)[-1]
    assert response["ETag"] == '"1"'
    assert response.json() == {
        "id": added.pk,
        "key": "",
        "title": "Bus pass",
        "custom_title": True,
        "category": "social",
        "owner_type": None,
        "owner_organisation": {"id": cast.orgs["ngo"].pk, "name": "Exit Testdam"},
        "offset_days": -3,
        "version": 1,
    }
    # The template was created with the shipped items first.
    assert [i.key for i in items(cast)] == [*(d.key for d in DEFAULT_ITEMS), ""]
    (event,) = template_events()
    assert (event.action, event.object_id, event.case_id) == (
        EventAction.CREATE,
        str(added.pk),
        None,
    )
    assert event.request_id == response["X-Request-ID"]
    assert event.detail["after"]["owner_organisation"] == cast.orgs["ngo"].pk


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({**NEW, "title": ""}, "title"),
        ({**NEW, "title": "x" * 201}, "title"),
        ({**NEW, "category": "gossip"}, "category"),
        ({**NEW, "offset_days": 366}, "offset_days"),
        ({**NEW, "offset_days": -366}, "offset_days"),
        ({**NEW, "offset_days": "soon"}, "offset_days"),
        ({"title": "X", "category": "social"}, "offset_days"),
        ({**NEW, "owner_type": "wizards"}, "owner_type"),
        ({**NEW, "owner_type": "police", "owner_organisation": 1}, "owner_type"),
        ({**NEW, "owner_organisation": "ELSEWHERE"}, "owner_organisation"),
        ({**NEW, "key": "housing"}, "key"),
        ({**NEW, "version": 1}, "version"),
    ],
)
def test_an_invalid_item_is_400_and_nothing_is_added(
    cast: Cast, payload: dict[str, Any], field: str
) -> None:
    default_template(cast.partnership)
    if payload.get("owner_organisation") == "ELSEWHERE":
        payload = {**payload, "owner_organisation": cast.orgs["elsewhere"].pk}
    before = snapshot()
    response = send(token_client(cast.coordinator), "POST", items_url(cast), payload)
    assert response.status_code == 400
    assert field in response.json()
    assert snapshot() == before
    assert template_events() == []


def test_a_full_template_is_400(cast: Cast) -> None:
    template = default_template(cast.partnership)
    ChecklistTemplateItem.objects.bulk_create(
        ChecklistTemplateItem(
            template=template, title=f"E{n}", category="social", offset_days=0, position=20 + n
        )
        for n in range(100 - len(DEFAULT_ITEMS))
    )
    response = send(token_client(cast.coordinator), "POST", items_url(cast), NEW)
    assert response.status_code == 400
    assert "at most 100 items" in json.dumps(response.json())
    assert ChecklistTemplateItem.objects.filter(template=template).count() == 100


# --- Changing ------------------------------------------------------------------------------------


def test_only_the_fields_sent_change(cast: Cast) -> None:
    default_template(cast.partnership)
    housing = by_key(cast)["housing"]
    client = token_client(cast.coordinator)
    response = send(
        client, "PATCH", item_url(cast, housing), {"offset_days": -100}, **{"If-Match": '"1"'}
    )
    assert response.status_code == 200
    assert response["ETag"] == '"2"'
    data = response.json()
    assert (data["title"], data["custom_title"], data["owner_type"], data["offset_days"]) == (
        "Housing",
        False,
        "housing",
        -100,
    )
    housing.refresh_from_db()
    assert (housing.title, housing.category, housing.offset_days, housing.version) == (
        "",
        "social",
        -100,
        2,
    )
    (event,) = template_events()
    assert event.detail["changes"] == {"offset_days": {"from": -90, "to": -100}}
    assert event.request_id == response["X-Request-ID"]


def test_an_owner_of_one_kind_replaces_the_other(cast: Cast) -> None:
    default_template(cast.partnership)
    housing = by_key(cast)["housing"]
    client = token_client(cast.coordinator)
    named = send(
        client,
        "PATCH",
        item_url(cast, housing),
        {"owner_organisation": cast.orgs["municipality"].pk, "version": 1},
    )
    assert named.status_code == 200
    assert named.json()["owner_type"] is None
    assert named.json()["owner_organisation"]["id"] == cast.orgs["municipality"].pk
    typed = send(
        client, "PATCH", item_url(cast, housing), {"owner_type": "probation", "version": 2}
    )
    assert typed.status_code == 200
    housing.refresh_from_db()
    assert (housing.owner_type, housing.owner_organisation_id) == ("probation", None)
    nobody = send(client, "PATCH", item_url(cast, housing), {"owner_type": None, "version": 3})
    assert nobody.status_code == 200
    housing.refresh_from_db()
    assert (housing.owner_type, housing.owner_organisation_id) == ("", None)
    changes = [e.detail["changes"] for e in template_events()]
    assert changes[0] == {
        "owner_type": {"from": "housing", "to": ""},
        "owner_organisation": {"from": None, "to": cast.orgs["municipality"].pk},
    }


def test_a_default_items_title_can_be_reworded_and_restored(cast: Cast) -> None:
    default_template(cast.partnership)
    mentor = by_key(cast)["mentor"]
    client = token_client(cast.coordinator)
    own = send(client, "PATCH", item_url(cast, mentor), {"title": "Exit mentor", "version": 1})
    assert (own.json()["title"], own.json()["custom_title"], own.json()["key"]) == (
        "Exit mentor",
        True,
        "mentor",
    )
    restored = send(client, "PATCH", item_url(cast, mentor), {"title": "", "version": 2})
    assert (restored.json()["title"], restored.json()["custom_title"]) == ("Mentor", False)
    # An item without a default title cannot lose its title.
    added = send(client, "POST", items_url(cast), NEW).json()
    empty = send(client, "PATCH", item_url(cast, added["id"]), {"title": "", "version": 1})
    assert empty.status_code == 400 and "title" in empty.json()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"move": "down", "title": "X"}, "title"),
        ({"move": "left"}, "move"),
        ({}, "non_field_errors"),
        ({"category": "gossip"}, "category"),
        ({"offset_days": 400}, "offset_days"),
        ({"owner_type": "police", "owner_organisation": 3}, "owner_type"),
        ({"position": 1}, "position"),
    ],
)
def test_an_invalid_change_is_400(cast: Cast, payload: dict[str, Any], field: str) -> None:
    default_template(cast.partnership)
    before = snapshot()
    response = send(
        token_client(cast.coordinator),
        "PATCH",
        item_url(cast, items(cast)[1]),
        payload,
        **{"If-Match": '"1"'},
    )
    assert response.status_code == 400
    assert field in response.json()
    assert snapshot() == before


def test_moves_swap_neighbours_and_version_both(cast: Cast) -> None:
    default_template(cast.partnership)
    identity = items(cast)[1]
    client = token_client(cast.coordinator)
    moved = send(client, "PATCH", item_url(cast, identity), {"move": "up"}, **{"If-Match": '"1"'})
    assert moved.status_code == 200 and moved["ETag"] == '"2"'
    listed = send(client, "GET", template_url(cast)).json()["items"]
    assert [(i["key"], i["version"]) for i in listed[:3]] == [
        ("identity_papers", 2),
        ("housing", 2),
        ("bank_account", 1),
    ]
    first = send(client, "PATCH", item_url(cast, identity), {"move": "up", "version": 2})
    assert first.status_code == 400 and "already the first" in json.dumps(first.json())


def test_stale_and_missing_versions_change_nothing(cast: Cast) -> None:
    default_template(cast.partnership)
    housing = by_key(cast)["housing"]
    client = token_client(cast.coordinator)
    assert (
        send(
            client, "PATCH", item_url(cast, housing), {"offset_days": -80, "version": 1}
        ).status_code
        == 200
    )
    before = snapshot()
    url = item_url(cast, housing)
    answers = {
        "if_match_stale": send(client, "PATCH", url, {"offset_days": -70}, **{"If-Match": '"1"'}),
        "body_stale": send(client, "PATCH", url, {"offset_days": -70, "version": 1}),
        "missing": send(client, "PATCH", url, {"offset_days": -70}),
        "star": send(client, "PATCH", url, {"offset_days": -70}, **{"If-Match": "*"}),
        "weak": send(client, "PATCH", url, {"offset_days": -70}, **{"If-Match": 'W/"2"'}),
        "move_stale": send(client, "PATCH", url, {"move": "down", "version": 1}),
        "delete_stale": send(client, "DELETE", url, **{"If-Match": '"1"'}),
        "delete_param_stale": send(client, "DELETE", url + "?version=1"),
        "delete_missing": send(client, "DELETE", url),
        "delete_bad_param": send(client, "DELETE", url + "?version=abc"),
    }
    assert {k: r.status_code for k, r in answers.items()} == {
        "if_match_stale": 412,
        "body_stale": 409,
        "missing": 428,
        "star": 428,
        "weak": 412,
        "move_stale": 409,
        "delete_stale": 412,
        "delete_param_stale": 409,
        "delete_missing": 428,
        "delete_bad_param": 400,
    }
    assert snapshot() == before
    assert len(template_events()) == 1


def test_an_item_is_removed_with_its_version(cast: Cast) -> None:
    default_template(cast.partnership)
    police, victims = by_key(cast)["police_briefing"], by_key(cast)["victim_considerations"]
    client = token_client(cast.coordinator)
    by_header = send(client, "DELETE", item_url(cast, police), **{"If-Match": '"1"'})
    by_param = send(client, "DELETE", item_url(cast, victims) + "?version=1")
    assert (by_header.status_code, by_param.status_code) == (204, 204)
    assert not ChecklistTemplateItem.objects.filter(pk__in=[police.pk, victims.pk]).exists()
    events = template_events()
    assert [(e.action, e.object_id) for e in events] == [
        (EventAction.DELETE, str(police.pk)),
        (EventAction.DELETE, str(victims.pk)),
    ]
    assert events[0].detail["before"]["owner_type"] == "police"
    assert events[0].request_id == by_header["X-Request-ID"]


# --- What it changes -------------------------------------------------------------------------


def _case(cast: Cast, number: int) -> Case:
    case = Case.objects.create(
        person=PersonFactory(),
        partnership=cast.partnership,
        reference=f"TST-2026-{number:04d}",
        status=CaseStatus.PRE_RELEASE,
    )
    CaseTeamMember.objects.create(case=case, organisation=cast.orgs["probation"], purpose="Sup")
    case_grants_rebuild(case)
    set_release(case, cast.case_manager, 60)
    return case


def test_new_checklists_follow_the_edited_template_and_old_ones_stay(cast: Cast) -> None:
    manager = User.objects.get(pk=cast.case_manager.pk)
    earlier = _case(cast, 2)
    release_planning_start(actor=manager, case_id=earlier.pk)
    earlier_items = sorted(earlier.checklist_items.values_list("key", "title", "offset_days"))
    client = token_client(cast.coordinator)
    housing = by_key(cast)["housing"]
    send(
        client,
        "PATCH",
        item_url(cast, housing),
        {"title": "Shelter", "offset_days": -50, "version": 1},
    )
    send(client, "POST", items_url(cast), {**NEW, "owner_type": "probation"})
    later = _case(cast, 3)
    created = {
        i.key or i.title: i
        for i in release_planning_start(actor=User.objects.get(pk=manager.pk), case_id=later.pk)
    }
    release = timezone.localdate() + datetime.timedelta(days=60)
    assert created["housing"].display_title == "Shelter"
    assert created["housing"].due_on == release - datetime.timedelta(days=50)
    assert created["Bus pass"].owner_organisation_id == cast.orgs["probation"].pk
    assert sorted(earlier.checklist_items.values_list("key", "title", "offset_days")) == (
        earlier_items
    )
    assert ("housing", "", -90) in earlier_items


# --- Fail closed ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "data", "headers"),
    [
        ("DELETE", None, {"If-Match": '"1"'}),
        ("PATCH", {"move": "down"}, {"If-Match": '"1"'}),
        ("PATCH", {"title": "Shelter", "version": 1}, {}),
    ],
)
def test_a_change_without_its_audit_event_is_not_kept(
    cast: Cast, monkeypatch: pytest.MonkeyPatch, method: str, data: Any, headers: dict[str, str]
) -> None:
    default_template(cast.partnership)
    client = token_client(cast.coordinator)
    client.raise_request_exception = False
    before = snapshot()

    def refuse(self: Event, *args: Any, **kwargs: Any) -> None:
        raise DatabaseError("audit store unavailable")

    monkeypatch.setattr(Event, "save", refuse)
    response = send(client, method, item_url(cast, items(cast)[0]), data, **headers)
    assert response.status_code == 500
    monkeypatch.undo()
    assert snapshot() == before
    assert template_events() == []
