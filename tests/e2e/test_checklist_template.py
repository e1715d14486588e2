"""The coordinator edits the release-checklist template in a real browser.

With the keyboard only (focus, type, Enter), and an accessibility check on
every page it reaches, as in ``test_journey``.
"""

from __future__ import annotations

import re

import pytest

from prepare.plans.models import ChecklistTemplateItem
from tests.cast import build_cast
from tests.e2e.test_journey import _assert_accessible, _sign_in

pytestmark = pytest.mark.django_db(transaction=True)


def _press(locator, key: str = "Enter") -> None:  # type: ignore[no-untyped-def]
    locator.focus()
    locator.press(key)


def _type(locator, text: str) -> None:  # type: ignore[no-untyped-def]
    locator.focus()
    locator.press("Control+a")
    locator.press_sequentially(text)


def test_coordinator_edits_the_template_with_the_keyboard(page, live_server):  # type: ignore[no-untyped-def]
    cast = build_cast()
    csp_violations: list[str] = []
    page.on(
        "console",
        lambda msg: (
            csp_violations.append(msg.text) if "Content Security Policy" in msg.text else None
        ),
    )
    editor = f"{live_server.url}/partnerships/{cast.partnership.pk}/checklist-template/"

    _sign_in(page, live_server, cast.coordinator)
    page.wait_for_url(f"{live_server.url}/")
    page.goto(f"{live_server.url}/partnerships/{cast.partnership.pk}/")
    _press(page.get_by_role("link", name="Release checklist template"))
    page.wait_for_url(editor)
    assert page.get_by_role("cell", name="T-90 days").first.is_visible()
    _assert_accessible(page)

    # Add an item; first with a mistake, summarised at the top of the form.
    _press(page.get_by_role("link", name="Add an item"))
    page.wait_for_url(re.compile(r".*/checklist-template/items/new/$"))
    _assert_accessible(page)
    _type(page.get_by_label("What needs doing"), "Bus pass for the first week")
    page.get_by_label("Category").select_option("social")
    _type(page.get_by_label("Due, in days from the expected release"), "-400")
    _press(page.get_by_role("button", name="Add the item"))
    summary = page.get_by_role("alert")
    summary.wait_for()
    assert "There is a problem" in summary.inner_text()
    assert page.get_by_label("What needs doing").input_value() == "Bus pass for the first week"
    _assert_accessible(page)
    _type(page.get_by_label("Due, in days from the expected release"), "-3")
    page.get_by_label("Owner").select_option(label="Probation")
    _press(page.get_by_role("button", name="Add the item"))
    page.wait_for_url(re.compile(r".*/checklist-template/#template-item-\d+$"))
    row = page.locator("tr", has_text="Bus pass for the first week")
    assert "T-3 days" in row.inner_text() and "Probation (organisation type)" in row.inner_text()
    _assert_accessible(page)

    # Move it up one place, then change its due day.
    with page.expect_navigation():
        _press(page.get_by_role("button", name="Move up Bus pass for the first week"))
    titles = page.locator("tbody th[scope=row]").all_inner_texts()
    assert titles[-2:] == ["Bus pass for the first week", "Victim considerations"]
    _press(page.get_by_role("link", name="Change Bus pass for the first week"))
    page.wait_for_url(re.compile(r".*/checklist-template/items/\d+/$"))
    _assert_accessible(page)
    _type(page.get_by_label("Due, in days from the expected release"), "0")
    with page.expect_navigation():
        _press(page.get_by_role("button", name="Save the item"))
    assert "on the day" in page.locator("tr", has_text="Bus pass for the first week").inner_text()

    added = ChecklistTemplateItem.objects.get(title="Bus pass for the first week")
    assert (added.offset_days, added.owner_type, added.version) == (0, "probation", 3)
    assert not csp_violations, csp_violations
