"""A case manager's journey in a real browser, with an accessibility check per page."""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.cast import build_cast, sentinel
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)

# axe-core rules that must pass: everything at "serious" or "critical" impact.
BLOCKING_IMPACTS = {"serious", "critical"}


def _code_for(user) -> str:  # type: ignore[no-untyped-def]
    device = TOTPDevice.objects.get(user=user, confirmed=True)
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{totp.token():06d}"


def _assert_accessible(page) -> None:  # type: ignore[no-untyped-def]
    results = Axe().run(page)
    blocking = [v for v in results.response["violations"] if v.get("impact") in BLOCKING_IMPACTS]
    assert not blocking, "\n".join(
        f"{v['id']}: {v['help']} ({len(v['nodes'])} nodes)" for v in blocking
    )


def _sign_in(page, live_server, user) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{live_server.url}/account/sign-in/")
    _assert_accessible(page)
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Authentication code").fill(_code_for(user))
    page.get_by_role("button", name="Sign in").click()


def test_case_manager_reads_and_adds_a_note(page, live_server):  # type: ignore[no-untyped-def]
    cast = build_cast()
    csp_violations: list[str] = []
    page.on(
        "console",
        lambda msg: (
            csp_violations.append(msg.text) if "Content Security Policy" in msg.text else None
        ),
    )

    _sign_in(page, live_server, cast.case_manager)
    page.wait_for_url(f"{live_server.url}/")
    assert page.get_by_role("heading", name="Today", exact=True).is_visible()
    _assert_accessible(page)

    page.get_by_role("link", name="My cases", exact=True).click()
    page.wait_for_url(f"{live_server.url}/cases/")
    assert page.get_by_role("link", name=cast.case.reference).is_visible()
    _assert_accessible(page)

    page.get_by_role("link", name=cast.case.reference).click()
    page.wait_for_url(f"{live_server.url}/cases/{cast.case.pk}/")
    body = page.content()
    assert sentinel("justice") in body
    assert sentinel("intelligence") not in body
    _assert_accessible(page)

    # Add a note with the keyboard-usable form, opened on demand; HTMX swaps
    # the notes in place.
    page.locator("summary", has_text="Add a note").click()
    form = page.locator("form[data-note-form]").first
    form.get_by_label("Category").select_option("social")
    form.get_by_label("Fact or assessment").select_option("fact")
    form.get_by_label("Note").fill("Housing viewing arranged for next Tuesday.")
    form.get_by_role("button", name="Add note").click()
    page.get_by_text("Housing viewing arranged for next Tuesday.").wait_for()
    assert page.url == f"{live_server.url}/cases/{cast.case.pk}/"
    assert cast.case.notes.filter(text__startswith="Housing viewing").count() == 1
    assert not csp_violations, csp_violations


def test_wrong_code_is_refused_in_the_browser(page, live_server):  # type: ignore[no-untyped-def]
    cast = build_cast()
    page.goto(f"{live_server.url}/account/sign-in/")
    page.get_by_label("Username").fill(cast.coordinator.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Authentication code").fill("000000")
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_role("alert").is_visible()
    assert "/account/sign-in/" in page.url
    _assert_accessible(page)
