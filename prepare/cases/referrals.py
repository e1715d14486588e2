"""Referral (a case comes in) and triage (the coordinator decides what it becomes).

``referral_create`` opens the case, with the person, the referral and the
known dates, in one transaction. Before it creates a person it looks for the
same person among the cases the actor may see *with identity*: if it finds
one, it creates nothing and raises ``DuplicatesFound``; the caller shows the
candidates and asks whether to link the referral to one of them or to create
a new person. Persons in cases the actor may not see with identity are never
looked at, so the answer reveals nothing the actor could not read anyway.

``triage_decide`` records the coordinator's structured outcome and moves the
case accordingly, through ``case_transition``.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from prepare.access.categories import Action, Category
from prepare.access.grants import case_grants_touch
from prepare.access.policy import WriteForbidden, get_case_or_404, grants_for, visible_cases
from prepare.accounts.models import Organisation, User
from prepare.audit.models import EventAction
from prepare.audit.services import audit_record
from prepare.cases.key_dates import key_date_set
from prepare.cases.models import (
    Case,
    CaseOutcome,
    CaseStatus,
    KeyDateKind,
    Person,
    Referral,
    ReferrerType,
    TriageDecision,
    TriageOutcome,
)
from prepare.cases.services import case_create
from prepare.cases.transitions import TransitionRefused, case_transition, may_move
from prepare.locking import StaleVersion, save_versioned
from prepare.partnerships.models import Membership, Partnership

# The dates a referral may bring along.
REFERRAL_DATE_KINDS = (
    KeyDateKind.SENTENCE_START,
    KeyDateKind.EARLIEST_RELEASE,
    KeyDateKind.EXPECTED_RELEASE,
    KeyDateKind.SENTENCE_END,
)
TRIAGE_STATUSES = (CaseStatus.REFERRED, CaseStatus.TRIAGE)
ACTIVE_STATUSES = (CaseStatus.PRE_RELEASE, CaseStatus.COMMUNITY)
MAX_CANDIDATES = 20


# --- Who may refer, and where ------------------------------------------------------


def referable_partnership_ids(actor: User) -> list[int]:
    """Partnerships where the actor may open a case: writing identity there."""
    g = grants_for(actor)
    if not g.writes_cases:
        return []
    return sorted(pid for pid in g.partnership_ids if g.may(pid, Category.IDENTITY, Action.WRITE))


def referable_partnerships(actor: User) -> QuerySet[Partnership]:
    return Partnership.objects.filter(pk__in=referable_partnership_ids(actor)).order_by("name")


def referring_organisations(partnership_ids: list[int]) -> QuerySet[Organisation]:
    """The current members (and coordinators) of these partnerships."""
    today = timezone.localdate()
    members = Membership.objects.current(today).filter(partnership_id__in=partnership_ids)
    coordinating = Partnership.objects.filter(pk__in=partnership_ids)
    return Organisation.objects.filter(
        Q(pk__in=members.values("organisation_id"))
        | Q(pk__in=coordinating.values("coordinating_organisation_id")),
        is_active=True,
    ).order_by("name")


def _is_member(partnership: Partnership, organisation_id: int) -> bool:
    if organisation_id == partnership.coordinating_organisation_id:
        return True
    return (
        Membership.objects.current(timezone.localdate())
        .filter(partnership=partnership, organisation_id=organisation_id)
        .exists()
    )


# --- Possible duplicates ------------------------------------------------------------


@dataclass(frozen=True)
class PersonData:
    given_name: str
    family_name: str
    data_subject_category: str
    birth_date: datetime.date | None = None
    identifier: str = ""


@dataclass(frozen=True)
class Candidate:
    """A person who may be the one referred, in a case the actor sees with identity."""

    person_id: int
    case_id: int
    reference: str
    status: str
    partnership: str
    given_name: str
    family_name: str
    birth_date: datetime.date | None
    identifier: str

    @property
    def status_label(self) -> str:
        return str(CaseStatus(self.status).label)


class DuplicatesFound(Exception):
    """Possible duplicates exist; nothing was created. The caller must ask."""

    def __init__(self, candidates: list[Candidate]) -> None:
        super().__init__("possible duplicates")
        self.candidates = candidates


def duplicate_candidates(*, actor: User, person: PersonData) -> list[Candidate]:
    """Same family and given name (any case) and birth date, or same identifier.

    Only among the cases the actor may see, in partnerships where identity is
    granted to the actor's organisation. Not audited here: the caller audits
    what it shows (``candidates_shown``).
    """
    g = grants_for(actor)
    identity_pids = sorted(
        pid for pid in g.partnership_ids if g.may(pid, Category.IDENTITY, Action.READ)
    )
    match = Q(pk__in=[])
    if person.birth_date is not None and person.given_name and person.family_name:
        match |= Q(
            person__family_name__iexact=person.family_name.strip(),
            person__given_name__iexact=person.given_name.strip(),
            person__birth_date=person.birth_date,
        )
    identifier = person.identifier.strip()
    if identifier:
        match |= Q(person__identifier__iexact=identifier)
    if not identity_pids or match == Q(pk__in=[]):
        return []
    rows = (
        visible_cases(actor)
        .filter(partnership_id__in=identity_pids)
        .filter(match)
        .order_by("person_id", "-opened_on", "-pk")
        .values_list(
            "person_id",
            "pk",
            "reference",
            "status",
            "partnership__name",
            "person__given_name",
            "person__family_name",
            "person__birth_date",
            "person__identifier",
        )[:MAX_CANDIDATES]
    )
    return [Candidate(*row) for row in rows]


def candidates_shown(*, actor: User, candidates: list[Candidate], view: str) -> None:
    """Log that the actor was shown these cases' persons (identity)."""
    audit_record(
        action=EventAction.LIST,
        actor=actor,
        case_ids=[c.case_id for c in candidates],
        category=Category.IDENTITY,
        detail={
            "view": view,
            "persons": sorted({c.person_id for c in candidates}),
        },
    )


