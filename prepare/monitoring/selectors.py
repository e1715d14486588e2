"""Reads of monitoring: each takes the actor, goes through the policy and, when it
returns case data, writes its audit event before returning."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Case as SqlCase
from django.db.models import Exists, OuterRef, QuerySet, When

from prepare.access.abilities import CaseAbilities, case_abilities, may_acknowledge
from prepare.access.categories import Action, Category
from prepare.access.errors import NotVisible, WriteForbidden
from prepare.access.policy import (
    get_case_or_404,
    parse_pk,
    record_filter,
    record_for,
)
from prepare.accounts.models import User
from prepare.audit.models import EventAction
from prepare.audit.services import audit_record
from prepare.cases.models import Case
from prepare.monitoring.models import (
    Breach,
    Contact,
    ContactVersion,
    LicenceCondition,
    Severity,
    Signal,
    SignalAlert,
    SignalStatus,
)

# A section shows this many of each kind of record, newest first.
SECTION_LIMIT = 50
# Conditions are few per case; breaches are shown under them up to this many.
CONDITION_LIMIT = 100
BREACH_LIMIT = 500
OWED_LIMIT = 50
COUNT_CAP = 99


def _owed_alert(actor: User) -> Exists:
    return Exists(
        SignalAlert.objects.filter(signal_id=OuterRef("pk"), user=actor, closed_at__isnull=True)
    )


def _owed(actor: User) -> Any:
    """The open escalated signals alerting ``actor`` that the policy lets them read.

    Driven from the actor's own open alerts (indexed by user), so that neither
    the list nor its count scans every open signal of the region first."""
    mine = SignalAlert.objects.filter(user=actor, closed_at__isnull=True).values("signal_id")
    return (
        Signal.objects.visible_to(actor, Action.READ)
        .filter(pk__in=mine)
        .filter(status=SignalStatus.OPEN, escalated=True)
    )


# --- The case's monitoring section ------------------------------------------------------


@dataclass
class ConditionRow:
    condition: LicenceCondition
    breaches: list[Breach] = field(default_factory=list)


@dataclass
class SignalRow:
    signal: Signal
    owed: bool  # an alert of the actor's is open on it
    may_acknowledge: bool
    may_close: bool
    ack_form: Any = None  # set by the page when it offers the acknowledgement


@dataclass
class MonitoringSection:
    case: Case
    abilities: CaseAbilities
    contacts: list[Contact]
    contacts_more: bool
    conditions: list[ConditionRow]
    signals: list[SignalRow]
    signals_more: bool

    @property
    def write_categories(self) -> list[str]:
        return [c for c in Category.values if c in self.abilities.write_categories]

    @property
    def reads_justice(self) -> bool:
        return Category.JUSTICE in self.abilities.read_categories

    @property
    def writes_justice(self) -> bool:
        return Category.JUSTICE in self.abilities.write_categories


def monitoring_section(*, actor: User, case: Case, abilities: CaseAbilities) -> MonitoringSection:
    """Contacts, licence conditions with their breaches, and signals of a case
    already fetched through the policy, only in the categories the actor may
    read. Four queries at most, whatever the number of records; not audited here."""
    contacts = list(
        Contact.objects.visible_to(actor, Action.READ)
        .filter(case_id=case.pk)
        .select_related("who__organisation", "updated_by")
        .order_by("-occurred_at", "-pk")[: SECTION_LIMIT + 1]
    )
    conditions = list(
        LicenceCondition.objects.visible_to(actor, Action.READ)
        .filter(case_id=case.pk)
        .order_by("starts_on", "pk")[:CONDITION_LIMIT]
    )
    rows = {c.pk: ConditionRow(condition=c) for c in conditions}
    if rows:
        breaches = (
            Breach.objects.visible_to(actor, Action.READ)
            .filter(case_id=case.pk, condition_id__in=list(rows))
            .select_related("reported_by")
            .order_by("-occurred_on", "-pk")[:BREACH_LIMIT]
        )
        for breach in breaches:
            rows[breach.condition_id].breaches.append(breach)
    signals = list(
        Signal.objects.visible_to(actor, Action.READ)
        .filter(case_id=case.pk)
        .annotate(owed=_owed_alert(actor))
        .select_related("raised_by", "acknowledged_by")
        .order_by("-raised_at", "-pk")[: SECTION_LIMIT + 1]
    )
    writable = abilities.write_categories
    signal_rows = [
        SignalRow(
            signal=s,
            owed=bool(s.owed),
            may_acknowledge=s.status == SignalStatus.OPEN
            and abilities.write
            and (bool(s.owed) or s.category in writable),
            may_close=s.status != SignalStatus.CLOSED and s.category in writable,
        )
        for s in signals[:SECTION_LIMIT]
    ]
    return MonitoringSection(
        case=case,
        abilities=abilities,
        contacts=contacts[:SECTION_LIMIT],
        contacts_more=len(contacts) > SECTION_LIMIT,
        conditions=list(rows.values()),
        signals=signal_rows,
        signals_more=len(signals) > SECTION_LIMIT,
    )


def monitoring_shown(section: MonitoringSection) -> dict[str, Any]:
    """What the section shows, for the audit event: ids and categories only."""
    return {
        "categories": sorted(
            {c.category for c in section.contacts}
            | {r.signal.category for r in section.signals}
            | ({Category.JUSTICE} if section.conditions else set())
        ),
        "contacts": [c.pk for c in section.contacts],
        "conditions": [r.condition.pk for r in section.conditions],
        "breaches": [b.pk for r in section.conditions for b in r.breaches],
        "signals": [r.signal.pk for r in section.signals],
    }


def case_monitoring(
    *, actor: User, case_id: Any, view: str = "case_monitoring"
) -> MonitoringSection:
    """The monitoring section on its own (``monitoring_section``); one view event."""
    case = get_case_or_404(actor, case_id)
    section = monitoring_section(actor=actor, case=case, abilities=case_abilities(actor, case))
    audit_record(
        action=EventAction.VIEW,
        actor=actor,
        case=case,
        obj=case,
        detail={"view": view, **monitoring_shown(section)},
    )
    return section


def conditions_of_case(*, actor: User, case: Case) -> Any:
    """The case's licence conditions the actor reads: the choices of the breach form."""
    return (
        LicenceCondition.objects.visible_to(actor, Action.READ)
        .filter(case_id=case.pk)
        .order_by("starts_on", "pk")
    )


