"""``prepare demo``: the demo world loads once, fully, audited, and its logins work."""

from __future__ import annotations

import base64
import datetime
import io
import re

import pytest
from django.core.management import call_command
from django.db import transaction
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from prepare.access.categories import Action, Category
from prepare.access.models import CaseGrant
from prepare.access.policy import grants_for, visible_cases
from prepare.accounts.models import Organisation, Role, User
from prepare.audit.chain import verify
from prepare.audit.models import Event, EventAction
from prepare.cases.models import (
    Case,
    CaseNote,
    CaseStatus,
    CaseTeamMember,
    CaseTransition,
    ErasureRequest,
    ErasureStatus,
    KeyDate,
    KeyDateKind,
    Person,
    Referral,
    TriageDecision,
)
from prepare.cases.models.transfer import Transfer, TransferStatus
from prepare.demo.data import DEMO_PASSWORD, PARTNERSHIPS
from prepare.monitoring.models import (
    Breach,
    Contact,
    LicenceCondition,
    Severity,
    Signal,
    SignalAlert,
    SignalStatus,
)
from prepare.notifications.models import Notification, NotificationKind
from prepare.partnerships.models import CategoryGrant, Membership, Partnership, SharingAgreement
from prepare.plans.models import ChecklistItem, ItemStatus
from tests.cast import verified_client

MODELS = (
    Organisation,
    Partnership,
    Membership,
    SharingAgreement,
    CategoryGrant,
    User,
    TOTPDevice,
    Person,
    Case,
    CaseTeamMember,
    CaseNote,
    CaseGrant,
    Referral,
    TriageDecision,
    CaseTransition,
    KeyDate,
    ChecklistItem,
    Contact,
    LicenceCondition,
    Breach,
    Signal,
    SignalAlert,
    Transfer,
    Notification,
    Event,
)


def run_demo(*args: str) -> str:
    out = io.StringIO()
    call_command("demo", "--no-serve", *args, stdout=out)
    return out.getvalue()


@pytest.fixture(scope="module")
def first_output(django_db_setup, django_db_blocker):
    """The demo loaded once for the module, inside a transaction rolled back at its end.

    Each test runs in a savepoint inside it (the ``db`` fixture), so what a
    test changes is undone before the next one.
    """
    with (
        django_db_blocker.unblock(),
        override_settings(
            DEMO=True,
            DEMO_SKIP_MFA=False,
            PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
        ),
    ):
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            yield run_demo()
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)


@pytest.fixture
def demo(first_output, settings, db):
    settings.DEMO = True
    settings.DEMO_SKIP_MFA = False
    return first_output


def counts() -> dict[str, int]:
    return {m.__name__: m.objects.count() for m in MODELS}


def secret_in(output: str, username: str) -> str:
    match = re.search(rf"^\s+{re.escape(username)}\s.*?\s([A-Z2-7]{{32}})\s+\d{{6}}$", output, re.M)
    assert match, f"no login line for {username}"
    return match.group(1)


def code_for(secret: str) -> str:
    return f"{totp(base64.b32decode(secret)):06d}"


