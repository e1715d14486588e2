"""Who may call the API at all: personal tokens, or a session with a second factor."""

from __future__ import annotations

from django.test import Client

from prepare.accounts.models import ApiToken
from prepare.accounts.services import api_token_create, api_token_revoke
from prepare.cases.models import CaseNote
from tests.api.conftest import API
from tests.cast import verified_client


def _bearer(raw: str) -> Client:
    return Client(headers={"Authorization": f"Bearer {raw}"})


def test_valid_token_authenticates_and_records_its_use(cast):
    token, raw = api_token_create(actor=cast.case_manager, name="probation system")
    response = _bearer(raw).get(f"{API}/me/")
    assert response.status_code == 200
    assert response.json()["username"] == "case_manager"
    token.refresh_from_db()
    assert token.last_used_at is not None
    # Only the digest is stored.
    assert not ApiToken.objects.filter(digest=raw).exists()


def test_no_token_is_401_with_bearer_challenge(cast):
    response = Client().get(f"{API}/cases/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"
    assert "Sentinelia" not in response.content.decode()


def test_unknown_and_malformed_tokens_are_401(cast):
    for header in ("Bearer prp_not-a-token", "Bearer", "Token abc", "Bearer a b"):
        response = Client(headers={"Authorization": header}).get(f"{API}/cases/")
        assert response.status_code == 401, header


def test_revoked_token_is_401_on_the_next_request(cast):
    token, raw = api_token_create(actor=cast.coordinator, name="ci")
    client = _bearer(raw)
    assert client.get(f"{API}/cases/{cast.case.pk}/").status_code == 200
    api_token_revoke(actor=cast.coordinator, token_id=token.pk)
    response = client.get(f"{API}/cases/{cast.case.pk}/")
    assert response.status_code == 401
    assert "Sentinelia" not in response.content.decode()


def test_disabled_user_token_is_401(cast):
    _, raw = api_token_create(actor=cast.coordinator, name="ci")
    cast.coordinator.is_active = False
    cast.coordinator.save(update_fields=["is_active"])
    response = _bearer(raw).get(f"{API}/cases/{cast.case.pk}/notes/")
    assert response.status_code == 401
    assert "SENTINEL" not in response.content.decode()


def test_session_without_second_factor_is_refused(cast):
    client = Client()
    client.force_login(
        cast.coordinator, backend="prepare.accounts.backends.ActiveOrganisationBackend"
    )
    for url in (f"{API}/cases/", f"{API}/cases/{cast.case.pk}/", f"{API}/me/"):
        response = client.get(url)
        assert response.status_code == 401, url
        assert "Sentinelia" not in response.content.decode()


def test_verified_session_reads(cast):
    response = verified_client(cast.coordinator).get(f"{API}/cases/{cast.case.pk}/")
    assert response.status_code == 200
    assert response.json()["person"]["given_name"] == "Sentinelia"


def test_verified_session_write_needs_the_csrf_token(cast):
    client = verified_client(cast.coordinator)
    client.handler.enforce_csrf_checks = True
    before = CaseNote.objects.count()
    response = client.post(
        f"{API}/cases/{cast.case.pk}/notes/",
        {"category": "risk", "kind": "fact", "text": "Forged"},
        content_type="application/json",
    )
    assert response.status_code == 403
    assert CaseNote.objects.count() == before


def test_token_write_needs_no_csrf_token(cast):
    _, raw = api_token_create(actor=cast.coordinator, name="ci")
    client = Client(enforce_csrf_checks=True, headers={"Authorization": f"Bearer {raw}"})
    response = client.post(
        f"{API}/cases/{cast.case.pk}/notes/",
        {"category": "risk", "kind": "fact", "text": "From the probation system"},
        content_type="application/json",
    )
    assert response.status_code == 201
    assert CaseNote.objects.filter(text="From the probation system").exists()