def signal_alerted(*, actor: User, signal: Signal) -> bool:
    """Whether an alert of the actor's on this signal is still open."""
    return SignalAlert.objects.filter(signal=signal, user=actor, closed_at__isnull=True).exists()


def signal_for_change(*, actor: User, case_id: Any, signal_id: Any, change: str) -> Signal:
    """A signal of this case the actor reads (else 404) and may acknowledge or
    close (else 403). Shows nothing; the change is audited by the service."""
    signal: Signal = record_for(actor, Signal, signal_id, case_id=case_id, related=())
    signal = Signal.objects.select_related("case").get(pk=signal.pk)
    if change == "acknowledge":
        allowed = may_acknowledge(
            actor, signal=signal, alerted=signal_alerted(actor=actor, signal=signal)
        )
    else:
        allowed = Signal.objects.visible_to(actor, Action.WRITE).filter(pk=signal.pk).exists()
    if not allowed:
        raise WriteForbidden
    return signal


# --- Alerts ------------------------------------------------------------------------------


def signals_owed(
    *, actor: User, limit: int = OWED_LIMIT, view: str = "signals_owed"
) -> list[Signal]:
    """The open escalated signals waiting for the actor's acknowledgement, most
    severe and newest first. One query for the rows (plus the actor's grants
    once per request) and one audit event naming their cases."""
    urgent_first = SqlCase(When(severity=Severity.URGENT, then=0), default=1)
    signals = list(
        _owed(actor)
        # The partnership for its time zone: the same one query.
        .select_related("case__partnership", "raised_by")
        .order_by(urgent_first, "-raised_at", "-pk")[:limit]
    )
    _audit_list(actor, signals, view)
    return signals


