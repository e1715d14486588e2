"""Lock-out after five failures, for known and unknown usernames alike (AU-02, AU-03)."""

from __future__ import annotations

import datetime
import io

import pytest
import time_machine
from axes.models import AccessAttempt, AccessLog
from axes.utils import reset
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.core.management import call_command
from django.test import Client

from prepare.audit.models import Event, EventAction
from tests.accounts.conftest import current_code, normalised, post_sign_in, wrong_code
from tests.factories import UserFactory

T0 = datetime.datetime(2026, 3, 2, 9, 0, 0, tzinfo=datetime.UTC)
LOCKED = b"sign-in is paused for a while"


def fail_five_times(client, username: str, user=None) -> None:
    """Wrong passwords and, for a known user, wrong codes: both count."""
    for attempt in range(5):
        if user is not None and attempt % 2:
            post_sign_in(client, username, code=wrong_code(user))
        else:
            post_sign_in(client, username, password=f"wrong password {attempt}", code="123456")


def actions() -> list[str]:
    return list(Event.objects.order_by("seq").values_list("action", flat=True))


def test_limits_are_the_published_ones():
    assert settings.AXES_FAILURE_LIMIT == 5
    assert settings.AXES_COOLOFF_TIME * 60 >= 10
    assert settings.AXES_LOCKOUT_PARAMETERS == [["username", "ip_address"], "ip_address"]
    assert settings.LOCKOUT_ADDRESS_FAILURES == 20


@time_machine.travel(T0, tick=False)
def test_sixth_attempt_fails_even_with_the_right_password_and_code(client, alice):
    for attempt in range(4):
        response = post_sign_in(client, "alice", password=f"wrong password {attempt}")
        assert LOCKED not in response.content
    fifth = post_sign_in(client, "alice", code=wrong_code(alice))
    assert LOCKED in fifth.content

    sixth = post_sign_in(client, "alice", code=current_code(alice))

    assert sixth.status_code == 200
    assert LOCKED in sixth.content
    assert SESSION_KEY not in client.session
    assert AccessAttempt.objects.get(username="alice").failures_since_start == 5
    assert actions() == [EventAction.LOGIN_FAILED] * 5 + [EventAction.LOCKED_OUT] * 2
    fifth_event, sixth_event = Event.objects.filter(action=EventAction.LOCKED_OUT).order_by("seq")
    assert fifth_event.detail == {"stage": "code"}
    assert sixth_event.detail == {"stage": "locked"}
    assert sixth_event.actor_username == "alice"
    assert not Event.objects.filter(action=EventAction.LOGIN).exists()


@time_machine.travel(T0, tick=False)
def test_wrong_codes_alone_lock_the_account(client, alice):
    for _ in range(5):
        post_sign_in(client, "alice", code=wrong_code(alice))
    assert LOCKED in post_sign_in(client, "alice", code=current_code(alice)).content
    failed = Event.objects.filter(action=EventAction.LOGIN_FAILED)
    assert {e.detail["stage"] for e in failed} == {"code"}
    assert {e.actor_id for e in failed} == {alice.pk}


def test_unlocked_after_the_cool_off(client, alice):
    with time_machine.travel(T0, tick=False):
        fail_five_times(client, "alice", alice)
    cool_off = datetime.timedelta(hours=settings.AXES_COOLOFF_TIME)

    with time_machine.travel(T0 + cool_off - datetime.timedelta(seconds=30), tick=False):
        assert LOCKED in post_sign_in(client, "alice", code=current_code(alice)).content

    with time_machine.travel(T0 + cool_off + datetime.timedelta(seconds=1), tick=False):
        response = post_sign_in(client, "alice", code=current_code(alice))
        assert response.status_code == 302
        assert client.session[SESSION_KEY] == str(alice.pk)
    assert not AccessAttempt.objects.filter(username="alice").exists()  # reset on success


@pytest.mark.parametrize("how", ["command", "utility"])
@time_machine.travel(T0, tick=False)
def test_an_administrator_unlocks_at_once(client, alice, how):
    fail_five_times(client, "alice", alice)
    with time_machine.travel(T0 + datetime.timedelta(seconds=40), tick=False):
        assert LOCKED in post_sign_in(client, "alice", code=current_code(alice)).content
    if how == "command":
        call_command("axes_reset_username", "alice", stdout=io.StringIO())
    else:
        assert reset(username="alice") == 1
    with time_machine.travel(T0 + datetime.timedelta(seconds=70), tick=False):
        assert post_sign_in(client, "alice", code=current_code(alice)).status_code == 302


