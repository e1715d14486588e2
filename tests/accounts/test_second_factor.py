"""The second step of sign-in: pending state, codes, recovery codes, lock-out."""

from __future__ import annotations

import datetime
import os

import pytest
import time_machine
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.test import RequestFactory
from django.urls import reverse
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_static.models import StaticToken
from django_otp_webauthn.models import WebAuthnCredential

from prepare.accounts import factors
from prepare.accounts.second_factor import PENDING_USER, begin_second_factor
from prepare.accounts.session_store import SessionStore
from prepare.audit.models import Event, EventAction, Outcome
from tests.accounts.conftest import current_code, post_sign_in, wrong_code
from tests.factories import UserFactory

T0 = datetime.datetime(2026, 3, 2, 9, 0, 0, tzinfo=datetime.UTC)
STEP = "/account/sign-in/second-factor/"
LOCKED = b"sign-in is paused for a while"


def fake_passkey(user, name: str = "Laptop") -> WebAuthnCredential:
    """A stored passkey row (the browser test makes real ones)."""
    return WebAuthnCredential.objects.create(
        user=user,
        name=name,
        credential_id=os.urandom(32),
        public_key=b"not used here",
        aaguid="00000000-0000-0000-0000-000000000000",
        confirmed=True,
    )


def recovery_codes_for(user) -> list[str]:
    request = RequestFactory().post("/")
    return factors.recovery_codes_generate(request, actor=user)


def at_step(client, user) -> None:
    response = post_sign_in(client, user.username)
    assert response.status_code == 302
    assert response["Location"] == STEP


@time_machine.travel(T0, tick=False)
def test_a_password_without_a_code_leads_to_the_step_and_signs_nobody_in(client, alice):
    response = post_sign_in(client, "alice")

    assert response["Location"] == STEP
    assert SESSION_KEY not in client.session
    assert client.session[PENDING_USER] == alice.pk
    assert not Event.objects.filter(action=EventAction.LOGIN).exists()
    # The step is the only thing reachable: every other page still sends to sign-in.
    assert client.get("/")["Location"].startswith(reverse(settings.LOGIN_URL))


@time_machine.travel(T0, tick=False)
def test_an_app_code_at_the_step_signs_in_with_a_new_session_key(client, alice):
    at_step(client, alice)
    pending_key = client.session.session_key

    response = client.post(STEP, {"method": "code", "code": current_code(alice)})

    assert response.status_code == 302
    assert response["Location"] == reverse(settings.LOGIN_REDIRECT_URL)
    new_key = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert new_key != pending_key
    assert not SessionStore().exists(pending_key)
    store = SessionStore(session_key=new_key)
    assert store[SESSION_KEY] == str(alice.pk)
    assert DEVICE_ID_SESSION_KEY in store
    assert PENDING_USER not in store
    event = Event.objects.get(action=EventAction.LOGIN)
    assert event.detail == {"second_factor": True, "via": "password", "method": "totp"}
    assert client.get(reverse("accounts:sign_in_methods")).status_code == 200


@time_machine.travel(T0, tick=False)
def test_the_step_goes_on_to_the_page_asked_for(client, alice):
    client.post(
        reverse("accounts:login") + "?next=/account/settings/",
        {"username": "alice", "password": "correct horse battery staple", "code": ""},
    )
    response = client.post(STEP, {"method": "code", "code": current_code(alice)})
    assert response["Location"] == "/account/settings/"


@time_machine.travel(T0, tick=False)
def test_a_recovery_code_works_once(client, alice):
    codes = recovery_codes_for(alice)
    assert len(codes) == factors.RECOVERY_CODE_COUNT == 10
    at_step(client, alice)

    response = client.post(STEP, {"method": "code", "code": codes[0].upper()})

    assert response.status_code == 302
    assert Event.objects.get(action=EventAction.LOGIN).detail["method"] == "recovery_code"
    assert StaticToken.objects.filter(device__user=alice).count() == 9
    client.logout()

    with time_machine.travel(T0 + datetime.timedelta(seconds=5), tick=False):
        at_step(client, alice)
        again = client.post(STEP, {"method": "code", "code": codes[0]})
    assert again.status_code == 200
    assert b"That code is not right, or it was used already." in again.content
    assert SESSION_KEY not in client.session
    refused = Event.objects.get(action=EventAction.LOGIN_FAILED)
    assert refused.detail == {"stage": "second_factor_code", "failures": 1}


def test_recovery_codes_are_stored_as_keyed_digests(alice):
    codes = recovery_codes_for(alice)
    stored = set(StaticToken.objects.filter(device__user=alice).values_list("token", flat=True))
    assert len(stored) == 10
    typed = {factors.normalised_code(c) for c in codes}
    assert not stored & typed
    assert stored == {factors.recovery_digest(c) for c in codes}


