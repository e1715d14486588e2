"""The administrator loads instruments and an account manager records a
training, in a real browser, with an accessibility check per page."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from prepare.accounts.models import Role, TrainingRecord
from prepare.assessments.files import to_yaml
from prepare.assessments.models import InstrumentVersion
from tests.assessments.support import NEEDS, RISK, example
from tests.cast import build_cast
from tests.e2e.test_journey import _assert_accessible, _sign_in
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _yaml(content: dict, name: str) -> dict:
    return {"name": name, "mimeType": "application/yaml", "buffer": to_yaml(content).encode()}


def test_the_administrator_loads_instruments_and_reads_a_version(page, live_server):  # type: ignore[no-untyped-def]
    build_cast()
    admin = UserFactory(username="admin", organisation=None, role=Role.ADMINISTRATOR)
    _sign_in(page, live_server, admin)
    page.wait_for_url(f"{live_server.url}/administration/")

    page.get_by_role("link", name="Instruments", exact=True).click()
    page.wait_for_url(f"{live_server.url}/administration/instruments/")
    _assert_accessible(page)

    page.get_by_role("link", name="Load instruments").click()
    _assert_accessible(page)
    bad = example(RISK)
    bad["items"][12]["scale"] = "hi-lo"
    page.get_by_label("Instrument files").set_input_files([_yaml(bad, "bad.yaml")])
    page.get_by_role("button", name="Load the files").click()
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert 'bad.yaml: items[12].scale: unknown scale "hi-lo"' in alert.inner_text()
    assert InstrumentVersion.objects.count() == 0
    _assert_accessible(page)

    page.get_by_label("Instrument files").set_input_files(
        [_yaml(example(RISK), "risk.yaml"), _yaml(example(NEEDS), "needs.yaml")]
    )
    page.get_by_role("button", name="Load the files").click()
    page.wait_for_url(f"{live_server.url}/administration/instruments/")
    assert page.get_by_text("Loaded: example-extremism-risk version 1.0").is_visible()
    assert InstrumentVersion.objects.count() == 2
    _assert_accessible(page)

    page.get_by_role("link", name="Version 1.0").first.click()
    page.get_by_role("heading", name="Beliefs and attitudes").wait_for()
    _assert_accessible(page)


def test_an_account_manager_records_and_removes_a_training(page, live_server):  # type: ignore[no-untyped-def]
    cast = build_cast()
    manager = UserFactory(
        username="probation_office",
        organisation=cast.orgs["probation"],
        role=Role.OBSERVER,
        manages_accounts=True,
    )
    person = cast.case_manager
    _sign_in(page, live_server, manager)
    page.wait_for_url(f"{live_server.url}/**")
    page.goto(f"{live_server.url}/account/people/{person.pk}/")
    _assert_accessible(page)

    page.locator("summary", has_text="Record a training").click()
    page.get_by_role("combobox", name="Training").fill("risk-assessment-basics")
    completed = timezone.localdate() - datetime.timedelta(days=3)
    page.get_by_label("Completed on").fill(completed.isoformat())
    page.get_by_role("button", name="Record the training").click()
    page.get_by_text("is recorded.").wait_for()
    assert TrainingRecord.objects.filter(user=person, training="risk-assessment-basics").exists()
    _assert_accessible(page)

    page.get_by_role("link", name="Remove risk-assessment-basics").click()
    _assert_accessible(page)
    page.get_by_role("button", name="Remove the record").click()
    page.get_by_text("is removed.").wait_for()
    assert not TrainingRecord.objects.filter(user=person).exists()
