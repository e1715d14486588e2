"""Loading the demo world, idempotently.

Everything is keyed on natural keys (organisation names, partnership codes,
usernames, the person's name and date of birth), so a second run finds what
the first one made and adds nothing twice; what a visitor changed in the
demo is kept.

Sharing grids, cases and case teams are made through the services, so the
audit chain records them like any other write. Notes are inserted one case at
a time, each with the audit event ``note_create`` would write (and the same
grant check), because going through ``note_create`` note by note is most of
the loading time. Closed cases are written while still open and then closed
through ``case_transition`` (outcome, follow-up reviews). Then
``prepare.demo.lifecycle`` adds referrals, key dates, release planning,
monitoring and a transfer, ``prepare.demo.assessments`` the example
instruments, trained assessors and assessments over time, and the reminders
due today are inserted. The
loader moves the cases' and notes' dates back over the past months (a demo
that happened all today would be a poor demo) and re-copies each case's sort
key and status into the case grant index. Audit events keep the real time.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import zoneinfo
from dataclasses import dataclass, field

from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from prepare.access.categories import Action, Category
from prepare.access.errors import WriteForbidden
from prepare.access.grants import case_grants_touch
from prepare.access.policy import categories_of
from prepare.accounts.models import Organisation, Role, User
from prepare.audit.models import EventAction
from prepare.audit.services import audit_record
from prepare.cases import services as case_services
from prepare.cases.lifecycle.open_items import open_item_keys
from prepare.cases.lifecycle.rules import FOLLOW_UP_MONTHS, add_months
from prepare.cases.lifecycle.services import case_transition
from prepare.cases.models import (
    ENDED_STATUSES,
    Case,
    CaseNote,
    CaseOutcome,
    CaseStatus,
    CaseTeamMember,
    CaseTransition,
    ClosureProposal,
    KeyDate,
    NoteKind,
    Person,
)
from prepare.demo import assessments as demo_assessments
from prepare.demo import data, lifecycle
from prepare.demo import documents as demo_documents
from prepare.notifications.reminders import run_reminders
from prepare.partnerships.models import Membership, Partnership, SharingAgreement
from prepare.partnerships.services import agreement_grid_seed


@dataclass
class LoadReport:
    organisations: int = 0
    partnerships: int = 0
    users: int = 0
    cases: int = 0
    notes: int = 0
    skipped_cases: int = 0
    referrals: int = 0
    triage_decisions: int = 0
    key_dates: int = 0
    checklists: int = 0
    contacts: int = 0
    breaches: int = 0
    signals: int = 0
    transfers: int = 0
    erasure_requests: int = 0
    break_glass: int = 0
    reminders: int = 0
    documents: int = 0
    instruments: int = 0
    training_records: int = 0
    assessments: int = 0


@dataclass(frozen=True)
class DemoLogin:
    username: str
    role: str
    organisation: str
    organisation_type: str
    partnership: str
    secret: str
    code_now: str


@dataclass
class _World:
    """What one partnership's loading needs to hand around."""

    spec: data.PartnershipSpec
    partnership: Partnership
    orgs: dict[str, Organisation]
    users: dict[str, User] = field(default_factory=dict)


def totp_key_for(username: str) -> str:
    """A fixed TOTP key per demo user (hex), the same on every machine and run."""
    return hashlib.sha256(f"prepare-demo-totp:{username}".encode()).hexdigest()[:40]


@transaction.atomic
def load() -> LoadReport:
    """Create whatever part of the demo world is missing; all or nothing."""
    report = LoadReport()
    today = timezone.localdate()
    password = make_password(data.DEMO_PASSWORD)
    worlds: dict[str, _World] = {}
    for spec in data.PARTNERSHIPS:
        world = _partnership(spec, report)
        _staff(world, password, report)
        _agreement(world, today)
        _cases(world, today, report)
        lifecycle.populate(world, today, report)
        demo_documents.attach(world, today, report)
        worlds[spec.code] = world
    demo_assessments.populate(list(worlds.values()), today, report)
    lifecycle.transfer(worlds[data.ROTTERDAM.code], worlds[data.VILVOORDE.code], report)
    _user(data.ADMIN, None, password, report)
    # The bell: reminders due today (each inserted once, so a second run adds none).
    report.reminders = sum(run_reminders(timezone.now()).values())
    return report