@time_machine.travel(T0, tick=False)
def test_the_pending_step_expires(client, alice):
    at_step(client, alice)
    later = T0 + datetime.timedelta(seconds=settings.SECOND_FACTOR_TIMEOUT + 1)
    with time_machine.travel(later, tick=False):
        response = client.post(STEP, {"method": "code", "code": current_code(alice)})
        assert response["Location"] == reverse(settings.LOGIN_URL)
        assert SESSION_KEY not in client.session
        assert PENDING_USER not in client.session
        page = client.get(response["Location"])
    assert b"Your sign-in was not finished in time" in page.content
    assert not Event.objects.filter(action=EventAction.LOGIN).exists()


def test_the_step_without_a_password_first_sends_to_sign_in(client, db):
    response = client.get(STEP)
    assert response["Location"] == reverse(settings.LOGIN_URL)


@time_machine.travel(T0, tick=False)
def test_wrong_answers_at_the_step_count_towards_the_lock_out(client, alice):
    fake_passkey(alice)
    at_step(client, alice)
    for attempt in range(4):
        with time_machine.travel(T0 + datetime.timedelta(minutes=attempt), tick=False):
            if attempt % 2:
                client.post(STEP, {"method": "passkey", "answer": '{"id": "forged"}'})
            else:
                client.post(STEP, {"method": "code", "code": wrong_code(alice)})
    with time_machine.travel(T0 + datetime.timedelta(minutes=5), tick=False):
        fifth = client.post(STEP, {"method": "code", "code": wrong_code(alice)})
        assert LOCKED in fifth.content
        # The step is over; a right code now starts from the password, which is locked.
        assert post_sign_in(client, "alice", code=current_code(alice)).status_code == 200
    assert SESSION_KEY not in client.session
    assert AccessAttempt.objects.get(username="alice").failures_since_start == 5
    stages = list(
        Event.objects.filter(action=EventAction.LOGIN_FAILED)
        .order_by("seq")
        .values_list("detail__stage", flat=True)
    )
    assert stages == ["second_factor_code", "second_factor_passkey"] * 2 + ["second_factor_code"]
    assert Event.objects.filter(action=EventAction.LOCKED_OUT).exists()
    assert not Event.objects.filter(action=EventAction.LOGIN).exists()


@time_machine.travel(T0, tick=False)
def test_a_forged_passkey_answer_signs_nobody_in(client, alice):
    fake_passkey(alice)
    at_step(client, alice)
    response = client.post(STEP, {"method": "passkey", "answer": "x" * 70_000})
    assert response.status_code == 200
    assert b"That passkey could not be checked" in response.content
    assert SESSION_KEY not in client.session
    event = Event.objects.get(action=EventAction.LOGIN_FAILED)
    assert (event.outcome, event.detail["stage"]) == (Outcome.DENIED, "second_factor_passkey")


@pytest.mark.parametrize("passkeys", [1, 4])
@time_machine.travel(T0, tick=False)
def test_the_step_page_runs_a_fixed_number_of_queries(
    client, alice, passkeys, django_assert_num_queries
):
    for number in range(passkeys):
        fake_passkey(alice, name=f"Key {number}")
    at_step(client, alice)
    # Session, pending user, has a passkey, the passkeys named in the
    # options, session save (savepoint pair and update); the request's
    # transaction (2).
    client.get(STEP)
    with django_assert_num_queries(9):
        response = client.get(STEP)
    assert response.status_code == 200
    body = response.content.decode()
    assert 'id="passkey-options"' in body
    assert "Use a passkey" in body
    assert 'for="id_code"' in body


@time_machine.travel(T0, tick=False)
def test_another_first_factor_hands_over_to_the_same_step(client, alice, rf):
    """The entry point another sign-in (an organisation's OIDC) will call."""
    request = rf.get("/")
    request.session = client.session
    response = begin_second_factor(request, alice, via="oidc", next_url="/account/settings/")
    request.session.save()
    client.cookies[settings.SESSION_COOKIE_NAME] = request.session.session_key

    assert response["Location"] == STEP
    done = client.post(STEP, {"method": "code", "code": current_code(alice)})
    assert done["Location"] == "/account/settings/"
    assert Event.objects.get(action=EventAction.LOGIN).detail["via"] == "oidc"


def test_a_user_without_a_factor_is_handed_to_enrolment(client, newcomer, rf):
    request = rf.get("/")
    request.session = client.session
    request.user = newcomer
    response = begin_second_factor(request, newcomer, via="oidc")
    assert response["Location"] == reverse("accounts:mfa_setup")
    assert request.session[SESSION_KEY] == str(newcomer.pk)
    assert Event.objects.get(action=EventAction.LOGIN).detail == {
        "second_factor": False,
        "via": "oidc",
    }


def test_an_inactive_user_loses_the_pending_step(client, alice):
    at_step(client, alice)
    alice.is_active = False
    alice.save(update_fields=["is_active"])
    assert client.get(STEP)["Location"] == reverse(settings.LOGIN_URL)
    assert PENDING_USER not in client.session


def test_only_six_digit_codes_of_an_app_pass_step_up(alice):
    from prepare.accounts.services import step_up_verified

    codes = recovery_codes_for(alice)
    assert not step_up_verified(alice, codes[0])
    UserFactory(username="bob")
    with time_machine.travel(T0, tick=False):
        assert step_up_verified(alice, current_code(alice))