def test_demo_loads_the_whole_world_once_and_audits_it(demo):
    first = demo

    assert Partnership.objects.count() == 3
    for partnership in Partnership.objects.all():
        assert Membership.objects.filter(partnership=partnership).count() >= 6
        assert Case.objects.filter(partnership=partnership).count() >= 14
        agreement = SharingAgreement.objects.get(partnership=partnership)
        assert CategoryGrant.objects.filter(agreement=agreement).count() >= 30
    assert {p.timezone for p in Partnership.objects.all()} == {
        "Europe/Amsterdam",
        "Europe/Madrid",
        "Europe/Brussels",
    }
    assert Case.objects.count() >= 40
    assert set(User.objects.values_list("role", flat=True)) == set(Role.values)
    assert User.objects.filter(role=Role.ADMINISTRATOR, is_superuser=True).exists()
    assert set(CaseNote.objects.values_list("category", flat=True)) == set(Category.values)
    assert len(set(Case.objects.values_list("status", flat=True))) == len(CaseStatus.values)
    # Every account can sign in with a second factor.
    assert TOTPDevice.objects.filter(confirmed=True).count() == User.objects.count()
    assert all(u.check_password(DEMO_PASSWORD) for u in User.objects.all())
    # Several notes per case, each by a member of the case team or the coordinator.
    for case in Case.objects.prefetch_related("notes", "team"):
        notes = list(case.notes.all())
        assert len(notes) >= 2
        team_orgs = {m.organisation_id for m in case.team.all()}
        team_orgs.add(case.partnership.coordinating_organisation_id)
        assert {n.created_by.organisation_id for n in notes} <= team_orgs
    # The history spreads over months, and the caseload index follows it.
    updated = sorted(Case.objects.values_list("updated_at", flat=True))
    assert (updated[-1] - updated[0]).days > 90
    for grant in CaseGrant.objects.select_related("case"):
        assert (grant.sort_key, grant.status) == (grant.case.updated_at, grant.case.status)
    # Written through the services: every case, note and team entry is in the chain.
    created = Event.objects.filter(action=EventAction.CREATE)
    assert created.filter(object_type="cases.casenote").count() == CaseNote.objects.count()
    assert set(created.filter(object_type="cases.case").values_list("object_id", flat=True)) == {
        str(pk) for pk in Case.objects.values_list("pk", flat=True)
    }
    assert Event.objects.filter(action=EventAction.TEAM_CHANGE).count() == (
        CaseTeamMember.objects.count()
    )
    assert verify() is None
    call_command("audit", "verify", stdout=io.StringIO())

    # The banner: where to go and one login per role, with its authenticator secret.
    assert "http://127.0.0.1:8000/" in first
    assert DEMO_PASSWORD in first
    assert "PREPARE_DEMO_SKIP_MFA=1" in first
    for role in Role.values:
        usernames = User.objects.filter(role=role).values_list("username", flat=True)
        assert any(re.search(rf"^\s+{re.escape(u)}\s", first, re.M) for u in usernames), role
    coordinator = User.objects.get(username="rtm.coordinator")
    device = TOTPDevice.objects.get(user=coordinator)
    assert secret_in(first, "rtm.coordinator") == base64.b32encode(device.bin_key).decode()

    before = counts()
    second = run_demo()
    assert counts() == before
    assert "nothing added" in second
    assert secret_in(second, "rtm.coordinator") == secret_in(first, "rtm.coordinator")
    assert verify() is None