# --- Organisations, partnership, agreement ----------------------------------------


def _partnership(spec: data.PartnershipSpec, report: LoadReport) -> _World:
    orgs: dict[str, Organisation] = {}
    for o in spec.orgs:
        org, created = Organisation.objects.get_or_create(
            name=o.name,
            defaults={
                "type": o.type,
                "city": o.city,
                "country": spec.country,
                "languages": data.LANGUAGES_BY_COUNTRY.get(spec.country, []),
            },
        )
        orgs[o.key] = org
        report.organisations += created
    coordinators = [u for u in spec.users if u.role == Role.COORDINATOR]
    partnership, created = Partnership.objects.get_or_create(
        code=spec.code,
        defaults={
            "name": spec.name,
            "coordinating_organisation": orgs[spec.coordinator_key],
            "timezone": spec.timezone,
            # Four eyes on closure where there are two coordinators; a partnership
            # with one lets that coordinator approve their own proposal.
            "closure_self_approval": len(coordinators) < 2,
        },
    )
    report.partnerships += created
    for o in spec.orgs:
        Membership.objects.get_or_create(
            partnership=partnership,
            organisation=orgs[o.key],
            defaults={"starts_on": o.member_since, "ends_on": o.member_until},
        )
    return _World(spec=spec, partnership=partnership, orgs=orgs)


def _agreement(world: _World, today: datetime.date) -> None:
    """The partnership's agreement; its grid is set through the service when new."""
    spec = world.spec
    until = (
        datetime.date(today.year + spec.agreement_years, 12, 31)
        if spec.agreement_years is not None
        else None
    )
    agreement, created = SharingAgreement.objects.get_or_create(
        partnership=world.partnership,
        title=spec.agreement_title,
        defaults={
            "legal_basis": spec.legal_basis,
            "legal_reference": spec.legal_reference,
            "valid_from": spec.agreement_from,
            "valid_until": until,
        },
    )
    if not created:
        return
    cells: dict[tuple[int, str], str] = {}
    for o in spec.orgs:
        if o.member_until is not None and o.member_until < today:
            continue
        for category, access in data.GRID.get(o.key, {}).items():
            cells[(world.orgs[o.key].pk, category)] = access
    agreement_grid_seed(actor=world.users["coordinator"], agreement_id=agreement.pk, cells=cells)


# --- People who sign in ---------------------------------------------------------------


def _staff(world: _World, password: str, report: LoadReport) -> None:
    prefix = world.spec.code.lower() + "."
    for u in world.spec.users:
        world.users[u.username.removeprefix(prefix)] = _user(
            u, world.orgs[u.org_key], password, report
        )


def _user(spec: data.UserSpec, org: Organisation | None, password: str, report: LoadReport) -> User:
    user = User.objects.filter(username=spec.username).first()
    if user is None:
        admin = spec.role == Role.ADMINISTRATOR
        user = User.objects.create(
            username=spec.username,
            first_name=spec.first_name,
            last_name=spec.last_name,
            email=f"{spec.username}@demo.example.org",
            organisation=org,
            role=spec.role,
            password=password,
            is_staff=admin,
            is_superuser=admin,
            manages_accounts=spec.username in data.ACCOUNT_MANAGERS,
        )
        report.users += 1
    elif spec.username in data.ACCOUNT_MANAGERS and not user.manages_accounts:
        User.objects.filter(pk=user.pk).update(manages_accounts=True)
    if not TOTPDevice.objects.filter(user=user, confirmed=True).exists():
        TOTPDevice.objects.create(
            user=user, name="Demo authenticator", key=totp_key_for(user.username), confirmed=True
        )
    return user


# --- Cases ----------------------------------------------------------------------------


