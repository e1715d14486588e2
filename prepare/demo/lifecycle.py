"""The demo's moving parts: referrals, key dates, release planning, monitoring, a transfer.

Runs after the cases of a partnership exist. Each step acts as a demo user
through the services (policy, locking and audit as in real use) and is keyed
on what the case already holds, so a second run adds nothing: a case that
has its referral, its expected release, its checklist, its contacts or its
signals is left as it is. Only the referral and the move into triage of the
cases loaded as referred or in triage are written directly (the referral
service opens a new case; these exist already), each with its audit event.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING

from django.utils import timezone

from prepare.access.abilities import TRANSITION_CATEGORY
from prepare.access.categories import Action, Category
from prepare.access.grants import case_grants_rebuild
from prepare.access.policy import visible_cases
from prepare.accounts.models import OrganisationType, User
from prepare.audit.models import EventAction
from prepare.audit.services import audit_record
from prepare.cases.lifecycle.services import key_date_set, triage_decide
from prepare.cases.models import (
    Case,
    CaseNote,
    CaseNoteVersion,
    CaseStatus,
    CaseTransition,
    ErasureRequest,
    KeyDate,
    KeyDateKind,
    LegalHold,
    NoteKind,
    Referral,
    TriageDecision,
)
from prepare.cases.models.lifecycle import ReferrerType, TriageOutcome
from prepare.cases.models.transfer import Transfer
from prepare.cases.retention.erasure import notify_approvers
from prepare.cases.retention.selectors import active_holds
from prepare.cases.services import note_create, note_update
from prepare.cases.transfer.services import transfer_propose
from prepare.monitoring.models import (
    Contact,
    ContactKind,
    ContactOutcome,
    LicenceCondition,
    Severity,
    Signal,
)
from prepare.monitoring.services import (
    breach_record,
    contact_correct,
    contact_record,
    licence_condition_add,
    signal_acknowledge,
    signal_raise,
)
from prepare.plans.models import ChecklistItem
from prepare.plans.services import (
    checklist_item_complete,
    checklist_item_not_applicable,
    planning_started,
    release_planning_start,
)

if TYPE_CHECKING:
    from prepare.demo.loader import LoadReport, _World

DAY = datetime.timedelta(days=1)

# Days from today to the expected release of the n-th pre-release case of a
# partnership: one inside 30 days (its early checklist items are overdue),
# one inside 90, one inside 180.
RELEASE_IN_DAYS = (20, 75, 150, 45, 120, 170)

# What happened to the checklist items of the n-th pre-release case, by item
# key: "done", "na" (not applicable), anything else stays open.
CHECKLIST_PROGRESS: tuple[dict[str, str], ...] = (
    {
        "housing": "done",
        "bank_account": "done",
        "health_insurance": "na",
        "mentor": "done",
        # identity_papers (T-60), benefits (T-30) and victim_considerations
        # (T-30) stay open and are past due.
    },
    {"identity_papers": "done", "mentor": "done"},
    {"housing": "done"},
)
DONE_NOTE = "Arranged and confirmed with the person in the last case meeting."
NA_REASON = "Covered by the existing arrangement; nothing further is needed before release."

REFERRERS = (ReferrerType.PRISON, ReferrerType.PROBATION, ReferrerType.POLICE)
REFERRER_ORG_TYPE = {
    ReferrerType.PRISON: OrganisationType.PRISON,
    ReferrerType.PROBATION: OrganisationType.PROBATION,
    ReferrerType.POLICE: OrganisationType.POLICE,
}
REFERRAL_REASONS = (
    "Staff observed a growing interest in extremist material and withdrawal from "
    "the usual daily programme; a multi-agency view is requested.",
    "Remarks during supervision meetings suggest sympathy for a violent group; "
    "the supervising officer asks whether the case meets the partnership's criteria.",
    "Information from a family member about contact with a recruiter online; "
    "referred for assessment before any further step.",
)
TRIAGE_REASON = "Referral reviewed at the weekly triage meeting; assessment started."
MORE_INFORMATION = (
    "The partners need the latest supervision report and school record before deciding."
)

CONTACTS = (
    (ContactKind.MEETING, "Monthly meeting at the probation office; attended on time."),
    (ContactKind.HOME_VISIT, "Home visit with the case manager; housing situation stable."),
    (ContactKind.CALL, "Call to confirm the appointment with the employment service."),
)
CALL_CORRECTED = (
    "Call to confirm the appointment with the employment service: no answer, a message was left."
)
CALL_CORRECTION_REASON = "Recorded as held by mistake: he did not pick up."
CONDITION = "Reports weekly to the probation office and does not leave the region without consent."
BREACH = "Missed the weekly reporting appointment without notice."
BREACH_ACTION = "Formal warning given; reporting moved to twice a week for one month."
SIGNALS = (
    (Severity.URGENT, "Reported contact with a person under investigation; check needed today."),
    (Severity.HIGH, "Renewed posting of extremist material on a social media account."),
    (Severity.HIGH, "Withdrew from the mentoring programme without explanation."),
)
ACKNOWLEDGEMENT = "Discussed with the mentor; a case meeting is planned for next week."
HANDOVER = (
    "The person is moving to the Vilvoorde area to live with family. Supervision is "
    "stable, the mentoring programme is going well and housing is arranged there. "
    "Proposed handover to the Vilvoorde partnership with the current plan."
)


def _case(world: _World, index: int) -> Case | None:
    p = world.spec.persons[index]
    # The loader is the system, finding its own cases by their natural key.
    return (
        Case.objects.filter(
            partnership=world.partnership,
            person__given_name=p.given_name,
            person__family_name=p.family_name,
            person__birth_date=p.birth_date,
        )
        .select_related("partnership")
        .first()
    )


def _cases_loaded_as(world: _World, status: str) -> list[Case]:
    """The cases loaded with ``status`` that still have it, in the order of the spec."""
    found = []
    for index, p in enumerate(world.spec.persons):
        if p.status != status:
            continue
        case = _case(world, index)
        if case is not None and case.status == status:
            found.append(case)
    return found


def populate(world: _World, today: datetime.date, report: LoadReport) -> None:
    _referrals(world, today, report)
    _release_planning(world, today, report)
    _monitoring(world, today, report)
    _note_conversation(world)
    _erasure_request(world, today, report)
    _break_glass(world, report)


# --- A note corrected by its author, and a reply from another organisation ----------------

POLICE_CORRECTION = (
    "Correction after checking the file: the contacts with the former network ended in the "
    "spring, not last month. Risk of renewed contact assessed as moderate, not high."
)
PROBATION_REPLY = (
    "Probation's view on the risk assessment above: the reporting duty has been kept without "
    "a single missed appointment since release; we support the moderate assessment."
)


def _note_conversation(world: _World) -> None:
    """On the first community case, the police officer corrects their risk note
    (the earlier version is kept) and probation replies to it with a note of its
    own (probation may not edit the police's note)."""
    police = world.users.get("police")
    casemanager = world.users.get("casemanager")
    community = _cases_loaded_as(world, CaseStatus.COMMUNITY)
    if police is None or casemanager is None or not community:
        return
    writers = visible_cases(police, Action.WRITE).filter(pk__in=[c.pk for c in community])
    reachable = set(writers.values_list("pk", flat=True)) & set(
        visible_cases(casemanager, Action.WRITE).values_list("pk", flat=True)
    )
    note = (
        CaseNote.objects.filter(
            case_id__in=sorted(reachable), created_by=police, category=Category.RISK
        )
        .order_by("case_id", "created_at", "pk")
        .first()
    )
    if note is None or CaseNoteVersion.objects.filter(case_id=note.case_id).exists():
        return
    note_update(actor=police, note_id=note.pk, version=note.version, text=POLICE_CORRECTION)
    note_create(
        actor=casemanager,
        case_id=note.case_id,
        category=Category.RISK,
        kind=NoteKind.ASSESSMENT,
        text=PROBATION_REPLY,
        reply_to_id=note.pk,
    )


# --- Referrals and triage ---------------------------------------------------------------


def _referrals(world: _World, today: datetime.date, report: LoadReport) -> None:
    coordinator = world.users["coordinator"]
    orgs_by_type = {o.type: o for o in world.orgs.values()}
    waiting = _cases_loaded_as(world, CaseStatus.REFERRED) + _cases_loaded_as(
        world, CaseStatus.TRIAGE
    )
    for n, case in enumerate(waiting):
        if Referral.objects.filter(case=case).exists():
            continue
        referrer = REFERRERS[n % len(REFERRERS)]
        referral = Referral.objects.create(
            case=case,
            referrer_type=referrer,
            referring_organisation=orgs_by_type.get(REFERRER_ORG_TYPE[referrer]),
            reason=REFERRAL_REASONS[n % len(REFERRAL_REASONS)],
            category=Category.RISK,
            received_on=case.opened_on,
            created_by=coordinator,
        )
        audit_record(
            action=EventAction.CREATE,
            actor=coordinator,
            case=case,
            obj=referral,
            category=referral.category,
        )
        report.referrals += 1
    triaged = _cases_loaded_as(world, CaseStatus.TRIAGE)
    for case in triaged:
        if CaseTransition.objects.filter(case=case).exists():
            continue
        move = CaseTransition.objects.create(
            case=case,
            from_status=CaseStatus.REFERRED,
            to_status=CaseStatus.TRIAGE,
            reason=TRIAGE_REASON,
            actor=coordinator,
        )
        CaseTransition.objects.filter(pk=move.pk).update(at=case.created_at + 2 * DAY)
        case_grants_rebuild(case)
        audit_record(
            action=EventAction.UPDATE,
            actor=coordinator,
            case=case,
            obj=case,
            category=TRANSITION_CATEGORY,
            detail={
                "fields": ["status"],
                "from": CaseStatus.REFERRED,
                "to": CaseStatus.TRIAGE,
                "outcome": "",
                "transition": move.pk,
                "version": case.version,
            },
        )
    # The first case in triage waits for more information: decided through the service.
    if triaged and not TriageDecision.objects.filter(case=triaged[0]).exists():
        triage_decide(
            actor=coordinator,
            case_id=triaged[0].pk,
            outcome=TriageOutcome.MORE_INFORMATION,
            reasons=MORE_INFORMATION,
            version=triaged[0].version,
        )
        report.triage_decisions += 1


# --- Key dates and release planning -------------------------------------------------------


def _set_date(actor: User, case: Case, kind: str, date: datetime.date, report: LoadReport) -> None:
    if KeyDate.objects.filter(case=case, kind=kind).exists():
        return
    key_date_set(actor=actor, case_id=case.pk, kind=kind, date=date, version=None, source="demo")
    report.key_dates += 1


def _release_planning(world: _World, today: datetime.date, report: LoadReport) -> None:
    coordinator = world.users["coordinator"]
    for n, case in enumerate(_cases_loaded_as(world, CaseStatus.PRE_RELEASE)):
        release = today + RELEASE_IN_DAYS[n % len(RELEASE_IN_DAYS)] * DAY
        _set_date(
            coordinator, case, KeyDateKind.SENTENCE_START, today - (700 + 90 * n) * DAY, report
        )
        _set_date(coordinator, case, KeyDateKind.EXPECTED_RELEASE, release, report)
        _set_date(
            coordinator, case, KeyDateKind.SENTENCE_END, release + (365 + 60 * n) * DAY, report
        )
        if n % 2 == 0:
            _set_date(
                coordinator, case, KeyDateKind.NEXT_REVIEW, today + (10 + 5 * n) * DAY, report
            )
        if planning_started(case):
            continue
        release_planning_start(actor=coordinator, case_id=case.pk)
        report.checklists += 1
        progress = CHECKLIST_PROGRESS[n] if n < len(CHECKLIST_PROGRESS) else {}
        for item in ChecklistItem.objects.filter(case=case, key__in=progress).order_by("pk"):
            if progress[item.key] == "done":
                checklist_item_complete(
                    actor=coordinator, item_id=item.pk, version=item.version, note=DONE_NOTE
                )
            else:
                checklist_item_not_applicable(
                    actor=coordinator, item_id=item.pk, version=item.version, reason=NA_REASON
                )
    for n, case in enumerate(_cases_loaded_as(world, CaseStatus.COMMUNITY)[:2]):
        _set_date(coordinator, case, KeyDateKind.NEXT_REVIEW, today + (7 + 9 * n) * DAY, report)


# --- Monitoring -----------------------------------------------------------------------


def _signal_author(world: _World, case: Case) -> User | None:
    """A member of the case team who writes risk and is not the coordinator."""
    teams = set(case.team.values_list("organisation_id", flat=True))
    for key, org_key in (("casemanager", "probation"), ("police", "police")):
        user = world.users.get(key)
        if user is not None and org_key in world.orgs and world.orgs[org_key].pk in teams:
            return user
    return None


def _monitoring(world: _World, today: datetime.date, report: LoadReport) -> None:
    coordinator = world.users["coordinator"]
    now = timezone.now()
    community = _cases_loaded_as(world, CaseStatus.COMMUNITY)
    for n, case in enumerate(community[:3]):
        if not Contact.objects.filter(case=case).exists():
            for k, (kind, summary) in enumerate(CONTACTS[: 3 - n]):
                contact = contact_record(
                    actor=coordinator,
                    case_id=case.pk,
                    category=Category.MEETINGS,
                    kind=kind,
                    occurred_at=now - (3 + 11 * k + n) * DAY,
                    summary=summary,
                )
                report.contacts += 1
                if n == 0 and kind == ContactKind.CALL:
                    # A correction, so the demo shows a contact's earlier version.
                    contact_correct(
                        actor=coordinator,
                        contact_id=contact.pk,
                        version=contact.version,
                        reason=CALL_CORRECTION_REASON,
                        outcome=ContactOutcome.DID_NOT_ATTEND,
                        summary=CALL_CORRECTED,
                    )
    if community and not LicenceCondition.objects.filter(case=community[0]).exists():
        condition = licence_condition_add(
            actor=coordinator,
            case_id=community[0].pk,
            text=CONDITION,
            starts_on=today - 180 * DAY,
        )
        breach_record(
            actor=coordinator,
            condition_id=condition.pk,
            occurred_on=today - 12 * DAY,
            description=BREACH,
            action_taken=BREACH_ACTION,
        )
        report.breaches += 1
    # Signals: on the first community cases that a case manager or officer works on.
    authored = [(c, a) for c in community if (a := _signal_author(world, c)) is not None]
    for n, (case, author) in enumerate(authored[: len(SIGNALS)]):
        if Signal.objects.filter(case=case).exists():
            continue
        severity, description = SIGNALS[n]
        signal = signal_raise(
            actor=author,
            case_id=case.pk,
            severity=severity,
            description=description,
            category=Category.RISK,
        )
        report.signals += 1
        if n == 2:
            signal_acknowledge(
                actor=coordinator, signal_id=signal.pk, version=signal.version, note=ACKNOWLEDGEMENT
            )


# --- Across partnerships ---------------------------------------------------------------


ERASURE_REASON = (
    "The person asked for the erasure of their data after the case was closed; "
    "no inquiry or complaint is pending."
)


def _erasure_request(world: _World, today: datetime.date, report: LoadReport) -> None:
    """One closed case whose erasure waits for a second approver (the DPO)."""
    closed = _cases_loaded_as(world, CaseStatus.CLOSED)
    if not closed:
        return
    case = closed[0]
    if ErasureRequest.objects.filter(case=case).exists():
        return
    if LegalHold.objects.filter(active_holds(today), case=case).exists():
        return
    coordinator = world.users["coordinator"]
    # The loader writes the request as the coordinator would, without their code.
    request = ErasureRequest.objects.create(
        case=case, reason=ERASURE_REASON, requested_by=coordinator
    )
    audit_record(
        action=EventAction.ERASE,
        actor=coordinator,
        case=case,
        obj=request,
        detail={"step": "requested", "erasure_request": request.pk, "demo": True},
    )
    notify_approvers(request, case, coordinator)
    report.erasure_requests += 1


# What Rotterdam hands over to Vilvoorde: what the new team needs to take the
# case on. The police intelligence and the health records stay in Rotterdam
# (its old team reads them for the grace period); Vilvoorde's coordinator sees
# their number, not their content, before accepting.
HANDED_OVER = [
    Category.IDENTITY,
    Category.JUSTICE,
    Category.RISK,
    Category.IDEOLOGY,
    Category.SOCIAL,
    Category.INTERVENTIONS,
    Category.MEETINGS,
]


BREAK_GLASS_REASON = (
    "Night shift: a neighbour reported threats against the person's ex-partner; "
    "the case team cannot be reached before the morning."
)


def _break_glass(world: _World, report: LoadReport) -> None:
    """One emergency access by a practitioner not on an open case's team, waiting
    for the DPO's review (and notified to the coordinators and the DPO)."""
    from prepare.access.models import BreakGlassAccess
    from prepare.access.policy import visible_cases_without_glass
    from prepare.cases.services import BREAK_GLASS_HOURS, _break_glass_notify

    actor = world.users.get("police") or world.users.get("exit")
    if actor is None or BreakGlassAccess.objects.filter(user=actor).exists():
        return
    reachable = set(visible_cases_without_glass(actor).values_list("pk", flat=True))
    case = next(
        (
            c
            for status in (CaseStatus.COMMUNITY, CaseStatus.PRE_RELEASE)
            for c in _cases_loaded_as(world, status)
            if c.pk not in reachable
        ),
        None,
    )
    if case is None:
        return
    # The loader opens it as the practitioner would, without their code.
    now = timezone.now() - datetime.timedelta(hours=3)
    access = BreakGlassAccess.objects.create(
        user=actor,
        case=case,
        justification=BREAK_GLASS_REASON,
        created_at=now,
        expires_at=now + datetime.timedelta(hours=BREAK_GLASS_HOURS),
    )
    audit_record(
        action=EventAction.BREAK_GLASS,
        actor=actor,
        case=case,
        obj=access,
        purpose=BREAK_GLASS_REASON[:300],
        detail={"expires_at": access.expires_at.isoformat(), "demo": True},
    )
    _break_glass_notify(access, case, actor)
    report.break_glass += 1


def transfer(sending: _World, receiving: _World, report: LoadReport) -> None:
    """One proposal, from the last community case of ``sending``, waiting for an answer."""
    community = _cases_loaded_as(sending, CaseStatus.COMMUNITY)
    if not community:
        return
    case = community[-1]
    if Transfer.objects.filter(case=case).exists():
        return
    transfer_propose(
        actor=sending.users["coordinator"],
        case_id=case.pk,
        to_partnership_id=receiving.partnership.pk,
        handover_summary=HANDOVER,
        summary_category=Category.MEETINGS,
        categories=HANDED_OVER,
    )
    report.transfers += 1
