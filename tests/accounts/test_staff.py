"""Managing accounts: who may do what (the policy matrix, pages and API), what a
change does (audited, told to the person) and what deactivation ends."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import translation

from prepare.accounts.invitations import invitation_create
from prepare.accounts.models import ApiToken, Role, User
from prepare.accounts.services import api_token_create
from prepare.accounts.staff import account_deactivate, account_update
from prepare.audit.models import Event, EventAction, Outcome
from prepare.notifications.models import Notification, NotificationKind
from tests.cast import Cast, verified_client
from tests.factories import UserFactory


@dataclass
class Staff:
    cast: Cast
    administrator: User
    second_administrator: User
    manager: User  # the probation service's account manager (a case manager)
    police_manager: User  # the police's account manager
    coordinator: User  # a coordinator without the flag
    case_worker: User
    practitioner: User  # the probation officer whose account is managed
    org_id: int


@pytest.fixture
def staff(cast: Cast) -> Staff:
    probation, police = cast.orgs["probation"], cast.orgs["police"]
    return Staff(
        cast=cast,
        administrator=UserFactory(
            username="admin", organisation=cast.orgs["municipality"], role=Role.ADMINISTRATOR
        ),
        second_administrator=UserFactory(
            username="admin2", organisation=cast.orgs["municipality"], role=Role.ADMINISTRATOR
        ),
        manager=UserFactory(
            username="probation_office",
            organisation=probation,
            role=Role.CASE_MANAGER,
            manages_accounts=True,
        ),
        police_manager=UserFactory(
            username="police_office",
            organisation=police,
            role=Role.COORDINATOR,
            manages_accounts=True,
        ),
        coordinator=cast.coordinator,
        case_worker=cast.case_manager,
        practitioner=UserFactory(
            username="officer",
            first_name="Sam",
            last_name="Berg",
            email="officer@probation.example",
            organisation=probation,
            role=Role.PRACTITIONER,
            language="nl",
        ),
        org_id=probation.pk,
    )


# --- The policy matrix -----------------------------------------------------------------

# Who may manage the probation service's accounts: the administrator (any
# organisation) and the probation service's own account manager; not another
# organisation's account manager, not a coordinator without the flag, not a
# case worker.
MANAGES = {
    "administrator": True,
    "manager": True,
    "police_manager": False,
    "coordinator": False,
    "case_worker": False,
}


def _client(user: User) -> Client:
    return verified_client(user)


def _api(user: User) -> Client:
    _, raw = api_token_create(actor=user, name="staff")
    return Client(headers={"Authorization": f"Bearer {raw}"})


@pytest.mark.parametrize("actor", sorted(MANAGES))
def test_who_sees_and_changes_the_staff_of_an_organisation(staff: Staff, actor: str) -> None:
    user = getattr(staff, actor)
    client, api = _client(user), _api(user)
    allowed = MANAGES[actor]
    target = staff.practitioner.pk

    pages = {
        "list": client.get(reverse("accounts:staff", args=[staff.org_id])).status_code,
        "invite_form": client.get(
            reverse("accounts:staff_invite", args=[staff.org_id])
        ).status_code,
        "account": client.get(reverse("accounts:account", args=[target])).status_code,
        "api_list": api.get(f"/api/v1/organisations/{staff.org_id}/accounts/").status_code,
        "api_account": api.get(f"/api/v1/accounts/{target}/").status_code,
    }
    assert pages == dict.fromkeys(pages, 200 if allowed else 404), pages

    changed = client.post(
        reverse("accounts:account", args=[target]),
        {"role": Role.OBSERVER, "organisation": staff.org_id},
    )
    assert changed.status_code == (302 if allowed else 404)
    staff.practitioner.refresh_from_db()
    assert staff.practitioner.role == (Role.OBSERVER if allowed else Role.PRACTITIONER)

    deactivated = api.post(f"/api/v1/accounts/{target}/deactivate/", "{}", "application/json")
    assert deactivated.status_code == (200 if allowed else 404)
    staff.practitioner.refresh_from_db()
    assert staff.practitioner.is_active is not allowed
    if allowed:
        assert deactivated.json()["state"] == "deactivated"
        reactivated = client.post(reverse("accounts:account_reactivate", args=[target]))
        assert reactivated.status_code == 302
        staff.practitioner.refresh_from_db()
        assert staff.practitioner.is_active

    invited = api.post(
        f"/api/v1/organisations/{staff.org_id}/accounts/",
        json.dumps(
            {
                "email": f"{actor}.invitee@probation.example",
                "first_name": "In",
                "last_name": "Vited",
                "role": Role.PRACTITIONER,
            }
        ),
        "application/json",
    )
    assert invited.status_code == (201 if allowed else 404)
    assert User.objects.filter(email=f"{actor}.invitee@probation.example").exists() is allowed
    if allowed:
        assert invited.json()["state"] == "invited"
        assert invited.json()["abilities"]["resend"] is True
        resent = client.post(reverse("accounts:account_resend", args=[invited.json()["id"]]))
        assert resent.status_code == 302


def test_the_staff_home_leads_each_one_to_what_they_manage(staff: Staff) -> None:
    home = reverse("accounts:staff_home")
    assert _client(staff.administrator).get(home).status_code == 200
    to_own = _client(staff.manager).get(home)
    assert to_own.status_code == 302
    assert to_own["Location"] == reverse("accounts:staff", args=[staff.org_id])
    for user in (staff.coordinator, staff.case_worker):
        assert _client(user).get(home).status_code == 403


@pytest.mark.parametrize(
    ("actor", "role", "expected"),
    [
        ("manager", Role.ADMINISTRATOR, 403),
        ("manager", Role.AUDITOR, 403),
        ("manager", Role.COORDINATOR, 200),
        ("administrator", Role.AUDITOR, 200),
        ("administrator", Role.ADMINISTRATOR, 200),
    ],
)
def test_nobody_raises_an_account_above_their_own_powers(
    staff: Staff, actor: str, role: str, expected: int
) -> None:
    api = _api(getattr(staff, actor))
    response = api.patch(
        f"/api/v1/accounts/{staff.practitioner.pk}/", json.dumps({"role": role}), "application/json"
    )
    assert response.status_code == expected
    staff.practitioner.refresh_from_db()
    assert (staff.practitioner.role == role) is (expected == 200)
    if expected == 403:
        refused = Event.objects.filter(action=EventAction.DENIED, actor_id=getattr(staff, actor).pk)
        assert refused.exists()


def test_an_account_manager_neither_moves_accounts_nor_touches_an_administrator(
    staff: Staff,
) -> None:
    api = _api(staff.manager)
    moved = api.patch(
        f"/api/v1/accounts/{staff.practitioner.pk}/",
        json.dumps({"organisation": staff.cast.orgs["police"].pk}),
        "application/json",
    )
    assert moved.status_code == 403
    admin_here = UserFactory(organisation=staff.cast.orgs["probation"], role=Role.ADMINISTRATOR)
    off = api.post(f"/api/v1/accounts/{admin_here.pk}/deactivate/", "{}", "application/json")
    assert off.status_code == 403
    shown = api.get(f"/api/v1/accounts/{admin_here.pk}/").json()
    assert shown["abilities"]["change"] is False
    staff.practitioner.refresh_from_db()
    admin_here.refresh_from_db()
    assert staff.practitioner.organisation_id == staff.org_id and admin_here.is_active


def test_nobody_changes_their_own_account(staff: Staff) -> None:
    for user in (staff.administrator, staff.manager):
        api = _api(user)
        response = api.patch(
            f"/api/v1/accounts/{user.pk}/", json.dumps({"role": Role.OBSERVER}), "application/json"
        )
        assert response.status_code == 403
        off = api.post(f"/api/v1/accounts/{user.pk}/deactivate/", "{}", "application/json")
        assert off.status_code == 403
        user.refresh_from_db()
        assert user.is_active and user.role != Role.OBSERVER


def test_two_administrators_switching_each_other_off_leave_one(staff: Staff) -> None:
    """Only an administrator touches an administrator, and never their own account,
    so the last one could only go in a race: each read the other as active. The
    service locks the administrators and counts again: the second is refused."""
    first, second = staff.administrator, staff.second_administrator
    second_as_read_before = User.objects.get(pk=second.pk)
    account_deactivate(actor=first, account_id=second.pk)

    with pytest.raises(ValidationError) as refused:
        account_deactivate(actor=second_as_read_before, account_id=first.pk)
    with pytest.raises(ValidationError):
        account_update(actor=second_as_read_before, account_id=first.pk, role=Role.OBSERVER)

    assert "last active administrator" in str(refused.value)
    first.refresh_from_db()
    assert first.is_active and first.role == Role.ADMINISTRATOR


# --- What a change does ------------------------------------------------------------------


def test_a_role_change_is_audited_and_told_to_the_person_in_their_language(
    staff: Staff, django_capture_on_commit_callbacks
) -> None:
    client = _client(staff.manager)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("accounts:account", args=[staff.practitioner.pk]),
            {"role": Role.CASE_MANAGER, "manages_accounts": "on"},
        )

    assert response.status_code == 302
    person = User.objects.get(pk=staff.practitioner.pk)
    assert (person.role, person.manages_accounts) == (Role.CASE_MANAGER, True)
    event = Event.objects.get(action=EventAction.PERMISSION_CHANGE, object_id=str(person.pk))
    assert event.actor_id == staff.manager.pk and event.outcome == Outcome.SUCCESS
    assert event.detail == {
        "change": "updated",
        "changed": ["manages_accounts", "role"],
        "before": {"manages_accounts": False, "role": Role.PRACTITIONER},
        "after": {"manages_accounts": True, "role": Role.CASE_MANAGER},
    }
    notices = Notification.objects.filter(user=person, kind=NotificationKind.ACCOUNT)
    assert sorted(n.message_key for n in notices) == [
        "account_manager_granted",
        "account_role_changed",
    ]
    role_notice = notices.get(message_key="account_role_changed")
    with translation.override("nl"):
        dutch = str(Role.CASE_MANAGER.label)
    with translation.override("en"):
        assert role_notice.text == "Your role in PREPARE is now Case manager."
    # The e-mails go out after the commit, in the person's language (Dutch):
    # the role is named as the Dutch catalogue names it.
    assert len(mail.outbox) == 2
    assert all(m.to == ["officer@probation.example"] for m in mail.outbox)
    assert any(dutch in m.body for m in mail.outbox)
    # The person reads it in the bell, in their own language.
    page = _client(person).get(reverse("notifications:list"))
    assert dutch in page.content.decode()


def test_deactivation_refuses_the_next_request_on_pages_and_api(
    staff: Staff, django_capture_on_commit_callbacks
) -> None:
    person = staff.practitioner
    browser = _client(person)
    _, raw = api_token_create(actor=person, name="sync")
    token_client = Client(headers={"Authorization": f"Bearer {raw}"})
    assert browser.get(reverse("accounts:preferences")).status_code == 200
    assert browser.get("/api/v1/me/").status_code == 200
    assert token_client.get("/api/v1/me/").status_code == 200

    with django_capture_on_commit_callbacks(execute=True):
        response = _client(staff.manager).post(
            reverse("accounts:account_deactivate", args=[person.pk])
        )

    assert response.status_code == 302
    page = browser.get(reverse("accounts:preferences"))
    assert page.status_code == 302 and page["Location"].startswith(reverse("accounts:login"))
    assert browser.get("/api/v1/me/").status_code in (401, 403)
    assert token_client.get("/api/v1/me/").status_code == 401
    assert not ApiToken.objects.filter(user=person, revoked_at__isnull=True).exists()
    event = Event.objects.get(action=EventAction.PERMISSION_CHANGE, object_id=str(person.pk))
    assert event.detail["change"] == "deactivated" and event.detail["api_tokens"] == 1
    assert [m.to for m in mail.outbox] == [["officer@probation.example"]]
    assert Notification.objects.filter(user=person, message_key="account_deactivated").exists()

    # Reactivated: the same password and authenticator work again.
    _client(staff.manager).post(reverse("accounts:account_reactivate", args=[person.pk]))
    assert _client(person).get(reverse("accounts:preferences")).status_code == 200
    again = Event.objects.filter(action=EventAction.PERMISSION_CHANGE, object_id=str(person.pk))
    assert [e.detail["change"] for e in again.order_by("seq")] == ["deactivated", "reactivated"]


def test_deactivating_an_invited_account_withdraws_its_link(staff: Staff) -> None:
    issued = invitation_create(
        actor=staff.manager,
        email="late@probation.example",
        first_name="Late",
        last_name="Comer",
        organisation=staff.cast.orgs["probation"],
        role=Role.OBSERVER,
        send=False,
    )
    api = _api(staff.manager)
    assert (
        api.post(f"/api/v1/accounts/{issued.user.pk}/deactivate/", "{}", "application/json").json()[
            "state"
        ]
        == "not_enrolled"
    )
    assert Client().get(reverse("accounts:enrol", args=[issued.token])).status_code == 410
    assert (
        api.post(
            f"/api/v1/accounts/{issued.user.pk}/reactivate/", "{}", "application/json"
        ).status_code
        == 400
    )
    assert (
        api.post(
            f"/api/v1/accounts/{issued.user.pk}/resend-invitation/", "{}", "application/json"
        ).json()["state"]
        == "invited"
    )
