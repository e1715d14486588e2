"""The sign-in methods page: several apps and passkeys, recovery codes, never the last one."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from axes.models import AccessAttempt
from django.urls import reverse
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn.models import WebAuthnCredential

from prepare.accounts import factors
from prepare.accounts.backends import BACKEND
from prepare.audit.models import Event, EventAction, Outcome
from tests.accounts.test_mfa import code_of
from tests.accounts.test_second_factor import fake_passkey
from tests.cast import verified_client
from tests.factories import PASSWORD, UserFactory

T0 = datetime.datetime(2026, 3, 2, 9, 0, 0, tzinfo=datetime.UTC)
METHODS = "/account/sign-in-methods/"


def mfa_events(user) -> list[dict]:
    return list(
        Event.objects.filter(action=EventAction.MFA_CHANGE, actor_id=user.pk)
        .order_by("seq")
        .values_list("detail", flat=True)
    )


@pytest.mark.parametrize("extra", [0, 3])
def test_the_page_lists_every_factor_in_a_fixed_number_of_queries(
    alice, extra, django_assert_num_queries
):
    for number in range(extra):
        fake_passkey(alice, name=f"Key {number}")
        TOTPDevice.objects.create(user=alice, name=f"Phone {number}", confirmed=True)
    client = verified_client(alice)
    client.get(METHODS)
    # Session, user, the verifying device; apps, passkeys, recovery codes;
    # the navigation's count; the request's transaction (2).
    with django_assert_num_queries(9):
        response = client.get(METHODS)
    assert response.status_code == 200
    body = response.content.decode()
    assert body.count("/remove/") == 1 + 2 * extra if extra else "/remove/" not in body
    assert "Your only one: add another before removing it." in body or extra
    assert "You have no recovery codes." in body


@time_machine.travel(T0, tick=False)
def test_a_second_app_is_added_beside_the_first(
    alice, mailoutbox, django_capture_on_commit_callbacks
):
    client = verified_client(alice)
    first = TOTPDevice.objects.get(user=alice)
    client.get(reverse("accounts:totp_add"))
    new = TOTPDevice.objects.get(user=alice, confirmed=False)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("accounts:totp_add"),
            {"name": "Work phone", "code": code_of(new), "password": PASSWORD},
        )

    assert response["Location"] == METHODS
    new.refresh_from_db()
    assert (new.confirmed, new.name) == (True, "Work phone")
    assert TOTPDevice.objects.filter(pk=first.pk, confirmed=True).exists()
    assert mfa_events(alice) == [{"change": "totp_added", "device": new.pk}]
    assert [m.to for m in mailoutbox] == [[alice.email]]
    assert "An authenticator app was added" in mailoutbox[0].body


def test_a_wrong_password_adds_nothing_and_counts(alice):
    client = verified_client(alice)
    client.get(reverse("accounts:totp_add"))
    new = TOTPDevice.objects.get(user=alice, confirmed=False)
    with time_machine.travel(T0, tick=False):
        response = client.post(
            reverse("accounts:totp_add"),
            {"name": "Work phone", "code": code_of(new), "password": "not my password"},
        )
    assert response.status_code == 200
    assert b"That password is not right." in response.content
    new.refresh_from_db()
    assert not new.confirmed
    assert AccessAttempt.objects.get(username="alice").failures_since_start == 1
    event = Event.objects.get(action=EventAction.MFA_CHANGE)
    assert event.outcome == Outcome.DENIED
    assert event.detail == {"change": "totp_added", "reason": "confirmation"}


def test_a_forged_passkey_is_not_added(alice):
    client = verified_client(alice)
    page = client.get(reverse("accounts:passkey_add"))
    assert b'id="passkey-options"' in page.content
    response = client.post(
        reverse("accounts:passkey_add"),
        {"name": "Laptop", "password": PASSWORD, "answer": '{"id": "x", "response": {}}'},
    )
    assert response.status_code == 200
    assert b"The passkey was not created." in response.content
    assert not WebAuthnCredential.objects.exists()
    assert mfa_events(alice) == [{"change": "passkey_added", "reason": "not_verified"}]


def test_a_factor_is_removed_with_the_password(
    alice, mailoutbox, django_capture_on_commit_callbacks
):
    key = fake_passkey(alice)
    client = verified_client(alice)
    url = reverse("accounts:passkey_remove", args=[key.pk])
    assert b"Remove \xe2\x80\x9cLaptop\xe2\x80\x9d" in client.get(url).content

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"password": PASSWORD})

    assert response["Location"] == METHODS
    assert not WebAuthnCredential.objects.filter(pk=key.pk).exists()
    assert mfa_events(alice) == [{"change": "passkey_removed", "device": key.pk}]
    assert "A passkey was removed" in mailoutbox[0].body


def test_a_factor_change_ends_the_other_sessions_but_not_this_one_nor_tokens(
    alice, mailoutbox, django_capture_on_commit_callbacks
):
    from prepare.accounts.models import ApiToken
    from prepare.accounts.services import api_token_create

    key = fake_passkey(alice)
    _token, _raw = api_token_create(actor=alice, name="script")
    here, elsewhere = verified_client(alice), verified_client(alice)
    assert elsewhere.get(METHODS).status_code == 200

    with django_capture_on_commit_callbacks(execute=True):
        here.post(reverse("accounts:passkey_remove", args=[key.pk]), {"password": PASSWORD})

    assert here.get(METHODS).status_code == 200
    signed_out = elsewhere.get(METHODS)
    assert signed_out.status_code == 302
    assert signed_out["Location"].startswith(reverse("accounts:login"))
    assert ApiToken.objects.get(user=alice).revoked_at is None
    (mail,) = mailoutbox
    assert "Your other sessions were ended" in mail.body


def test_the_last_factor_cannot_be_removed(alice):
    app = TOTPDevice.objects.get(user=alice)
    client = verified_client(alice)
    response = client.post(reverse("accounts:totp_remove", args=[app.pk]), {"password": PASSWORD})
    assert response["Location"] == METHODS
    assert TOTPDevice.objects.filter(pk=app.pk).exists()
    event = Event.objects.get(action=EventAction.MFA_CHANGE)
    assert (event.outcome, event.detail) == (
        Outcome.DENIED,
        {"change": "totp_removed", "reason": "last_factor"},
    )
    assert "Your only one" in client.get(METHODS).content.decode()


def test_recovery_codes_do_not_count_as_a_remaining_factor(alice):
    factors.recovery_codes_generate(None, actor=alice)  # type: ignore[arg-type]
    with pytest.raises(factors.LastFactor):
        factors.factor_remove(
            None,  # type: ignore[arg-type]
            actor=alice,
            kind="totp",
            pk=TOTPDevice.objects.get(user=alice).pk,
        )


@pytest.mark.parametrize("kind", ["totp", "passkey"])
def test_someone_elses_factor_is_not_visible(alice, kind):
    bob = UserFactory(username="bob")
    target = TOTPDevice.objects.get(user=bob) if kind == "totp" else fake_passkey(bob)
    TOTPDevice.objects.create(user=alice, name="second", confirmed=True)
    client = verified_client(alice)
    url = reverse(f"accounts:{kind}_remove", args=[target.pk])
    assert client.get(url).status_code == 404
    assert client.post(url, {"password": PASSWORD}).status_code == 404
    assert type(target).objects.filter(pk=target.pk).exists()


def test_recovery_codes_are_shown_once_and_replace_the_old_ones(alice):
    client = verified_client(alice)
    first = client.post(reverse("accounts:recovery_codes"), {"password": PASSWORD})
    assert first.status_code == 200
    assert first.content.count(b"<li><code>") == 10
    old_tokens = set(StaticToken.objects.values_list("token", flat=True))

    again = client.post(reverse("accounts:recovery_codes"), {"password": PASSWORD})
    assert again.content.count(b"<li><code>") == 10
    assert StaticDevice.objects.filter(user=alice).count() == 1
    assert not old_tokens & set(StaticToken.objects.values_list("token", flat=True))
    page = client.get(METHODS).content.decode()
    assert "10 unused codes left" in page
    assert "<code>" not in page
    assert mfa_events(alice) == [{"change": "recovery_codes_generated", "count": 10}] * 2


def test_an_administrator_resets_every_factor(alice):
    admin = UserFactory(username="admin", is_superuser=True)
    fake_passkey(alice)
    factors.recovery_codes_generate(None, actor=alice)  # type: ignore[arg-type]
    factors.factors_reset(actor=admin, user=alice)
    assert not factors.has_factor(alice)
    assert not StaticDevice.objects.filter(user=alice).exists()
    event = Event.objects.filter(action=EventAction.MFA_CHANGE).latest("seq")
    assert (event.actor_id, event.detail) == (
        admin.pk,
        {"change": "factors_reset", "user": alice.pk},
    )


def test_the_pages_need_a_verified_session(client, alice):
    client.force_login(alice, backend=BACKEND)
    for name in ("sign_in_methods", "passkey_add", "totp_add", "recovery_codes"):
        assert client.get(reverse(f"accounts:{name}"))["Location"] == reverse("accounts:mfa_setup")


def test_the_reset_command_names_the_administrator(alice):
    from django.core.management import CommandError, call_command

    admin = UserFactory(username="admin", is_superuser=True)
    with pytest.raises(CommandError):
        call_command("factors_reset", "alice", "--by", "alice")
    assert factors.has_factor(alice)
    call_command("factors_reset", "alice", "--by", "admin")
    assert not factors.has_factor(alice)
    assert Event.objects.get(action=EventAction.MFA_CHANGE).actor_id == admin.pk
