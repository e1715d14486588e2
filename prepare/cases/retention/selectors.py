"""Reads of retention: the rules that date a closed case's erasure, a case's
retention section, legal holds, pending erasure requests."""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass
from typing import Any

from django.db.models import Q
from django.utils import timezone

from prepare.access.abilities import may_manage_holds
from prepare.access.errors import NotVisible
from prepare.access.policy import (
    case_for_coordinator,
    dpo_cases,
    get_case_or_404,
    is_data_protection_officer,
    parse_pk,
    require,
    visible_cases,
)
from prepare.accounts.models import User
from prepare.audit.models import EventAction
from prepare.audit.services import audit_record
from prepare.cases.models import Case, CaseStatus, ErasureRequest, ErasureStatus, LegalHold
from prepare.partnerships.models import Partnership, RetentionAction

logger = logging.getLogger(__name__)

# Only these statuses run out their retention; FOLLOW_UP is still live work.
RETAINED_STATUSES = (CaseStatus.CLOSED, CaseStatus.ARCHIVED)
# Tables that keep the case's id after erasure: the append-only audit log and
# its derived index hold ids and field names only (see prepare.audit.models).
KEPT_TABLES = frozenset({"audit.event", "audit.caseaccessindex"})
SYSTEM_ACTOR = "system:retention"
MIN_YEARS = 1
MAX_YEARS = 100


# --- Dates ------------------------------------------------------------------------


def add_years(day: datetime.date, years: int) -> datetime.date:
    """``day`` moved by whole years; 29 February becomes 28 February."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def retention_due_on(closed_on: datetime.date | None, years: int) -> datetime.date | None:
    """The first day on which a case closed on ``closed_on`` is past retention."""
    if closed_on is None:
        return None
    return add_years(closed_on, years)


def active_holds(on: datetime.date) -> Q:
    """A ``Q`` on ``LegalHold``: holds in force on ``on``."""
    return Q(released_at__isnull=True, until__gte=on)


# --- The partnership's rule -------------------------------------------------------


def retention_digest(partnership: Partnership) -> str:
    """What the settings form was based on, to refuse a save over someone else's."""
    return f"{partnership.retention_years}:{partnership.retention_action}"


# --- Legal holds ------------------------------------------------------------------


def _case_for_hold(actor: User, *, case_id: Any = None, reference: str = "") -> Case:
    """The case whose holds ``actor`` may change: 404 if out of reach, 403 if not allowed.

    A data-protection officer does not see cases through the policy; they
    reach, by reference or id, the cases of the partnerships their
    organisation coordinates, and nothing of the case is shown to them.
    Everyone else goes through the policy (``case_for_coordinator``).
    """
    if is_data_protection_officer(actor):
        cases = dpo_cases(actor).select_related("partnership")
        pk = parse_pk(case_id)
        if reference:
            cases = cases.filter(reference=reference.strip())
        elif pk is not None:
            cases = cases.filter(pk=pk)
        else:
            raise NotVisible
        case = cases.first()
        if case is None:
            raise NotVisible
        return case
    if case_id is None and reference:
        case_id = (
            visible_cases(actor).filter(reference=reference.strip()).values_list("pk", flat=True)
        ).first()
    return case_for_coordinator(actor, case_id)


def hold_of_case(*, hold_id: Any, case_id: Any = None) -> LegalHold:
    """The hold, if it is one of ``case_id``'s (when given); 404 otherwise."""
    if parse_pk(hold_id) is None:
        raise NotVisible
    hold = LegalHold.objects.filter(pk=int(hold_id)).first()
    if hold is None or (case_id is not None and str(hold.case_id) != str(case_id)):
        raise NotVisible
    return hold


def releasable_hold(*, actor: User, hold_id: Any, case_id: Any = None) -> LegalHold:
    """The hold, if ``actor`` may lift it (404 or 403 otherwise, as the release would)."""
    hold = hold_of_case(hold_id=hold_id, case_id=case_id)
    _case_for_hold(actor, case_id=hold.case_id)
    return hold


@dataclass(frozen=True)
class HoldRow:
    hold: LegalHold
    active: bool


