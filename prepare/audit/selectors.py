"""Reads of the audit log: the coordinator's access log of a case and the
auditor's search. Reading the log is itself logged."""

from __future__ import annotations

import datetime
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db.models import Max, QuerySet
from django.http import Http404
from django.utils import timezone

from prepare.access.categories import Category
from prepare.access.errors import NotVisible, WriteForbidden
from prepare.access.policy import (
    coordinated_partnership_ids,
    coordinates,
    get_case_or_404,
    handed_over_cases,
    is_auditor,
    parse_pk,
    require,
)
from prepare.accounts.models import Organisation, Role, User
from prepare.audit.chain import ChainProblem, verify
from prepare.audit.models import CaseAccessIndex, Event, EventAction, Outcome
from prepare.audit.services import audit_record
from prepare.cases.models import Case, Transfer, TransferStatus

ACCESS_LOG_PAGE = 50
SEARCH_PAGE = 50

_ROLES = dict(Role.choices)
_ACTIONS = dict(EventAction.choices)
_OUTCOMES = dict(Outcome.choices)
_CATEGORIES = dict(Category.choices)
# Columns a log page shows; the rest (detail, hashes) stays in the database.
_EVENT_COLUMNS = (
    "seq",
    "occurred_at",
    "actor_username",
    "organisation_id",
    "role",
    "action",
    "outcome",
    "case_id",
    "object_type",
    "object_id",
    "category",
    "purpose",
)


@dataclass(frozen=True)
class LogRow:
    seq: int
    occurred_at: datetime.datetime
    actor_username: str
    organisation_name: str
    role: str
    action: str
    outcome: str
    outcome_value: str
    case_id: int | None
    category: str
    purpose: str
    object_type: str
    object_id: str


def _rows(events: Iterable[Event], tz: datetime.tzinfo) -> list[LogRow]:
    events = list(events)
    org_ids = {e.organisation_id for e in events if e.organisation_id is not None}
    names = (
        dict(Organisation.objects.filter(pk__in=sorted(org_ids)).values_list("pk", "name"))
        if org_ids
        else {}
    )
    return [
        LogRow(
            seq=int(e.seq or 0),  # the pages list sealed events only
            occurred_at=timezone.localtime(e.occurred_at, tz),
            actor_username=e.actor_username,
            organisation_name=names.get(e.organisation_id, "") if e.organisation_id else "",
            role=str(_ROLES.get(e.role, e.role)),
            action=str(_ACTIONS.get(e.action, e.action)),
            outcome=str(_OUTCOMES.get(e.outcome, e.outcome)),
            outcome_value=e.outcome,
            case_id=e.case_id,
            category=str(_CATEGORIES.get(e.category, e.category)),
            purpose=e.purpose,
            object_type=e.object_type,
            object_id=e.object_id,
        )
        for e in events
    ]


def _zone(name: str) -> datetime.tzinfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return datetime.UTC


# --- The access log of one case, for the partnership's coordinator -------------


@dataclass(frozen=True)
class AccessLogPage:
    case: Case
    time_zone: str
    tz: datetime.tzinfo
    rows: list[LogRow]
    older_than: int | None  # event id for the "older" link, if there are older events
    newer_than: int | None  # event id for the "newer" link, if there are newer events
    # For the coordinator of a partnership that transferred the case away: the
    # transfer, and whether they still see the case itself (grace period).
    handover: Transfer | None = None
    case_visible: bool = True


def _log_subject(actor: User, case_id: Any) -> tuple[Case, Transfer | None, bool]:
    """The case whose log the actor may read, the transfer that limits it (if
    any) and whether the actor sees the case itself.

    The coordinator of the case's partnership reads the whole log. The
    coordinator of a partnership that handed the case over reads it up to the
    handover, even after the grace period. Anyone else who sees the case gets
    403; anyone who does not, 404.
    """
    try:
        case = get_case_or_404(actor, case_id)
    except Http404:
        case = None
    if case is not None and coordinates(actor, case.partnership_id):
        return case, None, True
    pk = parse_pk(case_id)
    handed = (
        handed_over_cases(actor).select_related("partnership").filter(pk=pk).first() if pk else None
    )
    if handed is None:
        if case is None:
            raise NotVisible
        raise WriteForbidden
    handover = (
        Transfer.objects.filter(
            case_id=handed.pk,
            status=TransferStatus.ACCEPTED,
            from_partnership_id__in=coordinated_partnership_ids(actor),
        )
        .select_related("from_partnership", "to_partnership")
        .order_by("-decided_at", "-pk")
        .first()
    )
    return handed, handover, case is not None


def _handover_cut(transfer: Transfer) -> int | None:
    """The id of the last event of the handover: the receiving side's record of
    the acceptance, written last in the accepting transaction."""
    cut = Event.objects.filter(
        case_id=transfer.case_id,
        action=EventAction.TRANSFER,
        object_type=Transfer._meta.label_lower,
        object_id=str(transfer.pk),
    ).aggregate(last=Max("pk"))["last"]
    return int(cut) if cut is not None else None


