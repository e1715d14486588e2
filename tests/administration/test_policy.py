"""Who may reach each administration page and API operation, and each
partnership members page: the administrator; coordinators of their own
partnership for its members; nobody else (403 for administration, 404 for a
partnership one is not in, 403 for a member who may not change members)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from prepare.accounts.models import User
from prepare.accounts.services import api_token_create
from prepare.audit.models import Event
from prepare.partnerships.models import Membership
from tests.cast import Cast, verified_client
from tests.routes_table import leaks

ACTORS = ("admin", "coordinator", "outsider", "case_manager", "auditor", "trainer")


def _user(cast: Cast, admin: User, name: str) -> User:
    return admin if name == "admin" else cast.actors[name]


def _admin_pages(cast: Cast) -> list[str]:
    org = cast.orgs["elsewhere"].pk
    p = cast.partnership.pk
    return [
        reverse("administration:home"),
        reverse("administration:organisations"),
        reverse("administration:organisation_create"),
        reverse("administration:organisation", args=[org]),
        reverse("administration:partnerships"),
        reverse("administration:partnership_create"),
        reverse("administration:partnership", args=[p]),
        reverse("administration:partnership_edit", args=[p]),
        reverse("administration:coordinator_appoint", args=[p]),
        reverse("administration:import"),
        reverse("administration:instruments"),
        reverse("administration:instrument_load"),
    ]


@pytest.mark.parametrize("actor", ACTORS)
def test_administration_pages_are_the_administrators(cast: Cast, admin: User, actor: str) -> None:
    client = verified_client(_user(cast, admin, actor))
    expected = 200 if actor == "admin" else 403
    for url in _admin_pages(cast):
        response = client.get(url)
        assert response.status_code == expected, (actor, url, response.status_code)
        # Nothing of any case, for anyone.
        found = leaks(response.content.decode(), frozenset(), reference=cast.case.reference)
        assert found == [], (url, found)
        post = client.post(url, {})
        if actor != "admin":
            assert post.status_code in (403, 405), (actor, url, post.status_code)


def _api(user: User) -> Client:
    _, raw = api_token_create(actor=user, name="t")
    return Client(headers={"Authorization": f"Bearer {raw}"})


@pytest.mark.parametrize("actor", ACTORS)
def test_administration_api_is_the_administrators(cast: Cast, admin: User, actor: str) -> None:
    client = _api(_user(cast, admin, actor))
    org = cast.orgs["elsewhere"].pk
    p = cast.partnership.pk
    before = Event.objects.filter(action__in=["create", "update", "permission_change"]).count()
    requests = [
        ("GET", "/api/v1/organisations/"),
        ("POST", "/api/v1/organisations/"),
        ("GET", f"/api/v1/organisations/{org}/"),
        ("PATCH", f"/api/v1/organisations/{org}/"),
        ("GET", "/api/v1/partnerships/"),
        ("POST", "/api/v1/partnerships/"),
        ("GET", f"/api/v1/partnerships/{p}/"),
        ("PATCH", f"/api/v1/partnerships/{p}/"),
        ("POST", f"/api/v1/partnerships/{p}/coordinators/"),
        ("POST", f"/api/v1/partnerships/{p}/coordinator-accounts/"),
    ]
    for method, url in requests:
        response = client.generic(method, url, "{}", content_type="application/json")
        if actor == "admin":
            # An empty body is refused as invalid, or as missing its version.
            assert response.status_code in (200, 400, 428), (method, url, response.status_code)
        else:
            assert response.status_code == 403, (actor, method, url, response.status_code)
    after = Event.objects.filter(action__in=["create", "update", "permission_change"]).count()
    assert after == before


# Members: (actor) -> (GET status, POST status) on the cast's partnership.
MEMBERS: dict[str, tuple[int, int]] = {
    "admin": (200, 302),
    "coordinator": (200, 302),
    "case_manager": (200, 403),  # a member: reads the members, changes nothing
    "outsider": (404, 404),  # coordinator of another partnership
    "auditor": (200, 403),
    "trainer": (200, 403),
}


@pytest.mark.parametrize("actor", sorted(MEMBERS))
def test_members_page_policy(cast: Cast, admin: User, actor: str) -> None:
    user = _user(cast, admin, actor)
    client = verified_client(user)
    url = reverse("partnerships:members", args=[cast.partnership.pk])
    get_status, post_status = MEMBERS[actor]
    assert client.get(url).status_code == get_status
    elsewhere = cast.orgs["elsewhere"]
    response = client.post(url, {"organisation": elsewhere.pk, "starts_on": "2026-01-01"})
    assert response.status_code == post_status
    added = Membership.objects.filter(partnership=cast.partnership, organisation=elsewhere)
    assert added.exists() is (post_status == 302)
    ngo = Membership.objects.get(partnership=cast.partnership, organisation=cast.orgs["ngo"])
    end_url = reverse("partnerships:membership_end", args=[cast.partnership.pk, ngo.pk])
    end_get = client.get(end_url).status_code
    assert end_get == (200 if post_status == 302 else post_status)
    ended = client.post(end_url, {"ends_on": "2099-12-31"})
    assert ended.status_code == post_status
    ngo.refresh_from_db()
    assert (ngo.ends_on is not None) is (post_status == 302)


@pytest.mark.parametrize("actor", sorted(MEMBERS))
def test_members_api_policy(cast: Cast, admin: User, actor: str) -> None:
    client = _api(_user(cast, admin, actor))
    get_status, post_status = MEMBERS[actor]
    post_status = 201 if post_status == 302 else post_status
    url = f"/api/v1/partnerships/{cast.partnership.pk}/memberships/"
    listing = client.get(url)
    assert listing.status_code == get_status
    if get_status == 200:
        names = {row["organisation"]["name"] for row in listing.json()}
        assert "Exit Testdam" in names
    body = {"organisation": cast.orgs["elsewhere"].pk, "starts_on": "2026-01-01"}
    created = client.post(url, json.dumps(body), content_type="application/json")
    assert created.status_code == post_status
    ngo = Membership.objects.get(partnership=cast.partnership, organisation=cast.orgs["ngo"])
    ended = client.post(
        f"/api/v1/memberships/{ngo.pk}/end/",
        json.dumps({"ends_on": "2099-12-31"}),
        content_type="application/json",
    )
    assert ended.status_code == (200 if post_status == 201 else post_status)
    ngo.refresh_from_db()
    assert (ngo.ends_on is not None) is (post_status == 201)


def test_other_partnerships_members_are_not_found(cast: Cast) -> None:
    client = verified_client(cast.coordinator)
    other = cast.other_partnership.pk
    assert client.get(reverse("partnerships:members", args=[other])).status_code == 404
    membership = Membership.objects.get(partnership=cast.other_partnership)
    response = _api(cast.coordinator).post(
        f"/api/v1/memberships/{membership.pk}/end/",
        json.dumps({"ends_on": "2099-12-31"}),
        content_type="application/json",
    )
    assert response.status_code == 404


def test_the_administrator_reads_no_case(cast: Cast, admin: User) -> None:
    client = verified_client(admin)
    assert client.get(reverse("cases:case", args=[cast.case.pk])).status_code == 404
    assert cast.case.reference not in client.get(reverse("cases:caseload")).content.decode()
    api = _api(admin)
    assert api.get(f"/api/v1/cases/{cast.case.pk}/").status_code == 404
    listing: Any = api.get("/api/v1/cases/").json()
    assert cast.case.reference not in json.dumps(listing)


def test_the_administrator_sees_administration_in_the_header(cast: Cast, admin: User) -> None:
    page = verified_client(admin).get(reverse("administration:home")).content.decode()
    assert 'href="/administration/" aria-current="page"' in page
    assert 'href="/partnerships/"' not in page
    coordinator = verified_client(cast.coordinator).get(reverse("partnerships:list"))
    assert 'href="/administration/"' not in coordinator.content.decode()
