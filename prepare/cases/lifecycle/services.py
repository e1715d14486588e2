"""The lifecycle's writes: referral, triage, status moves and key dates. Each is
one transaction with its audit event."""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from prepare.access.abilities import TRANSITION_CATEGORY, may_approve_closure, may_move
from prepare.access.categories import Action, Category
from prepare.access.errors import WriteForbidden
from prepare.access.grants import case_grants_release, case_grants_touch
from prepare.access.policy import categories_of, coordinates, get_case_or_404, is_granted
from prepare.accounts.models import User
from prepare.audit.models import EventAction
from prepare.audit.services import audit_record
from prepare.cases.lifecycle.open_items import OpenGroup, confirmed_counts, open_items
from prepare.cases.lifecycle.rules import (
    ACTIVE_STATUSES,
    CLOSURE_TARGETS,
    FOLLOW_UP_MONTHS,
    REFERRAL_DATE_KINDS,
    TRIAGE_STATUSES,
    add_months,
    outcomes_for,
    status_label,
    transition_for,
)
from prepare.cases.lifecycle.selectors import (
    _CLOSING_OUTCOME,
    Candidate,
    PersonData,
    _is_member,
    case_for_triage,
    closure_proposer_id,
    duplicate_candidates,
    pending_proposal,
    pending_transfer,
    referable_partnership_ids,
)
from prepare.cases.models import (
    ENDED_STATUSES,
    Case,
    CaseStatus,
    CaseTransition,
    ClosureDecision,
    ClosureProposal,
    KeyDate,
    KeyDateKind,
    Person,
    Referral,
    ReferrerType,
    TriageDecision,
    TriageOutcome,
)
from prepare.cases.services import case_create, case_touch
from prepare.locking import StaleVersion, VersionRequired, save_versioned
from prepare.partnerships.models import Partnership


class DuplicatesFound(Exception):
    """Possible duplicates exist; nothing was created. The caller must ask."""

    def __init__(self, candidates: list[Candidate]) -> None:
        super().__init__("possible duplicates")
        self.candidates = candidates


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
    if data.partnership_id not in referable_partnership_ids(actor):
        raise WriteForbidden
    partnership = Partnership.objects.get(pk=data.partnership_id)
    errors: dict[str, list[str]] = {}
    if data.referrer_type not in ReferrerType.values:
        errors["referrer_type"] = [_("Choose who refers the case.")]
    if data.reason_category not in categories_of(actor, partnership.pk, Action.WRITE):
        errors["reason_category"] = [
            _("Your organisation may not write this category in this partnership.")
        ]
    if not data.reason.strip():
        errors["reason"] = [_("Say why the case is referred.")]
    unknown = sorted(set(data.dates) - set(REFERRAL_DATE_KINDS))
    if unknown:
        errors["dates"] = [_("Unknown kind of date.")]
    elif data.dates and not is_granted(actor, partnership.pk, Category.JUSTICE, Action.WRITE):
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


def triage_target(outcome: str, active_status: str = "") -> str:
    """The status a triage outcome leads to."""
    if outcome == TriageOutcome.MULTI_AGENCY:
        return active_status
    if outcome in _CLOSING_OUTCOME:
        return CaseStatus.CLOSED
    return CaseStatus.TRIAGE


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


class TransitionRefused(ValidationError):
    """This status change is not allowed; nothing was changed."""


class ClosureBlocked(TransitionRefused):
    """Closure waits for something else to end first (a pending transfer): a
    conflict with the case's state (HTTP 409 in the API); nothing was changed."""


class ConfirmationsMissing(TransitionRefused):
    """The closure proposal lacks the proposer's confirmation of some group of
    open items (``missing``: the groups); nothing was changed."""

    def __init__(self, message: str, *, missing: list[OpenGroup]) -> None:
        super().__init__(message, code="confirmation_required")
        self.missing = missing


SELF_APPROVAL_REFUSED = gettext_lazy(
    "You proposed this closure, so another coordinator of the partnership approves it. "
    "Nothing was changed. A partnership with a single coordinator can allow "
    "self-approval in its closure settings."
)


