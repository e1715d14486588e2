"""Configuring the organisations' identity providers: who may (the policy
matrix over the pages and the API), what is audited, what is never shown
(the client secret), and the pages' pinned query counts."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from prepare.accounts.models import IdentityProvider, Role, User
from prepare.accounts.services import api_token_create
from prepare.accounts.sso.sealing import seal, unseal
from prepare.audit.models import Event, EventAction
from tests.cast import verified_client
from tests.factories import (
    MembershipFactory,
    OrganisationFactory,
    PartnershipFactory,
    UserFactory,
)

SECRET = "s3cret-never-shown-again"
NEW_SECRET = "an0ther-secret-never-shown"


def _actors() -> dict[str, User]:
    actors = {
        "administrator": UserFactory(role=Role.ADMINISTRATOR),
        "administrator_without_organisation": UserFactory(
            role=Role.ADMINISTRATOR, organisation=None
        ),
        "coordinator": UserFactory(role=Role.COORDINATOR),
        "auditor": UserFactory(role=Role.AUDITOR),
        "practitioner": UserFactory(role=Role.PRACTITIONER),
    }
    # Their organisations are members of a partnership: the refusals below are
    # about their role, not about credentials that lost their membership.
    partnership = PartnershipFactory(coordinating_organisation=actors["coordinator"].organisation)
    for name in ("coordinator", "auditor", "practitioner"):
        MembershipFactory(partnership=partnership, organisation=actors[name].organisation)
    return actors


ACTORS = [
    "administrator",
    "administrator_without_organisation",
    "coordinator",
    "auditor",
    "practitioner",
]
ALLOWED = {"administrator", "administrator_without_organisation"}


@pytest.fixture
def provider(db: None) -> IdentityProvider:
    return IdentityProvider.objects.create(
        organisation=OrganisationFactory(name="Probation North"),
        issuer="https://login.probation.example",
        client_id="prepare",
        client_secret_sealed=seal(SECRET),
        allowed_domains=["probation.example"],
    )


def _form(**over: Any) -> dict[str, Any]:
    data = {
        "issuer": "https://login.probation.example",
        "client_id": "prepare",
        "client_secret": SECRET,
        "user_claim": "email",
        "allowed_domains": "probation.example",
        "mfa_acr_values": "",
        "is_enabled": "on",
    }
    data.update(over)
    return data


def _snapshot() -> list[tuple[Any, ...]]:
    return list(IdentityProvider.objects.order_by("pk").values_list())


# --- The policy matrix -----------------------------------------------------------------------

PAGE_CELLS = [
    ("GET", "accounts:identity_providers", False, None),
    ("GET", "accounts:identity_provider_create", False, None),
    ("POST", "accounts:identity_provider_create", False, "create"),
    ("GET", "accounts:identity_provider_edit", True, None),
    ("POST", "accounts:identity_provider_edit", True, "edit"),
]


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize(("method", "route", "by_pk", "write"), PAGE_CELLS)
def test_only_the_installation_administrator_configures_on_pages(
    provider, actor, method, route, by_pk, write
):
    user = _actors()[actor]
    other = OrganisationFactory(name="Police East")
    client = verified_client(user)
    url = reverse(route, args=[provider.pk] if by_pk else [])
    data: dict[str, Any] = {}
    if write == "create":
        data = _form(
            organisation=other.pk,
            issuer="https://idp.police.example",
            allowed_domains="police.example",
        )
    elif write == "edit":
        data = _form(client_secret="", requires_sso="on", version=provider.version)
    before = _snapshot()

    response = client.generic(
        method, url, data=_urlencoded(data), content_type="application/x-www-form-urlencoded"
    )

    if actor in ALLOWED:
        assert response.status_code == (302 if write else 200), response.content[:300]
        if write:
            assert _snapshot() != before
    else:
        assert response.status_code == 403
        assert _snapshot() == before
        denied = Event.objects.filter(action=EventAction.DENIED, actor_id=user.pk)
        assert denied.exists()  # the refusal is in the audit log


def _urlencoded(data: dict[str, Any]) -> str:
    from urllib.parse import urlencode

    return urlencode(data)


API_CELLS = [
    ("GET", "v1_identity_providers", False, None, 200),
    ("POST", "v1_identity_providers", False, "create", 201),
    ("GET", "v1_identity_provider", True, None, 200),
    ("PATCH", "v1_identity_provider", True, "edit", 200),
]


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize(("method", "route", "by_pk", "write", "allowed"), API_CELLS)
def test_only_the_installation_administrator_configures_through_the_api(
    provider, actor, method, route, by_pk, write, allowed
):
    user = _actors()[actor]
    other = OrganisationFactory(name="Police East")
    _, raw = api_token_create(actor=user, name="test")
    client = Client(headers={"Authorization": f"Bearer {raw}"})
    url = reverse(route, args=[provider.pk] if by_pk else [])
    body: dict[str, Any] = {}
    headers: dict[str, str] = {}
    if write == "create":
        body = {
            "organisation": other.pk,
            "issuer": "https://idp.police.example",
            "client_id": "prepare",
            "client_secret": SECRET,
            "allowed_domains": ["police.example"],
        }
    elif write == "edit":
        body = {"requires_sso": True}
        headers = {"If-Match": f'"{provider.version}"'}
    before = _snapshot()

    response = client.generic(
        method, url, json.dumps(body), content_type="application/json", headers=headers
    )

    if actor in ALLOWED:
        assert response.status_code == allowed, response.content[:300]
        assert SECRET not in response.content.decode()
        assert "client_secret" not in response.content.decode()
    else:
        assert response.status_code == 403
        assert _snapshot() == before


def test_an_unknown_provider_answers_404_to_the_administrator(db):
    admin = UserFactory(role=Role.ADMINISTRATOR, organisation=None)
    assert (
        verified_client(admin)
        .get(reverse("accounts:identity_provider_edit", args=[987654]))
        .status_code
        == 404
    )
    _, raw = api_token_create(actor=admin, name="t")
    client = Client(headers={"Authorization": f"Bearer {raw}"})
    assert client.get(reverse("v1_identity_provider", args=[987654])).status_code == 404


# --- What is stored and audited ------------------------------------------------------------


def test_creating_a_provider_seals_the_secret_and_audits_field_names(db):
    admin = UserFactory(role=Role.ADMINISTRATOR, organisation=None)
    organisation = OrganisationFactory(name="Police East")
    client = verified_client(admin)

    response = client.post(
        reverse("accounts:identity_provider_create"),
        _form(
            organisation=organisation.pk,
            allowed_domains="Police.example\nmet.example",
            asserts_mfa="on",
            mfa_acr_values="urn:mfa",
        ),
    )

    assert response.status_code == 302
    provider = IdentityProvider.objects.get(organisation=organisation)
    assert provider.allowed_domains == ["met.example", "police.example"]
    assert provider.asserts_mfa and provider.mfa_acr_values == ["urn:mfa"]
    assert SECRET not in provider.client_secret_sealed
    assert unseal(provider.client_secret_sealed) == SECRET
    event = Event.objects.get(action=EventAction.CREATE, object_type="accounts.identityprovider")
    assert event.actor_id == admin.pk and event.object_id == str(provider.pk)
    assert "client_secret" in event.detail["fields"]
    assert SECRET not in json.dumps(event.detail)


def test_the_edit_page_never_shows_the_secret_and_keeps_it_when_left_empty(provider):
    admin = UserFactory(role=Role.ADMINISTRATOR, organisation=None)
    client = verified_client(admin)
    page = client.get(reverse("accounts:identity_provider_edit", args=[provider.pk]))
    assert SECRET not in page.content.decode()
    assert "A client secret is stored" in page.content.decode()

    response = client.post(
        reverse("accounts:identity_provider_edit", args=[provider.pk]),
        _form(client_secret="", requires_sso="on", version=provider.version),
    )

    assert response.status_code == 302
    provider.refresh_from_db()
    assert provider.requires_sso and provider.version == 2
    assert unseal(provider.client_secret_sealed) == SECRET
    event = Event.objects.get(action=EventAction.UPDATE, object_type="accounts.identityprovider")
    assert event.detail == {"organisation": provider.organisation_id, "changed": ["requires_sso"]}


def test_a_new_secret_is_sealed_and_audited_by_name_only(provider):
    admin = UserFactory(role=Role.ADMINISTRATOR, organisation=None)
    _, raw = api_token_create(actor=admin, name="t")
    client = Client(headers={"Authorization": f"Bearer {raw}"})

    response = client.patch(
        reverse("v1_identity_provider", args=[provider.pk]),
        json.dumps({"client_secret": NEW_SECRET, "version": 1}),
        content_type="application/json",
    )

    assert response.status_code == 200
    assert response["ETag"] == '"2"'
    provider.refresh_from_db()
    assert unseal(provider.client_secret_sealed) == NEW_SECRET
    event = Event.objects.get(action=EventAction.UPDATE)
    assert event.detail["changed"] == ["client_secret"]
    assert NEW_SECRET not in json.dumps(list(Event.objects.values_list("detail", flat=True)))


def test_a_stale_version_changes_nothing(provider):
    admin = UserFactory(role=Role.ADMINISTRATOR, organisation=None)
    _, raw = api_token_create(actor=admin, name="t")
    client = Client(headers={"Authorization": f"Bearer {raw}"})
    url = reverse("v1_identity_provider", args=[provider.pk])
    before = _snapshot()

    stale = client.patch(
        url,
        json.dumps({"requires_sso": True}),
        content_type="application/json",
        headers={"If-Match": '"7"'},
    )
    missing = client.patch(url, json.dumps({"requires_sso": True}), content_type="application/json")

    assert (stale.status_code, missing.status_code) == (412, 428)
    assert _snapshot() == before
    assert not Event.objects.filter(action=EventAction.UPDATE).exists()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("issuer", "http://login.probation.example", "https://"),
        ("allowed_domains", "not a domain!", "Not a domain name"),
        ("allowed_domains", "probation.example", "already has"),
    ],
)
def test_bad_configuration_is_refused_with_a_clear_message(provider, field, value, message):
    admin = UserFactory(role=Role.ADMINISTRATOR, organisation=None)
    organisation = OrganisationFactory(name="Police East")
    data = _form(organisation=organisation.pk, allowed_domains="police.example")
    data[field] = value

    response = verified_client(admin).post(reverse("accounts:identity_provider_create"), data)

    assert response.status_code == 422
    assert message in response.content.decode()
    assert not IdentityProvider.objects.filter(organisation=organisation).exists()
    assert not Event.objects.filter(action=EventAction.CREATE).exists()


# --- Query counts -------------------------------------------------------------------------


@pytest.mark.parametrize("organisations", [2, 6])
def test_the_providers_page_runs_a_fixed_number_of_queries(
    db, organisations, django_assert_num_queries
):
    admin = UserFactory(role=Role.ADMINISTRATOR, organisation=None)
    for i in range(organisations):
        IdentityProvider.objects.create(
            organisation=OrganisationFactory(),
            issuer=f"https://idp{i}.example",
            client_id="prepare",
            client_secret_sealed=seal(SECRET),
            allowed_domains=[f"org{i}.example"],
        )
    client = verified_client(admin)
    # The first request registers the session; then session, user, device, the
    # organisations (the dropdown) and providers, the bell, nothing written.
    client.get(reverse("accounts:identity_providers"))

    with django_assert_num_queries(7):
        response = client.get(reverse("accounts:identity_providers"))

    assert response.status_code == 200
    assert response.content.decode().count("Change<span") == organisations


def test_the_edit_page_runs_a_fixed_number_of_queries(provider, django_assert_num_queries):
    admin = UserFactory(role=Role.ADMINISTRATOR, organisation=None)
    client = verified_client(admin)
    url = reverse("accounts:identity_provider_edit", args=[provider.pk])
    client.get(url)  # the session's first request registers it

    with django_assert_num_queries(7):
        response = client.get(url)

    assert response.status_code == 200
