"""Invitations: the one-time enrolment link, its expiry, re-sending, and the
account that never exists half-enrolled."""

from __future__ import annotations

import datetime
import re
import uuid

import pytest
import time_machine
from django.core import mail
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import formats, timezone, translation
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from prepare.access.errors import WriteForbidden
from prepare.accounts.invitations import (
    invitation_create,
    invitation_resend,
    invitations_lapse,
)
from prepare.accounts.models import Invitation, Role, User
from prepare.audit.models import Event, EventAction
from tests.accounts.conftest import normalised, post_sign_in
from tests.cast import Cast
from tests.factories import UserFactory

PASSWORD = "a long walk to the harbour at dawn"
NEXT_INPUT = re.compile(rb'<input type="hidden" name="next" value="[^"]*">')


@pytest.fixture
def manager(cast: Cast) -> User:
    """The probation service's office manager: a case manager who manages its accounts."""
    return UserFactory(
        username="probation_office",
        organisation=cast.orgs["probation"],
        role=Role.CASE_MANAGER,
        manages_accounts=True,
    )


def invite(manager: User, cast: Cast, email: str = "new.officer@probation.example", **kw):
    with_defaults = {
        "first_name": "Noor",
        "last_name": "Visser",
        "organisation": cast.orgs["probation"],
        "role": Role.PRACTITIONER,
        **kw,
    }
    return invitation_create(actor=manager, email=email, **with_defaults)


def pending_code(user: User) -> str:
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift):06d}"


def enrol(client: Client, token: str, *, code: str | None = None, password: str = PASSWORD):
    url = reverse("accounts:enrol", args=[token])
    page = client.get(url)
    assert page.status_code == 200, page.status_code
    user = User.objects.get(invitations__digest=Invitation.digest_of(token))
    return client.post(
        url,
        {
            "password": password,
            "password_again": password,
            "code": code if code is not None else pending_code(user),
        },
    )