def _audit_list(actor: User, signals: Iterable[Signal], view: str) -> None:
    rows = list(signals)
    audit_record(
        action=EventAction.LIST,
        actor=actor,
        case_ids=[s.case_id for s in rows],
        detail={
            "view": view,
            "signals": [s.pk for s in rows],
            "categories": sorted({s.category for s in rows}),
        },
    )


def open_alerts_count(*, actor: User) -> int:
    """How many signals wait for the actor's acknowledgement, counted up to
    ``COUNT_CAP + 1`` (show "99+"). One query; no case data, so no event."""
    return owed_alerts(actor=actor).order_by().values("pk")[: COUNT_CAP + 1].count()


def open_alerts_of(*, actor: User) -> Any:
    """The actor's own open alert rows, unfiltered: whether a policy-filtered
    count is worth building at all. Never shown."""
    return SignalAlert.objects.filter(user=actor, closed_at__isnull=True)


def owed_alerts(*, actor: User) -> Any:
    """The signals waiting for the actor's acknowledgement, for counting only."""
    return _owed(actor)


# --- API reads (rows from ``.values()``) ---------------------------------------------------

Row = dict[str, Any]
Paginate = Callable[[QuerySet[Any]], list[Any]]

CONTACT_FIELDS = (
    "id",
    "case_id",
    "category",
    "kind",
    "outcome",
    "occurred_at",
    "who_id",
    "with_whom",
    "summary",
    "created_at",
    "created_by_id",
    "updated_at",
    "updated_by_id",
    "version",
)
CONDITION_FIELDS = (
    "id",
    "case_id",
    "category",
    "text",
    "starts_on",
    "ends_on",
    "created_at",
    "created_by_id",
    "updated_at",
    "updated_by_id",
    "version",
)
BREACH_FIELDS = (
    "id",
    "condition_id",
    "case_id",
    "category",
    "occurred_on",
    "description",
    "action_taken",
    "reported_by_id",
    "created_at",
    "updated_at",
    "version",
)
SIGNAL_FIELDS = (
    "id",
    "case_id",
    "category",
    "severity",
    "description",
    "status",
    "escalated",
    "raised_by_id",
    "raised_at",
    "acknowledged_by_id",
    "acknowledged_at",
    "acknowledgement_note",
    "closed_by_id",
    "closed_at",
    "updated_at",
    "version",
)


def _list_event(actor: User, case: Case, view: str, kind: str, rows: list[Row]) -> None:
    audit_record(
        action=EventAction.LIST,
        actor=actor,
        case=case,
        detail={
            "view": view,
            kind: [row["id"] for row in rows],
            "categories": sorted({row["category"] for row in rows}),
        },
    )


def contact_page(*, actor: User, case_id: Any, paginate: Paginate) -> list[Row]:
    """One page of the case's contacts the actor may read, newest first; audited."""
    case = get_case_or_404(actor, case_id)
    contacts = (
        Contact.objects.visible_to(actor, Action.READ)
        .filter(case_id=case.pk)
        .order_by("-occurred_at", "-pk")
        .values(*CONTACT_FIELDS)
    )
    rows: list[Row] = paginate(contacts)
    _list_event(actor, case, "api.contacts", "contacts", rows)
    return rows


def contact_row(contact: Contact) -> Row:
    """The row of a contact the actor has just written (its event is the write's)."""
    return {name: getattr(contact, name) for name in CONTACT_FIELDS}


def condition_page(*, actor: User, case_id: Any, paginate: Paginate) -> list[Row]:
    """One page of the case's licence conditions, each with its breaches; audited."""
    case = get_case_or_404(actor, case_id)
    conditions = (
        LicenceCondition.objects.visible_to(actor, Action.READ)
        .filter(case_id=case.pk)
        .order_by("starts_on", "pk")
        .values(*CONDITION_FIELDS)
    )
    rows: list[Row] = paginate(conditions)
    by_id = {row["id"]: {**row, "breaches": []} for row in rows}
    breach_ids: list[int] = []
    if by_id:
        for breach in (
            Breach.objects.visible_to(actor, Action.READ)
            .filter(case_id=case.pk, condition_id__in=list(by_id))
            .order_by("-occurred_on", "-pk")
            .values(*BREACH_FIELDS)[:BREACH_LIMIT]
        ):
            by_id[breach["condition_id"]]["breaches"].append(breach)
            breach_ids.append(breach["id"])
    audit_record(
        action=EventAction.LIST,
        actor=actor,
        case=case,
        category=Category.JUSTICE if rows else "",
        detail={
            "view": "api.licence_conditions",
            "conditions": list(by_id),
            "breaches": breach_ids,
        },
    )
    return list(by_id.values())


