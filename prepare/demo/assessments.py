"""The demo's structured assessments: the example instruments, trained
assessors, and assessments over time on the cases the police and the exit
NGO share.

Each partnership's police officer is a trained risk assessor (a training
record "risk-assessment-basics", as the risk example requires) and its exit
mentor assesses resettlement needs (the exit NGO writes social information in
the demo agreement). On the open cases both are teamed on, they complete
assessments through the services (policy, locking and audit as in real use):
two or three over the past year on some cases, a needs series that crosses
the example's version change (1.0 is loaded first, 1.1 after the first
assessments were made with it), one countersigned by the probation case
manager, one draft in progress. The dates are then moved back, as the loader
does for notes and cases, and the next review follows from each instrument's
interval, so that some reviews are due soon and some are overdue. Audit
events keep the real time.

A case that has any assessment is left as it is, so a second run adds
nothing; a step whose author may not write the category there (a demo
database loaded before the NGO was granted social writing) is skipped.
"""

from __future__ import annotations

import datetime
import zoneinfo
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.utils import timezone

import prepare.assessments
from prepare.access.categories import Action, Category
from prepare.access.grants import case_grants_touch
from prepare.access.policy import categories_of
from prepare.accounts.models import TrainingRecord
from prepare.assessments.assessing import (
    Draft,
    assessment_complete,
    assessment_countersign,
    assessment_save,
    assessment_start,
)
from prepare.assessments.content import InstrumentContent
from prepare.assessments.models import Assessment, AssessmentStatus, InstrumentVersion
from prepare.assessments.services import Loaded, instruments_load
from prepare.audit.models import EventAction
from prepare.audit.services import audit_record
from prepare.cases.models import Case, CaseStatus
from prepare.demo import lifecycle

if TYPE_CHECKING:
    from prepare.demo.loader import LoadReport, _World

DAY = datetime.timedelta(days=1)
EXAMPLES = Path(prepare.assessments.__file__).parent / "examples"
RISK = "example-extremism-risk"
NEEDS = "example-resettlement-needs"
# Loaded first; the needs example's version 1.1 is loaded once the first
# assessments were made with 1.0, so that a series crosses the change.
FIRST_FILES = ("extremism-risk-example.yaml", "resettlement-needs-example.yaml")
LATER_FILES = ("resettlement-needs-example-1.1.yaml",)
TRAINING = "risk-assessment-basics"
TRAINING_NOTE = "Partnership training day on structured risk assessment (demo)."
# Who holds the training: the police officer assesses, the case manager countersigns.
TRAINED = ("police", "casemanager")


@dataclass(frozen=True)
class Step:
    """One assessment on a case: who makes it, with which instrument, when
    (days before the day of loading), how far the person has come (``stage``:
    0 in custody, 1 around release, 2 settled) and the judgement."""

    author: str  # a key of the partnership's users: "police" or "exit"
    instrument: str
    days_ago: int
    stage: int
    judgement: str
    # 1: made before the needs example's version 1.1 is loaded; 2: after.
    phase: int
    countersign: bool = False
    draft: bool = False


# What happens on the first, second and third shared case of a partnership
# (community cases first: their assessments reach the "settled" stage).
# Risk: review every 6 months; needs: every 3 months.
PLANS: tuple[tuple[Step, ...], ...] = (
    # Two risk assessments, the second countersigned; three needs assessments
    # across the needs example's version change (1.0, 1.0, 1.1).
    (
        Step("exit", NEEDS, 200, 0, "high", 1),
        Step("police", RISK, 190, 0, "moderate", 1),
        Step("exit", NEEDS, 110, 1, "moderate", 1),
        Step("exit", NEEDS, 20, 2, "low", 2),
        Step("police", RISK, 12, 2, "low", 2, countersign=True),
    ),
    # The risk review falls due within the week; the needs review is overdue.
    (
        Step("exit", NEEDS, 150, 0, "high", 1),
        Step("police", RISK, 178, 1, "moderate", 1),
        Step("exit", NEEDS, 95, 1, "moderate", 2),
    ),
    # The risk review is overdue; a needs review due this month, and the next
    # needs assessment in progress (a draft).
    (
        Step("police", RISK, 240, 0, "high", 1),
        Step("police", RISK, 190, 1, "moderate", 1),
        Step("exit", NEEDS, 70, 1, "moderate", 2),
        Step("exit", NEEDS, 2, 1, "", 2, draft=True),
    ),
)
# A draft holds the ratings of its first items only.
DRAFT_ITEMS = 5
COUNTERSIGNED_AFTER = 3  # days after the completion

