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
from prepare.access.models import BreakGlassAccess, CaseGrant
from prepare.access.policy import grants_for, visible_cases
from prepare.accounts.models import Organisation, Role, TrainingRecord, User
from prepare.assessments.models import Assessment, AssessmentStatus, InstrumentVersion
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
    InstrumentVersion,
    TrainingRecord,
    Assessment,
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
    # Rotterdam keeps its police intelligence and health records; Vilvoorde's
    # coordinator is told at once and sees what is handed over, in numbers.
    from prepare.cases.transfer.selectors import held_counts

    assert Category.INTELLIGENCE not in transfer.categories
    assert Category.HEALTH not in transfer.categories
    assert Category.JUSTICE in transfer.categories
    assert Notification.objects.filter(
        user=receiving, kind=NotificationKind.TRANSFER_PROPOSED, case_id=transfer.case_id
    ).exists()
    held = held_counts(transfer.case)
    kept = sum(n for c, n in held.items() if c not in transfer.categories)
    package = verified_client(receiving).get(reverse("cases:transfer_decide", args=[transfer.pk]))
    assert package.status_code == 200
    assert kept > 0  # the transferred case has records Rotterdam keeps
    assert (
        f"with {transfer.from_partnership.name} and will not be handed over"
        in package.content.decode()
    )

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

    # Each partnership's DPO has one emergency access to review, notified.
    for partnership in Partnership.objects.all():
        access = BreakGlassAccess.objects.get(case__partnership=partnership)
        assert access.reviewed_at is None
        dpo = User.objects.get(username=f"{partnership.code.lower()}.dpo")
        page = verified_client(dpo).get(reverse("cases:break_glass_reviews"))
        assert page.status_code == 200
        assert access.case.reference in page.content.decode()
        assert Notification.objects.filter(
            user=dpo, kind=NotificationKind.BREAK_GLASS, case_id=access.case_id
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


def test_demo_shows_a_checklist_owner_who_cannot_see_the_case(demo):
    """Mourad Ait Said's release planning runs, but the housing association that
    owns his housing item is not on his team: flagged, and the coordinator is
    told and can add it in one step."""
    from prepare.plans.services import unreached_owner_ids

    case = Case.objects.get(partnership__code="RTM", person__family_name="Ait Said")
    housing = Organisation.objects.get(name="Maasoever Housing Association")
    item = ChecklistItem.objects.get(case=case, key="housing")
    assert (item.status, item.owner_organisation_id) == (ItemStatus.OPEN, housing.pk)
    assert not CaseTeamMember.objects.filter(case=case, organisation=housing).exists()
    assert housing.pk in unreached_owner_ids(case)

    coordinator = User.objects.get(username="rtm.coordinator")
    assert Notification.objects.filter(
        user=coordinator, kind=NotificationKind.CHECKLIST_OWNER, case_id=case.pk
    ).exists()
    client = verified_client(coordinator)
    board = client.get(reverse("plans:release_board"), {"days": 180}).content.decode()
    assert "whose owner cannot see the case" in board
    owners = client.get(reverse("plans:checklist_owners", args=[case.pk])).content.decode()
    assert "Maasoever Housing Association" in owners and 'name="organisation"' in owners
    # Its housing officer does not see the item until the association is on the team.
    officer = User.objects.filter(organisation=housing).first()
    assert officer is not None
    tasks = verified_client(officer).get(reverse("plans:my_tasks")).content.decode()
    assert case.reference not in tasks


def test_demo_closures_pass_the_rules_and_notes_show_their_history(demo):
    from prepare.cases.models import CaseNoteVersion, ClosureDecision, ClosureProposal

    rtm = Partnership.objects.get(code="RTM")
    assert rtm.closure_self_approval is False  # two coordinators there
    closed = Case.objects.filter(partnership=rtm, status__in=["closed", "follow_up", "archived"])
    assert closed.exists()
    for case in closed:
        proposal = ClosureProposal.objects.get(case=case)
        assert proposal.decision == ClosureDecision.APPROVED
        assert proposal.decided_by_id != proposal.proposed_by_id
        assert proposal.self_approved is False
    # A single-coordinator partnership approves with its setting, flagged as such.
    for partnership in Partnership.objects.filter(closure_self_approval=True):
        for proposal in ClosureProposal.objects.filter(
            case__partnership=partnership, decision=ClosureDecision.APPROVED
        ):
            assert proposal.self_approved is True
    closing = Case.objects.filter(status="closing")
    assert all(ClosureProposal.objects.filter(case=c, decision="pending").exists() for c in closing)
    # A police note corrected (its earlier version kept), with a reply from probation.
    kept = CaseNoteVersion.objects.select_related("note__created_by__organisation").first()
    assert kept is not None
    assert kept.note.created_by.organisation.type == "police"
    reply = CaseNote.objects.get(reply_to=kept.note)
    assert reply.created_by.organisation.type == "probation"


def test_the_demo_attaches_a_licence_and_a_report_in_every_partnership(demo):
    """Generated at load time (no binary file in the repository), through the
    documents service: checked by content, stored, downloadable by the team."""
    import io as _io

    from pypdf import PdfReader

    from prepare.documents.models import Document

    for partnership in Partnership.objects.all():
        documents = Document.objects.filter(case__partnership=partnership)
        licence = documents.get(title="Licence")
        assert (licence.category, licence.content_type) == ("justice", "application/pdf")
        assert licence.condition_id is not None  # about the case's licence condition
        assert documents.filter(title="Court order", content_type="application/pdf").exists()
        assert documents.filter(title="Housing report", content_type="text/plain").exists()
        coordinator = User.objects.get(username=f"{partnership.code.lower()}.coordinator")
        response = verified_client(coordinator).get(
            reverse("documents:download", args=[licence.case_id, licence.pk])
        )
        assert response.status_code == 200
        pdf = PdfReader(_io.BytesIO(b"".join(response.streaming_content)))
        assert "Reside at the address" in pdf.pages[0].extract_text()
        assert not pdf.metadata  # stripped like any upload


def test_a_coordinator_finds_a_person_by_part_of_the_name(demo):
    """Done means: in the demo a coordinator finds a person by part of their name
    (accents and case aside); the exit NGO, without identity, does not."""
    spec = PARTNERSHIPS[0]
    first = spec.persons[0]
    case = Case.objects.get(
        person__given_name=first.given_name, person__family_name=first.family_name
    )
    coordinator = verified_client(User.objects.get(username="rtm.coordinator"))
    part = first.given_name[:3].lower()
    body = coordinator.get(reverse("search:search"), {"q": part}).content.decode()
    assert case.reference in body and first.family_name in body
    ngo = verified_client(User.objects.get(username="rtm.exit"))
    body = ngo.get(reverse("search:search"), {"q": first.family_name}).content.decode()
    assert case.reference not in body and first.family_name in body  # only the box's echo
    assert "No case you may read matches this search." in body


RISK_TITLE = "Extremism risk and protective factors (example, not a validated tool)"
NEEDS_TITLE = "Resettlement needs (example, not a validated tool)"


def test_police_and_ngo_assess_the_same_cases_over_time(demo):
    """Done means (issue 11): a police risk assessor and an NGO needs assessor
    each complete assessments on the same cases, each sees only what the
    agreement grants, and a series crosses an instrument version."""
    from prepare.access.assessing import is_qualified
    from prepare.assessments.selectors import current_reviews

    today = timezone.localdate()
    assert set(InstrumentVersion.objects.values_list("instrument__identifier", "version")) == {
        ("example-extremism-risk", "1.0"),
        ("example-resettlement-needs", "1.0"),
        ("example-resettlement-needs", "1.1"),
    }
    for partnership in Partnership.objects.all():
        code = partnership.code.lower()
        police = User.objects.get(username=f"{code}.police")
        ngo = User.objects.get(username=f"{code}.exit")
        assert is_qualified(police, "risk-assessment-basics")
        assert not is_qualified(ngo, "risk-assessment-basics")
        assert Category.RISK in grants_for(police).categories(partnership.pk, Action.WRITE)
        assert Category.SOCIAL in grants_for(ngo).categories(partnership.pk, Action.WRITE)
        done = Assessment.objects.filter(case__partnership=partnership).exclude(
            status=AssessmentStatus.DRAFT
        )
        risk = set(done.filter(completed_by=police, category="risk").values_list("case", flat=True))
        needs = set(done.filter(completed_by=ngo, category="social").values_list("case", flat=True))
        shared = risk & needs
        assert len(shared) >= 2, partnership.code
        # Two or three over time on some cases, across the version change on one.
        per_case = {c: done.filter(case_id=c).count() for c in shared}
        assert max(per_case.values()) >= 5
        crossing = [
            c
            for c in shared
            if set(
                done.filter(case_id=c, category="social").values_list(
                    "instrument_version__version", flat=True
                )
            )
            == {"1.0", "1.1"}
        ]
        assert crossing, partnership.code
        assert done.filter(status=AssessmentStatus.COUNTERSIGNED).exists()
        # Dated over the past year; the next reviews follow from the intervals.
        moments = sorted(done.values_list("completed_at", flat=True))
        assert moments[-1] <= timezone.now() and (today - moments[0].date()).days > 150
        due = [a.review_due_on for a in current_reviews().filter(case__partnership=partnership)]
        assert any(d < today for d in due), partnership.code  # overdue
        assert any(today <= d <= today + datetime.timedelta(days=7) for d in due)
        # Each assessor is reminded of their own reviews due, through the bell.
        for user in (police, ngo):
            assert Notification.objects.filter(
                user=user, kind=NotificationKind.ASSESSMENT_REVIEW
            ).exists(), user.username
        coordinator = User.objects.get(username=f"{code}.coordinator")
        assert not Notification.objects.filter(
            user=coordinator, kind=NotificationKind.ASSESSMENT_REVIEW
        ).exists()
    # A draft in progress, and every assessment written through the audited services.
    assert Assessment.objects.filter(status=AssessmentStatus.DRAFT).exists()
    created = Event.objects.filter(action=EventAction.CREATE, object_type="assessments.assessment")
    assert created.count() == Assessment.objects.count()

    # Each sees only its own category: on the case summary and the home page.
    case = (
        Case.objects.filter(
            partnership__code="RTM",
            assessments__category="risk",
            assessments__completed_by__username="rtm.police",
        )
        .filter(assessments__completed_by__username="rtm.exit")
        .distinct()
        .first()
    )
    url = reverse("cases:case", args=[case.pk])
    police_page = verified_client(User.objects.get(username="rtm.police")).get(url)
    ngo_page = verified_client(User.objects.get(username="rtm.exit")).get(url)
    assert police_page.status_code == ngo_page.status_code == 200
    police_body, ngo_body = police_page.content.decode(), ngo_page.content.decode()
    assert RISK_TITLE in police_body and NEEDS_TITLE not in police_body
    assert NEEDS_TITLE in ngo_body and RISK_TITLE not in ngo_body
    police_home = verified_client(User.objects.get(username="rtm.police")).get("/")
    ngo_home = verified_client(User.objects.get(username="rtm.exit")).get("/")
    assert RISK_TITLE in police_home.content.decode()
    assert NEEDS_TITLE in ngo_home.content.decode()
    assert RISK_TITLE not in ngo_home.content.decode()
