"""A new installation set up through its pages, in Chromium.

From ``prepare setup`` on an empty database to a partnership of two
organisations with a coordinator, a second approver and a sharing agreement
that grants something: every step after the command is done in the browser,
by the person who would do it. Nobody opens a shell; the e-mails are read
from Django's test outbox, as the person would read them in their mailbox.

Set ``PREPARE_E2E_SCREENSHOTS`` to a directory to keep screenshots (1366 x 768)
of the administration home and the partnership pages.
"""

from __future__ import annotations

import base64
import datetime
import os
import re
import time
from pathlib import Path

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone
from django_otp.oath import TOTP

from prepare.accounts.models import Role, User
from prepare.partnerships.models import AccessChangeRequest, CategoryGrant, SharingAgreement
from tests.e2e.test_journey import _assert_accessible

pytestmark = pytest.mark.django_db(transaction=True)

ADMIN_PASSWORD = "the city's own long passphrase 42"
COORDINATOR_PASSWORD = "coordinating from the town hall 7"
DPO_PASSWORD = "the officer guards the log 19"
VIEWPORT = {"width": 1366, "height": 768}


class Phone:
    """An authenticator app: the key typed from the page, a code per time step.

    Each code is good once (a replay is refused), so a second code in the same
    30-second step is the next step's, which the server accepts (one step of
    tolerance); a third waits for the clock.
    """

    def __init__(self, key: str) -> None:
        letters = key.replace(" ", "")
        self.key = base64.b32decode(letters + "=" * (-len(letters) % 8))
        self.last: int | None = None

    def code(self) -> str:
        totp = TOTP(self.key)
        now = totp.t()
        step = now if self.last is None else max(now, self.last + 1)
        while step > now + 1:
            time.sleep(1)
            now = TOTP(self.key).t()
        totp.drift = step - now
        self.last = step
        return f"{totp.token():06d}"


def _phone_from(page) -> Phone:  # type: ignore[no-untyped-def]
    """The key printed under the QR code, as a person types it into their app."""
    return Phone(page.locator(".totp-key").inner_text())


def _link_for(address: str) -> str:
    """The path of the enrolment link in the last e-mail to ``address``."""
    message = [m for m in mail.outbox if m.to == [address]][-1]
    found = re.search(r"(/account/enrol/[0-9a-f-]+/)", message.body)
    assert found, message.body
    return found.group(1)


