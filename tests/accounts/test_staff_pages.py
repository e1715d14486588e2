"""The staff pages and the enrolment page: what they show, and a pinned,
bounded number of queries whatever the number of accounts."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from prepare.accounts.invitations import invitation_create
from prepare.accounts.models import Role, User
from prepare.accounts.staff_selectors import PAGE_SIZE
from tests.cast import Cast, verified_client
from tests.factories import UserFactory

# Session, user, the request's transaction and audit seal, the navigation's counts...
HOME_QUERIES = 7
LIST_QUERIES = 9
INVITE_QUERIES = 7
# ... and the person's training records, and the trainings instruments require
# (the suggestions of the form to record one).
ACCOUNT_QUERIES = 9
# The administrator's form also lists the organisations to move the account to.
ADMIN_ACCOUNT_QUERIES = 10
ENROL_QUERIES = 6


@pytest.fixture
def manager(cast: Cast) -> User:
    return UserFactory(
        username="probation_office",
        first_name="Olga",
        last_name="Office",
        organisation=cast.orgs["probation"],
        role=Role.OBSERVER,
        manages_accounts=True,
    )


@pytest.fixture
def administrator(cast: Cast) -> User:
    return UserFactory(organisation=cast.orgs["municipality"], role=Role.ADMINISTRATOR)


def _staff(cast: Cast, count: int) -> None:
    for n in range(count):
        UserFactory(
            username=f"officer{n:03d}",
            last_name=f"Officer {n:03d}",
            organisation=cast.orgs["probation"],
            role=Role.PRACTITIONER,
            totp=False,
        )


def test_the_staff_list_pages_with_the_same_number_of_queries(
    cast: Cast, manager: User, django_assert_num_queries
) -> None:
    client = verified_client(manager)
    url = reverse("accounts:staff", args=[cast.orgs["probation"].pk])
    client.get(url)
    with django_assert_num_queries(LIST_QUERIES):
        small = client.get(url)
    _staff(cast, PAGE_SIZE + 10)
    invitation_create(
        actor=manager,
        email="pending@probation.example",
        first_name="Pen",
        last_name="Ding",
        organisation=cast.orgs["probation"],
        role=Role.PRACTITIONER,
        send=False,
    )
    with django_assert_num_queries(LIST_QUERIES):
        first = client.get(url)
    with django_assert_num_queries(LIST_QUERIES):
        second = client.get(url + "?page=2")
    assert small.status_code == first.status_code == second.status_code == 200
    assert first.content.decode().count('<th scope="row">') == PAGE_SIZE
    body = first.content.decode() + second.content.decode()
    assert "Pen Ding" in body and "Invited" in body and "link works until" in body
    assert 'rel="next"' in first.content.decode()
    # Only the probation service's people, by name.
    assert cast.coordinator.username not in body
    found = client.get(url + "?q=ding").content.decode()
    assert found.count('<th scope="row">') == 1 and "Pen Ding" in found


def test_the_other_pages_run_a_pinned_number_of_queries(
    cast: Cast, manager: User, administrator: User, django_assert_num_queries
) -> None:
    _staff(cast, 5)
    officer = User.objects.get(username="officer001")
    admin_client, client = verified_client(administrator), verified_client(manager)
    pages = [
        (admin_client, reverse("accounts:staff_home"), HOME_QUERIES),
        (
            client,
            reverse("accounts:staff_invite", args=[cast.orgs["probation"].pk]),
            INVITE_QUERIES,
        ),
        (client, reverse("accounts:account", args=[officer.pk]), ACCOUNT_QUERIES),
        (admin_client, reverse("accounts:account", args=[officer.pk]), ADMIN_ACCOUNT_QUERIES),
    ]
    for who, url, queries in pages:
        who.get(url)
        with django_assert_num_queries(queries):
            assert who.get(url).status_code == 200, url


def test_the_enrolment_page_runs_a_pinned_number_of_queries(
    cast: Cast, manager: User, django_assert_num_queries
) -> None:
    issued = invitation_create(
        actor=manager,
        email="new@probation.example",
        first_name="New",
        last_name="Comer",
        organisation=cast.orgs["probation"],
        role=Role.PRACTITIONER,
        send=False,
    )
    client = Client()
    url = reverse("accounts:enrol", args=[issued.token])
    client.get(url)
    with django_assert_num_queries(ENROL_QUERIES):
        page = client.get(url)
    body = page.content.decode()
    assert "new@probation.example" in body and "Probation Testdam" in body
    assert 'autocomplete="new-password"' in body and "totp-qr" in body


def test_the_account_page_offers_only_what_the_actor_may_do(
    cast: Cast, manager: User, administrator: User
) -> None:
    _staff(cast, 1)
    officer = User.objects.get(username="officer000")
    as_manager = verified_client(manager).get(reverse("accounts:account", args=[officer.pk]))
    body = as_manager.content.decode()
    assert 'name="role"' in body and 'name="organisation"' not in body
    assert 'value="administrator"' not in body and 'value="auditor"' not in body
    assert "Deactivate" in body
    as_admin = verified_client(administrator).get(reverse("accounts:account", args=[officer.pk]))
    body = as_admin.content.decode()
    assert 'name="organisation"' in body and 'value="administrator"' in body
    own = verified_client(manager).get(reverse("accounts:account", args=[manager.pk]))
    assert 'name="role"' not in own.content.decode()
    assert "your own account" in own.content.decode()
    nav = verified_client(manager).get(reverse("accounts:preferences")).content.decode()
    assert reverse("accounts:staff_home") in nav
    assert (
        reverse("accounts:staff_home")
        not in verified_client(cast.case_manager)
        .get(reverse("accounts:preferences"))
        .content.decode()
    )