# --- What the assessors write (invented; no real person) -------------------------------

# Risk example, per item and stage: (presence, relevance, evidence).
Rating = tuple[str, str, str]
RISK_RATINGS: dict[str, tuple[Rating, Rating, Rating]] = {
    "B1": (
        (
            "present",
            "high",
            "In the first interviews society was described as split between 'us' and 'the "
            "enemies'; the same framing came back whenever the sentence was discussed.",
        ),
        (
            "present",
            "moderate",
            "Still speaks of 'us' and 'them', but less often, and listens when the mentor "
            "gives examples that do not fit.",
        ),
        (
            "partly",
            "moderate",
            "The us-and-them framing is rare now and is questioned unprompted, for example "
            "after a conversation with a colleague at work.",
        ),
    ),
    "B2": (
        (
            "partly",
            "high",
            "Does not call for violence, but called the group's attacks 'understandable' in "
            "the pre-sentence interview.",
        ),
        (
            "partly",
            "moderate",
            "Says violence 'does not help', while still hesitating when asked about the "
            "group's past attacks.",
        ),
        (
            "absent",
            "moderate",
            "Has said several times, without being asked, that the violence damaged the cause "
            "and hurt people who had nothing to do with it.",
        ),
    ),
    "B3": (
        (
            "present",
            "moderate",
            "A strong, lasting grievance about police checks in the neighbourhood and about "
            "the trial, described as unfair to 'people like us'.",
        ),
        (
            "present",
            "moderate",
            "The grievance about the trial remains; it is now discussed in supervision rather "
            "than only online.",
        ),
        (
            "partly",
            "low",
            "Still angry about the trial, but keeps this apart from the wider claim that "
            "society as a whole is hostile.",
        ),
    ),
    "C1": (
        (
            "present",
            "high",
            "Custody reports mention regular contact with two prisoners from the same "
            "investigation; several channels of the movement were followed before the arrest.",
        ),
        (
            "partly",
            "high",
            "The contacts in custody stopped after a move to another wing; one old online "
            "account is still active.",
        ),
        (
            "partly",
            "moderate",
            "No contact with the co-defendants since release; an old account that still "
            "followed the movement was closed after the mentor raised it.",
        ),
    ),
    "C2": (
        (
            "absent",
            "low",
            "No statements, writings or plans about harming others in the file, in custody or "
            "in the interviews.",
        ),
        ("absent", "low", "Nothing new: no statements or plans about harming others."),
        ("absent", "low", "Nothing in this period: no statements or plans about harming others."),
    ),
    "C3": (
        (
            "present",
            "high",
            "Family contact broke down before the arrest; almost nobody outside the movement "
            "visited in custody.",
        ),
        (
            "partly",
            "moderate",
            "A parent visits every month; contact with the siblings is still difficult.",
        ),
        (
            "partly",
            "low",
            "Contact with a parent and an older sibling is restored; still few friends outside "
            "the old circle.",
        ),
    ),
    "H1": (
        (
            "partly",
            "moderate",
            "One conviction for assault at eighteen, before any link with the movement; no "
            "violence in custody.",
        ),
        (
            "partly",
            "moderate",
            "Unchanged: the single assault conviction from before the offence; no violence since.",
        ),
        (
            "partly",
            "low",
            "Unchanged: the single assault conviction from before the offence; no violence since.",
        ),
    ),
    "H2": (
        (
            "absent",
            "low",
            "No known access to weapons; no relevant training or skills in the file or in "
            "police information.",
        ),
        ("absent", "low", "No change: no known access to weapons or relevant skills."),
        ("absent", "low", "No change: no known access to weapons or relevant skills."),
    ),
    "H3": (
        (
            "present",
            "high",
            "The conviction concerns preparations to travel to a conflict zone, with money "
            "saved and contacts abroad.",
        ),
        (
            "present",
            "moderate",
            "The preparations of the offence stay on record; no sign of new travel plans, and "
            "the passport is held by the authorities.",
        ),
        (
            "present",
            "low",
            "On record from the offence; nothing new. The travel ban is respected and no "
            "travel plans are known.",
        ),
    ),
    "M1": (
        (
            "present",
            "high",
            "Speaks of the group as 'family' and of its leaders with respect.",
        ),
        (
            "present",
            "moderate",
            "Speaks of the group with more distance, but still defends old friends in it.",
        ),
        (
            "partly",
            "moderate",
            "Calls the group 'my old friends' and speaks of its leaders with distance and some "
            "anger.",
        ),
    ),
    "M2": (
        (
            "present",
            "high",
            "The cause gave purpose and status after leaving school; little else gives either now.",
        ),
        (
            "present",
            "moderate",
            "Looks forward to a vocational course, but says the evenings are 'empty' without "
            "the old contacts.",
        ),
        (
            "partly",
            "moderate",
            "Finds some pride in work and the training course; boredom in the evenings is "
            "still a weak point.",
        ),
    ),
    "P1": (
        (
            "partly",
            "high",
            "A parent writes and visits; no other stable relationship outside the movement.",
        ),
        ("partly", "high", "Monthly family visits and a good relationship with the mentor."),
        (
            "present",
            "high",
            "Regular contact with the family and with a colleague from work; the mentor is "
            "trusted.",
        ),
    ),
    "P2": (
        (
            "absent",
            "high",
            "No work or education planned yet for after release; days in custody are mostly "
            "spent in the cell.",
        ),
        (
            "partly",
            "high",
            "Enrolled in a vocational course that starts shortly after release; works in the "
            "prison kitchen meanwhile.",
        ),
        (
            "present",
            "high",
            "Works twenty-four hours a week and follows a vocational course two evenings a week.",
        ),
    ),
    "P3": (
        ("partly", "high", "Expressed doubt about the group once, then took the remark back."),
        (
            "partly",
            "high",
            "Voices doubts more often in mentoring, less so in front of staff.",
        ),
        (
            "present",
            "high",
            "Talks openly about what made the group attractive and why it no longer is.",
        ),
    ),
    "P4": (
        (
            "partly",
            "moderate",
            "Attends supervision but keeps answers short; agreed to meet an exit mentor.",
        ),
        ("present", "moderate", "Keeps appointments and has met the mentor four times."),
        (
            "present",
            "high",
            "Keeps every appointment and has asked for the mentoring to continue after the "
            "licence ends.",
        ),
    ),
}

