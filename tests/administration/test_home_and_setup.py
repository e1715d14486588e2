"""The administration home (what is still missing), its pages' query counts,
and ``prepare setup``."""

from __future__ import annotations

from collections.abc import Iterable
from io import StringIO
from typing import Any
from unittest import mock

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from prepare.accounts.models import Role, User
from prepare.administration import gaps
from prepare.audit.models import Event, EventAction
from prepare.partnerships.models import Membership
from tests.cast import Cast, verified_client
from tests.factories import (
    AgreementFactory,
    MembershipFactory,
    OrganisationFactory,
    PartnershipFactory,
    UserFactory,
)

STRONG = "a long and unusual passphrase 7"


def _gap_texts(client: Client) -> str:
    response = client.get(reverse("administration:home"))
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.django_db
def test_a_fresh_installation_lacks_an_organisation_and_a_partnership() -> None:
    admin = UserFactory(organisation=None, role=Role.ADMINISTRATOR)
    found = gaps.setup_gaps()
    assert [g.url for g in found] == [
        reverse("administration:organisation_create"),
        reverse("administration:partnership_create"),
    ]
    page = _gap_texts(verified_client(admin))
    assert "No organisation yet" in page and "No partnership yet" in page


def test_each_gap_names_the_partnership_and_the_page_that_fixes_it(cast: Cast, admin: User) -> None:
    bare = PartnershipFactory(name="Bare partnership")
    found = {(g.message, g.url) for g in gaps.setup_gaps()}
    urls = {url for _message, url in found}
    assert reverse("administration:coordinator_appoint", args=[bare.pk]) in urls
    assert reverse("partnerships:members", args=[bare.pk]) in urls
    assert reverse("administration:partnership", args=[bare.pk]) in urls
    # The cast's Elsewhere partnership has a coordinator and an agreement but no
    # member besides its coordinating organisation; Testdam lacks nothing.
    messages = " ".join(message for message, _url in found)
    assert "Elsewhere partnership has fewer than two member organisations." in messages
    assert "Testdam" not in messages
    assert "No organisation yet" not in messages
    page = _gap_texts(verified_client(admin))
    assert "Bare partnership has no coordinator." in page


def test_other_parts_add_their_own_gaps(cast: Cast, admin: User) -> None:
    def invitations() -> Iterable[gaps.Gap]:
        yield gaps.Gap("2 invitations not used yet.", "/somewhere/", "See them")

    gaps.setup_gap_check(invitations)
    try:
        assert "2 invitations not used yet." in _gap_texts(verified_client(admin))
    finally:
        gaps.SETUP_GAP_CHECKS.remove(invitations)


def _grow(cast: Cast, n: int) -> None:
    """More organisations, partnerships, members and coordinators."""
    for _ in range(n):
        org = OrganisationFactory(languages=["en", "fr"])
        partnership = PartnershipFactory(coordinating_organisation=org)
        MembershipFactory(partnership=partnership, organisation=org)
        MembershipFactory(partnership=cast.partnership, organisation=org)
        AgreementFactory(partnership=partnership)
        UserFactory(organisation=org, role=Role.COORDINATOR)


# Page -> queries, whatever the number of organisations and partnerships.
PAGES: dict[str, tuple[str, int]] = {
    "administration:home": ("admin", 9),
    # A page of rows and a count capped at COUNT_CAP.
    "administration:organisations": ("admin", 8),
    "administration:partnerships": ("admin", 8),
    "administration:partnership_edit": ("admin", 7),
    "administration:partnership": ("admin", 10),
    "administration:coordinator_appoint": ("admin", 11),
    "administration:organisation": ("admin", 7),
    "partnerships:members": ("coordinator", 10),
    "partnerships:settings": ("coordinator", 10),
}


def _url(cast: Cast, name: str) -> str:
    if name in (
        "administration:partnership",
        "administration:partnership_edit",
        "administration:coordinator_appoint",
    ) or (name.startswith("partnerships:")):
        return reverse(name, args=[cast.partnership.pk])
    if name == "administration:organisation":
        return reverse(name, args=[cast.orgs["ngo"].pk])
    return reverse(name)


@pytest.mark.parametrize("name", sorted(PAGES))
def test_pages_run_a_fixed_number_of_queries(
    cast: Cast, admin: User, django_assert_num_queries: Any, name: str
) -> None:
    actor, expected = PAGES[name]
    user = admin if actor == "admin" else cast.coordinator
    for size in (1, 6):
        _grow(cast, size)
        client = verified_client(user)
        client.get(_url(cast, name))  # the session's first write out of the way
        with django_assert_num_queries(expected):
            response = client.get(_url(cast, name))
        assert response.status_code == 200


