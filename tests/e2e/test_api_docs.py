"""Swagger UI renders in a real browser under the app's CSP, from the app alone.

Uses Debian's Chromium (as tests/e2e does): every request must go to the app
itself (no CDN, no validator badge) and the browser must report no CSP
violation or script error.
"""

from __future__ import annotations

import os

import pytest

from tests.access.support import flushable_audit
from tests.api.test_schema import OPERATIONS

__all__ = ["flushable_audit"]

CHROMIUM = os.environ.get("PREPARE_CHROMIUM", "/usr/bin/chromium")


@pytest.mark.django_db(transaction=True)
def test_swagger_ui_renders_every_operation_without_leaving_the_app(live_server, flushable_audit):
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            # The documentation is for signed-in readers: a verified session.
            from django.conf import settings

            from tests.cast import verified_client
            from tests.factories import UserFactory

            session = verified_client(UserFactory()).cookies[settings.SESSION_COOKIE_NAME]
            context = browser.new_context()
            context.add_cookies(
                [
                    {
                        "name": settings.SESSION_COOKIE_NAME,
                        "value": session.value,
                        "url": live_server.url,
                    }
                ]
            )
            page = context.new_page()
            console: list[str] = []
            requests: list[str] = []
            page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
            page.on("pageerror", lambda e: console.append(f"pageerror: {e}"))
            page.on("request", lambda r: requests.append(r.url))
            page.goto(f"{live_server.url}/api/docs/")
            page.wait_for_selector(".opblock", timeout=20_000)
            operations = page.locator(".opblock").count()
        finally:
            browser.close()
    assert operations == len(OPERATIONS)
    assert console == []
    assert requests
    assert all(url.startswith(live_server.url) for url in requests), requests
    assert any(url.endswith("/api/schema/") for url in requests)