# Scenarios: (description, likelihood per stage, what would prevent it).
RISK_SCENARIOS: tuple[tuple[str, tuple[str, str, str], str], ...] = (
    (
        "Renewed contact with the former co-defendants draws the person back into the group.",
        ("high", "moderate", "low"),
        "No-contact condition, reporting to probation, mentor meetings from the first day, "
        "neighbourhood officer briefed.",
    ),
    (
        "While isolated and without work, the person starts spreading extremist material "
        "online again.",
        ("moderate", "moderate", "low"),
        "A daily structure through work or training; online behaviour discussed openly in "
        "mentoring.",
    ),
)

# The management plan by section, before and after the person settled.
RISK_PLAN: tuple[dict[str, str], dict[str, str]] = (
    {
        "monitoring": "Police check the licence conditions monthly and report at the case meeting.",
        "supervision": "Weekly reporting to probation in the first three months after release.",
        "interventions": "Exit mentoring every two weeks, starting in custody; vocational "
        "course; family meetings with the social worker.",
        "safety": "No contact with the co-defendants; no travel abroad without the "
        "prosecutor's consent.",
    },
    {
        "monitoring": "Police check the licence conditions every two months; information "
        "shared at the case meeting.",
        "supervision": "Fortnightly reporting to probation while the situation stays stable.",
        "interventions": "Mentoring continues monthly; the vocational course is completed as "
        "planned.",
        "safety": "The no-contact condition and the travel ban stay in force until the end of "
        "the licence.",
    },
)

RISK_RATIONALES: dict[str, str] = {
    "high": "Ongoing contact with people from the movement in custody, a strong sense of "
    "belonging to the group and no plan yet for work or housing after release. There are no "
    "statements of intent to harm, but together these call for a high level of concern and "
    "close supervision until the release arrangements are in place.",
    "moderate": "Identification with the group and the preparations of the offence still "
    "weigh, but there is no sign of intent to harm, contact with the former network is "
    "fading, and family contact and the mentoring give something to build on. Concern is "
    "moderate while work and housing are not yet settled.",
    "low": "Distance from the group shows in words and in behaviour: no contact with the "
    "co-defendants, stable work, restored family contact and every appointment kept. The "
    "offence stays on record; concern is low as long as this structure holds, to be reviewed "
    "at the next date or earlier if work or housing is lost.",
}

