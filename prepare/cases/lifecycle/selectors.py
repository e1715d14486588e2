"""Reads of the lifecycle: referral look-ups and duplicate candidates, the triage
queue, a case's lifecycle and key dates. Each takes the actor, goes through the
policy and writes its audit event."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from prepare.access.abilities import (
    TRANSITION_CATEGORY,
    CaseAbilities,
    case_abilities,
    may_approve_closure,
    may_move,
)
from prepare.access.categories import Action, Category
from prepare.access.errors import WriteForbidden
from prepare.access.policy import (
    case_for_coordinator,
    coordinated_partnership_ids,
    get_case_or_404,
    is_granted,
    member_partnership_ids,
    require,
    visible_cases,
    writes_cases,
)
from prepare.accounts.models import Organisation, User
from prepare.audit.models import EventAction
from prepare.audit.services import audit_record
from prepare.cases.lifecycle.open_items import OpenGroup, groups_shown, open_items
from prepare.cases.lifecycle.rules import (
    TRIAGE_STATUSES,
    Transition,
    transitions_from,
)
from prepare.cases.models import (
    Case,
    CaseOutcome,
    CaseStatus,
    CaseTransition,
    ClosureDecision,
    ClosureProposal,
    KeyDate,
    KeyDateKind,
    Referral,
    Transfer,
    TransferStatus,
    TriageDecision,
    TriageOutcome,
)
from prepare.partnerships.models import Membership, Partnership

MAX_CANDIDATES = 20


# --- Who may refer, and where ------------------------------------------------------


def referable_partnership_ids(actor: User) -> list[int]:
    """Partnerships where the actor may open a case: writing identity there."""
    if not writes_cases(actor):
        return []
    return sorted(
        pid
        for pid in member_partnership_ids(actor)
        if is_granted(actor, pid, Category.IDENTITY, Action.WRITE)
    )


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


def duplicate_candidates(*, actor: User, person: PersonData) -> list[Candidate]:
    """Same family and given name (any case) and birth date, or same identifier.

    Only among the cases the actor may see, in partnerships where identity is
    granted to the actor's organisation. Not audited here: the caller audits
    what it shows (``candidates_shown``).
    """
    identity_pids = sorted(
        pid
        for pid in member_partnership_ids(actor)
        if is_granted(actor, pid, Category.IDENTITY, Action.READ)
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


# --- Triage ---------------------------------------------------------------------------

_CLOSING_OUTCOME: dict[str, str] = {
    TriageOutcome.NO_ACTION: CaseOutcome.NO_ACTION,
    TriageOutcome.CRIMINAL_JUSTICE: CaseOutcome.CRIMINAL_JUSTICE,
}


def case_for_triage(*, actor: User, case_id: object) -> Case:
    """The case, if the actor coordinates its partnership (404 invisible, 403 not)."""
    case = case_for_coordinator(actor, case_id, Action.WRITE)
    require(may_move(actor, case))
    return case


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


def triage_queue_cases(actor: User) -> QuerySet[Case]:
    """The cases waiting for the actor's triage: referred or in triage, in the
    partnerships they coordinate, oldest first. Not a coordinator: 403."""
    if not coordinated_partnership_ids(actor):
        raise WriteForbidden
    return (
        visible_cases(actor)
        .filter(partnership_id__in=coordinated_partnership_ids(actor), status__in=TRIAGE_STATUSES)
        .order_by("opened_on", "created_at", "pk")
    )


def triage_queue_rows(
    *, actor: User, cases: list[Case], page: int, view: str = "triage_queue"
) -> list[QueueRow]:
    """The rows of one page of the queue (``cases`` from ``triage_queue_cases``,
    with person and partnership), with their referrals; one list event naming
    the cases shown."""
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
            show_identity=is_granted(actor, c.partnership_id, Category.IDENTITY),
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
    show_identity = is_granted(actor, case.partnership_id, Category.IDENTITY)
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


# --- Reading the lifecycle of a case ---------------------------------------------------


# --- Closure ------------------------------------------------------------------------


def pending_transfer(case: Case) -> bool:
    """Whether a transfer of the case waits for the receiving side's decision."""
    return Transfer.objects.filter(case_id=case.pk, status=TransferStatus.PROPOSED).exists()


def pending_proposal(case: Case) -> ClosureProposal | None:
    """The closure proposal awaiting a decision (a case in closing has one)."""
    return (
        ClosureProposal.objects.filter(case_id=case.pk, decision=ClosureDecision.PENDING)
        .select_related("proposed_by")
        .order_by("-proposed_at", "-pk")
        .first()
    )


def closure_proposer_id(case: Case, proposal: ClosureProposal | None) -> int | None:
    """Who proposed the closure: the pending proposal's author or, for a case put
    into closing before proposals were recorded, the actor of that move."""
    if proposal is not None:
        return proposal.proposed_by_id
    actor_id: int | None = (
        CaseTransition.objects.filter(case_id=case.pk, to_status=CaseStatus.CLOSING)
        .order_by("-at", "-pk")
        .values_list("actor_id", flat=True)
        .first()
    )
    return actor_id


