"""The draft assessment page in a real browser: it saves itself as the assessor
goes, and two tabs on one draft never lose a rating: the first saves, the
second is told and keeps its entries on the page (and, after a reload, gets
them back to save on top). The page passes the accessibility check and runs
under the strict CSP."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from prepare.assessments.assessing import assessment_start
from prepare.assessments.content import InstrumentContent
from prepare.assessments.models import Assessment
from tests.assessments.support import load_examples
from tests.cast import build_cast
from tests.e2e.test_journey import _assert_accessible, _sign_in

pytestmark = pytest.mark.django_db(transaction=True)

SAVE_WAIT = 15_000  # ms: the two-second pause, then the request


def test_two_tabs_on_one_draft_lose_no_rating(page, live_server):  # type: ignore[no-untyped-def]
    cast = build_cast()
    load_examples()
    a = assessment_start(
        actor=cast.case_manager, case_id=cast.case.pk, instrument="example-resettlement-needs"
    )
    first, second = InstrumentContent(a.instrument_version.content).items()[:2]
    csp_violations: list[str] = []
    page.on(
        "console",
        lambda msg: (
            csp_violations.append(msg.text) if "Content Security Policy" in msg.text else None
        ),
    )
    _sign_in(page, live_server, cast.case_manager)
    page.wait_for_url(f"{live_server.url}/")
    url = f"{live_server.url}/cases/{cast.case.pk}/assessments/{a.pk}/edit/"

    tab_a = page
    tab_a.goto(url)
    _assert_accessible(tab_a)
    tab_b = page.context.new_page()
    tab_b.goto(url)
    total = len(InstrumentContent(a.instrument_version.content).items())
    expect(tab_b.locator("[data-progress]")).to_have_text(f"0 of {total} items rated")

    # Tab A rates the first item: saved as it goes, the version moves on.
    tab_a.locator(f'input[name="item-{first.id}-presence"][value="serious"]').check()
    status_a = tab_a.locator("[data-autosave-status]")
    expect(status_a).to_contain_text("Saved at", timeout=SAVE_WAIT)
    expect(tab_a.locator("[data-progress]")).to_have_text(f"1 of {total} items rated")
    assert tab_a.locator("input[name=version]").input_value() == "2"
    a.refresh_from_db()
    assert a.ratings[first.id]["presence"] == "serious"

    # Tab B, still at version 1, writes evidence: refused, told, entries kept.
    evidence_b = tab_b.locator(f'textarea[name="item-{second.id}-evidence"]')
    evidence_b.fill("Tab B: staying with his sister for now")
    tab_b.locator(f'input[name="item-{second.id}-presence"][value="some"]').check()
    conflict = tab_b.locator("[data-autosave-conflict]")
    expect(conflict).to_be_visible(timeout=SAVE_WAIT)
    expect(conflict).to_contain_text("someone else saved this draft")
    expect(tab_b.locator("[data-autosave-status]")).to_contain_text("Not saved")
    assert evidence_b.input_value() == "Tab B: staying with his sister for now"
    assert tab_b.locator(f'input[name="item-{second.id}-presence"][value="some"]').is_checked()
    a.refresh_from_db()
    assert a.version == 2
    assert a.ratings[first.id]["presence"] == "serious"  # tab A's rating is kept
    assert second.id not in a.ratings
    _assert_accessible(tab_b)

    # Reloading tab B shows the saved draft and offers B's entries back; put
    # back, they are saved on top of A's rating, which stays.
    tab_b.get_by_role("link", name="Reload the saved draft").click()
    tab_b.wait_for_url(url)
    assert tab_b.locator(f'input[name="item-{first.id}-presence"][value="serious"]').is_checked()
    tab_b.get_by_role("button", name="Put my entries back").click()
    expect(tab_b.locator("[data-autosave-status]")).to_contain_text("Saved at", timeout=SAVE_WAIT)
    a.refresh_from_db()
    assert a.version == 3
    assert a.ratings[first.id]["presence"] == "serious"
    assert a.ratings[second.id] == {
        "presence": "some",
        "relevance": "",
        "evidence": "Tab B: staying with his sister for now",
    }
    assert csp_violations == []


def test_the_draft_page_saves_without_javascript_too(page, live_server):  # type: ignore[no-untyped-def]
    """The buttons save the whole form: "Complete assessment" lists what is
    missing at the top, linked to each field."""
    cast = build_cast()
    load_examples()
    a = assessment_start(
        actor=cast.case_manager, case_id=cast.case.pk, instrument="example-resettlement-needs"
    )
    _sign_in(page, live_server, cast.case_manager)
    page.wait_for_url(f"{live_server.url}/")
    page.goto(f"{live_server.url}/cases/{cast.case.pk}/assessments/{a.pk}/edit/")
    page.get_by_role("button", name="Complete assessment").click()
    summary = page.locator(".error-summary")
    expect(summary).to_be_visible()
    expect(summary).to_contain_text("Give your final judgement.")
    _assert_accessible(page)
    assert Assessment.objects.get(pk=a.pk).status == "draft"