# Needs example (both versions, by item id), per stage: (level of need, evidence).
Need = tuple[str, str]
_HOUSING_PLACE: tuple[Need, Need, Need] = (
    ("serious", "No address for the day of release yet; the family cannot offer a room."),
    ("some", "A room in supported housing is reserved from the release date, for six months."),
    (
        "none",
        "Lives in the supported room; rent is paid on time and the landlord has no complaints.",
    ),
)
NEEDS_RATINGS: dict[str, tuple[Need, Need, Need]] = {
    "housing-place": _HOUSING_PLACE,
    # 1.1: the same item, renamed.
    "housing-release": _HOUSING_PLACE,
    "housing-lasting": (
        ("serious", "Nothing arranged beyond the first weeks after release."),
        (
            "serious",
            "The supported room is for six months only; an application for social housing is in.",
        ),
        (
            "some",
            "On the waiting list for social housing; the supported room is extended meanwhile.",
        ),
    ),
    "work-activity": (
        ("serious", "No work or training arranged for after release."),
        ("some", "A vocational course in welding starts next month, three days a week."),
        ("none", "Follows the welding course and works part-time in a warehouse."),
    ),
    "work-skills": (
        ("some", "Left school at sixteen without a diploma; reads and writes well."),
        ("some", "Enrolled in a course that leads to a recognised certificate."),
        ("some", "Half of the course modules done; the certificate is expected within the year."),
    ),
    "money-income": (
        ("serious", "No income on release; the benefit cannot be applied for from custody."),
        ("some", "Benefit application submitted; the first payment is expected within four weeks."),
        ("none", "Receives wages and a small top-up benefit; budget coaching ended as planned."),
    ),
    "money-debts": (
        (
            "serious",
            "About four thousand euros of debts, including a court fine and telephone bills.",
        ),
        (
            "serious",
            "Debts registered with the debt advice service; a repayment plan is being drawn up.",
        ),
        ("some", "Repayment plan agreed; paid every month for three months in a row."),
    ),
    "health-physical": (
        ("some", "Needs regular asthma medication; no doctor outside prison yet."),
        (
            "none",
            "Registered with a general practitioner near the new address; the "
            "prescription is transferred.",
        ),
        ("none", "Sees the general practitioner for the asthma medication; nothing else needed."),
    ),
    "health-mental": (
        ("some", "Reports poor sleep and low mood in custody; no treatment so far."),
        (
            "some",
            "A first appointment at the outpatient clinic is booked for the week after release.",
        ),
        ("some", "Attends the outpatient clinic every two weeks for sleep and mood."),
    ),
    # 1.1: the two health items, merged.
    "health-care": (
        (
            "some",
            "Asthma medication, poor sleep and low mood; no doctor outside prison and no "
            "treatment yet.",
        ),
        (
            "some",
            "Registered with a general practitioner; a first appointment at the "
            "outpatient clinic is booked.",
        ),
        (
            "some",
            "Sees the general practitioner for the asthma medication and the outpatient "
            "clinic every two weeks for sleep and mood.",
        ),
    ),
    "family-contact": (
        (
            "some",
            "Contact with a parent resumed by letter; a sibling does not want contact for now.",
        ),
        ("some", "Monthly visits by a parent; a family meeting with the social worker is planned."),
        (
            "none",
            "Regular contact with both parents and the older sibling; the family meetings "
            "ended by agreement.",
        ),
    ),
    "family-care": (
        ("none", "No children or other relatives to care for."),
        ("none", "No children or other relatives to care for."),
        ("none", "No children or other relatives to care for."),
    ),
    "network-support": (
        (
            "serious",
            "Apart from the family, the only people the person knows are from the old group.",
        ),
        ("some", "The mentor is now someone to call; a former classmate got back in touch."),
        (
            "some",
            "Two people from the gym and a colleague are there to turn to; the network is "
            "still small.",
        ),
    ),
    "network-leisure": (
        ("some", "Interested in sport; no club or activity arranged."),
        ("some", "Joined a boxing gym with the mentor's help."),
        (
            "none",
            "Trains at the gym three evenings a week and helps with the youth group on Saturdays.",
        ),
    ),
    "documents-id": (
        ("serious", "The identity card expired during the sentence."),
        (
            "some",
            "Renewal requested; an appointment at the town hall is set for the week after release.",
        ),
        ("none", "Has a valid identity card."),
    ),
    "documents-status": (
        (
            "some",
            "Registration must move to the new address; the bank account was closed "
            "during the sentence.",
        ),
        ("some", "Registration at the new address requested; a basic bank account is open."),
        ("none", "Registered at the current address; bank account and health insurance in order."),
    ),
    # 1.1: the residence status and the other papers, split.
    "documents-residence": (
        ("some", "Registration must move to the new address."),
        ("some", "Registration at the new address requested at the town hall."),
        ("none", "Registered at the current address; no residence issue."),
    ),
    "documents-papers": (
        (
            "some",
            "The bank account was closed during the sentence; the health insurance card "
            "is missing.",
        ),
        ("some", "A basic bank account is open; the benefit papers are with social services."),
        ("some", "Bank account open; the new health insurance card is on its way."),
    ),
}

