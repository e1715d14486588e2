"""API authentication: a personal token, or a session that passed the second factor."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from prepare.accounts.models import ApiToken
from prepare.audit.models import Event, EventAction
from prepare.partnerships.models import Membership
from tests.accounts.conftest import post_sign_in
from tests.cast import verified_client
from tests.factories import MembershipFactory, UserFactory

WHOAMI = "/api/test-whoami/"
T0 = datetime.datetime(2026, 3, 2, 9, 0, 0, tzinfo=datetime.UTC)


@pytest.fixture(autouse=True)
def _api_urls(settings):
    settings.ROOT_URLCONF = "tests.accounts.api_urls"


def member(user) -> None:
    """Tokens work for users whose organisation is a member of a partnership."""
    if not Membership.objects.filter(organisation=user.organisation).exists():
        MembershipFactory(organisation=user.organisation)


def create_token(user, name: str = "key dates", days: int = 90) -> str:
    member(user)
    client = verified_client(user)
    response = client.post(reverse("accounts:api_tokens"), {"name": name, "days": days})
    assert response.status_code == 200
    token = ApiToken.objects.get(user=user, name=name)
    secret = response.context["new_secret"]
    assert secret.startswith("prp_") and token.prefix == secret[4:12]
    return secret


@time_machine.travel(T0, tick=False)
def test_a_token_authenticates_and_only_its_digest_is_stored(alice):
    secret = create_token(alice)
    token = ApiToken.objects.get(user=alice)
    assert secret not in (token.digest, token.prefix)
    assert token.digest == ApiToken.digest_of(secret)

    response = Client().get(WHOAMI, headers={"Authorization": f"Bearer {secret}"})

    assert response.status_code == 200
    assert response.json() == {"user": alice.pk, "token": True}
    assert response["Cache-Control"] == "no-store"
    token.refresh_from_db()
    assert token.last_used_at == timezone.now()
    event = Event.objects.get(action=EventAction.TOKEN_CHANGE)
    assert (event.actor_id, event.object_id, event.detail) == (
        alice.pk,
        str(token.pk),
        {"change": "created", "days": 90},
    )
    assert secret not in str(event.detail)


@pytest.mark.parametrize(
    "header",
    [
        "Bearer prp_not-a-real-token",
        "Bearer",
        "Token prp_abc",
        "Bearer a b",
        "",
    ],
)
def test_without_a_valid_token_the_api_answers_401(db, header):
    headers = {"Authorization": header} if header else {}
    response = Client().get(WHOAMI, headers=headers)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"


def test_a_revoked_token_or_a_disabled_user_is_refused(alice):
    secret = create_token(alice)
    bob = UserFactory(username="bob")
    bob_secret = create_token(bob)
    client = verified_client(alice)
    token = ApiToken.objects.get(user=alice)

    # Another user's token cannot be revoked by guessing its id.
    bob_token = ApiToken.objects.get(user=bob)
    assert client.post(reverse("accounts:api_token_revoke", args=[bob_token.pk])).status_code == 404
    bob_token.refresh_from_db()
    assert bob_token.revoked_at is None

    assert client.post(reverse("accounts:api_token_revoke", args=[token.pk])).status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert Event.objects.filter(action=EventAction.TOKEN_CHANGE, detail={"change": "revoked"})
    assert Client().get(WHOAMI, headers={"Authorization": f"Bearer {secret}"}).status_code == 401

    bob.is_active = False
    bob.save(update_fields=["is_active"])
    assert (
        Client().get(WHOAMI, headers={"Authorization": f"Bearer {bob_secret}"}).status_code == 401
    )


def test_a_verified_session_works_and_needs_csrf_for_writes(alice):
    client = verified_client(alice)
    assert client.get(WHOAMI).json() == {"user": alice.pk, "token": False}
    strict = verified_client(alice)
    strict.handler.enforce_csrf_checks = True
    assert strict.post(WHOAMI, {}).status_code == 403


def test_a_password_only_session_gets_401(client, newcomer):
    post_sign_in(client, "newcomer")
    assert client.get(WHOAMI).status_code == 401
    assert client.post(WHOAMI, {}).status_code == 401


def test_token_page_lists_tokens_in_a_bounded_number_of_queries(alice, django_assert_num_queries):
    for n in range(3):
        create_token(alice, name=f"token {n}")
    client = verified_client(alice)
    client.get(reverse("accounts:api_tokens"))
    # Session, user, device, the bell, tokens, and the request's transaction (2);
    # the session's activity was recorded by the request before.
    with django_assert_num_queries(7):
        response = client.get(reverse("accounts:api_tokens"))
    body = response.content.decode()
    assert body.count('<th scope="row">token ') == 3
    assert "prp_" + ApiToken.objects.first().prefix in body