# --- Referral -------------------------------------------------------------------------


@dataclass(frozen=True)
class ReferralData:
    partnership_id: int
    referrer_type: str
    reason: str
    reason_category: str
    person: PersonData
    referring_organisation_id: int | None = None
    dates: dict[str, datetime.date] = field(default_factory=dict)


@transaction.atomic
def referral_create(
    *,
    actor: User,
    data: ReferralData,
    link_person_id: int | None = None,
    create_new: bool = False,
) -> Referral:
    """Open a referred case: person (new or linked), case, referral, known dates.

    Raises ``WriteForbidden`` if the actor may not open cases in the
    partnership, ``ValidationError`` for data the partnership refuses, and
    ``DuplicatesFound`` (creating nothing) when the person may already be
    known and the caller said neither ``link_person_id`` nor ``create_new``.
    """
    g = grants_for(actor)
    if data.partnership_id not in referable_partnership_ids(actor):
        raise WriteForbidden
    partnership = Partnership.objects.get(pk=data.partnership_id)
    errors: dict[str, list[str]] = {}
    if data.referrer_type not in ReferrerType.values:
        errors["referrer_type"] = [_("Choose who refers the case.")]
    if data.reason_category not in g.categories(partnership.pk, Action.WRITE):
        errors["reason_category"] = [
            _("Your organisation may not write this category in this partnership.")
        ]
    if not data.reason.strip():
        errors["reason"] = [_("Say why the case is referred.")]
    unknown = sorted(set(data.dates) - set(REFERRAL_DATE_KINDS))
    if unknown:
        errors["dates"] = [_("Unknown kind of date.")]
    elif data.dates and not g.may(partnership.pk, Category.JUSTICE, Action.WRITE):
        errors["dates"] = [_("Your organisation may not record justice dates in this partnership.")]
    if data.referring_organisation_id is not None and not _is_member(
        partnership, data.referring_organisation_id
    ):
        errors["referring_organisation"] = [
            _("The referring organisation must be a member of the partnership.")
        ]
    if errors:
        raise ValidationError(errors)

    candidates = duplicate_candidates(actor=actor, person=data.person)
    if link_person_id is not None:
        if link_person_id not in {c.person_id for c in candidates}:
            raise ValidationError(
                {"link_person": [_("This person is not one of the possible duplicates.")]}
            )
        person = Person.objects.get(pk=link_person_id)
    elif candidates and not create_new:
        raise DuplicatesFound(candidates)
    else:
        person = Person(
            given_name=data.person.given_name.strip(),
            family_name=data.person.family_name.strip(),
            birth_date=data.person.birth_date,
            identifier=data.person.identifier.strip(),
            data_subject_category=data.person.data_subject_category,
        )
    case = case_create(
        actor=actor, partnership=partnership, person=person, status=CaseStatus.REFERRED
    )
    referral = Referral(
        case=case,
        referrer_type=data.referrer_type,
        referring_organisation_id=data.referring_organisation_id,
        reason=data.reason.strip(),
        category=data.reason_category,
        created_by=actor,
    )
    referral.full_clean()
    referral.save()
    detail: dict[str, object] = {
        "referrer_type": data.referrer_type,
        "referring_organisation": data.referring_organisation_id,
        "person": person.pk,
        "duplicates_seen": sorted(c.case_id for c in candidates),
    }
    if link_person_id is not None:
        # A combination of records: the new case joins an existing person.
        detail["combination"] = "linked_person"
        detail["linked_person"] = person.pk
    audit_record(
        action=EventAction.CREATE,
        actor=actor,
        case=case,
        obj=referral,
        category=data.reason_category,
        detail=detail,
    )
    for kind in REFERRAL_DATE_KINDS:
        if kind in data.dates:
            key_date_set(
                actor=actor,
                case_id=case.pk,
                kind=kind,
                date=data.dates[kind],
                version=None,
                source="referral",
            )
    return referral


