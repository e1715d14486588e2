"""The CSP report endpoint: accepts browser reports, logs a bounded, safe line (DP-07)."""

from __future__ import annotations

import json
import logging

from django.conf import settings
from django.test import Client
from django.urls import resolve, reverse

from prepare.accounts.views import csp_report

URL = "/account/csp-report/"


def post(client: Client, payload, content_type: str = "application/csp-report"):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return client.generic("POST", URL, body, content_type=content_type)


def test_the_policy_reports_to_this_endpoint():
    assert settings.CONTENT_SECURITY_POLICY["DIRECTIVES"]["report-uri"] == [URL]
    assert resolve(URL).func is csp_report
    assert reverse("accounts:csp_report") == URL


def test_a_report_is_logged_without_query_strings_or_line_breaks(db, caplog):
    client = Client(enforce_csrf_checks=True)  # browsers cannot send a token
    report = {
        "csp-report": {
            "document-uri": "https://prepare.example.org/cases/12/?q=Secret+Name",
            "violated-directive": "script-src 'self'",
            "effective-directive": "script-src-elem",
            "blocked-uri": "inline\nFAKE LOG LINE",
            "script-sample": "Secret sample",
        }
    }
    with caplog.at_level(logging.WARNING, logger="prepare.csp"):
        response = post(client, report)
    assert response.status_code == 204
    assert response["Cache-Control"] == "no-store"
    [record] = caplog.records
    line = record.getMessage()
    assert "document=/cases/12/" in line
    assert "effective-directive=script-src-elem" in line
    assert "Secret" not in line
    assert "\n" not in line
    assert "blocked=inline?FAKE LOG LINE" in line


def test_blocked_urls_lose_their_query(db, caplog):
    report = {"csp-report": {"blocked-uri": "https://cdn.example/x.js?user=Secret#frag"}}
    with caplog.at_level(logging.WARNING, logger="prepare.csp"):
        post(Client(), report)
    [record] = caplog.records
    assert "blocked=https://cdn.example/x.js " in record.getMessage() + " "
    assert "Secret" not in record.getMessage()


def test_garbage_and_oversized_bodies_are_ignored(db, caplog):
    client = Client()
    with caplog.at_level(logging.WARNING, logger="prepare.csp"):
        assert post(client, b"not json").status_code == 204
        assert post(client, [1, 2, 3]).status_code == 204
        assert post(client, {"csp-report": "text"}).status_code == 204
        big = {"csp-report": {"blocked-uri": "x" * 20_000}}
        assert post(client, big).status_code == 204
    assert caplog.records == []


def test_only_post_is_accepted(db):
    assert Client().get(URL).status_code == 405
