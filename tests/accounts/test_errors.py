"""Error pages say nothing technical (DP-08); unclassified routes are refused (AC-01)."""

from __future__ import annotations

from django.db import DatabaseError
from django.test import Client
from django.urls import reverse

from prepare.accounts import services
from prepare.accounts.models import ApiToken
from prepare.audit.models import Event
from tests.cast import verified_client

SQL = 'SELECT "password" FROM "accounts_user" WHERE "username" = \'alice\''


def assert_generic(body: str) -> None:
    for leak in ("Traceback", "SELECT", "accounts_user", "DatabaseError", 'File "', ".py", SQL):
        assert leak not in body, leak


def test_a_forced_exception_shows_a_generic_page_and_commits_nothing(alice, monkeypatch):
    def broken_audit(**kwargs):
        raise DatabaseError(SQL)

    monkeypatch.setattr(services, "audit_record", broken_audit)
    client = verified_client(alice)
    client.raise_request_exception = False

    response = client.post(reverse("accounts:api_tokens"), {"name": "a token", "days": 90})

    assert response.status_code == 500
    body = response.content.decode()
    assert "Something went wrong" in body
    assert_generic(body)
    assert "Content-Security-Policy" in response.headers
    assert response["Cache-Control"] == "no-store"
    # The token was created before the audit failed: the request rolled back.
    assert not ApiToken.objects.exists()
    assert not Event.objects.filter(action="token_change").exists()


def test_not_found_is_generic(alice):
    response = verified_client(alice).get("/no/such/page/")
    assert response.status_code == 404
    body = response.content.decode()
    assert "Page not found" in body
    # Not echoed in the page's content (the language switcher in the footer
    # keeps the address to come back to, as on every page).
    assert "no/such/page" not in body.split("<main", 1)[1].split("</main>", 1)[0]
    assert_generic(body)


def test_a_route_without_policy_is_refused_to_everyone(alice, settings, client):
    settings.ROOT_URLCONF = "tests.accounts.no_policy_urls"
    for who in (client, verified_client(alice)):
        response = who.get("/unclassified/")
        assert response.status_code == 403
        assert b"SHOULD-NEVER-BE-SERVED" not in response.content
        assert b"Not allowed" in response.content
        assert_generic(response.content.decode())


def test_the_500_page_renders_without_a_request(db):
    from django.template import loader

    body = loader.get_template("500.html").render()
    assert "Something went wrong" in body
    assert 'lang="en"' in body


def test_anonymous_users_cannot_tell_existing_paths_from_others(db):
    client = Client()
    known = client.get(reverse("accounts:api_tokens"))
    unknown = client.get("/no/such/page/")
    assert known.status_code == unknown.status_code == 302
    assert known["Location"].split("?")[0] == unknown["Location"].split("?")[0]