def test_demo_shows_the_lifecycle_in_every_partnership(demo):
    today = timezone.localdate()
    for partnership in Partnership.objects.all():
        cases = Case.objects.filter(partnership=partnership)
        # The release board: expected releases within 30, 90 and 180 days.
        releases = KeyDate.objects.filter(case__in=cases, kind=KeyDateKind.EXPECTED_RELEASE)
        for low, high in ((0, 30), (30, 90), (90, 180)):
            window = releases.filter(
                date__gt=today + datetime.timedelta(days=low),
                date__lte=today + datetime.timedelta(days=high),
            )
            assert window.exists(), (partnership.code, high)
        assert KeyDate.objects.filter(case__in=cases, kind=KeyDateKind.SENTENCE_START).exists()
        assert KeyDate.objects.filter(case__in=cases, kind=KeyDateKind.SENTENCE_END).exists()
        assert KeyDate.objects.filter(case__in=cases, kind=KeyDateKind.NEXT_REVIEW).exists()
        # Release planning under way: done, not applicable and overdue items.
        items = ChecklistItem.objects.filter(case__in=cases)
        assert items.filter(status=ItemStatus.DONE).exists()
        assert items.filter(status=ItemStatus.NOT_APPLICABLE).exists()
        assert items.filter(status=ItemStatus.OPEN, due_on__lt=today).count() >= 2
        # Every open item is due relative to its case's expected release.
        for item in items.select_related("case"):
            release = releases.get(case=item.case).date
            assert item.due_on == release + datetime.timedelta(days=item.offset_days)
        # The triage queue: referred and in triage, each with its referral.
        waiting = cases.filter(status__in=[CaseStatus.REFERRED, CaseStatus.TRIAGE])
        assert waiting.filter(status=CaseStatus.REFERRED).count() >= 2
        assert waiting.filter(status=CaseStatus.TRIAGE).count() >= 2
        assert Referral.objects.filter(case__in=waiting).count() == waiting.count()
        assert TriageDecision.objects.filter(case__in=cases).exists()
        assert (
            CaseTransition.objects.filter(case__in=cases, to_status=CaseStatus.TRIAGE).count()
            >= waiting.filter(status=CaseStatus.TRIAGE).count()
        )
        # Monitoring: contacts, a breached licence condition, escalated signals.
        assert Contact.objects.filter(case__in=cases).count() >= 3
        assert Breach.objects.filter(case__in=cases, condition__case__in=cases).exists()
        coordinator = User.objects.get(username=f"{partnership.code.lower()}.coordinator")
        signals = Signal.objects.filter(case__in=cases)
        for severity in (Severity.HIGH, Severity.URGENT):
            open_signal = signals.filter(
                severity=severity, status=SignalStatus.OPEN, escalated=True
            ).first()
            assert open_signal is not None, (partnership.code, severity)
            assert SignalAlert.objects.filter(
                signal=open_signal, user=coordinator, closed_at__isnull=True
            ).exists()
            # The alert reaches only someone the policy lets read the signal.
            assert Signal.objects.visible_to(coordinator).filter(pk=open_signal.pk).exists()
        acknowledged = signals.get(status=SignalStatus.ACKNOWLEDGED)
        assert acknowledged.acknowledged_by == coordinator
        assert not SignalAlert.objects.filter(signal=acknowledged, closed_at__isnull=True).exists()
        # The bell: reminders for the coordinator, among them the overdue items and signals.
        kinds = set(Notification.objects.filter(user=coordinator).values_list("kind", flat=True))
        assert NotificationKind.SIGNAL in kinds, (partnership.code, kinds)
        assert NotificationKind.RELEASE in kinds or NotificationKind.CHECKLIST_OVERDUE in kinds
        # Closed cases carry their outcome and follow-up reviews.
        for case in cases.filter(status=CaseStatus.CLOSED):
            assert case.outcome and case.closed_on and case.closed_on < today
            follow_ups = KeyDate.objects.filter(
                case=case, kind__in=[KeyDateKind.FOLLOW_UP_6, KeyDateKind.FOLLOW_UP_12]
            )
            assert follow_ups.count() == 2

    # What the Rotterdam coordinator sees on signing in.
    coordinator = User.objects.get(username="rtm.coordinator")
    client = verified_client(coordinator)
    soon = KeyDate.objects.get(
        case__partnership__code="RTM",
        kind=KeyDateKind.EXPECTED_RELEASE,
        date=today + datetime.timedelta(days=20),
    )
    board = client.get(reverse("plans:release_board"))
    assert board.status_code == 200
    assert soon.case.reference in board.content.decode()
    referred = Case.objects.filter(partnership__code="RTM", status=CaseStatus.REFERRED).first()
    queue = client.get(reverse("cases:triage_queue"))
    assert queue.status_code == 200
    assert referred.reference in queue.content.decode()

    # One transfer waits in the Vilvoorde coordinator's inbox.
    transfer = Transfer.objects.get()
    assert transfer.status == TransferStatus.PROPOSED
    assert (transfer.from_partnership.code, transfer.to_partnership.code) == ("RTM", "VIL")
    assert transfer.case.partnership.code == "RTM"
    receiving = User.objects.get(username="vil.coordinator")
    inbox = verified_client(receiving).get(reverse("cases:transfer_inbox"))
    assert inbox.status_code == 200
    assert transfer.case.reference in inbox.content.decode()

    # Each partnership's DPO has one erasure of a closed case to approve.
    for partnership in Partnership.objects.all():
        request = ErasureRequest.objects.get(case__partnership=partnership)
        assert request.status == ErasureStatus.PENDING
        assert request.case.status == CaseStatus.CLOSED
        dpo = User.objects.get(username=f"{partnership.code.lower()}.dpo")
        page = verified_client(dpo).get(reverse("cases:erasure_requests"))
        assert page.status_code == 200
        assert request.case.reference in page.content.decode()
        assert Notification.objects.filter(
            user=dpo, kind=NotificationKind.ERASURE, case_id=request.case_id
        ).exists()

    # Everything went through the audited services: the chain holds.
    assert Event.objects.filter(action=EventAction.TRANSFER, object_id=str(transfer.pk)).exists()
    assert verify() is None