def condition_row(condition: LicenceCondition) -> Row:
    return {**{name: getattr(condition, name) for name in CONDITION_FIELDS}, "breaches": []}


def breach_row(breach: Breach) -> Row:
    return {name: getattr(breach, name) for name in BREACH_FIELDS}


def signal_page(*, actor: User, case_id: Any, paginate: Paginate) -> list[Row]:
    """One page of the case's signals the actor may read, newest first; audited."""
    case = get_case_or_404(actor, case_id)
    signals = (
        Signal.objects.visible_to(actor, Action.READ)
        .filter(case_id=case.pk)
        .order_by("-raised_at", "-pk")
        .values(*SIGNAL_FIELDS)
    )
    rows: list[Row] = paginate(signals)
    _list_event(actor, case, "api.signals", "signals", rows)
    return rows


def signal_row(signal: Signal) -> Row:
    return {name: getattr(signal, name) for name in SIGNAL_FIELDS}


def record_writable(*, actor: User, model: Any, record_id: Any) -> bool:
    """Whether the actor may change the record; 404 unless they read it.

    Reads no content: it decides between 404, 403 and going on to the
    service (which checks again in its own transaction).
    """
    pk = parse_pk(record_id)
    if pk is None:
        raise NotVisible
    records = model.objects.filter(pk=pk)
    if not records.filter(record_filter(actor, Action.READ, model=model)).exists():
        raise NotVisible
    return bool(records.filter(record_filter(actor, Action.WRITE)).exists())


def signal_acknowledgeable(*, actor: User, signal_id: Any) -> bool:
    """Whether the actor may acknowledge the signal; 404 unless they read it. Reads no content."""
    pk = parse_pk(signal_id)
    if pk is None:
        raise NotVisible
    signal = (
        Signal.objects.visible_to(actor, Action.READ)
        .select_related("case")
        .only("pk", "case_id", "category", "case__partnership_id")
        .filter(pk=pk)
        .first()
    )
    if signal is None:
        raise NotVisible
    return may_acknowledge(actor, signal=signal, alerted=signal_alerted(actor=actor, signal=signal))


# --- One contact and its earlier versions ------------------------------------------------


@dataclass
class ContactHistory:
    contact: Contact
    versions: list[ContactVersion]  # earlier versions, most recent first
    writable: bool  # the actor may correct it


# A contact is corrected a handful of times; the page shows this many earlier versions.
VERSION_LIMIT = 50


def contact_history(
    *, actor: User, case_id: Any, contact_id: Any, view: str = "contact"
) -> ContactHistory:
    """A contact the actor reads (404 otherwise) and its earlier versions, which
    the policy shows to exactly those who read the contact; one view event
    naming the contact and the versions shown."""
    contact: Contact = record_for(
        actor,
        Contact,
        contact_id,
        Action.READ,
        case_id=case_id,
        related=("case", "case__partnership", "who__organisation", "updated_by"),
    )
    versions = list(
        ContactVersion.objects.visible_to(actor, Action.READ)
        .filter(contact_id=contact.pk)
        .select_related("written_by", "corrected_by")
        .order_by("-version")[:VERSION_LIMIT]
    )
    writable = Contact.objects.visible_to(actor, Action.WRITE).filter(pk=contact.pk).exists()
    audit_record(
        action=EventAction.VIEW,
        actor=actor,
        case=contact.case,
        obj=contact,
        category=contact.category,
        detail={"view": view, "contact": contact.pk, "versions": [v.pk for v in versions]},
    )
    return ContactHistory(contact=contact, versions=versions, writable=writable)