@dataclass
class Lifecycle:
    """What the lifecycle section shows one actor."""

    case: Case
    moves: list[Transition]
    history: list[CaseTransition]
    decisions: list[TriageDecision]
    history_shared: bool
    # Closing: the pending proposal (if the actor reads meetings), and whether the
    # actor's own proposal waits for another coordinator.
    proposal: ClosureProposal | None = None
    awaits_other_coordinator: bool = False
    # Only where closure may be proposed and the page asked for them: what is
    # still open (``open_items``) and whether a transfer blocks closure.
    open_groups: list[OpenGroup] | None = None
    transfer_pending: bool = False

    @property
    def can_move(self) -> bool:
        return bool(self.moves)

    @property
    def open_to_confirm(self) -> list[OpenGroup]:
        return [g for g in self.open_groups or [] if g.count]

    @property
    def proposal_confirmed(self) -> list[tuple[str, int]]:
        """The counts the proposer confirmed, with each group's heading."""
        if self.proposal is None:
            return []
        headings = {
            "key_dates": _("Key dates still ahead"),
            "checklist": _("Open checklist items"),
            "signals": _("Signals of concern not acknowledged"),
        }
        return [
            (str(headings.get(key, key)), count)
            for key, count in sorted(self.proposal.confirmed.items())
        ]


def lifecycle_section(
    *, actor: User, case: Case, abilities: CaseAbilities, with_open_items: bool = False
) -> Lifecycle:
    """The lifecycle of a case already fetched through the policy, with the
    actor's abilities on it: the moves they may make and the history the
    agreement shows them (category meetings). Two queries; one more for a
    closing case (its proposal), and with ``with_open_items``, where the actor
    may propose closure, one per group of open items and one for a pending
    transfer. Not audited here."""
    moves: list[Transition] = []
    if abilities.move:
        moves = transitions_from(case.status, coordinator=abilities.coordinates)
    proposal = None
    awaits = False
    if case.status == CaseStatus.CLOSING:
        proposal = pending_proposal(case)
        approving = [m for m in moves if m.target == CaseStatus.CLOSED]
        if approving and not may_approve_closure(
            actor, case, proposer_id=closure_proposer_id(case, proposal)
        ):
            moves = [m for m in moves if m.target != CaseStatus.CLOSED]
            awaits = True
        if proposal is not None and TRANSITION_CATEGORY not in abilities.read_categories:
            proposal = None
    groups = None
    transfer_blocks = False
    if with_open_items and any(m.target == CaseStatus.CLOSING for m in moves):
        groups = open_items(actor=actor, case=case)
        transfer_blocks = pending_transfer(case)
    history = list(
        CaseTransition.objects.visible_to(actor)
        .filter(case_id=case.pk)
        .select_related("actor__organisation")
    )
    decisions = list(
        TriageDecision.objects.visible_to(actor)
        .filter(case_id=case.pk)
        .select_related("decided_by__organisation")
    )
    shared = TRANSITION_CATEGORY in abilities.read_categories or bool(history) or bool(decisions)
    return Lifecycle(
        case=case,
        moves=moves,
        history=history,
        decisions=decisions,
        history_shared=shared,
        proposal=proposal,
        awaits_other_coordinator=awaits,
        open_groups=groups,
        transfer_pending=transfer_blocks,
    )


def lifecycle_shown(lifecycle: Lifecycle) -> dict[str, Any]:
    """What the section shows, for the audit event: ids and the category only."""
    shown: dict[str, Any] = {
        "category": TRANSITION_CATEGORY if lifecycle.history or lifecycle.decisions else "",
        "transitions": [t.pk for t in lifecycle.history],
        "triage_decisions": [d.pk for d in lifecycle.decisions],
    }
    if lifecycle.proposal is not None:
        shown["closure_proposal"] = lifecycle.proposal.pk
    if lifecycle.open_groups is not None:
        groups = lifecycle.open_groups
        shown["open_items"] = groups_shown(groups)
        shown["categories"] = sorted({i.category for g in groups for i in g.items})
    return shown


def lifecycle_read(*, actor: User, case_id: object, view: str = "lifecycle") -> Lifecycle:
    """The lifecycle section on its own (``lifecycle_section``); one view event."""
    case = get_case_or_404(actor, case_id)
    lifecycle = lifecycle_section(
        actor=actor, case=case, abilities=case_abilities(actor, case), with_open_items=True
    )
    shown = lifecycle_shown(lifecycle)
    audit_record(
        action=EventAction.VIEW,
        actor=actor,
        case=case,
        obj=case,
        category=shown.pop("category"),
        detail={"view": view, **shown, "version": case.version},
    )
    return lifecycle


# --- Reading --------------------------------------------------------------------------


@dataclass
class KeyDates:
    """A case's key dates as one actor may see them."""

    case: Case
    dates: list[KeyDate]
    shared: bool  # justice is granted to the actor's organisation
    writable: bool  # the actor may set and move them

    @property
    def unset_kinds(self) -> list[tuple[str, str]]:
        taken = {d.kind for d in self.dates}
        return [(k, str(label)) for k, label in KeyDateKind.choices if k not in taken]


def key_dates_section(*, actor: User, case: Case, abilities: CaseAbilities) -> KeyDates:
    """The key dates (category justice) of a case already fetched through the
    policy: one query; not audited here."""
    dates = list(KeyDate.objects.visible_to(actor).filter(case_id=case.pk).order_by("date", "kind"))
    shared = Category.JUSTICE in abilities.read_categories or bool(dates)
    return KeyDates(
        case=case, dates=dates, shared=shared, writable=shared and abilities.write_dates
    )


def key_dates_shown(kd: KeyDates) -> dict[str, Any]:
    return {
        "category": Category.JUSTICE if kd.dates else "",
        "key_dates": [d.pk for d in kd.dates],
    }


def key_dates_read(*, actor: User, case_id: object, view: str = "key_dates") -> KeyDates:
    """The key dates on their own (``key_dates_section``); one view event."""
    case = get_case_or_404(actor, case_id)
    kd = key_dates_section(actor=actor, case=case, abilities=case_abilities(actor, case))
    shown = key_dates_shown(kd)
    audit_record(
        action=EventAction.VIEW,
        actor=actor,
        case=case,
        obj=case,
        category=shown.pop("category"),
        detail={"view": view, **shown},
    )
    return kd