def test_demo_keeps_what_visitors_changed(demo):
    note = CaseNote.objects.order_by("pk").first()
    CaseNote.objects.filter(pk=note.pk).update(text="Edited during the demo.")
    user = User.objects.get(username="rtm.exit")
    user.set_password("a visitor's new passphrase")
    user.save()

    run_demo()

    note.refresh_from_db()
    user.refresh_from_db()
    assert note.text == "Edited during the demo."
    assert user.check_password("a visitor's new passphrase")


def test_agencies_see_different_parts_of_the_same_case(demo):
    spec = PARTNERSHIPS[0]
    first = spec.persons[0]
    assert "police" in first.team.split() and "exit" in first.team.split()
    case = Case.objects.get(
        person__given_name=first.given_name, person__family_name=first.family_name
    )
    coordinator = User.objects.get(username="rtm.coordinator")
    police = User.objects.get(username="rtm.police")
    ngo = User.objects.get(username="rtm.exit")
    pid = case.partnership_id

    readable = {
        u.username: grants_for(u).categories(pid, Action.READ) for u in (coordinator, police, ngo)
    }
    assert Category.INTELLIGENCE in readable["rtm.police"]
    assert Category.INTELLIGENCE not in readable["rtm.coordinator"]
    assert Category.IDENTITY in readable["rtm.coordinator"] & readable["rtm.police"]
    assert Category.IDENTITY not in readable["rtm.exit"]
    assert Category.INTERVENTIONS in grants_for(ngo).categories(pid, Action.WRITE)
    assert len({frozenset(c) for c in readable.values()}) == 3

    # All three reach the case; each reads only its own categories of it.
    for user in (coordinator, police, ngo):
        assert visible_cases(user).filter(pk=case.pk).exists()
        seen = set(
            CaseNote.objects.visible_to(user).filter(case=case).values_list("category", flat=True)
        )
        assert seen and seen <= readable[user.username]
    all_categories = set(case.notes.values_list("category", flat=True))
    assert Category.INTELLIGENCE in all_categories and Category.IDENTITY in all_categories

    # The NGO knows the case by its reference, never by the person's name.
    response = verified_client(ngo).get(reverse("cases:case", args=[case.pk]))
    assert response.status_code == 200
    body = response.content.decode()
    assert case.reference in body
    assert first.family_name not in body
    intelligence = case.notes.filter(category=Category.INTELLIGENCE).first()
    assert intelligence.text not in body
    police_body = verified_client(police).get(reverse("cases:case", args=[case.pk])).content
    assert intelligence.text.encode() in police_body


def test_printed_login_signs_in(demo, client):
    output = run_demo("--port", "8765")
    assert "http://127.0.0.1:8765/" in output
    secret = secret_in(output, "rtm.coordinator")

    response = client.post(
        reverse("accounts:login"),
        {"username": "rtm.coordinator", "password": DEMO_PASSWORD, "code": code_for(secret)},
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("home:home")
    login = Event.objects.filter(action=EventAction.LOGIN).get()
    assert login.actor_username == "rtm.coordinator"
    assert login.detail["second_factor"] is True


def test_port_comes_from_the_environment(demo, monkeypatch):
    monkeypatch.setenv("PORT", "8123")
    assert "http://127.0.0.1:8123/" in run_demo()


def test_skip_mfa_shortcut_is_announced_and_works_in_the_demo(demo, settings, client):
    settings.DEMO_SKIP_MFA = True
    output = run_demo()
    assert "SHORTCUT IS ON" in output

    response = client.post(
        reverse("accounts:login"),
        {"username": "cat.casemanager", "password": DEMO_PASSWORD, "code": ""},
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("home:home")
