"""Sessions and credentials (AU-06): see and end one's sessions, a password change
ends the others and says so by e-mail, administrators end anyone's; API tokens
expire, go idle and are revoked with the credentials or the membership."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.contrib.auth import SESSION_KEY
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from prepare.accounts.addresses import approximate_address, client_address, device_of
from prepare.accounts.backends import BACKEND
from prepare.accounts.credentials import credentials_end
from prepare.accounts.models import (
    ApiToken,
    RevokedBecause,
    Role,
    SignedInSession,
    StoredSession,
    User,
)
from prepare.accounts.services import api_token_create
from prepare.audit.models import Event, EventAction, Outcome
from prepare.partnerships.models import Membership
from tests.accounts.conftest import current_code, post_sign_in
from tests.factories import PASSWORD, MembershipFactory, UserFactory

T0 = datetime.datetime(2026, 3, 2, 9, 0, 0, tzinfo=datetime.UTC)
SESSIONS = "/account/sessions/"
PASSWORD_PAGE = "/account/password/"
ME = "/api/v1/me/"
FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"
SAFARI = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
)
NEW_PASSWORD = "lantern orchard velvet 42"


def at(delta: datetime.timedelta = datetime.timedelta(0)):
    return time_machine.travel(T0 + delta, tick=False)


def signed_in(user: User, *, address: str, agent: str) -> Client:
    """A browser that signed in on the sign-in page, from ``address``."""
    client = Client(REMOTE_ADDR=address, HTTP_USER_AGENT=agent)
    assert post_sign_in(client, user.username, code=current_code(user)).status_code == 302
    return client


def token_of(user: User, days: int = 90) -> str:
    if not Membership.objects.filter(organisation=user.organisation).exists():
        MembershipFactory(organisation=user.organisation)
    _token, raw = api_token_create(actor=user, name="key dates", days=days)
    return raw


def api(raw: str, path: str = ME):
    return Client().get(path, headers={"Authorization": f"Bearer {raw}"})


@pytest.fixture
def two_browsers(alice):
    """Alice signed in at the office (Firefox) and on her phone (Safari)."""
    with at():
        office = signed_in(alice, address="198.51.100.7", agent=FIREFOX)
    with at(datetime.timedelta(minutes=2)):
        phone = signed_in(alice, address="203.0.113.50", agent=SAFARI)
    return office, phone


# --- The registry ------------------------------------------------------------------


def test_a_sign_in_registers_the_session_by_digest_only(two_browsers, alice):
    office, _phone = two_browsers
    key = office.cookies["prepare-session"].value
    row = SignedInSession.objects.get(key_digest=SignedInSession.digest_of(key))
    assert (row.user, row.network, row.browser, row.system) == (
        alice,
        "198.51.100.0/24",
        "Firefox",
        "Windows",
    )
    assert key not in {row.key_digest, row.network}
    assert StoredSession.objects.get(session_key=key).user == alice
    assert SignedInSession.objects.filter(user=alice).count() == 2


def test_last_seen_is_recorded_at_most_once_a_minute(two_browsers, alice):
    office, _phone = two_browsers
    row = SignedInSession.objects.get(user=alice, browser="Firefox")
    with at(datetime.timedelta(minutes=5)):
        assert office.get(SESSIONS).status_code == 200
    row.refresh_from_db()
    assert row.last_seen_at == T0 + datetime.timedelta(minutes=5)
    with at(datetime.timedelta(minutes=5, seconds=40)):
        assert office.get(SESSIONS).status_code == 200
    row.refresh_from_db()
    assert row.last_seen_at == T0 + datetime.timedelta(minutes=5)


def test_the_page_lists_the_sessions_and_ends_one(two_browsers, alice):
    office, phone = two_browsers
    with at(datetime.timedelta(minutes=3)):
        page = office.get(SESSIONS)
    body = page.content.decode()
    assert page.status_code == 200
    assert "Firefox on Windows" in body and "Safari on iOS" in body
    assert "198.51.100.0/24" in body and "203.0.113.0/24" in body
    assert body.count("this browser") == 1
    phone_row = SignedInSession.objects.get(user=alice, browser="Safari")
    phone_key = phone.cookies["prepare-session"].value

    with at(datetime.timedelta(minutes=4)):
        response = office.post(reverse("accounts:session_end", args=[phone_row.pk]))
        assert response.status_code == 302
        assert response["Location"] == SESSIONS
        # The phone's next request finds no session: signed out.
        refused = phone.get(SESSIONS)
        assert refused.status_code == 302
        assert refused["Location"].startswith(reverse("accounts:login"))
        assert office.get(SESSIONS).status_code == 200

    assert not StoredSession.objects.filter(session_key=phone_key).exists()
    assert not SignedInSession.objects.filter(pk=phone_row.pk).exists()
    event = Event.objects.get(action=EventAction.SESSION_END)
    assert (event.actor_id, event.object_type, event.object_id) == (
        alice.pk,
        "accounts.signedinsession",
        str(phone_row.pk),
    )
    assert event.detail == {"reason": "user", "sessions_ended": 1}


def test_ending_the_current_session_signs_out(two_browsers, alice):
    office, _phone = two_browsers
    own = SignedInSession.objects.get(user=alice, browser="Firefox")
    with at(datetime.timedelta(minutes=3)):
        response = office.post(reverse("accounts:session_end", args=[own.pk]))
    assert response["Location"] == reverse("accounts:login")
    assert SESSION_KEY not in office.session
    assert Event.objects.filter(action=EventAction.LOGOUT, actor_id=alice.pk).exists()


def test_no_one_ends_someone_elses_session_from_their_page(two_browsers, alice):
    _office, phone = two_browsers
    bob = UserFactory(username="bob")
    with at(datetime.timedelta(minutes=3)):
        bob_browser = signed_in(bob, address="192.0.2.1", agent=FIREFOX)
        alice_row = SignedInSession.objects.get(user=alice, browser="Safari")
        for session_id in (alice_row.pk, 99_999, 2**70):
            response = bob_browser.post(f"/account/sessions/{session_id}/end/")
            assert response.status_code == 404
        assert phone.get(SESSIONS).status_code == 200
    assert SignedInSession.objects.filter(pk=alice_row.pk).exists()
    assert not Event.objects.filter(action=EventAction.SESSION_END).exists()


def test_a_session_signed_in_elsewhere_is_registered_on_its_next_request(alice):
    from tests.cast import verified_client

    client = verified_client(alice)  # not through the sign-in page
    assert not SignedInSession.objects.filter(user=alice).exists()
    with at():
        assert client.get(SESSIONS).status_code == 200  # starts its clock
    with at(datetime.timedelta(minutes=2)):  # the next tick of the last-seen clock
        assert client.get(SESSIONS).status_code == 200
    assert SignedInSession.objects.filter(user=alice).count() == 1


# --- Password change -------------------------------------------------------------------


def test_a_password_change_ends_the_other_sessions_and_says_so(
    two_browsers, alice, django_capture_on_commit_callbacks
):
    office, phone = two_browsers
    raw = token_of(alice)
    alice.language = "fr"
    alice.save(update_fields=["language"])
    with at(datetime.timedelta(minutes=5)), django_capture_on_commit_callbacks(execute=True):
        response = office.post(
            PASSWORD_PAGE,
            {
                "current_password": PASSWORD,
                "new_password": NEW_PASSWORD,
                "new_password_again": NEW_PASSWORD,
            },
        )
    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.check_password(NEW_PASSWORD)
    with at(datetime.timedelta(minutes=6)):
        # This browser stays signed in (under a new key); the phone is out.
        assert office.get(SESSIONS).status_code == 200
        assert phone.get(SESSIONS).status_code == 302
        refused = api(raw)
    assert refused.status_code == 401
    assert "revoked" in refused.json()["detail"]
    assert ApiToken.objects.get(user=alice).revoked_because == RevokedBecause.PASSWORD_CHANGE
    assert StoredSession.objects.filter(user=alice).count() == 1
    assert SignedInSession.objects.filter(user=alice).count() == 1
    event = Event.objects.get(action=EventAction.PASSWORD_CHANGE)
    assert event.detail == {"sessions_ended": 1, "tokens_revoked": 1}
    assert event.outcome == Outcome.SUCCESS
    assert NEW_PASSWORD not in str(event.detail) and PASSWORD not in str(event.detail)
    [message] = mail.outbox
    assert message.to == [alice.email]
    assert message.subject == "PREPARE : votre mot de passe a été modifié"  # her language
    assert NEW_PASSWORD not in message.body and "http" not in message.body


def test_a_wrong_current_password_changes_nothing_and_is_audited(two_browsers, alice):
    office, phone = two_browsers
    with at(datetime.timedelta(minutes=5)):
        response = office.post(
            PASSWORD_PAGE,
            {
                "current_password": "not my password at all",
                "new_password": NEW_PASSWORD,
                "new_password_again": NEW_PASSWORD,
            },
        )
        assert response.status_code == 422
        assert "Your current password is not right." in response.content.decode()
        assert phone.get(SESSIONS).status_code == 200
    alice.refresh_from_db()
    assert alice.check_password(PASSWORD)
    event = Event.objects.get(action=EventAction.PASSWORD_CHANGE)
    assert (event.outcome, event.detail) == (Outcome.DENIED, {"stage": "current_password"})
    assert mail.outbox == []


def test_a_breached_password_is_refused_with_a_clear_message(two_browsers, alice):
    office, phone = two_browsers
    with at(datetime.timedelta(minutes=5)):
        response = office.post(
            PASSWORD_PAGE,
            {
                "current_password": PASSWORD,
                "new_password": "sunshine2020",
                "new_password_again": "sunshine2020",
            },
        )
        assert phone.get(SESSIONS).status_code == 200
    assert response.status_code == 422
    body = response.content.decode()
    assert "appears in lists of passwords stolen in data breaches" in body
    assert "sunshine2020" not in body  # never shown back
    alice.refresh_from_db()
    assert alice.check_password(PASSWORD)
    assert not Event.objects.filter(action=EventAction.PASSWORD_CHANGE).exists()


def test_the_two_new_passwords_must_match(two_browsers, alice):
    office, _phone = two_browsers
    with at(datetime.timedelta(minutes=5)):
        response = office.post(
            PASSWORD_PAGE,
            {
                "current_password": PASSWORD,
                "new_password": NEW_PASSWORD,
                "new_password_again": NEW_PASSWORD + "x",
            },
        )
    assert response.status_code == 422
    assert "The two new passwords are not the same." in response.content.decode()
    alice.refresh_from_db()
    assert alice.check_password(PASSWORD)


# --- Tokens: expiry, idle, revocation ---------------------------------------------------


def test_a_token_expires_at_the_end_of_its_chosen_validity(alice):
    with at():
        raw = token_of(alice, days=7)
        assert ApiToken.objects.get(user=alice).expires_at == T0 + datetime.timedelta(days=7)
        assert api(raw).status_code == 200
    with at(datetime.timedelta(days=6, hours=23)):
        assert api(raw).status_code == 200
    with at(datetime.timedelta(days=7)):
        response = api(raw)
    assert response.status_code == 401
    assert response.json()["detail"] == (
        "This token has expired. Create a new one on your API tokens page."
    )


def test_validity_is_at_most_a_year(alice):
    from django.core.exceptions import ValidationError

    for days in (0, 366):
        with pytest.raises(ValidationError):
            api_token_create(actor=alice, name="too long", days=days)
    assert not ApiToken.objects.exists()
    client = Client()
    client.force_login(alice, backend=BACKEND)
    from tests.cast import verified_client

    response = verified_client(alice).post(
        reverse("accounts:api_tokens"), {"name": "forever", "days": 5000}
    )
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not ApiToken.objects.exists()


def test_a_token_unused_for_the_idle_period_is_refused(alice, settings):
    assert settings.API_TOKEN_IDLE_DAYS == 30
    with at():
        raw = token_of(alice)
        assert api(raw).status_code == 200
    with at(datetime.timedelta(days=29)):
        assert api(raw).status_code == 200  # used: the idle period starts again
    with at(datetime.timedelta(days=58, hours=23)):
        assert api(raw).status_code == 200
    with at(datetime.timedelta(days=89)):
        response = api(raw)
    assert response.status_code == 401
    assert "not used for too long" in response.json()["detail"]


def test_last_use_is_recorded_at_most_once_a_minute(alice):
    with at():
        raw = token_of(alice)
        assert api(raw).status_code == 200
    token = ApiToken.objects.get(user=alice)
    assert token.last_used_at == T0
    with at(datetime.timedelta(seconds=59)):
        assert api(raw).status_code == 200
    token.refresh_from_db()
    assert token.last_used_at == T0
    with at(datetime.timedelta(seconds=60)):
        assert api(raw).status_code == 200
    token.refresh_from_db()
    assert token.last_used_at == T0 + datetime.timedelta(seconds=60)


def test_deactivation_ends_sessions_and_revokes_tokens(two_browsers, alice):
    office, phone = two_browsers
    raw = token_of(alice)
    with at(datetime.timedelta(minutes=3)):
        alice.is_active = False
        alice.save(update_fields=["is_active"])
        ended = credentials_end(user=alice, reason=RevokedBecause.DEACTIVATION)
        assert (ended.sessions, ended.tokens) == (2, 1)
        for browser in (office, phone):
            assert browser.get(SESSIONS).status_code == 302
        response = api(raw)
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]
    assert not StoredSession.objects.filter(user=alice).exists()
    assert not SignedInSession.objects.filter(user=alice).exists()
    assert mail.outbox == []  # only credential changes are told by e-mail


def test_a_deactivated_user_with_a_token_still_listed_is_refused(alice):
    raw = token_of(alice)
    User.objects.filter(pk=alice.pk).update(is_active=False)
    response = api(raw)
    assert response.status_code == 401
    assert response.json()["detail"] == "This account is deactivated."


def test_loss_of_membership_refuses_the_token_on_the_next_request(alice):
    raw = token_of(alice)
    assert api(raw).status_code == 200
    yesterday = timezone.localdate() - datetime.timedelta(days=1)
    Membership.objects.filter(organisation=alice.organisation).update(ends_on=yesterday)
    response = api(raw)
    assert response.status_code == 401
    assert response.json()["detail"] == (
        "Your organisation is no longer a member of any partnership; its tokens are refused."
    )
    # Member again (a new membership): the token works again if still valid.
    MembershipFactory(organisation=alice.organisation)
    assert api(raw).status_code == 200


def test_a_deactivated_organisation_refuses_its_tokens(alice):
    raw = token_of(alice)
    organisation = alice.organisation
    organisation.is_active = False
    organisation.save(update_fields=["is_active"])
    response = api(raw)
    assert response.status_code == 401
    assert response.json()["detail"] == "Your organisation is deactivated; its tokens are refused."


def test_a_user_without_organisation_is_governed_by_the_account_alone(db):
    admin = UserFactory(username="root", organisation=None, role=Role.ADMINISTRATOR)
    _token, raw = api_token_create(actor=admin, name="ops")
    assert api(raw).status_code == 200


# --- Administrators -------------------------------------------------------------------


def test_an_administrator_signs_a_user_out_everywhere(two_browsers, alice):
    office, phone = two_browsers
    raw = token_of(alice)
    admin = UserFactory(username="root", organisation=None, role=Role.ADMINISTRATOR)
    with at(datetime.timedelta(minutes=3)):
        admin_browser = signed_in(admin, address="192.0.2.9", agent=FIREFOX)
        page = admin_browser.get(f"/account/users/{alice.pk}/sessions/")
        assert page.status_code == 200
        assert "Firefox on Windows" in page.content.decode()
        response = admin_browser.post(f"/account/users/{alice.pk}/sessions/")
        assert response.status_code == 302
        assert office.get(SESSIONS).status_code == 302
        assert phone.get(SESSIONS).status_code == 302
        assert api(raw).status_code == 401
        assert admin_browser.get(SESSIONS).status_code == 200
    event = Event.objects.get(action=EventAction.SESSION_END)
    assert (event.actor_id, event.object_type, event.object_id) == (
        admin.pk,
        "accounts.user",
        str(alice.pk),
    )
    assert event.detail == {"reason": "administrator", "sessions_ended": 2, "tokens_revoked": 1}


def test_the_api_lets_an_administrator_end_a_users_sessions(two_browsers, alice):
    office, _phone = two_browsers
    admin = UserFactory(username="root", organisation=None, role=Role.ADMINISTRATOR)
    _token, admin_raw = api_token_create(actor=admin, name="ops")
    with at(datetime.timedelta(minutes=3)):
        response = Client().post(
            f"/api/v1/users/{alice.pk}/sessions/end/",
            {},
            content_type="application/json",
            headers={"Authorization": f"Bearer {admin_raw}"},
        )
        assert response.status_code == 200
        assert response.json() == {"sessions_ended": 2, "tokens_revoked": 0}
        assert office.get(SESSIONS).status_code == 302
    assert Event.objects.filter(action=EventAction.SESSION_END, actor_id=admin.pk).count() == 1


@pytest.mark.parametrize("role", [r for r in Role.values if r != Role.ADMINISTRATOR])
def test_no_one_else_ends_another_users_sessions(two_browsers, alice, role):
    office, _phone = two_browsers
    other = UserFactory(role=role)
    raw = token_of(other)
    with at(datetime.timedelta(minutes=3)):
        from tests.cast import verified_client

        browser = verified_client(other)
        assert browser.get(f"/account/users/{alice.pk}/sessions/").status_code == 404
        assert browser.post(f"/account/users/{alice.pk}/sessions/").status_code == 404
        response = Client().post(
            f"/api/v1/users/{alice.pk}/sessions/end/",
            {},
            content_type="application/json",
            headers={"Authorization": f"Bearer {raw}"},
        )
        assert response.status_code == 404
        assert office.get(SESSIONS).status_code == 200
    assert StoredSession.objects.filter(user=alice).count() == 2
    assert not Event.objects.filter(action=EventAction.SESSION_END).exists()


# --- Query counts ------------------------------------------------------------------------


@pytest.mark.parametrize("extra", [0, 4])
def test_the_sessions_page_runs_a_fixed_number_of_queries(alice, extra, django_assert_num_queries):
    with at():
        browser = signed_in(alice, address="198.51.100.7", agent=FIREFOX)
    for n in range(extra):
        # One sign-in a minute: a one-time code is good once.
        with at(datetime.timedelta(minutes=n + 1)):
            signed_in(alice, address=f"203.0.113.{n + 1}", agent=SAFARI)
            api_token_create(actor=alice, name=f"token {n}")
    with at(datetime.timedelta(minutes=10)):
        browser.get(SESSIONS)
        # Session, user, device, the bell; live sessions, their rows, tokens;
        # the request's transaction (2).
        with django_assert_num_queries(9):
            response = browser.get(SESSIONS)
    assert response.content.decode().count("End session") == extra


def test_the_password_page_runs_a_fixed_number_of_queries(alice, django_assert_num_queries):
    with at():
        browser = signed_in(alice, address="198.51.100.7", agent=FIREFOX)
        browser.get(PASSWORD_PAGE)
        with django_assert_num_queries(6):
            assert browser.get(PASSWORD_PAGE).status_code == 200


@pytest.mark.parametrize("extra", [1, 3])
def test_the_administrators_page_runs_a_fixed_number_of_queries(
    alice, extra, django_assert_num_queries
):
    admin = UserFactory(username="root", organisation=None, role=Role.ADMINISTRATOR)
    for n in range(extra):
        with at(datetime.timedelta(minutes=n)):
            signed_in(alice, address=f"203.0.113.{n + 1}", agent=SAFARI)
            api_token_create(actor=alice, name=f"token {n}")
    with at(datetime.timedelta(minutes=5)):
        browser = signed_in(admin, address="192.0.2.9", agent=FIREFOX)
        url = f"/account/users/{alice.pk}/sessions/"
        browser.get(url)
        # Session, user, device (the administrator has no bell); the user; live
        # sessions, their rows, tokens; the request's transaction (2). (A user
        # with no session at all costs one query less: nothing to look up.)
        with django_assert_num_queries(10):
            response = browser.get(url)
    assert response.content.decode().count("Safari on iOS") == extra


# --- Where a request comes from -----------------------------------------------------------


def test_the_address_comes_from_a_forwarded_header_only_behind_trusted_proxies(rf, settings):
    request = rf.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="6.6.6.6, 198.51.100.7")
    settings.TRUSTED_PROXIES = 0
    assert client_address(request) == "10.0.0.2"  # the header is anyone's to send
    settings.TRUSTED_PROXIES = 1
    assert client_address(request) == "198.51.100.7"  # appended by our proxy
    settings.TRUSTED_PROXIES = 3
    assert client_address(request) == "10.0.0.2"  # did not come through three proxies
    settings.TRUSTED_PROXIES = 1
    spoofed = rf.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="not-an-address")
    assert client_address(spoofed) == "10.0.0.2"


def test_devices_and_networks_are_summarised():
    assert device_of(FIREFOX) == ("Firefox", "Windows")
    assert device_of(SAFARI) == ("Safari", "iOS")
    edge = "Mozilla/5.0 (Windows NT 10.0) AppleWebKit/537.36 Chrome/120.0 Safari/537.36 Edg/120.0"
    assert device_of(edge) == ("Edge", "Windows")
    assert device_of("curl/8.5.0") == ("curl", "")
    assert device_of("") == ("", "")
    assert approximate_address("198.51.100.77") == "198.51.100.0/24"
    assert approximate_address("2001:db8:1:2:3:4:5:6") == "2001:db8:1:2::/64"
    assert approximate_address(None) == ""