@time_machine.travel(T0, tick=False)
def test_unknown_usernames_lock_the_same_way(client, alice):
    fail_five_times(client, "alice", alice)
    fail_five_times(client, "nobody")
    known = post_sign_in(client, "alice", code=current_code(alice))
    unknown = post_sign_in(client, "nobody", code="123456")
    assert known.status_code == unknown.status_code == 200
    assert LOCKED in unknown.content
    assert normalised(known.content, "alice") == normalised(unknown.content, "nobody")
    assert Event.objects.filter(action=EventAction.LOCKED_OUT, actor_username="nobody").count() == 2


@time_machine.travel(T0, tick=False)
def test_another_account_is_not_locked(client, alice):
    bob = UserFactory(username="bob")
    fail_five_times(client, "alice", alice)
    assert post_sign_in(client, "bob", code=current_code(bob)).status_code == 302


@pytest.mark.django_db(transaction=True)
@time_machine.travel(T0, tick=False)
def test_failures_and_lock_out_are_committed(client, flushable_audit):
    """The request runs in one transaction; the refusal must not roll it back."""
    user = UserFactory(username="carol")
    fail_five_times(client, "carol", user)
    assert post_sign_in(client, "carol", code=current_code(user)).status_code == 200

    assert actions() == [EventAction.LOGIN_FAILED] * 5 + [EventAction.LOCKED_OUT] * 2
    assert AccessAttempt.objects.get(username="carol").failures_since_start == 5


@time_machine.travel(T0, tick=False)
def test_axes_stores_no_secrets_and_no_second_sign_in_log(client, alice):
    code = wrong_code(alice)
    post_sign_in(client, "alice", code=code)
    attempt = AccessAttempt.objects.get(username="alice")
    assert "correct horse" not in attempt.post_data
    assert code not in attempt.post_data
    assert "code=****" in attempt.post_data

    with time_machine.travel(T0 + datetime.timedelta(seconds=40), tick=False):
        assert post_sign_in(client, "alice", code=current_code(alice)).status_code == 302
    assert not AccessLog.objects.exists()


# --- Per address, and per account from an address (AU-02) -----------------------------

OFFICE = "198.51.100.7"
ELSEWHERE = "203.0.113.66"


def test_axes_checks_the_address_and_nothing_is_silenced(settings):
    from axes.checks import axes_lockout_params_check

    assert "axes.W006" not in getattr(settings, "SILENCED_SYSTEM_CHECKS", [])
    assert axes_lockout_params_check(None) == []


@time_machine.travel(T0, tick=False)
def test_an_address_spraying_usernames_is_stopped(alice):
    sprayer = Client(REMOTE_ADDR=OFFICE)
    answers = [
        LOCKED in post_sign_in(sprayer, f"user{n}", password="Winter2026!!", code="123456").content
        for n in range(25)
    ]
    # The 20th failure from the address reaches its limit: the 20th to 25th
    # usernames are refused without being tried.
    assert answers == [False] * 19 + [True] * 6
    assert AccessAttempt.objects.filter(ip_address=OFFICE).count() == 20
    # Even the right password and code of a real user fail from that address...
    assert LOCKED in post_sign_in(sprayer, "alice", code=current_code(alice)).content
    assert SESSION_KEY not in sprayer.session
    # ...and not from another one.
    elsewhere = Client(REMOTE_ADDR=ELSEWHERE)
    assert post_sign_in(elsewhere, "alice", code=current_code(alice)).status_code == 302
    locked = Event.objects.filter(action=EventAction.LOCKED_OUT)
    assert locked.count() == 7 and not locked.filter(source_ip=ELSEWHERE).exists()


@time_machine.travel(T0, tick=False)
def test_a_stranger_cannot_keep_a_user_locked_out(alice):
    stranger = Client(REMOTE_ADDR=ELSEWHERE)
    # Guessing passwords (a wrong code would also slow the authenticator down:
    # django-otp's own throttle, which only someone with the password reaches).
    fail_five_times(stranger, "alice")
    assert LOCKED in post_sign_in(stranger, "alice", code=current_code(alice)).content
    own = Client(REMOTE_ADDR=OFFICE)
    assert post_sign_in(own, "alice", code=current_code(alice)).status_code == 302
    assert own.session[SESSION_KEY] == str(alice.pk)


def test_signing_in_does_not_wipe_the_addresss_count(alice):
    office = Client(REMOTE_ADDR=OFFICE)
    with time_machine.travel(T0, tick=False):
        for n in range(19):
            post_sign_in(office, f"user{n}", password="Winter2026!!", code="123456")
    with time_machine.travel(T0 + datetime.timedelta(minutes=1), tick=False):
        assert post_sign_in(office, "alice", code=current_code(alice)).status_code == 302
    with time_machine.travel(T0 + datetime.timedelta(minutes=2), tick=False):
        last = post_sign_in(Client(REMOTE_ADDR=OFFICE), "user99", password="x" * 12, code="1")
    assert LOCKED in last.content