@dataclass(frozen=True)
class RetentionOverview:
    """The retention section of a case page."""

    case: Case
    years: int
    action: str
    action_label: str
    due_on: datetime.date | None
    applies: bool  # the case's status runs out its retention
    holds: list[HoldRow]
    manage: bool  # may place and release holds, and read their reasons

    @property
    def held(self) -> bool:
        return any(row.active for row in self.holds)


def case_retention(*, actor: User, case: Case) -> RetentionOverview:
    """The retention date and legal holds of a case already fetched through the
    policy: one query; not audited here.

    Everyone who sees the case sees when it ends and whether a hold keeps
    it; the holds' reasons, and the past holds, are the coordinator's.
    """
    manage = may_manage_holds(actor, case)
    today = timezone.localdate()
    holds = LegalHold.objects.filter(case_id=case.pk).select_related("placed_by", "released_by")
    if not manage:
        holds = holds.filter(active_holds(today))
    rows = [
        HoldRow(hold=h, active=h.released_at is None and h.until >= today)
        for h in holds.order_by("-placed_at", "-pk")
    ]
    partnership = case.partnership
    return RetentionOverview(
        case=case,
        years=partnership.retention_years,
        action=partnership.retention_action,
        action_label=str(RetentionAction(partnership.retention_action).label),
        due_on=retention_due_on(case.closed_on, partnership.retention_years),
        applies=case.status in RETAINED_STATUSES,
        holds=rows,
        manage=manage,
    )


def retention_shown(overview: RetentionOverview) -> dict[str, Any]:
    return {"holds": [row.hold.pk for row in overview.holds]}


def retention_overview(*, actor: User, case_id: Any, view: str = "retention") -> RetentionOverview:
    """The retention section on its own (``case_retention``): two queries, and the audit event."""
    case = get_case_or_404(actor, case_id)
    overview = case_retention(actor=actor, case=case)
    audit_record(
        action=EventAction.VIEW,
        actor=actor,
        case=case,
        obj=case,
        detail={"view": view, **retention_shown(overview)},
    )
    return overview


def legal_hold_check(*, actor: User, case_id: Any) -> Case:
    """For the case page's forms: 404 if the actor does not see the case through
    the policy (a data-protection officer included: they use the reference),
    403 unless they coordinate it. Shows nothing, so it is not a consultation.
    """
    return case_for_coordinator(actor, case_id)


def dpo_holds(*, actor: User) -> list[LegalHold]:
    """The holds in force in the partnerships the DPO's organisation coordinates.

    Shows the case references (no other case data); audited as a list naming
    the cases. 403 for anyone but an auditor.
    """
    require(is_data_protection_officer(actor))
    holds = list(
        LegalHold.objects.filter(
            active_holds(timezone.localdate()),
            case__partnership__coordinating_organisation_id=actor.organisation_id,
            case__anonymised_at__isnull=True,
        )
        .select_related("case", "placed_by")
        .order_by("until", "pk")
    )
    audit_record(
        action=EventAction.LIST,
        actor=actor,
        case_ids=[h.case_id for h in holds],
        detail={"view": "legal_holds", "holds": [h.pk for h in holds]},
    )
    return holds


def pending_for_case(case: Case) -> ErasureRequest | None:
    return (
        ErasureRequest.objects.filter(case_id=case.pk, status=ErasureStatus.PENDING)
        .select_related("requested_by__organisation")
        .first()
    )


def pending_for_dpo(actor: User) -> list[ErasureRequest]:
    """The pending requests of the partnerships the DPO's organisation coordinates."""
    require(is_data_protection_officer(actor))
    requests = list(
        ErasureRequest.objects.filter(
            status=ErasureStatus.PENDING,
            case__partnership__coordinating_organisation_id=actor.organisation_id,
            case__partnership__coordinating_organisation__is_active=True,
        )
        .select_related("case", "requested_by__organisation")
        .order_by("requested_at", "pk")
    )
    audit_record(
        action=EventAction.LIST,
        actor=actor,
        case_ids=[r.case_id for r in requests],
        detail={"view": "erasure_requests", "requests": [r.pk for r in requests]},
    )
    return requests


def erasure_check(*, actor: User, case_id: Any) -> Case:
    """404 or 403 before a form is even read, as for legal holds."""
    return _case_for_hold(actor, case_id=case_id)