def test_an_invitation_creates_an_unusable_account_and_mails_the_link_after_commit(
    manager: User, cast: Cast, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        issued = invite(manager, cast, language="fr")

    user = User.objects.get(pk=issued.user.pk)
    assert (user.username, user.email, user.role) == (
        "new.officer@probation.example",
        "new.officer@probation.example",
        Role.PRACTITIONER,
    )
    assert user.is_active is False and user.has_usable_password() is False
    invitation = Invitation.objects.get(user=user)
    # Only a keyed digest is stored, never the token.
    assert invitation.digest == Invitation.digest_of(issued.token) != issued.token
    assert issued.token not in str(list(Invitation.objects.values()))
    assert invitation.expires_at - invitation.created_at == datetime.timedelta(hours=72)
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["new.officer@probation.example"]
    assert reverse("accounts:enrol", args=[issued.token]) in message.body
    assert "Probation Testdam" in message.body
    # In the person's language (the catalogue of this text comes later: its date format).
    with translation.override("fr"):
        deadline = formats.date_format(timezone.localtime(invitation.expires_at), "DATETIME_FORMAT")
    assert deadline in message.body
    event = Event.objects.get(action=EventAction.CREATE, object_id=str(user.pk))
    assert event.actor_id == manager.pk
    assert event.detail["role"] == Role.PRACTITIONER
    assert issued.token not in str(event.detail)


def test_nothing_is_mailed_when_the_invitation_rolls_back(
    manager: User, cast: Cast, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        invite(manager, cast)
    assert len(callbacks) == 1 and mail.outbox == []


def test_an_address_with_an_account_or_an_invitation_is_refused_not_duplicated(
    manager: User, cast: Cast
) -> None:
    invite(manager, cast)
    with pytest.raises(ValidationError) as pending:
        invite(manager, cast, email="NEW.Officer@probation.example")
    assert "already invited" in str(pending.value)
    with pytest.raises(ValidationError) as existing:
        invite(manager, cast, email=cast.case_manager.email)
    assert "already has an account" in str(existing.value)
    assert User.objects.filter(email__iexact="new.officer@probation.example").count() == 1


def test_set_password_and_authenticator_end_to_end(manager: User, cast: Cast) -> None:
    issued = invite(manager, cast)
    client = Client()

    response = enrol(client, issued.token)

    assert response.status_code == 302 and response["Location"] == reverse("home:home")
    user = User.objects.get(pk=issued.user.pk)
    assert user.is_active and user.check_password(PASSWORD)
    assert TOTPDevice.objects.filter(user=user, confirmed=True).count() == 1
    assert not TOTPDevice.objects.filter(user=user, confirmed=False).exists()
    assert Invitation.objects.get(user=user).used_at is not None
    # Signed in with a second factor: a page behind the policy answers.
    assert client.get(reverse("accounts:preferences")).status_code == 200
    enrolled = Event.objects.get(action=EventAction.PERMISSION_CHANGE, actor_id=user.pk)
    assert enrolled.detail["change"] == "enrolled"
    assert Event.objects.filter(action=EventAction.LOGIN, actor_id=user.pk).count() == 1


def test_the_link_works_once(manager: User, cast: Cast) -> None:
    issued = invite(manager, cast)
    assert enrol(Client(), issued.token).status_code == 302

    again = Client().get(reverse("accounts:enrol", args=[issued.token]))

    assert again.status_code == 410
    assert "already been used" in again.content.decode()
    posted = Client().post(
        reverse("accounts:enrol", args=[issued.token]),
        {"password": "x" * 20, "password_again": "x" * 20, "code": "000000"},
    )
    assert posted.status_code == 410
    assert User.objects.get(pk=issued.user.pk).check_password(PASSWORD)


def test_an_expired_link_is_refused_and_the_account_stays_unusable(
    manager: User, cast: Cast
) -> None:
    issued = invite(manager, cast)
    later = timezone.now() + datetime.timedelta(hours=72, seconds=1)
    with time_machine.travel(later):
        response = Client().get(reverse("accounts:enrol", args=[issued.token]))
    assert response.status_code == 410
    assert "expired" in response.content.decode()
    user = User.objects.get(pk=issued.user.pk)
    assert not user.is_active and not user.has_usable_password()


def test_invalid_and_unknown_links_get_the_same_answer(manager: User, cast: Cast) -> None:
    issued = invite(manager, cast)
    unknown = issued.token[:-1] + ("a" if issued.token[-1] != "a" else "b")
    answers = [
        Client().get(reverse("accounts:enrol", args=[token]))
        for token in (unknown, str(uuid.uuid4()), str(uuid.UUID(int=0)))
    ]
    assert {r.status_code for r in answers} == {404}
    # The same page, but for the CSRF token and the header's language form
    # returning to the address asked for.
    pages = {NEXT_INPUT.sub(b"", normalised(r.content)) for r in answers}
    assert len(pages) == 1
    assert b"not valid" in pages.pop()
    # A link that is not even a link's shape is no route: like any unknown
    # address, it leads an anonymous visitor to the sign-in page.
    mangled = Client().get(f"/account/enrol/{issued.token}x/")
    assert mangled.status_code == 302 and mangled["Location"].startswith("/account/sign-in/")


def test_resending_invalidates_the_old_link(
    manager: User, cast: Cast, django_capture_on_commit_callbacks
) -> None:
    first = invite(manager, cast)
    Client().get(reverse("accounts:enrol", args=[first.token]))  # a pending secret shown
    old_device = TOTPDevice.objects.get(user=first.user, confirmed=False)

    with django_capture_on_commit_callbacks(execute=True):
        second = invitation_resend(actor=manager, account_id=first.user.pk)

    assert second.token != first.token
    old = Client().get(reverse("accounts:enrol", args=[first.token]))
    assert old.status_code == 410 and "replaced" in old.content.decode()
    assert not TOTPDevice.objects.filter(pk=old_device.pk).exists()
    assert Invitation.objects.filter(user=first.user).open().get().pk == second.invitation.pk
    assert len(mail.outbox) == 1 and second.token in mail.outbox[0].body
    event = Event.objects.get(action=EventAction.TOKEN_CHANGE, object_id=str(first.user.pk))
    assert event.detail["replaced"] == [first.invitation.pk]
    assert enrol(Client(), second.token).status_code == 302


def test_a_wrong_code_or_a_weak_password_sets_nothing(manager: User, cast: Cast) -> None:
    issued = invite(manager, cast)
    client = Client()
    user = issued.user
    client.get(reverse("accounts:enrol", args=[issued.token]))

    wrong = enrol(client, issued.token, code=f"{(int(pending_code(user)) + 1) % 10**6:06d}")
    weak = enrol(client, issued.token, password="password")

    assert (wrong.status_code, weak.status_code) == (422, 422)
    assert "code is not right" in wrong.content.decode()
    assert "password" in weak.content.decode()
    user.refresh_from_db()
    assert not user.is_active and not user.has_usable_password()
    assert Invitation.objects.get(user=user).used_at is None
    assert PASSWORD not in wrong.content.decode()


def test_a_half_enrolled_account_cannot_sign_in_and_is_cleaned_after_its_deadline(
    manager: User, cast: Cast
) -> None:
    issued = invite(manager, cast)
    # The person opened the link (a pending authenticator exists) and went no further.
    Client().get(reverse("accounts:enrol", args=[issued.token]))
    user = issued.user
    code = pending_code(user)
    for password in ("anything at all, guessed", PASSWORD):
        client = Client()
        response = post_sign_in(client, user.username, password, code)
        assert response.status_code == 200
        assert "not right" in response.content.decode()
        assert "_auth_user_id" not in client.session

    assert invitations_lapse() == {"lapsed": 0, "purged": 0}  # before the deadline
    deadline = timezone.now() + datetime.timedelta(hours=72, minutes=1)
    assert invitations_lapse(deadline) == {"lapsed": 1, "purged": 0}
    assert not TOTPDevice.objects.filter(user=user).exists()
    assert Invitation.objects.get(user=user).lapsed_at == deadline
    assert invitations_lapse(deadline) == {"lapsed": 0, "purged": 0}  # idempotent
    lapsed = Event.objects.get(detail__change="invitations_lapsed")
    assert lapsed.detail["accounts"] == [user.pk]

    purge = deadline + datetime.timedelta(days=30)
    assert invitations_lapse(purge) == {"lapsed": 0, "purged": 1}
    assert not User.objects.filter(pk=user.pk).exists()
    assert Event.objects.get(action=EventAction.DELETE).detail["accounts"] == [user.pk]


def test_an_account_manager_invites_only_below_their_powers(manager: User, cast: Cast) -> None:
    with pytest.raises(WriteForbidden):
        invite(manager, cast, role=Role.ADMINISTRATOR)
    with pytest.raises(WriteForbidden):
        invite(manager, cast, role=Role.AUDITOR)
    with pytest.raises(WriteForbidden):
        invite(manager, cast, organisation=cast.orgs["police"])
    assert not User.objects.filter(email="new.officer@probation.example").exists()
