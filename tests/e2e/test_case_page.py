"""The case page as a probation officer reads it between two meetings: the
situation on the first screen at 1366 by 768, the sections by keyboard, forms on
demand, a save that confirms itself, and an accessibility check on each page."""

from __future__ import annotations

import datetime
import re

import pytest
from django.utils import timezone

from prepare.cases.models import KeyDate, KeyDateKind
from prepare.monitoring.models import Contact, Signal, SignalAlert
from prepare.plans.models import ChecklistItem
from tests.cast import build_cast
from tests.e2e.test_journey import _assert_accessible, _sign_in

pytestmark = pytest.mark.django_db(transaction=True)

FIRST_SCREEN = {"width": 1366, "height": 768}


def _situation(cast) -> None:  # type: ignore[no-untyped-def]
    """A release in 12 days, an overdue checklist item, an urgent signal waiting
    for the case manager, and a contact three days ago."""
    today = timezone.localdate()
    manager = cast.case_manager
    KeyDate.objects.create(
        case=cast.case,
        kind=KeyDateKind.EXPECTED_RELEASE,
        date=today + datetime.timedelta(days=12),
        updated_by=manager,
    )
    ChecklistItem.objects.create(
        case=cast.case,
        title="Housing arranged",
        category="social",
        due_on=today - datetime.timedelta(days=3),
        owner_organisation=cast.orgs["probation"],
        created_by=manager,
    )
    signal = Signal.objects.create(
        case=cast.case,
        category="risk",
        severity="urgent",
        escalated=True,
        description="Contact with the former network.",
        raised_by=cast.coordinator,
        created_by=cast.coordinator,
        updated_by=cast.coordinator,
    )
    SignalAlert.objects.create(signal=signal, user=manager)
    Contact.objects.create(
        case=cast.case,
        category="social",
        kind="home_visit",
        occurred_at=timezone.now() - datetime.timedelta(days=3),
        who=manager,
        summary="Home visit: the flat is ready.",
        created_by=manager,
        updated_by=manager,
    )


def test_the_case_page_shows_the_situation_on_the_first_screen(page, live_server):  # type: ignore[no-untyped-def]
    cast = build_cast()
    _situation(cast)
    csp_violations: list[str] = []
    page.on(
        "console",
        lambda msg: (
            csp_violations.append(msg.text) if "Content Security Policy" in msg.text else None
        ),
    )
    page.set_viewport_size(FIRST_SCREEN)
    _sign_in(page, live_server, cast.case_manager)
    page.wait_for_url(f"{live_server.url}/")
    _assert_accessible(page)

    page.goto(f"{live_server.url}/cases/{cast.case.pk}/")
    summary = page.locator(".case-summary")
    for label, value in [
        ("Status", "Active: pre-release"),
        ("Next key date", "In 12 days"),
        ("Signals not acknowledged", "Urgent"),
        ("Release planning", "1 overdue"),
        ("Last contact", "3 days ago"),
        ("Case team", "Probation"),
    ]:
        cell = summary.locator(".case-summary__cell").filter(
            has=page.get_by_role("heading", name=label, exact=True)
        )
        assert value in cell.inner_text(), (label, cell.inner_text())
        box = cell.bounding_box()
        assert box is not None and box["y"] + box["height"] <= FIRST_SCREEN["height"], label
    # Nothing consequential is a button on the first screen.
    assert not page.get_by_role("button", name=re.compile("custody|closure", re.I)).count()
    more = page.locator("details#more-actions")
    assert more.get_attribute("open") is None
    _assert_accessible(page)

    # The in-page navigation by keyboard: focus a link, Enter, the section is there.
    link = page.locator(".page-nav").get_by_role("link", name="Notes")
    link.focus()
    link.press("Enter")
    page.wait_for_url(re.compile(r"#notes$"))
    assert page.locator("#notes").is_visible()

    # A contact, recorded from a form opened on demand, defaults to now and
    # confirms itself in the announced message region.
    page.locator("summary", has_text="Record a contact").click()
    form = page.locator("form[action$='/contacts/']")
    when = form.get_by_label("When").input_value()
    assert when[:10] == timezone.localtime(timezone.now()).strftime("%Y-%m-%d")
    form.get_by_label("Category").select_option("social")
    form.get_by_label("Kind of contact").select_option("call")
    form.get_by_label("Did not attend").check()
    form.get_by_label("Summary").fill("Called: no answer, will try again on Monday.")
    form.get_by_role("button", name="Record the contact").click()
    status = page.get_by_role("status")
    status.get_by_text("The contact is recorded.").wait_for()
    recorded = Contact.objects.get(summary__startswith="Called: no answer")
    assert recorded.outcome == "did_not_attend"
    _assert_accessible(page)

    # Its correction is on a small page of its own, which keeps the earlier version.
    page.goto(f"{live_server.url}/monitoring/cases/{cast.case.pk}/contacts/{recorded.pk}/")
    _assert_accessible(page)
    page.get_by_label("Summary").fill("Called: he answered, meeting on Monday.")
    page.get_by_label("Attended").check()
    page.get_by_label("Why is it corrected?").fill("Wrong outcome recorded.")
    page.get_by_role("button", name="Save the correction").click()
    page.wait_for_url(re.compile(rf"/cases/{cast.case.pk}/#contact-{recorded.pk}$"))
    page.get_by_role("status").get_by_text("The contact is corrected.").wait_for()
    recorded.refresh_from_db()
    assert (recorded.outcome, recorded.version) == ("attended", 2)
    assert recorded.versions.get().summary.startswith("Called: no answer")

    # More actions opens on demand and leads to the confirmed status change.
    page.locator("details#more-actions > summary").click()
    page.locator("details#more-actions").get_by_role("link", name="Change the status").click()
    _assert_accessible(page)
    assert page.get_by_label("I confirm: Released into the community").is_visible()
    assert not csp_violations, csp_violations