def _references(spec: data.PartnershipSpec, today: datetime.date) -> dict[int, str]:
    """Case references numbered per year in the order the cases were opened."""
    order = sorted(range(len(spec.persons)), key=lambda i: -spec.persons[i].opened_days_ago)
    per_year: dict[int, int] = {}
    refs: dict[int, str] = {}
    for i in order:
        year = (today - datetime.timedelta(days=spec.persons[i].opened_days_ago)).year
        per_year[year] = per_year.get(year, 0) + 1
        refs[i] = f"{spec.code}-{year}-{per_year[year]:04d}"
    return refs


def _cases(world: _World, today: datetime.date, report: LoadReport) -> None:
    # The loader is the system itself, not a user consulting cases: it reads
    # the natural keys directly.
    existing = set(
        Case.objects.filter(partnership=world.partnership).values_list(
            "person__given_name", "person__family_name", "person__birth_date"
        )
    )
    refs = _references(world.spec, today)
    taken = set(
        Case.objects.filter(reference__in=refs.values()).values_list("reference", flat=True)
    )
    for index, p in enumerate(world.spec.persons):
        if (p.given_name, p.family_name, p.birth_date) in existing:
            report.skipped_cases += 1
            continue
        ref = refs[index] if refs[index] not in taken else ""
        report.notes += _case(world, index, p, ref, today)
        report.cases += 1


def _case(
    world: _World, index: int, p: data.PersonSpec, reference: str, today: datetime.date
) -> int:
    coordinator = world.users["coordinator"]
    ended = p.status in ENDED_STATUSES
    closes = ended or p.status == CaseStatus.CLOSING
    case = case_services.case_create(
        actor=coordinator,
        partnership=world.partnership,
        person=Person(
            given_name=p.given_name,
            family_name=p.family_name,
            birth_date=p.birth_date,
            data_subject_category=p.subject,
        ),
        reference=reference,
        # A closed case's team no longer reaches it: write its history first,
        # then propose and approve its closure through the lifecycle's rules.
        status=CaseStatus.COMMUNITY if closes else p.status,
    )
    team = p.team.split()
    for key in team:
        days = data.TEAM_DAYS.get(key)
        case_services.team_member_add(
            actor=coordinator,
            case_id=case.pk,
            organisation=world.orgs[key],
            user=world.users["police"] if key == "police" else None,
            purpose=data.TEAM_PURPOSES[key],
            ends_on=today + datetime.timedelta(days=days + 7 * index) if days else None,
        )
    plan = _note_plan(world, index, p, team)
    timeline = _timeline(world, index, p, len(plan), today)
    notes = _notes_insert(case, plan, timeline.note_times)
    _backdate(case, timeline)
    if closes:
        case = _propose_closure(world, case, max([timeline.opened_at, *timeline.note_times]))
    if ended:
        case = _close(world, case, index, p.status, today)
    return len(notes)


_OUTCOMES = (CaseOutcome.REINTEGRATED, CaseOutcome.SENTENCE_ENDED, CaseOutcome.MOVED)


def _propose_closure(world: _World, case: Case, when: datetime.datetime) -> Case:
    """The coordinator proposes closure, confirming whatever is still open; dated
    back to the case's last activity."""
    case = case_transition(
        actor=world.users["coordinator"],
        case_id=case.pk,
        to_status=CaseStatus.CLOSING,
        reason=data.CLOSURE_PROPOSAL_REASON,
        version=Case.objects.get(pk=case.pk).version,
        confirmed=open_item_keys(),
    )
    CaseTransition.objects.filter(case=case, to_status=CaseStatus.CLOSING).update(at=when)
    ClosureProposal.objects.filter(case=case).update(proposed_at=when)
    Case.objects.filter(pk=case.pk).update(updated_at=when)
    case.updated_at = when
    case_grants_touch(case)
    return case


