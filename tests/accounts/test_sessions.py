"""Session life: idle and absolute time-outs, sign-out (AU-05)."""

from __future__ import annotations

import datetime
from urllib.parse import quote

import pytest
import time_machine
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.test import Client
from django.urls import reverse

from prepare.accounts.session_store import SessionStore
from prepare.audit.models import Event, EventAction
from tests.accounts.conftest import SIGN_IN, current_code, post_sign_in

T0 = datetime.datetime(2026, 3, 2, 9, 0, 0, tzinfo=datetime.UTC)
PAGE = "/account/api-tokens/"  # any page that needs a verified session
MINUTE = datetime.timedelta(minutes=1)


def at(delta: datetime.timedelta):
    return time_machine.travel(T0 + delta, tick=False)


@pytest.fixture
def signed_in(client, alice) -> Client:
    with at(datetime.timedelta(0)):
        assert post_sign_in(client, "alice", code=current_code(alice)).status_code == 302
    return client


def test_default_limits():
    assert settings.SESSION_IDLE_TIMEOUT == 30 * 60
    assert settings.SESSION_ABSOLUTE_TIMEOUT == 12 * 60 * 60
    assert settings.SESSION_EXPIRE_AT_BROWSER_CLOSE


def test_activity_keeps_the_session_alive(signed_in):
    for minutes in (29, 58, 87):
        with at(minutes * MINUTE):
            assert signed_in.get(PAGE).status_code == 200, minutes
    assert not Event.objects.filter(action=EventAction.LOGOUT).exists()


def _session_writes(client: Client) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        assert client.get(PAGE).status_code == 200
    return sum(
        1
        for q in queries.captured_queries
        if q["sql"].startswith('UPDATE "accounts_stored_session"')
    )


def test_the_last_activity_is_written_at_most_once_a_minute(signed_in):
    """A page costs no session write (and no second commit) within the minute."""
    with at(MINUTE):
        assert _session_writes(signed_in) == 1
    with at(MINUTE + datetime.timedelta(seconds=30)):
        assert _session_writes(signed_in) == 0
    with at(MINUTE + datetime.timedelta(seconds=59)):
        assert _session_writes(signed_in) == 0
    with at(2 * MINUTE):
        assert _session_writes(signed_in) == 1


def test_the_idle_limit_counts_from_the_last_recorded_minute(signed_in):
    """Activity within a minute of the last recorded one is not recorded, so the
    idle limit runs from that minute: exact to the minute, never later."""
    with at(MINUTE):
        assert signed_in.get(PAGE).status_code == 200  # recorded
    with at(MINUTE + datetime.timedelta(seconds=50)):
        assert signed_in.get(PAGE).status_code == 200  # within the minute: not recorded
    with at(31 * MINUTE + datetime.timedelta(seconds=1)):
        assert signed_in.get(PAGE).status_code == 302
    assert Event.objects.get(action=EventAction.LOGOUT).detail == {"reason": "idle"}


def test_idle_session_is_signed_out_with_a_message(signed_in):
    key = signed_in.cookies[settings.SESSION_COOKIE_NAME].value
    with at(30 * MINUTE + datetime.timedelta(seconds=1)):
        response = signed_in.get(PAGE + "?page=2")
        assert response.status_code == 302
        assert response["Location"] == f"{SIGN_IN}?next={quote(PAGE + '?page=2', safe='')}"
        assert not SessionStore().exists(key)
        assert SESSION_KEY not in signed_in.session
        page = signed_in.get(response["Location"])
    assert b"You were signed out after a period of inactivity." in page.content
    event = Event.objects.get(action=EventAction.LOGOUT)
    assert event.detail == {"reason": "idle"}
    assert event.actor_username == "alice"


def test_idle_limit_is_configurable(signed_in, settings):
    settings.SESSION_IDLE_TIMEOUT = 5 * 60
    with at(4 * MINUTE):
        assert signed_in.get(PAGE).status_code == 200
    with at(9 * MINUTE + datetime.timedelta(seconds=1)):
        assert signed_in.get(PAGE).status_code == 302
    assert Event.objects.get(action=EventAction.LOGOUT).detail == {"reason": "idle"}


def test_absolute_limit_ends_even_an_active_session(signed_in):
    minutes = 0
    while minutes + 20 <= 12 * 60:
        minutes += 20
        with at(minutes * MINUTE):
            assert signed_in.get(PAGE).status_code == 200, minutes
    with at(12 * 60 * MINUTE + datetime.timedelta(seconds=1)):
        response = signed_in.get(PAGE)
        assert response.status_code == 302
        assert b"Your session has ended." in signed_in.get(response["Location"]).content
    assert Event.objects.get(action=EventAction.LOGOUT).detail == {"reason": "absolute"}


def test_htmx_request_gets_a_whole_page_redirect(signed_in):
    with at(31 * MINUTE):
        response = signed_in.get(
            PAGE,
            headers={"HX-Request": "true", "HX-Current-URL": "http://testserver/cases/7/?tab=2"},
        )
    assert response.status_code == 204
    assert response["HX-Redirect"] == f"{SIGN_IN}?next={quote('/cases/7/?tab=2', safe='')}"
    assert Event.objects.get(action=EventAction.LOGOUT).detail == {"reason": "idle"}


def test_api_request_gets_401(signed_in):
    with at(31 * MINUTE):
        response = signed_in.get("/api/anything/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"
    assert response.json() == {"detail": "Authentication credentials were not provided."}


def test_sign_out_deletes_the_session(signed_in):
    key = signed_in.cookies[settings.SESSION_COOKIE_NAME].value
    with at(MINUTE):
        assert signed_in.get(reverse("accounts:logout")).status_code == 405
        response = signed_in.post(reverse("accounts:logout"))
        assert response.status_code == 302
        assert response["Location"] == reverse(settings.LOGOUT_REDIRECT_URL)
        assert b"You are signed out." in signed_in.get(response["Location"]).content
        assert not SessionStore().exists(key)

        # Replaying the old cookie gets nowhere.
        thief = Client()
        thief.cookies[settings.SESSION_COOKIE_NAME] = key
        stolen = thief.get(PAGE)
    assert stolen.status_code == 302
    assert stolen["Location"].startswith(SIGN_IN)
    assert Event.objects.get(action=EventAction.LOGOUT).detail == {"reason": "user"}


def test_session_cookie_is_httponly_and_samesite(client, alice):
    with at(datetime.timedelta(0)):
        response = post_sign_in(client, "alice", code=current_code(alice))
    cookie = response.cookies[settings.SESSION_COOKIE_NAME]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
    assert cookie["path"] == "/"
    assert not cookie["domain"]
    assert not cookie["max-age"]  # a browser-session cookie