@transaction.atomic
def case_transition(
    *,
    actor: User,
    case_id: int,
    to_status: str,
    reason: str,
    version: int,
    outcome: str = "",
    confirmed: Iterable[str] = (),
) -> Case:
    """Move the case to ``to_status``, recording who, when and why.

    Checks, in this order, each leaving everything as it was: the case is
    visible (404) and writable (403) to the actor, who may write the record
    of the move (403); the version is the current one (``StaleVersion``,
    before the rules, so that a status changed meanwhile reads as a
    conflict); the lifecycle allows the move (``TransitionRefused``); a
    coordinator's move is made by the coordinator (403); a reason is given
    and a closure names its outcome (``TransitionRefused``).

    Closure: neither a proposal nor its approval while a transfer of the case
    is pending (``ClosureBlocked``); a proposal confirms each group of open
    items that is not empty (``confirmed`` names the groups;
    ``ConfirmationsMissing``), recorded as a ``ClosureProposal`` with the
    counts; the approval is by another coordinator than the proposer, unless
    the partnership allows its single coordinator to approve their own
    (403 with ``SELF_APPROVAL_REFUSED``; a self-approval is flagged).
    """
    case = get_case_or_404(actor, case_id, Action.WRITE)
    if not may_move(actor, case):
        raise WriteForbidden
    if case.version != version:
        raise StaleVersion
    rule = transition_for(case.status, to_status)
    if rule is None:
        raise TransitionRefused(
            _("A case that is “%(source)s” cannot become “%(target)s”.")
            % {"source": status_label(case.status), "target": status_label(to_status)},
            code="transition_not_allowed",
        )
    if rule.coordinator_only and not coordinates(actor, case.partnership_id):
        raise WriteForbidden
    if to_status in CLOSURE_TARGETS and pending_transfer(case):
        raise ClosureBlocked(
            _(
                "A transfer of this case to another partnership is pending. Withdraw the "
                "transfer before closing the case; nothing was changed."
            ),
            code="transfer_pending",
        )
    proposal: ClosureProposal | None = None
    self_approval = False
    if case.status == CaseStatus.CLOSING:
        proposal = pending_proposal(case)
    if case.status == CaseStatus.CLOSING and to_status == CaseStatus.CLOSED:
        proposer_id = closure_proposer_id(case, proposal)
        if not may_approve_closure(actor, case, proposer_id=proposer_id):
            raise WriteForbidden(SELF_APPROVAL_REFUSED)
        self_approval = proposer_id == actor.pk
    reason = (reason or "").strip()
    if not reason:
        raise TransitionRefused(_("Say why the status changes."), code="reason_required")
    if len(reason) > 5000:
        raise TransitionRefused(_("Keep the reason under 5000 characters."), code="reason_too_long")
    groups: list[OpenGroup] = []
    if to_status == CaseStatus.CLOSING:
        groups = [g for g in open_items(actor=actor, case=case) if g.count]
        confirmed_keys = set(confirmed)
        missing = [g for g in groups if g.key not in confirmed_keys]
        if missing:
            raise ConfirmationsMissing(
                _("Confirm each group of items still open before proposing closure: %(groups)s.")
                % {"groups": ", ".join(f"{g.heading} ({g.count_label})" for g in missing)},
                missing=missing,
            )
    fields: dict[str, object] = {"status": to_status, "updated_at": timezone.now()}
    if rule.needs_outcome:
        if outcome not in {value for value, _label in outcomes_for(rule)}:
            raise TransitionRefused(
                _("Choose the outcome of the case to close it."), code="outcome_required"
            )
        fields["outcome"] = outcome
        fields["closed_on"] = timezone.localdate()
    elif case.status in ENDED_STATUSES and to_status not in ENDED_STATUSES:
        # Reopened: the earlier closure no longer describes the case.
        fields["outcome"] = ""
        fields["closed_on"] = None
    source = case.status
    save_versioned(case, version, fields)
    move = CaseTransition.objects.create(
        case=case, from_status=source, to_status=to_status, reason=reason, actor=actor
    )
    case_grants_touch(case)
    detail: dict[str, object] = {
        "fields": sorted(fields),
        "from": source,
        "to": to_status,
        "outcome": fields.get("outcome", ""),
        "transition": move.pk,
        "version": case.version,
    }
    if to_status == CaseStatus.CLOSING:
        new_proposal = ClosureProposal(
            case=case, transition=move, proposed_by=actor, confirmed=confirmed_counts(groups)
        )
        new_proposal.full_clean(exclude=["case", "transition", "proposed_by"])
        new_proposal.save()
        detail["closure"] = {"proposal": new_proposal.pk, "confirmed": new_proposal.confirmed}
    elif proposal is not None:
        approved = to_status == CaseStatus.CLOSED
        decision = ClosureDecision.APPROVED if approved else ClosureDecision.KEPT_OPEN
        ClosureProposal.objects.filter(pk=proposal.pk).update(
            decision=decision,
            decided_by=actor,
            decided_at=timezone.now(),
            self_approved=self_approval,
        )
        detail["closure"] = {"proposal": proposal.pk, "decision": decision}
    if self_approval:
        # Four eyes waived by the partnership's setting: audited as such.
        detail["self_approval"] = True
    audit_record(
        action=EventAction.UPDATE,
        actor=actor,
        case=case,
        obj=case,
        category=TRANSITION_CATEGORY,
        detail=detail,
    )
    if rule.needs_outcome:
        _schedule_follow_up(case, actor)
    return case