# --- Triage ---------------------------------------------------------------------------

_CLOSING_OUTCOME: dict[str, str] = {
    TriageOutcome.NO_ACTION: CaseOutcome.NO_ACTION,
    TriageOutcome.CRIMINAL_JUSTICE: CaseOutcome.CRIMINAL_JUSTICE,
}


def triage_target(outcome: str, active_status: str = "") -> str:
    """The status a triage outcome leads to."""
    if outcome == TriageOutcome.MULTI_AGENCY:
        return active_status
    if outcome in _CLOSING_OUTCOME:
        return CaseStatus.CLOSED
    return CaseStatus.TRIAGE


def case_for_triage(*, actor: User, case_id: object) -> Case:
    """The case, if the actor coordinates its partnership (404 invisible, 403 not)."""
    case = get_case_or_404(actor, case_id, Action.WRITE)
    if not grants_for(actor).coordinates(case.partnership_id) or not may_move(actor, case):
        raise WriteForbidden
    return case


@transaction.atomic
def triage_decide(
    *,
    actor: User,
    case_id: int,
    outcome: str,
    reasons: str,
    version: int,
    active_status: str = "",
) -> TriageDecision:
    """Record the triage outcome and move the case to where it leads.

    A referred case first moves into triage; then multi-agency opens it
    (pre-release or in the community, ``active_status``), no action and the
    criminal-justice track close it with that outcome, and more information
    keeps it in triage. Each move is a ``case_transition`` (recorded and
    logged); the decision itself is logged too. Only the coordinator.
    """
    case = case_for_triage(actor=actor, case_id=case_id)
    if case.version != version:
        raise StaleVersion
    if case.status not in TRIAGE_STATUSES:
        raise TransitionRefused(
            _("Only a referred case or a case in triage can be triaged; this one is “%(s)s”.")
            % {"s": CaseStatus(case.status).label},
            code="not_in_triage",
        )
    if outcome not in TriageOutcome.values:
        raise TransitionRefused(_("Choose the outcome of the triage."), code="outcome_required")
    reasons = (reasons or "").strip()
    if not reasons:
        raise TransitionRefused(_("Give the reasons for the outcome."), code="reason_required")
    if outcome == TriageOutcome.MULTI_AGENCY and active_status not in ACTIVE_STATUSES:
        raise TransitionRefused(
            _("Say whether the person is still in custody or already in the community."),
            code="active_status_required",
        )
    target = triage_target(outcome, active_status)
    if case.status == CaseStatus.REFERRED:
        case = case_transition(
            actor=actor,
            case_id=case.pk,
            to_status=CaseStatus.TRIAGE,
            reason=reasons,
            version=version,
        )
    if target != CaseStatus.TRIAGE:
        case = case_transition(
            actor=actor,
            case_id=case.pk,
            to_status=target,
            reason=reasons,
            version=case.version,
            outcome=_CLOSING_OUTCOME.get(outcome, ""),
        )
    elif case.version == version:
        # Still in triage: a new version all the same, so that a decision
        # taken on the old one elsewhere is refused as stale.
        save_versioned(case, version, {"updated_at": timezone.now()})
        case_grants_touch(case)
    decision = TriageDecision(case=case, outcome=outcome, reasons=reasons, decided_by=actor)
    decision.full_clean()
    decision.save()
    audit_record(
        action=EventAction.CREATE,
        actor=actor,
        case=case,
        obj=decision,
        category=decision.category,
        detail={"outcome": outcome, "status": case.status, "version": case.version},
    )
    return decision