NEEDS_PLAN: tuple[dict[str, str], dict[str, str]] = (
    {
        "priorities": "An address for the day of release, the benefit application and a new "
        "identity card.",
        "referrals": "Housing association (room), social services (benefit and debts), town "
        "hall (identity card); the mentor follows up each referral at the fortnightly meeting.",
    },
    {
        "priorities": "Keep the repayment plan going and follow the social housing application.",
        "referrals": "Debt advice service (repayment plan) and the housing office; followed up "
        "by the mentor every month.",
    },
)

NEEDS_RATIONALES: dict[str, str] = {
    "high": "Several serious needs at once: no address, no income and debts on release, and a "
    "network that leads back to the old group. Intensive support is needed in the first "
    "months, housing and income first.",
    "moderate": "Housing for the first months and an income are in sight, but the debts, "
    "lasting housing and a small network still need regular support.",
    "low": "Most needs are met or in hand: housing, work, income and family contact are "
    "stable. Support can be reduced to the repayment plan and the search for lasting housing.",
}


# --- Loading ------------------------------------------------------------------------------


def populate(worlds: list[_World], today: datetime.date, report: LoadReport) -> None:
    """Instruments, training records and assessments for every partnership."""
    _load(FIRST_FILES, report)
    plans: list[tuple[_World, Case, tuple[Step, ...]]] = []
    for world in worlds:
        _train(world, today, report)
        for case, steps in zip(_shared_cases(world), PLANS, strict=False):
            if not Assessment.objects.filter(case=case).exists():
                plans.append((world, case, steps))
    before = {case.pk: case.updated_at for _w, case, _s in plans}
    for phase in (1, 2):
        if phase == 2:
            _load(LATER_FILES, report)
        for world, case, steps in plans:
            for step in steps:
                if step.phase == phase:
                    report.assessments += _assess(world, case, step, today)
    for _world, case, _steps in plans:
        _settle_case(case, before[case.pk])


def _load(names: tuple[str, ...], report: LoadReport) -> None:
    files = [(name, (EXAMPLES / name).read_bytes()) for name in names]
    results = instruments_load(files=files)
    report.instruments += sum(1 for r in results if r.outcome is Loaded.CREATED)


def _train(world: _World, today: datetime.date, report: LoadReport) -> None:
    """The police officer (who assesses risk) and the case manager (who
    countersigns) hold the training the risk example asks for, delivered by
    the partnership's trainer."""
    trainer = world.users.get("trainer")
    completed = today - 420 * DAY
    for key in TRAINED:
        user = world.users.get(key)
        if user is None or TrainingRecord.objects.filter(user=user, training=TRAINING).exists():
            continue
        record = TrainingRecord.objects.create(
            user=user,
            training=TRAINING,
            completed_on=completed,
            expires_on=completed + 3 * 365 * DAY,
            note=TRAINING_NOTE,
            recorded_by=trainer,
        )
        audit_record(
            action=EventAction.CREATE,
            actor=trainer,
            username="" if trainer is not None else "demo",
            obj=record,
            detail={"training": TRAINING, "user": user.pk, "demo": True},
        )
        report.training_records += 1


def _shared_cases(world: _World) -> list[Case]:
    """The open cases with both the police officer and the exit NGO on the team:
    community cases first, then those preparing release, in the spec's order."""
    found: list[Case] = []
    for status in (CaseStatus.COMMUNITY, CaseStatus.PRE_RELEASE):
        for index, p in enumerate(world.spec.persons):
            team = p.team.split()
            if p.status != status or "police" not in team or "exit" not in team:
                continue
            case = lifecycle._case(world, index)
            if case is not None and case.status == status:
                found.append(case)
    return found


