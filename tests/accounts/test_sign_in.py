"""Sign-in: password and code together, one answer for every refusal (AU-01, AU-03)."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.urls import reverse
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

import prepare.settings as production
from prepare.accounts.session_store import SessionStore
from prepare.audit.models import Event, EventAction, Outcome
from tests.accounts.conftest import (
    SIGN_IN,
    current_code,
    normalised,
    post_sign_in,
    wrong_code,
)
from tests.factories import PASSWORD, UserFactory

T0 = datetime.datetime(2026, 3, 2, 9, 0, 0, tzinfo=datetime.UTC)
REFUSED = b"The username, password or authentication code is not right."


def test_sign_in_page_is_one_labelled_form(client, db, django_assert_max_num_queries):
    with django_assert_max_num_queries(2):  # the request's savepoint and its release
        response = client.get(SIGN_IN)
    assert response.status_code == 200
    body = response.content.decode()
    main = body[body.index("<main") : body.index("</main>")]
    assert main.count("<form") == 1
    assert '<form method="post"' in main
    for field, autocomplete in (
        ("username", "username"),
        ("password", "current-password"),
        ("code", "one-time-code"),
    ):
        assert f'for="id_{field}"' in body
        assert f'autocomplete="{autocomplete}"' in body
    assert "error-summary" not in body
    assert response["Cache-Control"] == "no-store"


@time_machine.travel(T0, tick=False)
def test_password_and_code_start_a_verified_session_with_a_new_key(client, alice):
    # A session that exists before sign-in (fixation attempt) is not kept.
    session = client.session
    session["planted"] = "by an attacker"
    session.save()
    planted_key = session.session_key

    response = post_sign_in(client, "alice", code=current_code(alice))

    assert response.status_code == 302
    assert response["Location"] == reverse(settings.LOGIN_REDIRECT_URL)
    new_key = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert new_key != planted_key
    assert not SessionStore().exists(planted_key)
    store = SessionStore(session_key=new_key)
    assert store[SESSION_KEY] == str(alice.pk)
    assert store[DEVICE_ID_SESSION_KEY] == TOTPDevice.objects.get(user=alice).persistent_id
    event = Event.objects.get(action=EventAction.LOGIN)
    assert (event.actor_id, event.outcome) == (alice.pk, Outcome.SUCCESS)
    assert event.detail == {"second_factor": True}
    assert client.get(reverse("accounts:api_tokens")).status_code == 200


@time_machine.travel(T0, tick=False)
def test_code_may_contain_spaces(client, alice):
    code = current_code(alice)
    response = post_sign_in(client, "alice", code=f"{code[:3]} {code[3:]}")
    assert response.status_code == 302


@time_machine.travel(T0, tick=False)
def test_a_code_is_accepted_once_only(client, alice):
    code = current_code(alice)
    assert post_sign_in(client, "alice", code=code).status_code == 302
    device = TOTPDevice.objects.get(user=alice)
    assert device.last_t == int(T0.timestamp()) // 30
    client.post(reverse("accounts:logout"))

    # Same code, same 30-second window: refused, as if it were wrong.
    replay = post_sign_in(client, "alice", code=code)
    assert replay.status_code == 200
    assert REFUSED in replay.content
    assert SESSION_KEY not in client.session
    replayed = Event.objects.filter(action=EventAction.LOGIN_FAILED).get()
    assert replayed.detail["stage"] == "code"
    assert replayed.actor_id == alice.pk

    # The next code, in the next window, works (after django-otp's throttle
    # delay for the one failure).
    with time_machine.travel(T0 + datetime.timedelta(seconds=31), tick=False):
        assert post_sign_in(client, "alice", code=current_code(alice)).status_code == 302


@pytest.mark.parametrize(
    ("password", "code", "stage"),
    [
        ("wrong password here", "correct", "password"),
        (PASSWORD, "wrong", "code"),
        (PASSWORD, "not a code", "code"),
    ],
)
@time_machine.travel(T0, tick=False)
def test_refusals_are_audited_and_sign_nobody_in(client, alice, password, code, stage):
    if code == "correct":
        code = current_code(alice)
    elif code == "wrong":
        code = wrong_code(alice)
    response = post_sign_in(client, "alice", password=password, code=code)
    assert response.status_code == 200
    assert REFUSED in response.content
    assert b"error-summary" in response.content
    assert SESSION_KEY not in client.session
    event = Event.objects.get(action=EventAction.LOGIN_FAILED)
    assert event.outcome == Outcome.DENIED
    assert event.actor_username == "alice"
    assert event.detail == {"stage": stage, "failures": 1}
    assert not Event.objects.filter(action=EventAction.LOGIN).exists()


@time_machine.travel(T0, tick=False)
def test_known_and_unknown_users_get_the_same_answer(client, alice):
    UserFactory(username="inactive", is_active=False)
    answers = {
        "unknown user": post_sign_in(client, "nobody", code="123456"),
        "wrong password": post_sign_in(client, "alice", password="not the password!", code="1"),
        "wrong code": post_sign_in(client, "alice", code=wrong_code(alice)),
        "inactive user": post_sign_in(client, "inactive", code=current_code(alice)),
    }
    reference = answers.pop("unknown user")
    expected = normalised(reference.content, "nobody")
    for label, response in answers.items():
        assert response.status_code == reference.status_code == 200, label
        assert not response.has_header("Location"), label
        assert normalised(response.content, "alice", "inactive") == expected, label
        assert sorted(response.cookies) == sorted(reference.cookies), label


def test_field_errors_are_listed_in_the_summary_and_linked(client, db):
    response = client.post(SIGN_IN, {"username": "", "password": "", "code": ""})
    body = response.content.decode()
    assert response.status_code == 200
    assert 'role="alert"' in body
    assert 'href="#id_username"' in body
    assert 'href="#id_password"' in body
    assert 'aria-invalid="true"' in body
    assert not Event.objects.exists()


@time_machine.travel(T0, tick=False)
@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/account/api-tokens/", "/account/api-tokens/"),
        ("https://evil.example/phish", "/"),
        ("//evil.example/phish", "/"),
        ("/\\evil.example", "/"),
    ],
)
def test_next_only_goes_to_this_site(client, alice, target, expected):
    page = client.get(SIGN_IN, {"next": target})
    carried = target if expected == target else ""
    assert f'name="next" value="{carried}"'.encode() in page.content
    response = client.post(
        f"{SIGN_IN}?next={target}",
        {"username": "alice", "password": PASSWORD, "code": current_code(alice), "next": target},
    )
    assert response.status_code == 302
    assert response["Location"] == expected


def test_without_an_authenticator_the_password_leads_to_enrolment_only(client, newcomer):
    response = post_sign_in(client, "newcomer")
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:mfa_setup")
    assert client.session[SESSION_KEY] == str(newcomer.pk)
    assert DEVICE_ID_SESSION_KEY not in client.session
    assert Event.objects.get(action=EventAction.LOGIN).detail == {"second_factor": False}
    assert client.get("/").status_code == 302
    assert client.get("/")["Location"] == reverse("accounts:mfa_setup")


def test_demo_skip_mfa_needs_demo_mode(client, alice, settings):
    settings.DEMO_SKIP_MFA = True
    settings.DEMO = False
    refused = post_sign_in(client, "alice")
    # Without the demo, no code means the second step, not a session.
    assert refused["Location"] == reverse("accounts:second_factor")
    assert SESSION_KEY not in client.session

    settings.DEMO = True
    page = client.get(SIGN_IN)
    assert b"Demo mode" in page.content
    response = post_sign_in(client, "alice")
    assert response.status_code == 302
    assert DEVICE_ID_SESSION_KEY in client.session
    assert Event.objects.get(action=EventAction.LOGIN).detail == {
        "second_factor": True,
        "demo_code_not_checked": True,
    }


@time_machine.travel(T0, tick=False)
def test_sign_in_moves_an_old_hash_to_argon2id(client, db, settings):
    settings.PASSWORD_HASHERS = production.PASSWORD_HASHERS
    user = UserFactory(username="legacy")
    user.password = PBKDF2PasswordHasher().encode(PASSWORD, "legacysalt0123456")
    user.save(update_fields=["password"])

    assert post_sign_in(client, "legacy", code=current_code(user)).status_code == 302
    user.refresh_from_db()
    assert user.password.startswith("argon2$argon2id$")
