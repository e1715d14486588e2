"""A passkey added and used in Chromium, with its virtual authenticator (CTAP2, internal)."""

from __future__ import annotations

import pytest
from django_otp_webauthn.models import WebAuthnCredential

from prepare.audit.models import Event, EventAction
from tests.e2e.test_journey import _assert_accessible, _code_for
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def authenticator(page):  # type: ignore[no-untyped-def]
    """A platform authenticator that says yes: user present and verified."""
    session = page.context.new_cdp_session(page)
    session.send("WebAuthn.enable")
    added = session.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
            }
        },
    )
    yield session, added["authenticatorId"]
    session.send("WebAuthn.disable")


def test_a_passkey_is_added_then_signs_in(page, live_server, authenticator):  # type: ignore[no-untyped-def]
    cdp, authenticator_id = authenticator
    user = UserFactory(username="nadia")
    csp_violations: list[str] = []
    page.on(
        "console",
        lambda msg: (
            csp_violations.append(msg.text) if "Content Security Policy" in msg.text else None
        ),
    )
    assert live_server.url.startswith("http://localhost:")  # a passkey needs a domain

    # Signed in with password and app code, as before passkeys.
    page.goto(f"{live_server.url}/account/sign-in/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Authentication code").fill(_code_for(user))
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server.url}/")

    page.get_by_role("link", name="Your settings").click()
    page.get_by_role("link", name="Sign-in methods").click()
    # The user's own pages are reached from "Your settings", which stays current.
    settings_link = page.get_by_role("navigation", name="Your account").get_by_role(
        "link", name="Your settings"
    )
    assert settings_link.get_attribute("aria-current") == "page"
    page.get_by_role("link", name="Add a passkey").click()
    _assert_accessible(page)
    page.get_by_label("Name of this passkey").fill("Work laptop")
    page.get_by_label("Your password").fill(PASSWORD)
    page.get_by_role("button", name="Create passkey").click()
    page.wait_for_url(f"{live_server.url}/account/sign-in-methods/")
    assert page.get_by_role("rowheader", name="Work laptop").is_visible()
    _assert_accessible(page)
    credential = WebAuthnCredential.objects.get(user=user)
    assert credential.name == "Work laptop"
    assert credential.last_used_at is None
    stored = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator_id})
    assert len(stored["credentials"]) == 1

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{live_server.url}/account/sign-in/")

    # Password only: the second step offers the passkey.
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server.url}/account/sign-in/second-factor/")
    assert page.get_by_role("heading", name="Confirm it is you").is_visible()
    _assert_accessible(page)
    page.get_by_role("button", name="Use a passkey").click()
    page.wait_for_url(f"{live_server.url}/")
    assert page.get_by_role("heading", name="Today", exact=True).is_visible()

    credential.refresh_from_db()
    assert credential.last_used_at is not None
    login = Event.objects.filter(action=EventAction.LOGIN, actor_id=user.pk).latest("seq")
    assert login.detail == {"second_factor": True, "via": "password", "method": "passkey"}
    added = Event.objects.get(action=EventAction.MFA_CHANGE, actor_id=user.pk)
    assert added.detail == {"change": "passkey_added", "device": credential.pk}
    assert not csp_violations, csp_violations