def _schedule_follow_up(case: Case, actor: User) -> None:
    """Follow-up reviews 6 and 12 months after closure, each written and logged."""
    closed = case.closed_on or timezone.localdate()
    now = timezone.now()
    for kind, months in FOLLOW_UP_MONTHS:
        day = add_months(closed, months)
        existing = KeyDate.objects.of_case(case).select_for_update().filter(kind=kind).first()
        if existing is None:
            key_date = KeyDate.objects.create(
                case=case, kind=kind, date=day, updated_by=actor, updated_at=now, source="closure"
            )
            action = EventAction.CREATE
        else:
            # A second closure (after a reopening) moves the reviews: a new
            # version, so that an edit based on the old one is refused.
            KeyDate.objects.filter(pk=existing.pk).update(
                date=day,
                updated_by=actor,
                updated_at=now,
                source="closure",
                version=F("version") + 1,
            )
            existing.refresh_from_db()
            key_date = existing
            action = EventAction.UPDATE
        audit_record(
            action=action,
            actor=actor,
            case=case,
            obj=key_date,
            category=Category.JUSTICE,
            detail={
                "kind": kind,
                "fields": ["date"],
                "version": key_date.version,
                "source": "closure",
            },
        )


@transaction.atomic
def key_date_set(
    *,
    actor: User,
    case_id: int,
    kind: str,
    date: datetime.date,
    version: int | None,
    source: str = "",
) -> KeyDate:
    """Create a key date (``version`` None) or move it (``version`` = the one read).

    Moving a date without naming the version read raises ``VersionRequired``
    (428); naming a version for a date that is not set, or a stale one,
    ``StaleVersion`` (409). Needs write access to the case and to ``justice``.

    Moving the expected release moves the due dates of the release checklist
    in the same transaction; reminders follow because they are computed from
    the dates when they are due.
    """
    case = get_case_or_404(actor, case_id, Action.WRITE)
    if not is_granted(actor, case.partnership_id, Category.JUSTICE, Action.WRITE):
        raise WriteForbidden
    if kind not in KeyDateKind.values:
        raise ValidationError({"kind": _("Unknown kind of date.")})
    existing = KeyDate.objects.of_case(case).select_for_update().filter(kind=kind).first()
    now = timezone.now()
    if existing is None:
        if version is not None:
            raise StaleVersion
        key_date = KeyDate(
            case=case, kind=kind, date=date, source=source[:100], updated_by=actor, updated_at=now
        )
        key_date.full_clean()
        key_date.save()
        before = None
    else:
        if version is None:
            raise VersionRequired
        before = existing.date
        save_versioned(
            existing,
            version,
            {"date": date, "source": source[:100], "updated_by": actor, "updated_at": now},
        )
        key_date = existing
    if kind == KeyDateKind.EXPECTED_RELEASE and before != date:
        from prepare.plans.services import checklist_reschedule, planning_autostart

        checklist_reschedule(case=case, release_on=date, actor=actor)
        case_grants_release(case, date)
        planning_autostart(actor=actor, case=case)
    case_touch(case)
    audit_record(
        action=EventAction.CREATE if before is None else EventAction.UPDATE,
        actor=actor,
        case=case,
        obj=key_date,
        category=Category.JUSTICE,
        detail={
            "kind": kind,
            "fields": ["date"],
            "version": key_date.version,
            "source": source[:100],
        },
    )
    return key_date