def _shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    target = os.environ.get("PREPARE_E2E_SCREENSHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(target) / f"{name}.png"))


def _gaps(page) -> list[str]:  # type: ignore[no-untyped-def]
    return [text.strip() for text in page.locator(".gap-list__item > span").all_inner_texts()]


def _enrol(page, live_server, address: str, password: str) -> Phone:  # type: ignore[no-untyped-def]
    """Follow the e-mailed link: choose a password, set up the app, done."""
    page.goto(f"{live_server.url}{_link_for(address)}")
    assert page.get_by_role("heading", name="Set up your PREPARE account").is_visible()
    _assert_accessible(page)
    # The e-mail address is the username, and the page says so.
    assert address.lower() in page.locator("main").inner_text()
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_label("The same password again").fill(password)
    phone = _phone_from(page)
    page.get_by_label("Authentication code").fill(phone.code())
    page.get_by_role("button", name="Finish setting up my account").click()
    page.wait_for_load_state()
    assert "/account/enrol/" not in page.url
    return phone


def test_a_new_installation_is_set_up_through_its_pages(  # type: ignore[no-untyped-def]
    browser, live_server, monkeypatch
):
    # --- The command: the first administrator, on an empty database.
    assert not User.objects.exists()
    monkeypatch.setenv("PREPARE_ADMIN_PASSWORD", ADMIN_PASSWORD)
    call_command(
        "setup", "--no-input", "--username", "ops", "--email", "ops@testdam.example",
        "--first-name", "Olga", "--last-name", "Peters",
    )  # fmt: skip
    today = timezone.localdate()
    csp_violations: list[str] = []

    def new_page():  # type: ignore[no-untyped-def]
        context = browser.new_context(locale="en-GB", viewport=VIEWPORT)
        page = context.new_page()
        page.on(
            "console",
            lambda msg: (
                csp_violations.append(msg.text) if "Content Security Policy" in msg.text else None
            ),
        )
        return page

    # --- The administrator signs in: password, then the authenticator they set up now.
    admin = new_page()
    admin.goto(f"{live_server.url}/account/sign-in/")
    admin.get_by_label("Username").fill("ops")
    admin.get_by_label("Password").fill(ADMIN_PASSWORD)
    admin.get_by_role("button", name="Sign in").click()
    admin.wait_for_url(f"{live_server.url}/account/two-factor/")
    _assert_accessible(admin)
    admin_phone = _phone_from(admin)
    admin.get_by_label("Authentication code").fill(admin_phone.code())
    admin.get_by_role("button", name="Confirm").click()
    admin.wait_for_url(f"{live_server.url}/administration/")

    # The administration home says what is missing, and where to fix it.
    assert _gaps(admin) == [
        "No organisation yet: every account and partnership belongs to one.",
        "No partnership yet: cases are worked on inside a partnership.",
    ]
    _assert_accessible(admin)
    _shot(admin, "01-administration-home-empty")

    admin.get_by_role("link", name="Add an organisation").click()
    for name, kind, city in (
        ("Gemeente Testdam", "local_authority", "Testdam"),
        ("Reclassering Testdam", "probation", "Testdam"),
    ):
        admin.goto(f"{live_server.url}/administration/organisations/new/")
        admin.get_by_label("Name").fill(name)
        admin.get_by_label("Type").select_option(kind)
        admin.get_by_label("Country").fill("nl")
        admin.get_by_label("City").fill(city)
        admin.get_by_role("button", name="Add the organisation").click()
        admin.wait_for_url(f"{live_server.url}/administration/organisations/")
        assert admin.get_by_text(f"The organisation {name} is added.").is_visible()

    admin.get_by_role("link", name="What is missing").click()
    assert _gaps(admin) == ["No partnership yet: cases are worked on inside a partnership."]
    admin.get_by_role("link", name="Create a partnership").click()
    _assert_accessible(admin)
    admin.get_by_label("Name").fill("Testdam safety partnership")
    admin.get_by_label("Code").fill("tsp")
    admin.get_by_label("Coordinating organisation").select_option(label="Gemeente Testdam")
    admin.get_by_label("Time zone").select_option("Europe/Amsterdam")
    admin.get_by_role("button", name="Create the partnership").click()

    # Straight on to its coordinator: a new account, invited by e-mail.
    admin.get_by_role(
        "heading", name="Appoint a coordinator of Testdam safety partnership"
    ).wait_for()
    _assert_accessible(admin)
    assert admin.get_by_label("Username").count() == 0
    new_account = admin.locator(
        "form", has=admin.get_by_role("button", name="Create the coordinator's account")
    )
    new_account.get_by_label("E-mail address").fill("Sanne.Verbeek@Testdam.example")
    new_account.get_by_label("First name").fill("Sanne")
    new_account.get_by_label("Last name").fill("Verbeek")
    new_account.get_by_role("button", name="Create the coordinator's account").click()
    admin.get_by_role("heading", name="Testdam safety partnership").wait_for()
    assert admin.get_by_text(
        "a link to set it up is e-mailed to Sanne.Verbeek@testdam.example"
    ).is_visible()
    coordinator_account = User.objects.get(email="Sanne.Verbeek@testdam.example")
    assert coordinator_account.username == "sanne.verbeek@testdam.example"
    assert (coordinator_account.role, coordinator_account.is_active) == (Role.COORDINATOR, False)

    # --- The coordinator follows the link in a browser of their own.
    coordinator = new_page()
    coordinator_phone = _enrol(
        coordinator, live_server, "Sanne.Verbeek@testdam.example", COORDINATOR_PASSWORD
    )
    coordinator.get_by_role("heading", name="Today", exact=True).wait_for()

    # Back at the administration: one approver is not enough for the agreement.
    admin.goto(f"{live_server.url}/administration/")
    gaps = _gaps(admin)
    assert any(g.startswith("Testdam safety partnership has one approver") for g in gaps), gaps
    assert "Testdam safety partnership has fewer than two member organisations." in gaps
    assert any("has no information-sharing agreement in force" in g for g in gaps)
    assert not any("has no coordinator" in g for g in gaps)
    _shot(admin, "02-administration-home-gaps")
    admin.get_by_role("link", name="Invite a second approver").click()
    admin.get_by_role("heading", name="Invite a person to Gemeente Testdam").wait_for()
    _assert_accessible(admin)
    admin.get_by_label("First name").fill("Hanneke")
    admin.get_by_label("Last name").fill("Visser")
    admin.get_by_label("E-mail address").fill("privacy@testdam.example")
    admin.get_by_label("Role").select_option("auditor")
    admin.get_by_role("button", name="Send the invitation").click()
    admin.get_by_text("Hanneke Visser is invited.").wait_for()

    dpo = new_page()
    dpo_phone = _enrol(dpo, live_server, "privacy@testdam.example", DPO_PASSWORD)
    dpo.get_by_role("heading", name="Audit log").wait_for()

    # --- The coordinator signs in again, as on any other morning.
    coordinator.get_by_role("button", name="Sign out").click()
    coordinator.wait_for_url(f"{live_server.url}/account/sign-in/")
    coordinator.get_by_label("Username").fill("sanne.verbeek@testdam.example")
    coordinator.get_by_label("Password").fill(COORDINATOR_PASSWORD)
    coordinator.get_by_label("Authentication code").fill(coordinator_phone.code())
    coordinator.get_by_role("button", name="Sign in").click()
    coordinator.get_by_role("heading", name="Today", exact=True).wait_for()

    # The second organisation joins, from today for two years.
    coordinator.get_by_role("link", name="Partnerships", exact=True).click()
    coordinator.get_by_role("link", name="Testdam safety partnership").click()
    coordinator.get_by_role("link", name="Add or end members").first.click()
    _assert_accessible(coordinator)
    until = today + datetime.timedelta(days=730)
    coordinator.get_by_label("Organisation").select_option(label="Reclassering Testdam")
    coordinator.get_by_label("Member from").fill(today.isoformat())
    coordinator.get_by_label("Member until").fill(until.isoformat())
    coordinator.get_by_role("button", name="Add the member").click()
    coordinator.get_by_role("rowheader", name="Reclassering Testdam").wait_for()

    # The first agreement: its text, then its grid.
    coordinator.goto(f"{live_server.url}/partnerships/")
    coordinator.get_by_role("link", name="Testdam safety partnership").click()
    coordinator.get_by_role("link", name="Set up the information-sharing agreement").click()
    _assert_accessible(coordinator)
    coordinator.get_by_label("Title").fill("Testdam covenant 2027")
    coordinator.get_by_label("Legal basis").select_option("covenant")
    coordinator.get_by_label("Legal reference").fill("Covenant art. 4")
    coordinator.get_by_label("Valid from").fill(today.isoformat())
    coordinator.get_by_role("button", name="Create the new version").click()
    coordinator.get_by_role("heading", name="Edit the grid of “Testdam covenant 2027”").wait_for()
    _assert_accessible(coordinator)
    coordinator.get_by_label("Reclassering Testdam — Justice").select_option("read")
    coordinator.get_by_label("Reclassering Testdam — Risk").select_option("write")
    coordinator.get_by_label("Gemeente Testdam — Identity").select_option("write")
    coordinator.get_by_label("Your current one-time code").fill(coordinator_phone.code())
    coordinator.get_by_role("button", name="Save the agreement").click()
    # Widening waits for a second person.
    coordinator.get_by_role(
        "heading", name="A change that widens access: “Testdam covenant 2027”"
    ).wait_for()
    assert "Waiting for a second approver" in coordinator.locator(".summary-list").inner_text()
    assert AccessChangeRequest.objects.get().status == "pending"
    agreement = SharingAgreement.objects.get()
    assert not CategoryGrant.objects.filter(agreement=agreement).exists()

    # --- The data-protection officer approves it with their own fresh code.
    dpo.get_by_role("link", name="Partnerships", exact=True).click()
    dpo.get_by_role("link", name="Testdam safety partnership").click()
    dpo.get_by_role("link", name="Changes of access waiting for approval").click()
    dpo.get_by_role("link", name=re.compile("proposed by Sanne Verbeek")).click()
    _assert_accessible(dpo)
    dpo.get_by_label("Your current one-time code").fill(dpo_phone.code())
    dpo.get_by_role("button", name="Approve the change").click()
    dpo.get_by_text("Approved and applied").first.wait_for()
    assert AccessChangeRequest.objects.get().status == "approved"
    assert set(
        CategoryGrant.objects.filter(agreement=agreement).values_list(
            "organisation__name", "category", "access"
        )
    ) == {
        ("Reclassering Testdam", "justice", "read"),
        ("Reclassering Testdam", "risk", "write"),
        ("Gemeente Testdam", "identity", "write"),
    }

    # The coordinator sees the grid in force on the partnership's page.
    coordinator.goto(f"{live_server.url}/partnerships/")
    coordinator.get_by_role("link", name="Testdam safety partnership").click()
    coordinator.get_by_role("heading", name="In force").wait_for()
    _shot(coordinator, "04-partnership-coordinator")

    # --- Nothing is missing any more, says the administration home.
    admin.goto(f"{live_server.url}/administration/")
    assert _gaps(admin) == []
    assert admin.get_by_text("Nothing is missing").is_visible()
    _assert_accessible(admin)
    _shot(admin, "03-administration-home-complete")
    admin.locator(".admin-nav").get_by_role("link", name="Partnerships").click()
    admin.get_by_role("link", name="Testdam safety partnership").click()
    _shot(admin, "05-partnership-administration")
    body = admin.locator("main").inner_text()
    assert "Testdam covenant 2027" in body and "Reclassering Testdam" in body
    assert not csp_violations, csp_violations
