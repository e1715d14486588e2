"""The administrator's changes: each one saved as asked, audited once, and
refused with a clear 4xx and nothing written when the input is wrong."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from prepare.accounts.models import ApiToken, Organisation, Role, User
from prepare.accounts.services import api_token_create
from prepare.audit.models import Event, EventAction
from prepare.partnerships.models import Membership, Partnership
from tests.cast import Cast, current_code, verified_client
from tests.factories import PASSWORD, OrganisationFactory, UserFactory


def _events(action: str, **kwargs: object) -> list[Event]:
    return list(Event.objects.filter(action=action, **kwargs).order_by("pk"))


def _signs_in(user: User) -> bool:
    """Whether the sign-in page, given the right password and code, signs the user in."""
    response = Client().post(
        reverse("accounts:login"),
        {"username": user.username, "password": PASSWORD, "code": current_code(user)},
    )
    return response.status_code == 302


def _api(user: User) -> Client:
    _, raw = api_token_create(actor=user, name="t")
    return Client(headers={"Authorization": f"Bearer {raw}"})


# --- Organisations ----------------------------------------------------------------------


def test_an_organisation_is_added_with_its_languages(cast: Cast, admin: User) -> None:
    client = verified_client(admin)
    response = client.post(
        reverse("administration:organisation_create"),
        {
            "name": "Housing Testdam",
            "type": "housing",
            "country": "nl",
            "city": "Testdam",
            "languages": ["nl", "en"],
            "is_active": "on",
        },
    )
    assert response.status_code == 302
    org = Organisation.objects.get(name="Housing Testdam")
    assert (org.country, org.languages, org.is_active, org.version) == ("NL", ["nl", "en"], True, 1)
    [event] = _events(EventAction.CREATE, object_type="accounts.organisation")
    assert (event.actor_id, event.object_id) == (admin.pk, str(org.pk))
    followed = client.get(response["Location"]).content.decode()
    assert "The organisation Housing Testdam is added." in followed


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", ""),
        ("name", "City of Testdam"),  # taken
        ("country", "N1"),
        ("languages", "xx"),
        ("type", "bakery"),
    ],
)
def test_a_wrong_organisation_is_refused_and_nothing_is_written(
    cast: Cast, admin: User, field: str, value: str
) -> None:
    data = {"name": "Housing Testdam", "type": "housing", "country": "NL", field: value}
    before = Organisation.objects.count()
    response = verified_client(admin).post(reverse("administration:organisation_create"), data)
    assert response.status_code == 422
    assert "There is a problem" in response.content.decode()
    assert Organisation.objects.count() == before
    assert _events(EventAction.CREATE, object_type="accounts.organisation") == []
    api = _api(admin).post(
        "/api/v1/organisations/", json.dumps(data), content_type="application/json"
    )
    assert api.status_code == 400
    assert field in api.json() or "non_field_errors" in api.json()
    assert Organisation.objects.count() == before


def test_a_stale_edit_is_refused(cast: Cast, admin: User) -> None:
    org = cast.orgs["ngo"]
    client = verified_client(admin)
    url = reverse("administration:organisation", args=[org.pk])
    data = {"name": "Exit renamed", "type": "exit_ngo", "is_active": "on", "version": "1"}
    assert client.post(url, data).status_code == 302
    org.refresh_from_db()
    assert (org.name, org.version) == ("Exit renamed", 2)
    stale = client.post(url, {**data, "name": "Exit again"})
    assert stale.status_code == 409
    org.refresh_from_db()
    assert org.name == "Exit renamed"
    api = _api(admin).patch(
        f"/api/v1/organisations/{org.pk}/",
        json.dumps({"name": "Exit API"}),
        content_type="application/json",
        headers={"If-Match": '"1"'},
    )
    assert api.status_code == 412
    assert (
        _api(admin)
        .patch(
            f"/api/v1/organisations/{org.pk}/",
            json.dumps({"name": "X"}),
            content_type="application/json",
        )
        .status_code
        == 428
    )
    org.refresh_from_db()
    assert org.name == "Exit renamed"
    assert len(_events(EventAction.UPDATE, object_type="accounts.organisation")) == 1


def test_deactivating_an_organisation_refuses_its_people_at_once(cast: Cast, admin: User) -> None:
    police = cast.orgs["police"]
    officer = cast.police_on_team
    session = verified_client(officer)
    assert session.get(reverse("cases:caseload")).status_code == 200
    assert session.get("/api/v1/me/").status_code == 200
    _, raw = api_token_create(actor=officer, name="integration")
    token = Client(headers={"Authorization": f"Bearer {raw}"})
    assert token.get("/api/v1/me/").status_code == 200

    response = _api(admin).patch(
        f"/api/v1/organisations/{police.pk}/",
        json.dumps({"is_active": False, "version": 1}),
        content_type="application/json",
    )

    assert response.status_code == 200
    assert response.json()["is_active"] is False
    police.refresh_from_db()
    assert police.is_active is False
    # The very next request: the page sends them to sign in, the API refuses.
    page = session.get(reverse("cases:caseload"))
    assert page.status_code == 302 and page["Location"].startswith(reverse("accounts:login"))
    assert session.get("/api/v1/me/").status_code in (401, 403)
    assert token.get("/api/v1/me/").status_code == 401
    assert not ApiToken.objects.filter(user__organisation=police, revoked_at__isnull=True).exists()
    # Nor can they sign in again.
    assert _signs_in(officer) is False
    [event] = _events(EventAction.PERMISSION_CHANGE, object_type="accounts.organisation")
    assert event.detail["changed"] == ["is_active"]
    assert event.detail["tokens_revoked"] == 1  # the officer's integration token
    # The rest of the installation carries on.
    assert verified_client(cast.case_manager).get(reverse("cases:caseload")).status_code == 200


def test_a_reactivated_organisation_signs_in_again(cast: Cast, admin: User) -> None:
    ngo = cast.orgs["ngo"]
    client = verified_client(admin)
    url = reverse("administration:organisation", args=[ngo.pk])
    base = {"name": ngo.name, "type": ngo.type, "country": "NL", "city": "Rotterdam"}
    assert client.post(url, {**base, "version": "1"}).status_code == 302
    assert _signs_in(cast.ngo_mentor) is False
    assert client.post(url, {**base, "is_active": "on", "version": "2"}).status_code == 302
    assert _signs_in(cast.ngo_mentor) is True


# --- Partnerships and coordinators ---------------------------------------------------------


def test_a_partnership_is_created_with_its_coordinating_organisation(
    cast: Cast, admin: User
) -> None:
    city = OrganisationFactory(name="City of Newtown")
    response = verified_client(admin).post(
        reverse("administration:partnership_create"),
        {
            "name": "Newtown",
            "code": "nwt",
            "coordinating_organisation": city.pk,
            "timezone": "Europe/Madrid",
        },
    )
    partnership = Partnership.objects.get(name="Newtown")
    assert response["Location"] == reverse(
        "administration:coordinator_appoint", args=[partnership.pk]
    )
    assert (partnership.code, partnership.timezone) == ("NWT", "Europe/Madrid")
    membership = Membership.objects.get(partnership=partnership)
    assert (membership.organisation, membership.starts_on) == (city, timezone.localdate())
    assert len(_events(EventAction.CREATE, object_type="partnerships.partnership")) == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"code": "TST"}, "code"),
        ({"coordinating_organisation": 987654}, "coordinating_organisation"),
    ],
)
def test_a_wrong_partnership_is_refused(cast: Cast, admin: User, body: dict, field: str) -> None:
    data = {
        "name": "Newtown",
        "code": "NWT",
        "coordinating_organisation": cast.orgs["elsewhere"].pk,
        "timezone": "Europe/Madrid",
        **body,
    }
    before = Partnership.objects.count(), Membership.objects.count()
    response = _api(admin).post(
        "/api/v1/partnerships/", json.dumps(data), content_type="application/json"
    )
    assert response.status_code == 400
    assert field in response.json()
    assert (Partnership.objects.count(), Membership.objects.count()) == before


def test_an_existing_account_is_appointed_coordinator(cast: Cast, admin: User) -> None:
    clerk = UserFactory(organisation=cast.orgs["municipality"], role=Role.PRACTITIONER)
    url = reverse("administration:coordinator_appoint", args=[cast.partnership.pk])
    page = verified_client(admin).get(url).content.decode()
    assert f'value="{clerk.pk}"' in page
    assert f'value="{cast.coordinator.pk}"' not in page  # a coordinator already
    response = verified_client(admin).post(url, {"op": "appoint", "user": clerk.pk})
    assert response.status_code == 302
    clerk.refresh_from_db()
    assert clerk.role == Role.COORDINATOR
    [event] = _events(EventAction.PERMISSION_CHANGE, object_type="accounts.user")
    assert event.detail["role"] == ["practitioner", "coordinator"]
    # An account of another organisation is refused.
    other = UserFactory(organisation=cast.orgs["police"], role=Role.PRACTITIONER)
    refused = _api(admin).post(
        f"/api/v1/partnerships/{cast.partnership.pk}/coordinators/",
        json.dumps({"user": other.pk}),
        content_type="application/json",
    )
    assert refused.status_code == 400
    other.refresh_from_db()
    assert other.role == Role.PRACTITIONER


def test_a_new_coordinator_account_has_no_password(cast: Cast, admin: User) -> None:
    url = f"/api/v1/partnerships/{cast.other_partnership.pk}/coordinator-accounts/"
    response = _api(admin).post(
        url,
        json.dumps({"email": "Noor@Example.org", "first_name": "Noor", "language": "nl"}),
        content_type="application/json",
    )
    assert response.status_code == 201
    body = response.json()
    assert (body["has_password"], body["username"]) == (False, "noor@example.org")
    # The username is the e-mail address, as for a staff invitation.
    user = User.objects.get(username="noor@example.org")
    assert (user.email, user.language) == ("Noor@example.org", "nl")
    assert (user.organisation, user.role) == (cast.orgs["elsewhere"], Role.COORDINATOR)
    assert not user.has_usable_password() and not user.is_active
    [event] = _events(EventAction.PERMISSION_CHANGE, object_type="accounts.user")
    assert event.detail["change"] == "coordinator_account_created"
    taken = _api(admin).post(
        url, json.dumps({"email": "NOOR@example.org"}), content_type="application/json"
    )
    assert taken.status_code == 400 and "email" in taken.json()
    # A username is no longer asked for: the request is refused, not half-read.
    old_shape = _api(admin).post(
        url,
        json.dumps({"username": "other", "email": "o@example.org"}),
        content_type="application/json",
    )
    assert old_shape.status_code == 400
    assert not User.objects.filter(email="o@example.org").exists()


def test_the_coordinator_page_asks_for_the_e_mail_address_only(cast: Cast, admin: User) -> None:
    client = verified_client(admin)
    url = reverse("administration:coordinator_appoint", args=[cast.other_partnership.pk])
    page = client.get(url)
    assert 'name="new-username"' not in page.content.decode()
    response = client.post(
        url, {"op": "create", "new-email": "Sam@Example.org", "new-language": "fr"}
    )
    assert response.status_code == 302
    user = User.objects.get(username="sam@example.org")
    assert (user.role, user.language, user.is_active) == (Role.COORDINATOR, "fr", False)
    again = client.post(url, {"op": "create", "new-email": "sam@example.org", "new-language": "en"})
    assert again.status_code == 422
    assert "already invited" in again.content.decode()


# --- Members --------------------------------------------------------------------------------


def test_members_are_added_ended_and_rejoin(cast: Cast) -> None:
    client = verified_client(cast.coordinator)
    url = reverse("partnerships:members", args=[cast.partnership.pk])
    housing = OrganisationFactory(name="Housing Testdam")
    assert (
        client.post(url, {"organisation": housing.pk, "starts_on": "2026-01-01"}).status_code == 302
    )
    membership = Membership.objects.get(partnership=cast.partnership, organisation=housing)
    again = client.post(url, {"organisation": housing.pk, "starts_on": "2026-02-01"})
    assert again.status_code == 422  # a member already (and no longer offered)
    end = reverse("partnerships:membership_end", args=[cast.partnership.pk, membership.pk])
    assert client.post(end, {"ends_on": "2025-12-31"}).status_code == 422  # before the start
    assert client.post(end, {"ends_on": "2026-01-31"}).status_code == 302
    membership.refresh_from_db()
    assert membership.ends_on.isoformat() == "2026-01-31"
    rejoin = client.post(url, {"organisation": housing.pk, "starts_on": "2026-03-01"})
    assert rejoin.status_code == 302
    membership.refresh_from_db()
    assert (membership.starts_on.isoformat(), membership.ends_on) == ("2026-03-01", None)
    events = _events(EventAction.PERMISSION_CHANGE, object_type="partnerships.membership")
    assert [e.detail["change"] for e in events] == [
        "membership_added",
        "membership_ended",
        "membership_added",
    ]
    assert events[-1].detail["rejoined"] is True


def test_the_coordinating_organisation_stays_a_member(cast: Cast) -> None:
    own = Membership.objects.get(
        partnership=cast.partnership, organisation=cast.orgs["municipality"]
    )
    response = _api(cast.coordinator).post(
        f"/api/v1/memberships/{own.pk}/end/",
        json.dumps({"ends_on": "2099-01-01"}),
        content_type="application/json",
    )
    assert response.status_code == 400
    own.refresh_from_db()
    assert own.ends_on is None


def test_an_ended_membership_ends_the_organisations_reading(cast: Cast) -> None:
    mentor = verified_client(cast.ngo_mentor)
    case_url = reverse("cases:case", args=[cast.case.pk])
    assert mentor.get(case_url).status_code == 200
    ngo = Membership.objects.get(partnership=cast.partnership, organisation=cast.orgs["ngo"])
    yesterday = timezone.localdate() - timezone.timedelta(days=1)
    ended = _api(cast.coordinator).post(
        f"/api/v1/memberships/{ngo.pk}/end/",
        json.dumps({"ends_on": yesterday.isoformat()}),
        content_type="application/json",
    )
    assert ended.status_code == 200 and ended.json()["current"] is False
    assert mentor.get(case_url).status_code == 404
