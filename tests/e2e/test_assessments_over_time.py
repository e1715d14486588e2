"""The assessments of a case over time in a real browser: choosing two to
compare with the keyboard, the comparison and the trajectory's charts, each
page checked for accessibility and for Content Security Policy reports."""

from __future__ import annotations

import pytest

from tests.assessments.test_over_time import across_versions, trajectory_url
from tests.cast import build_cast
from tests.e2e.test_journey import _assert_accessible, _sign_in

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_case_manager_compares_two_assessments_and_follows_the_trajectory(  # type: ignore[no-untyped-def]
    page, live_server
):
    cast = build_cast()
    first, second = across_versions(cast)
    csp_violations: list[str] = []
    page.on(
        "console",
        lambda msg: (
            csp_violations.append(msg.text) if "Content Security Policy" in msg.text else None
        ),
    )
    _sign_in(page, live_server, cast.case_manager)
    page.wait_for_url(f"{live_server.url}/")

    page.goto(f"{live_server.url}/cases/{cast.case.pk}/assessments/compare/")
    assert page.get_by_role("heading", name="Choose two assessments").is_visible()
    _assert_accessible(page)
    page.get_by_label("First assessment").select_option(str(first.pk))
    page.get_by_label("Second assessment").select_option(str(second.pk))
    page.get_by_role("button", name="Compare").press("Enter")
    page.wait_for_url(f"**/assessments/compare/?a={first.pk}&b={second.pk}")
    assert page.get_by_text("Different instrument versions").is_visible()
    assert page.locator(".compare-row--changed").first.is_visible()
    _assert_accessible(page)

    page.get_by_role("link", name="See every completed assessment").click()
    page.wait_for_url(f"{live_server.url}{trajectory_url(cast)}")
    assert page.get_by_text("Nothing is added up.", exact=True).is_visible()
    chart = page.get_by_role("img", name="Housing")
    assert chart.is_visible()
    assert page.get_by_role("table", name="Housing: the data of the chart").is_visible()
    _assert_accessible(page)
    assert not csp_violations, csp_violations