def _close(world: _World, case: Case, index: int, status: str, today: datetime.date) -> Case:
    """Close the case through the lifecycle (outcome, follow-up reviews), then date it back.

    Another coordinator than the proposer approves; a partnership with a single
    coordinator lets them approve their own proposal (its closure setting).
    """
    coordinator = world.users["coordinator"]
    approver = world.users.get("coordinator2", coordinator)
    case = case_transition(
        actor=approver,
        case_id=case.pk,
        to_status=CaseStatus.CLOSED,
        reason=data.CLOSURE_REASON,
        version=Case.objects.get(pk=case.pk).version,
        outcome=_OUTCOMES[index % len(_OUTCOMES)],
    )
    if status != CaseStatus.CLOSED:
        case = case_transition(
            actor=coordinator,
            case_id=case.pk,
            to_status=status,
            reason=data.AFTER_CLOSURE_REASON[status],
            version=case.version,
        )
    closed_on = today - datetime.timedelta(days=_QUIET_DAYS[status])
    moment = timezone.make_aware(datetime.datetime.combine(closed_on, datetime.time(15, 0)))
    Case.objects.filter(pk=case.pk).update(closed_on=closed_on, updated_at=moment)
    case.closed_on, case.updated_at = closed_on, moment
    for kind, months in FOLLOW_UP_MONTHS:
        KeyDate.objects.filter(case=case, kind=kind).update(
            date=add_months(closed_on, months), updated_at=moment
        )
    CaseTransition.objects.filter(case=case).update(at=moment)
    ClosureProposal.objects.filter(case=case).update(proposed_at=moment, decided_at=moment)
    case_grants_touch(case)
    return case


def _notes_insert(
    case: Case, plan: list[tuple[User, str, str, str]], times: list[datetime.datetime]
) -> list[CaseNote]:
    """The notes of one case in one insert, each with its own audit event.

    ``note_create`` would do the same one note at a time, re-reading the case
    through the policy for each; the grant check here uses the authors'
    cached grants, and the case team was built through the services above.
    """
    notes = []
    for (author, category, kind, text), moment in zip(plan, times, strict=True):
        if category not in categories_of(author, case.partnership_id, Action.WRITE):
            raise WriteForbidden(f"{author} may not write {category} in {case.partnership}")
        notes.append(
            CaseNote(
                case=case,
                partnership_id=case.partnership_id,
                category=category,
                kind=kind,
                text=text,
                created_by=author,
                updated_by=author,
                created_at=moment,
                updated_at=moment,
            )
        )
    CaseNote.objects.bulk_create(notes)
    for note in notes:
        audit_record(
            action=EventAction.CREATE,
            actor=note.created_by,
            case=case,
            obj=note,
            category=note.category,
        )
    return notes


def _note_plan(
    world: _World, index: int, p: data.PersonSpec, team: list[str]
) -> list[tuple[User, str, str, str]]:
    """Who writes what on this case, in the order it happened."""
    users = world.users

    def pick(pool: tuple[str, ...], offset: int = 0) -> str:
        return pool[(index + offset) % len(pool)]

    coordinator_notes = {c: (k, pool) for c, k, pool in data.NOTES["coordinator"]}
    plan: list[tuple[User, str, str, str]] = []
    for first in (Category.IDENTITY, Category.JUSTICE):
        kind, pool = coordinator_notes[first]
        plan.append((users["coordinator"], first, kind, pick(pool)))
    if p.status == CaseStatus.REFERRED:
        return plan
    author_of = {"probation": "casemanager", "police": "police"}
    for offset, key in enumerate(team):
        author = users.get(author_of.get(key, key))
        if author is None:
            continue
        for category, kind, pool in data.NOTES.get(key, ()):
            plan.append((author, category, kind, pick(pool, offset)))
    meeting = data.MEETING_NOTES.get(p.status, data.MEETING_NOTES[CaseStatus.CLOSING])
    plan.append((users["coordinator"], Category.MEETINGS, NoteKind.FACT, meeting))
    if index % 3 == 0:
        kind, pool = coordinator_notes[Category.IDEOLOGY]
        plan.append((users["coordinator"], Category.IDEOLOGY, kind, pick(pool)))
    if p.status in ENDED_STATUSES:
        plan.append((users["coordinator"], Category.MEETINGS, NoteKind.FACT, data.CLOSURE_NOTE))
    return plan