def _assess(world: _World, case: Case, step: Step, today: datetime.date) -> int:
    """One assessment through the services, then moved to its place in time."""
    author = world.users.get(step.author)
    if author is None:
        return 0
    category = Category.RISK if step.instrument == RISK else Category.SOCIAL
    if category not in categories_of(author, case.partnership_id, Action.WRITE):
        return 0
    a = assessment_start(actor=author, case_id=case.pk, instrument=step.instrument)
    version = a.instrument_version
    draft = _draft(version, step)
    zone = _zone(world)
    days_ago = min(step.days_ago, max((today - case.opened_on).days - 3, 0))
    if step.draft:
        assessment_save(actor=author, assessment_id=a.pk, version=a.version, draft=draft)
        Assessment.objects.filter(pk=a.pk).update(
            created_at=_moment(today, days_ago, 9, zone),
            updated_at=_moment(today, max(days_ago - 1, 0), 16, zone),
        )
        return 1
    a = assessment_complete(actor=author, assessment_id=a.pk, version=a.version, draft=draft)
    done = _moment(today, days_ago, 15, zone)
    changes: dict[str, Any] = {
        "created_at": _moment(today, days_ago + 2, 10, zone),
        "updated_at": done,
        "completed_at": done,
        "review_due_on": InstrumentContent(version.content).review_due(timezone.localdate(done)),
    }
    if step.countersign and (second := world.users.get("casemanager")) is not None:
        a = assessment_countersign(actor=second, assessment_id=a.pk, version=a.version)
        signed = _moment(today, max(days_ago - COUNTERSIGNED_AFTER, 0), 11, zone)
        changes.update(countersigned_at=signed, updated_at=signed)
    Assessment.objects.filter(pk=a.pk).update(**changes)
    return 1


def _draft(version: InstrumentVersion, step: Step) -> Draft:
    content = InstrumentContent(version.content)
    items = content.items()
    if step.draft:
        items = items[:DRAFT_ITEMS]
    later = 1 if step.stage >= 2 else 0
    ratings: dict[str, dict[str, str]] = {}
    for item in items:
        if step.instrument == RISK:
            presence, relevance, evidence = RISK_RATINGS[item.id][step.stage]
        else:
            presence, evidence = NEEDS_RATINGS[item.id][step.stage]
            relevance = ""
        rating = {"presence": presence, "evidence": evidence}
        if item.relevance_levels:
            rating["relevance"] = relevance
        ratings[item.id] = rating
    sections = {s.id for s in content.plan_sections()}
    plan = (RISK_PLAN if step.instrument == RISK else NEEDS_PLAN)[later]
    plan = {k: v for k, v in plan.items() if k in sections}
    if step.draft:
        return Draft(ratings=ratings, management_plan=dict(list(plan.items())[:1]))
    scenarios = (
        [
            {"description": d, "likelihood": likely[step.stage], "prevention": p}
            for d, likely, p in RISK_SCENARIOS
        ]
        if content.has_scenarios
        else []
    )
    rationales = RISK_RATIONALES if step.instrument == RISK else NEEDS_RATIONALES
    return Draft(
        ratings=ratings,
        scenarios=scenarios,
        management_plan=plan,
        judgement=step.judgement,
        rationale=rationales[step.judgement],
    )


def _settle_case(case: Case, before: datetime.datetime) -> None:
    """The services recorded the assessments as activity of today: the case's
    last activity (and the caseload's order) goes back to the latest of its
    earlier activity and its back-dated assessments."""
    latest = (
        Assessment.objects.filter(case_id=case.pk)
        .exclude(status=AssessmentStatus.DRAFT)
        .order_by("-updated_at")
        .values_list("updated_at", flat=True)
        .first()
    )
    drafts = (
        Assessment.objects.filter(case_id=case.pk, status=AssessmentStatus.DRAFT)
        .order_by("-updated_at")
        .values_list("updated_at", flat=True)
        .first()
    )
    moment = max(m for m in (before, latest, drafts) if m is not None)
    Case.objects.filter(pk=case.pk).update(updated_at=moment)
    case.updated_at = moment
    case_grants_touch(case)


def _zone(world: _World) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(world.partnership.timezone)


def _moment(
    today: datetime.date, days_ago: int, hour: int, zone: zoneinfo.ZoneInfo
) -> datetime.datetime:
    """A time of day ``days_ago`` days back, in the partnership's zone (never
    later than now)."""
    day = today - days_ago * DAY
    local = datetime.datetime.combine(day, datetime.time(hour, 0)).replace(tzinfo=zone)
    return min(local, timezone.now())
