"""Second-factor enrolment: mandatory, confirmed with a code, never by password alone."""

from __future__ import annotations

import base64
import datetime
import re

import time_machine
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.urls import reverse
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from prepare.accounts.session_store import SessionStore
from prepare.audit.models import Event, EventAction
from tests.accounts.conftest import post_sign_in
from tests.cast import verified_client

T0 = datetime.datetime(2026, 3, 2, 9, 0, 0, tzinfo=datetime.UTC)
SETUP = "/account/two-factor/"


def code_of(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, device.step, device.t0, device.digits):06d}"


def signed_in_without_mfa(client, newcomer):
    response = post_sign_in(client, newcomer.username)
    assert response["Location"] == SETUP
    return client


@time_machine.travel(T0, tick=False)
def test_enrolment_page_shows_a_qr_code_and_the_key_in_groups(
    client, newcomer, django_assert_num_queries
):
    signed_in_without_mfa(client, newcomer)
    client.get(SETUP)  # creates the pending device
    # Session, user, is there an app or a passkey already (2), the pending
    # device, session save (savepoint pair and update); the request's
    # transaction (2).
    with django_assert_num_queries(9):
        response = client.get(SETUP)
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    body = response.content.decode()
    device = TOTPDevice.objects.get(user=newcomer, confirmed=False)

    qr = re.search(
        r'<img class="totp-qr" src="data:image/svg\+xml;base64,([^"]+)" alt="([^"]+)"', body
    )
    assert qr is not None
    svg = base64.b64decode(qr.group(1)).decode()
    assert svg.startswith("<?xml") and "<svg" in svg and "<script" not in svg
    assert qr.group(2)  # a text alternative

    key = re.search(r'<code class="totp-key"[^>]*>([A-Z2-7 ]+)</code>', body)
    assert key is not None
    groups = key.group(1).split(" ")
    assert all(len(g) == 4 for g in groups[:-1]) and 0 < len(groups[-1]) <= 4
    assert base64.b32decode("".join(groups)) == device.bin_key
    assert 'for="id_code"' in body
    assert reverse("accounts:logout") in body

    # Reloading keeps the same pending device (the app may have scanned it).
    assert TOTPDevice.objects.filter(user=newcomer).count() == 1


@time_machine.travel(T0, tick=False)
def test_confirming_with_a_code_verifies_the_session_and_renews_its_key(client, newcomer):
    signed_in_without_mfa(client, newcomer)
    client.get(SETUP)
    device = TOTPDevice.objects.get(user=newcomer)
    old_key = client.session.session_key

    response = client.post(SETUP, {"code": code_of(device)})

    assert response.status_code == 302
    assert response["Location"] == reverse(settings.LOGIN_REDIRECT_URL)
    device.refresh_from_db()
    assert device.confirmed
    new_key = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert new_key != old_key
    assert not SessionStore().exists(old_key)
    assert client.session[DEVICE_ID_SESSION_KEY] == device.persistent_id
    event = Event.objects.get(action=EventAction.MFA_CHANGE)
    assert (event.actor_id, event.detail) == (newcomer.pk, {"change": "totp_confirmed"})
    assert client.get(reverse("accounts:api_tokens")).status_code == 200


@time_machine.travel(T0, tick=False)
def test_a_wrong_code_confirms_nothing(client, newcomer):
    signed_in_without_mfa(client, newcomer)
    client.get(SETUP)
    device = TOTPDevice.objects.get(user=newcomer)
    wrong = f"{(int(code_of(device)) + 1) % 1_000_000:06d}"

    response = client.post(SETUP, {"code": wrong})

    assert response.status_code == 200
    assert b"That code is not right" in response.content
    assert b'href="#id_code"' in response.content
    device.refresh_from_db()
    assert not device.confirmed
    assert DEVICE_ID_SESSION_KEY not in client.session
    assert not Event.objects.filter(action=EventAction.MFA_CHANGE).exists()
    assert client.get("/")["Location"] == SETUP


@time_machine.travel(T0, tick=False)
def test_a_password_only_session_cannot_replace_an_existing_factor(client, alice):
    # Such a session cannot come from the sign-in form; forge one.
    client.force_login(alice, backend="prepare.accounts.backends.ActiveOrganisationBackend")
    old = TOTPDevice.objects.get(user=alice)

    response = client.get(SETUP)

    assert response.status_code == 302
    assert response["Location"] == reverse(settings.LOGIN_URL)
    assert SESSION_KEY not in client.session
    assert list(TOTPDevice.objects.filter(user=alice)) == [old]
    assert Event.objects.get(action=EventAction.LOGOUT).detail == {"reason": "unverified_enrolment"}


def test_a_verified_user_adds_apps_from_the_sign_in_methods_page(alice):
    # More apps are added beside the first (tests/accounts/test_factors.py).
    response = verified_client(alice).get(SETUP)
    assert response["Location"] == reverse("accounts:sign_in_methods")


def test_enrolment_needs_a_session(client, db):
    response = client.get(SETUP)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse(settings.LOGIN_URL))