# --- The triage queue -------------------------------------------------------------------


@dataclass(frozen=True)
class QueueRow:
    case: Case
    show_identity: bool
    referral: Referral | None

    @property
    def waiting_days(self) -> int:
        return (timezone.localdate() - self.case.opened_on).days


@dataclass
class QueuePage:
    rows: list[QueueRow]
    page: int
    has_next: bool

    @property
    def has_previous(self) -> bool:
        return self.page > 1


def may_triage(actor: User) -> bool:
    return bool(grants_for(actor).coordinated_ids)


def triage_queue_cases(actor: User) -> QuerySet[Case]:
    """The cases waiting for the actor's triage: referred or in triage, in the
    partnerships they coordinate, oldest first. Not a coordinator: 403."""
    g = grants_for(actor)
    if not g.coordinated_ids:
        raise WriteForbidden
    return (
        visible_cases(actor)
        .filter(partnership_id__in=sorted(g.coordinated_ids), status__in=TRIAGE_STATUSES)
        .order_by("opened_on", "created_at", "pk")
    )


def triage_queue_rows(
    *, actor: User, cases: list[Case], page: int, view: str = "triage_queue"
) -> list[QueueRow]:
    """The rows of one page of the queue (``cases`` from ``triage_queue_cases``,
    with person and partnership), with their referrals; one list event naming
    the cases shown."""
    g = grants_for(actor)
    referrals: dict[int, Referral] = {}
    if cases:
        referrals = {
            r.case_id: r
            for r in Referral.objects.visible_to(actor)
            .filter(case_id__in=[c.pk for c in cases])
            .select_related("referring_organisation")
        }
    rows = [
        QueueRow(
            case=c,
            show_identity=g.may(c.partnership_id, Category.IDENTITY),
            referral=referrals.get(c.pk),
        )
        for c in cases
    ]
    audit_record(
        action=EventAction.LIST,
        actor=actor,
        case_ids=[r.case.pk for r in rows],
        category=Category.IDENTITY if any(r.show_identity for r in rows) else "",
        detail={
            "view": view,
            "page": page,
            "referrals": sorted(r.pk for r in referrals.values()),
        },
    )
    return rows


def triage_queue(*, actor: User, page: int = 1, per_page: int = 25) -> QueuePage:
    """One page of the actor's triage queue (``triage_queue_cases``), audited."""
    page = max(page, 1)
    offset = (page - 1) * per_page
    cases = list(
        triage_queue_cases(actor).select_related("person", "partnership")[
            offset : offset + per_page + 1
        ]
    )
    has_next = len(cases) > per_page
    rows = triage_queue_rows(actor=actor, cases=cases[:per_page], page=page)
    return QueuePage(rows=rows, page=page, has_next=has_next)


@dataclass
class TriageCase:
    """What the triage page shows the coordinator about one case."""

    case: Case
    show_identity: bool
    referral: Referral | None
    decisions: list[TriageDecision]

    @property
    def open_for_triage(self) -> bool:
        return self.case.status in TRIAGE_STATUSES


def triage_read(*, actor: User, case: Case, view: str = "triage_decide") -> TriageCase:
    """The case as the triage page shows it (referral and earlier decisions,
    each only if its category is granted); one view event."""
    referral = (
        Referral.objects.visible_to(actor)
        .filter(case_id=case.pk)
        .select_related("referring_organisation", "created_by")
        .first()
    )
    decisions = list(
        TriageDecision.objects.visible_to(actor)
        .filter(case_id=case.pk)
        .select_related("decided_by")
    )
    show_identity = grants_for(actor).may(case.partnership_id, Category.IDENTITY)
    categories: set[str] = {Category.IDENTITY} if show_identity else set()
    if referral is not None:
        categories.add(referral.category)
    if decisions:
        categories.add(Category.MEETINGS)
    audit_record(
        action=EventAction.VIEW,
        actor=actor,
        case=case,
        obj=case,
        category=Category.IDENTITY if show_identity else "",
        detail={
            "view": view,
            "categories": sorted(categories),
            "referral": referral.pk if referral else None,
            "triage_decisions": [d.pk for d in decisions],
            "version": case.version,
        },
    )
    return TriageCase(
        case=case, show_identity=show_identity, referral=referral, decisions=decisions
    )
