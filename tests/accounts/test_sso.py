"""Single sign-on through an organisation's OpenID Connect provider.

Every test signs in through a real provider on the loopback interface
(``tests.accounts.oidc_provider``): PREPARE's client fetches its discovery
document and keys and exchanges the code over HTTP; nothing is mocked.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from django.contrib.auth import SESSION_KEY
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from prepare.accounts import factors
from prepare.accounts.models import IdentityProvider, User
from prepare.accounts.second_factor import PENDING_USER
from prepare.accounts.sso.sealing import seal, unseal
from prepare.audit.models import Event, EventAction, Outcome
from tests.accounts.conftest import post_sign_in
from tests.accounts.oidc_provider import CLIENT_ID, CLIENT_SECRET, TestProvider
from tests.cast import current_code, wrong_code
from tests.factories import OrganisationFactory, UserFactory

ADDRESS = "alice@probation.example"
HOME = reverse("home:home")


@pytest.fixture(scope="session")
def idp() -> Iterator[TestProvider]:
    provider = TestProvider().start()
    yield provider
    provider.stop()


@pytest.fixture(autouse=True)
def _no_cached_discovery() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def provider(db: None, idp: TestProvider) -> IdentityProvider:
    return IdentityProvider.objects.create(
        organisation=OrganisationFactory(name="Probation North"),
        issuer=idp.issuer,
        client_id=CLIENT_ID,
        client_secret_sealed=seal(CLIENT_SECRET),
        allowed_domains=["probation.example"],
    )


@pytest.fixture
def alice(provider: IdentityProvider) -> User:
    return UserFactory(username="alice", email=ADDRESS, organisation=provider.organisation)


def through_provider(
    client: Client, idp: TestProvider, *, address: str = ADDRESS, **claims: Any
) -> Any:
    """Start at PREPARE, sign in at the provider (over HTTP), come back."""
    idp.sign_in_next(**claims)
    start = client.post(reverse("accounts:sso_start"), {"address": address})
    assert start.status_code == 302, start.content.decode()[:500]
    assert start["Location"].startswith(idp.issuer + "/authorize?")
    sent = parse_qs(urlsplit(start["Location"]).query)
    assert sent["nonce"] and sent["state"] and sent["code_challenge_method"] == ["S256"]
    at_provider = requests.get(start["Location"], allow_redirects=False, timeout=5)
    assert at_provider.status_code == 302
    back = urlsplit(at_provider.headers["Location"])
    assert back.path == reverse("accounts:sso_callback")
    return client.get(f"{back.path}?{back.query}")


def _signed_in(client: Client) -> bool:
    return SESSION_KEY in client.session


def _last(action: str) -> Event:
    event = Event.objects.filter(action=action).order_by("-pk").first()
    assert event is not None, f"no {action} event"
    return event


# --- Signing in ---------------------------------------------------------------------------


def test_an_invited_user_signs_in_and_then_gives_the_code(client, idp, alice, provider):
    response = through_provider(client, idp, email=ADDRESS, amr=["pwd"], acr="basic")

    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:second_factor")
    assert not _signed_in(client)  # nothing until the second factor
    assert client.get(HOME).status_code == 302

    page = client.get(reverse("accounts:second_factor"))
    assert page.status_code == 200
    assert b'autocomplete="one-time-code"' in page.content
    assert "Your organisation has confirmed who you are" in page.content.decode()

    done = client.post(reverse("accounts:second_factor"), {"code": current_code(alice)})

    assert done.status_code == 302 and done["Location"] == HOME
    assert client.session[SESSION_KEY] == str(alice.pk)
    assert client.get(HOME).status_code == 200  # a verified session
    login = _last(EventAction.LOGIN)
    assert login.actor_id == alice.pk
    assert login.detail == {
        "via": "oidc",
        "method": "totp",
        "provider": provider.pk,
        "amr": ["pwd"],
        "acr": "basic",
        "second_factor": True,
    }
    assert User.objects.count() == 1


def test_a_wrong_code_after_the_provider_is_refused_and_counted(client, idp, alice, provider):
    through_provider(client, idp, email=ADDRESS)

    response = client.post(reverse("accounts:second_factor"), {"code": wrong_code(alice)})

    assert response.status_code == 200
    assert "That code is not right" in response.content.decode()
    assert not _signed_in(client)
    failed = _last(EventAction.LOGIN_FAILED)
    assert failed.actor_id == alice.pk and failed.outcome == Outcome.DENIED
    assert failed.detail["stage"] == "second_factor_code" and failed.detail["failures"] == 1
    assert failed.detail["provider"] == provider.pk


def test_the_code_step_locks_the_account_like_sign_in(client, idp, alice, settings):
    through_provider(client, idp, email=ADDRESS)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        last = client.post(reverse("accounts:second_factor"), {"code": wrong_code(alice)})
    assert "sign-in is paused for a while" in last.content.decode()

    # The step is over: the right code now leads back to the start, signed out.
    response = client.post(reverse("accounts:second_factor"), {"code": current_code(alice)})

    assert response.status_code == 302
    assert not _signed_in(client)
    assert Event.objects.filter(action=EventAction.LOCKED_OUT, actor_id=alice.pk).exists()
    # Through the provider again: refused while locked.
    again = through_provider(Client(), idp, email=ADDRESS)
    assert again.status_code == 403
    assert _last(EventAction.LOGIN_FAILED).detail["refused"] == "locked"


def test_the_code_step_expires(client, idp, alice, settings):
    settings.SECOND_FACTOR_TIMEOUT = -1
    through_provider(client, idp, email=ADDRESS)

    response = client.post(reverse("accounts:second_factor"), {"code": current_code(alice)})

    assert response.status_code == 302
    assert response["Location"] == reverse(settings.LOGIN_URL)
    assert not _signed_in(client)


def test_a_recovery_code_completes_the_providers_sign_in(client, idp, alice, provider):
    codes = factors.recovery_codes_generate(None, actor=alice)  # type: ignore[arg-type]
    through_provider(client, idp, email=ADDRESS, amr=["pwd"])

    done = client.post(reverse("accounts:second_factor"), {"code": codes[0]})

    assert done.status_code == 302 and done["Location"] == HOME
    assert client.session[SESSION_KEY] == str(alice.pk)
    login = _last(EventAction.LOGIN)
    assert (login.detail["via"], login.detail["method"]) == ("oidc", "recovery_code")
    assert login.detail["provider"] == provider.pk


def test_a_password_step_left_half_way_does_not_survive_a_providers_start(
    client, idp, alice, provider
):
    other = UserFactory(username="other", organisation=provider.organisation)
    post_sign_in(client, other.username)
    assert client.session[PENDING_USER] == other.pk

    through_provider(client, idp, email=ADDRESS)

    assert client.session[PENDING_USER] == alice.pk


@pytest.mark.parametrize(
    ("asserts", "claims", "verified_by_provider"),
    [
        (True, {"amr": ["pwd", "mfa"]}, True),
        (True, {"amr": ["pwd"], "acr": "urn:example:mfa"}, True),
        (True, {"amr": ["pwd"], "acr": "basic"}, False),
        (True, {}, False),
        (False, {"amr": ["pwd", "mfa"], "acr": "urn:example:mfa"}, False),
    ],
    ids=["amr-mfa", "acr-listed", "acr-other", "no-claims", "not-configured"],
)
def test_the_second_factor_applies_unless_the_provider_asserts_it(
    client, idp, alice, provider, asserts, claims, verified_by_provider
):
    provider.asserts_mfa = asserts
    provider.mfa_acr_values = ["urn:example:mfa"]
    provider.save()

    response = through_provider(client, idp, email=ADDRESS, **claims)

    if verified_by_provider:
        assert response["Location"] == HOME
        assert client.session[SESSION_KEY] == str(alice.pk)
        assert client.get(HOME).status_code == 200
        assert client.get(reverse("v1_me")).status_code == 200  # the API too
        login = _last(EventAction.LOGIN)
        assert (login.detail["via"], login.detail["method"]) == ("oidc", "provider")
        assert login.detail["second_factor"] is True
        assert login.detail["amr"] == claims["amr"]
        assert login.detail["acr"] == claims.get("acr", "")
    else:
        assert response["Location"] == reverse("accounts:second_factor")
        assert not _signed_in(client)
        assert not Event.objects.filter(action=EventAction.LOGIN).exists()


def test_a_user_without_an_authenticator_reaches_only_enrolment(client, idp, provider):
    newcomer = UserFactory(
        username="newcomer",
        email="new@probation.example",
        organisation=provider.organisation,
        totp=False,
    )

    response = through_provider(
        client, idp, address="new@probation.example", email="new@probation.example"
    )

    assert response["Location"] == reverse("accounts:mfa_setup")
    assert client.session[SESSION_KEY] == str(newcomer.pk)
    assert client.get(HOME)["Location"] == reverse("accounts:mfa_setup")


@pytest.mark.parametrize(
    ("claim", "username", "claims"),
    [
        ("preferred_username", "alice.b", {"preferred_username": "alice.b"}),
        ("sub", "S-42", {"sub": "S-42"}),
    ],
)
def test_the_configured_claim_names_the_account(client, idp, provider, claim, username, claims):
    provider.user_claim = claim
    provider.asserts_mfa = True
    provider.save()
    user = UserFactory(
        username=username, email="x@else.example", organisation=provider.organisation
    )

    response = through_provider(client, idp, email=ADDRESS, amr=["mfa"], **claims)

    assert response["Location"] == HOME
    assert client.session[SESSION_KEY] == str(user.pk)


# --- Refusals -----------------------------------------------------------------------------


def _refused(response: Any, reason: str, *, message: str = "") -> Event:
    assert response.status_code == 403
    assert "There is a problem" in response.content.decode()
    if message:
        assert message in response.content.decode()
    event = _last(EventAction.LOGIN_FAILED)
    assert event.outcome == Outcome.DENIED
    assert event.detail["stage"] == "sso" and event.detail["refused"] == reason
    return event


def test_an_uninvited_person_is_refused_and_no_account_is_created(client, idp, alice):
    before = set(User.objects.values_list("pk", flat=True))

    response = through_provider(client, idp, email="bob@probation.example")

    event = _refused(response, "no_account", message="by invitation only")
    assert set(User.objects.values_list("pk", flat=True)) == before
    assert not _signed_in(client)
    assert event.actor_id is None and event.actor_username == "bob@probation.example"


def test_an_account_of_another_organisation_is_not_matched(client, idp, provider):
    UserFactory(username="alice", email=ADDRESS)  # same address, another organisation

    response = through_provider(client, idp, email=ADDRESS)

    _refused(response, "no_account")
    assert not _signed_in(client)


def test_a_disallowed_email_domain_is_refused(client, idp, alice):
    alice.email = "alice@elsewhere.example"
    alice.save()

    response = through_provider(client, idp, email="alice@elsewhere.example")

    _refused(response, "domain_not_allowed")
    assert not _signed_in(client)


def test_an_unverified_email_is_refused(client, idp, alice):
    response = through_provider(client, idp, email=ADDRESS, email_verified=False)

    _refused(response, "domain_not_allowed")


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"iss": "http://127.0.0.1:9/another-issuer"}, "wrong_issuer"),
        ({"aud": "another-client"}, "wrong_audience"),
        ({"exp": int(time.time()) - 600, "iat": int(time.time()) - 900}, "token_expired"),
        ({"nonce": "not-the-one-sent"}, "wrong_nonce"),
    ],
    ids=["issuer", "audience", "expired", "nonce"],
)
def test_a_token_that_fails_a_check_is_refused(client, idp, alice, claims, reason):
    response = through_provider(client, idp, email=ADDRESS, amr=["mfa"], **claims)

    _refused(response, reason)
    assert not _signed_in(client)
    assert not Event.objects.filter(action=EventAction.LOGIN).exists()


def test_a_token_signed_with_another_key_is_refused(client, idp, alice):
    idp.next_login.foreign_key = True
    start = client.post(reverse("accounts:sso_start"), {"address": ADDRESS})
    idp.next_login.claims = {"email": ADDRESS}
    idp.next_login.foreign_key = True
    back = urlsplit(
        requests.get(start["Location"], allow_redirects=False, timeout=5).headers["Location"]
    )

    response = client.get(f"{back.path}?{back.query}")

    _refused(response, "bad_signature")


def test_a_return_with_another_state_is_refused(client, idp, alice):
    start = client.post(reverse("accounts:sso_start"), {"address": ADDRESS})
    idp.sign_in_next(email=ADDRESS)
    back = urlsplit(
        requests.get(start["Location"], allow_redirects=False, timeout=5).headers["Location"]
    )
    query = parse_qs(back.query)

    response = client.get(
        back.path + "?" + urlencode({"code": query["code"][0], "state": "forged"})
    )

    _refused(response, "wrong_state")
    assert not _signed_in(client)


def test_a_return_without_a_sign_in_under_way_is_refused(client, alice):
    response = client.get(reverse("accounts:sso_callback") + "?code=x&state=y")

    _refused(response, "no_sign_in_under_way")


def test_an_unknown_domain_is_told_plainly(client, provider):
    response = client.post(reverse("accounts:sso_start"), {"address": "someone@nowhere.example"})

    assert response.status_code == 422
    assert "No organisation signs in to PREPARE with that domain" in response.content.decode()


def test_a_disabled_provider_is_not_offered(client, provider):
    provider.is_enabled = False
    provider.save()

    response = client.post(reverse("accounts:sso_start"), {"address": ADDRESS})

    assert response.status_code == 422


def test_an_unreachable_provider_is_refused_and_audited(client, provider):
    provider.issuer = "http://127.0.0.1:9"  # nothing listens on the discard port
    provider.save()

    response = client.post(reverse("accounts:sso_start"), {"address": ADDRESS})

    assert response.status_code == 403
    assert _last(EventAction.LOGIN_FAILED).detail["refused"] == "discovery_unreachable"


# --- Discovery and the stored secret --------------------------------------------------------


def test_discovery_and_keys_are_fetched_once_and_cached(idp, alice):
    first = len(idp.requests)
    for _ in range(2):
        client = Client()
        through_provider(client, idp, email=ADDRESS)
        client.post(reverse("accounts:second_factor"), {"code": current_code(alice)})
        alice.totpdevice_set.update(last_t=-1)  # the same code again, for the test only
    fetched = idp.requests[first:]
    assert fetched.count("/.well-known/openid-configuration") == 1
    assert fetched.count("/jwks") == 1
    assert fetched.count("/token") == 2


def test_the_client_secret_is_stored_sealed(provider):
    stored = IdentityProvider.objects.values_list("client_secret_sealed", flat=True).get()
    assert CLIENT_SECRET not in stored
    assert unseal(stored) == CLIENT_SECRET


def test_a_secret_sealed_under_another_key_refuses_the_sign_in(client, idp, alice, settings):
    settings.SSO_SECRET_KEY = "another key entirely"

    response = client.post(reverse("accounts:sso_start"), {"address": ADDRESS})

    assert response.status_code == 403
    assert _last(EventAction.LOGIN_FAILED).detail["refused"] == "client_secret_unreadable"


# --- Organisations that require single sign-on ------------------------------------------------


def test_an_organisation_that_requires_sso_refuses_password_sign_in(client, alice, provider):
    provider.requires_sso = True
    provider.save()

    response = post_sign_in(client, "alice", code=current_code(alice))

    assert response.status_code == 200
    body = response.content.decode()
    assert "signs you in through its own identity provider" in body
    assert reverse("accounts:sso_start") in body
    assert not _signed_in(client)
    event = _last(EventAction.LOGIN_FAILED)
    assert event.actor_id == alice.pk
    assert event.detail == {"stage": "password", "refused": "single_sign_on_required"}


def test_a_wrong_password_says_nothing_of_sso(client, alice, provider):
    provider.requires_sso = True
    provider.save()

    response = post_sign_in(client, "alice", password="not the password", code="")

    assert "identity provider" not in response.content.decode()
    assert "is not right" in response.content.decode()


def test_password_sign_in_stays_for_organisations_that_do_not_require_sso(client, alice):
    response = post_sign_in(client, "alice", code=current_code(alice))

    assert response.status_code == 302
    assert client.session[SESSION_KEY] == str(alice.pk)


# --- The pages ------------------------------------------------------------------------------


def test_the_sign_in_page_leads_to_the_organisation_path(client, db):
    page = client.get(reverse("accounts:login")).content.decode()

    assert "Sign in with your organisation" in page
    assert f'href="{reverse("accounts:sso_start")}"' in page


def test_the_organisation_page_is_one_labelled_form(client, db, django_assert_max_num_queries):
    with django_assert_max_num_queries(2):  # the request's savepoint and its release
        response = client.get(reverse("accounts:sso_start"))
    body = response.content.decode()
    assert response.status_code == 200
    assert '<label class="field__label" for="id_address">' in body
    assert 'autocomplete="email"' in body