# Days ago of the last activity on a case, by status.
_QUIET_DAYS: dict[str, int] = {
    CaseStatus.CLOSED: 45,
    CaseStatus.FOLLOW_UP: 150,
    CaseStatus.ARCHIVED: 320,
    CaseStatus.CLOSING: 9,
}


@dataclass(frozen=True)
class _Timeline:
    opened_on: datetime.date
    opened_at: datetime.datetime
    note_times: list[datetime.datetime]
    team_added_at: datetime.datetime


def _timeline(
    world: _World, index: int, p: data.PersonSpec, note_count: int, today: datetime.date
) -> _Timeline:
    """The case's history, spread between its opening and its last activity."""
    zone = zoneinfo.ZoneInfo(world.partnership.timezone)
    opened = today - datetime.timedelta(days=p.opened_days_ago)
    if p.status == CaseStatus.REFERRED:
        last_days = max(p.opened_days_ago - 2, 0)
    elif p.status == CaseStatus.TRIAGE:
        last_days = p.opened_days_ago // 3
    else:
        last_days = _QUIET_DAYS.get(p.status, 1 + (index * 3) % 20)
    last_days = min(last_days, p.opened_days_ago)

    def moment(day: datetime.date, k: int) -> datetime.datetime:
        minutes = 8 * 60 + 30 + (k * 53) % (8 * 60)
        local = datetime.datetime.combine(day, datetime.time(minutes // 60, minutes % 60))
        return local.replace(tzinfo=zone)

    span = p.opened_days_ago - last_days
    steps = max(note_count - 1, 1)
    opened_at = moment(opened, index)
    return _Timeline(
        opened_on=opened,
        opened_at=opened_at,
        note_times=[
            moment(opened + datetime.timedelta(days=round(span * k / steps)), k + index)
            for k in range(note_count)
        ],
        team_added_at=opened_at + datetime.timedelta(days=min(3, span)),
    )


def _backdate(case: Case, timeline: _Timeline) -> None:
    """Move the case to its place in time and re-copy its sort key to the grant index."""
    case.opened_on = timeline.opened_on
    case.created_at = timeline.opened_at
    case.updated_at = max([timeline.opened_at, *timeline.note_times])
    Case.objects.filter(pk=case.pk).update(
        opened_on=case.opened_on, created_at=case.created_at, updated_at=case.updated_at
    )
    Person.objects.filter(pk=case.person_id).update(created_at=timeline.opened_at)
    CaseTeamMember.objects.filter(case_id=case.pk).update(added_at=timeline.team_added_at)
    case_grants_touch(case)


# --- What the banner prints ------------------------------------------------------------


def demo_logins() -> list[DemoLogin]:
    """Every demo account with its TOTP secret and the code valid right now."""
    specs = [(s.name, u) for s in data.PARTNERSHIPS for u in s.users] + [("", data.ADMIN)]
    users = {
        u.username: u
        for u in User.objects.filter(username__in=[u.username for _, u in specs]).select_related(
            "organisation"
        )
    }
    devices = {
        d.user_id: d
        for d in TOTPDevice.objects.filter(user__in=users.values(), confirmed=True).order_by("pk")
    }
    logins = []
    for partnership, spec in specs:
        user = users.get(spec.username)
        if user is None:
            continue
        device = devices.get(user.pk)
        secret = base64.b32encode(device.bin_key).decode() if device else ""
        code = (
            str(totp(device.bin_key, device.step, device.t0, device.digits, device.drift)).zfill(
                device.digits
            )
            if device
            else ""
        )
        logins.append(
            DemoLogin(
                username=user.username,
                role=(
                    _("%(role)s, manages accounts") % {"role": user.get_role_display()}
                    if user.manages_accounts
                    else user.get_role_display()
                ),
                organisation=user.organisation.name if user.organisation else "",
                organisation_type=user.organisation.get_type_display() if user.organisation else "",
                partnership=partnership,
                secret=secret,
                code_now=code,
            )
        )
    return logins