def case_access_log(
    *, actor: User, case_id: Any, before: int | None = None, after: int | None = None
) -> AccessLogPage:
    """Who touched the case, newest first, one page at a time.

    Invisible case → 404; visible but not coordinated by the actor → 403;
    a case the actor's partnership handed over: the log up to the handover.
    Reads the index (case_id, -event) joined to the events, then the
    organisations' names: two queries per page, plus the audit event. Pages
    are cut by event id, not by offset: reading the log adds to it, and an
    offset would then show an event twice.
    """
    case, handover, case_visible = _log_subject(actor, case_id)
    entries = CaseAccessIndex.objects.filter(case_id=case.pk, event__seq__isnull=False)
    entries = entries.select_related("event")
    if handover is not None:
        cut = _handover_cut(handover)
        entries = entries.filter(event_id__lte=cut) if cut is not None else entries.none()
    entries = entries.only("event_id", *(f"event__{c}" for c in _EVENT_COLUMNS))
    page, older_than, newer_than = _keyset_page(entries, "event_id", before, after, ACCESS_LOG_PAGE)
    tz_name = (handover.from_partnership if handover else case.partnership).timezone
    tz = _zone(tz_name)
    rows = _rows((entry.event for entry in page), tz)
    audit_record(
        action=EventAction.VIEW,
        actor=actor,
        case=case,
        obj=case,
        detail={
            "view": "access_log",
            "before": before,
            "after": after,
            **({"until_handover": handover.pk} if handover is not None else {}),
        },
    )
    return AccessLogPage(
        case=case,
        time_zone=str(tz),
        tz=tz,
        rows=rows,
        older_than=older_than,
        newer_than=newer_than,
        handover=handover,
        case_visible=case_visible,
    )


def _keyset_page(
    rows: QuerySet[Any], key: str, before: int | None, after: int | None, size: int
) -> tuple[list[Any], int | None, int | None]:
    """One page of ``rows``, newest (highest ``key``) first, and the keys for
    the links to older and newer pages (None when there is nothing there)."""
    if after is not None:
        chunk = list(rows.filter(**{f"{key}__gt": after}).order_by(key)[: size + 1])
        page = list(reversed(chunk[:size]))
        newer = getattr(page[0], key) if page and len(chunk) > size else None
        older = getattr(page[-1], key) if page else None
        return page, older, newer
    if before is not None:
        rows = rows.filter(**{f"{key}__lt": before})
    chunk = list(rows.order_by(f"-{key}")[: size + 1])
    page = chunk[:size]
    older = getattr(page[-1], key) if len(chunk) > size else None
    newer = getattr(page[0], key) if page and before is not None else None
    return page, older, newer


# --- The auditor's search ----------------------------------------------------------


def require_auditor(actor: User) -> None:
    """Only auditors read the whole log (403 for everyone else)."""
    require(is_auditor(actor))


@dataclass(frozen=True)
class AuditFilters:
    date_from: datetime.date | None = None
    date_to: datetime.date | None = None
    actor_username: str = ""
    organisation_id: int | None = None
    action: str = ""
    case_id: int | None = None
    outcome: str = ""

    def as_detail(self) -> dict[str, Any]:
        """The filters in use, for the audit event: identifiers only."""
        values = {
            "date_from": self.date_from.isoformat() if self.date_from else None,
            "date_to": self.date_to.isoformat() if self.date_to else None,
            "actor_username": self.actor_username or None,
            "organisation": self.organisation_id,
            "action": self.action or None,
            "case": self.case_id,
            "outcome": self.outcome or None,
        }
        return {k: v for k, v in values.items() if v is not None}

    def apply(self, events: QuerySet[Event]) -> QuerySet[Event]:
        tz = timezone.get_current_timezone()
        if self.date_from:
            start = datetime.datetime.combine(self.date_from, datetime.time.min, tzinfo=tz)
            events = events.filter(occurred_at__gte=start)
        if self.date_to:
            end = datetime.datetime.combine(
                self.date_to + datetime.timedelta(days=1), datetime.time.min, tzinfo=tz
            )
            events = events.filter(occurred_at__lt=end)
        if self.actor_username:
            events = events.filter(actor_username=self.actor_username)
        if self.organisation_id is not None:
            events = events.filter(organisation_id=self.organisation_id)
        if self.action:
            events = events.filter(action=self.action)
        if self.outcome:
            events = events.filter(outcome=self.outcome)
        if self.case_id is not None:
            # Through the index, so that list events naming the case match too.
            events = events.filter(
                pk__in=CaseAccessIndex.objects.filter(case_id=self.case_id).values("event_id")
            )
        return events


@dataclass(frozen=True)
class AuditPage:
    rows: list[LogRow]
    time_zone: str
    tz: datetime.tzinfo
    older_than: int | None  # seq for the "older" link, if there are older events
    newer_than: int | None  # seq for the "newer" link, if there are newer events


def audit_search(
    *,
    actor: User,
    filters: AuditFilters,
    before: int | None = None,
    after: int | None = None,
) -> AuditPage:
    """One page of matching events, newest first, paged by ``seq`` (keyset).

    Filtered and paged in SQL, by ``seq`` rather than by offset, so a deep
    page costs no more than the first. Auditors only; the search is itself
    logged.
    """
    require_auditor(actor)
    # The request's own events are linked to the chain (and numbered) at its end.
    events = filters.apply(Event.objects.filter(seq__isnull=False).only(*_EVENT_COLUMNS))
    page, older_than, newer_than = _keyset_page(events, "seq", before, after, SEARCH_PAGE)
    tz = timezone.get_current_timezone()
    rows = _rows(page, tz)
    audit_record(
        action=EventAction.SEARCH,
        actor=actor,
        detail={
            "view": "audit_search",
            "filters": filters.as_detail(),
            "before": before,
            "after": after,
            "results": len(rows),
        },
    )
    return AuditPage(
        rows=rows, time_zone=str(tz), tz=tz, older_than=older_than, newer_than=newer_than
    )


def chain_check(*, actor: User) -> ChainProblem | None:
    """Verify the whole chain on the auditor's demand; the check is logged."""
    require_auditor(actor)
    problem = verify()
    audit_record(
        action=EventAction.VIEW,
        actor=actor,
        detail={
            "view": "chain_verify",
            "intact": problem is None,
            "problem_seq": problem.seq if problem is not None else None,
        },
    )
    return problem