# --- prepare setup ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_setup_asks_and_creates_the_first_administrator() -> None:
    answers = iter(["ada", "ada@example.org"])
    passwords = iter(["short", "short", STRONG, "different", STRONG, STRONG])
    out, err = StringIO(), StringIO()
    with (
        mock.patch("builtins.input", lambda prompt: next(answers)),
        mock.patch("getpass.getpass", lambda prompt: next(passwords)),
    ):
        call_command("setup", stdout=out, stderr=err)
    user = User.objects.get(username="ada")
    assert (user.role, user.organisation, user.email) == (
        Role.ADMINISTRATOR,
        None,
        "ada@example.org",
    )
    assert user.check_password(STRONG)
    assert "too short" in err.getvalue()
    assert "differ" in err.getvalue()
    assert "second factor" in out.getvalue()
    [event] = Event.objects.filter(action=EventAction.PERMISSION_CHANGE)
    assert (event.object_id, event.actor_username) == (str(user.pk), "prepare setup")
    assert event.detail["role"] == [None, "administrator"]


@pytest.mark.django_db
def test_setup_runs_without_questions_for_scripts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PREPARE_ADMIN_PASSWORD", STRONG)
    call_command("setup", "--no-input", "--username", "ops", "--email", "ops@example.org")
    assert User.objects.get(username="ops").role == Role.ADMINISTRATOR


@pytest.mark.django_db
def test_setup_refuses_a_weak_password_and_writes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PREPARE_ADMIN_PASSWORD", "password")
    with pytest.raises(CommandError, match="password"):
        call_command("setup", "--no-input", "--username", "ops", "--email", "ops@example.org")
    assert not User.objects.exists()
    assert not Event.objects.exists()


@pytest.mark.django_db
def test_setup_refuses_when_an_administrator_exists(monkeypatch: pytest.MonkeyPatch) -> None:
    UserFactory(username="first", organisation=None, role=Role.ADMINISTRATOR)
    monkeypatch.setenv("PREPARE_ADMIN_PASSWORD", STRONG)
    args = ["setup", "--no-input", "--username", "second", "--email", "s@example.org"]
    with pytest.raises(CommandError, match="exists already"):
        call_command(*args)
    assert not User.objects.filter(username="second").exists()
    call_command(*args, "--another")
    assert User.objects.get(username="second").role == Role.ADMINISTRATOR


@pytest.mark.django_db
def test_the_new_administrator_enrols_a_second_factor_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PREPARE_ADMIN_PASSWORD", STRONG)
    call_command("setup", "--no-input", "--username", "ops", "--email", "ops@example.org")
    client = Client()
    response = client.post(
        reverse("accounts:login"), {"username": "ops", "password": STRONG, "code": ""}
    )
    assert response.status_code == 302
    home = client.get(reverse("administration:home"))
    assert home.status_code == 302 and home["Location"] == reverse("accounts:mfa_setup")
    assert Membership.objects.count() == 0


def test_an_appointed_coordinator_is_invited_and_waits_as_a_gap(
    cast: Cast, admin: User, mailoutbox, django_capture_on_commit_callbacks
) -> None:
    from prepare.accounts.models import Invitation
    from prepare.administration.services import coordinator_account_create

    with django_capture_on_commit_callbacks(execute=True):
        user = coordinator_account_create(
            actor=admin,
            partnership_id=cast.partnership.pk,
            email="New.Coordinator@Testdam.example",
        )

    user.refresh_from_db()
    assert (user.is_active, user.has_usable_password(), user.role) == (False, False, "coordinator")
    # The e-mail address is the identity, as for a staff invitation.
    assert (user.username, user.email) == (
        "new.coordinator@testdam.example",
        "New.Coordinator@testdam.example",
    )
    invitation = Invitation.objects.get(user=user)
    assert invitation.used_at is None
    assert [m.to for m in mailoutbox] == [["New.Coordinator@testdam.example"]]
    assert "/account/enrol/" in mailoutbox[0].body
    found = [g for g in gaps.setup_gaps() if g.url == reverse("accounts:staff_home")]
    assert [g.message for g in found] == ["1 invited person has not set up their account yet."]


def test_a_partnership_with_a_single_approver_asks_for_a_second(cast: Cast, admin: User) -> None:
    """What widens an agreement needs two people (decision 0020): a partnership
    whose coordinating organisation has one coordinator and no data-protection
    officer cannot grant its first cell, and the administration says so."""
    lone = OrganisationFactory(name="Lonely town")
    PartnershipFactory(name="Lonely partnership", coordinating_organisation=lone)
    UserFactory(organisation=lone, role=Role.COORDINATOR)
    invite = reverse("accounts:staff_invite", args=[lone.pk])

    def single_approver() -> list[gaps.Gap]:
        return [g for g in gaps.setup_gaps() if g.url == invite]

    [gap] = single_approver()
    assert gap.message.startswith("Lonely partnership has one approver")
    assert "Lonely town" in gap.message
    assert invite in _gap_texts(verified_client(admin))
    # An invited officer who has not enrolled yet is not an approver.
    dpo = UserFactory(organisation=lone, role=Role.AUDITOR, is_active=False)
    assert single_approver()
    dpo.is_active = True
    dpo.save(update_fields=["is_active"])
    assert single_approver() == []
    assert not [g for g in gaps.setup_gaps() if "Testdam" in g.message]
