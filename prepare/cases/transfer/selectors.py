"""Reads of transfers: the inbox, a transfer and its handover package, a case's
transfer section. Each takes the actor and goes through the policy."""

from __future__ import annotations

import datetime
import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.db.models import Count, FilteredRelation, Q
from django.utils import timezone

from prepare.access.categories import Action, Category
from prepare.access.errors import NotVisible, WriteForbidden
from prepare.access.policy import (
    case_for_coordinator,
    categories_of,
    coordinated_partnership_ids,
    coordinates,
    get_case_or_404,
    grace_until,
    parse_pk,
)
from prepare.accounts.models import User
from prepare.audit.models import EventAction
from prepare.audit.services import audit_record
from prepare.cases.lifecycle.rules import transfer_refusal
from prepare.cases.models import (
    Case,
    CaseRecord,
    CaseTeamMember,
    Person,
    Transfer,
    TransferStatus,
)
from prepare.partnerships.models import (
    CategoryGrant,
    Membership,
    Partnership,
    SharingAgreement,
)

SUMMARY_MAX_LENGTH = 10_000
REASON_MAX_LENGTH = 5_000
# Lists show the newest transfers first and stop here: a coordinator with more
# open transfers than this has a backlog to clear, not a page to scroll.
LIST_LIMIT = 50

SENDING = "sending"
RECEIVING = "receiving"


# --- Reads ------------------------------------------------------------------------


@dataclass(frozen=True)
class PackageCategory:
    """A category handed over, with its number of records (None once decided)."""

    category: str
    label: str
    records: int | None
    # Whether the agreement lets the viewer's organisation read it in the
    # receiving partnership (what they would see after accepting).
    readable: bool = False


@dataclass
class TransferView:
    """One transfer as one actor may see it.

    ``summary``, ``person`` and ``categories`` are None when the actor may not
    see them; ``reference`` is None for a receiver once the transfer was
    declined or withdrawn (they have no need to know that case any more).
    """

    transfer: Transfer
    side: str
    reference: str | None
    summary: str | None = None
    person: Person | None = None
    categories: list[PackageCategory] | None = None
    # For the receiver of an open proposal: how many records the sending
    # partnership keeps (categories not handed over), as one total.
    withheld: int | None = None
    may_decide: bool = False
    may_withdraw: bool = False

    @property
    def incoming(self) -> bool:
        return self.side == RECEIVING

    @property
    def shown_categories(self) -> list[str]:
        """Categories of case information this view shows, for the audit event."""
        shown = []
        if self.person is not None:
            shown.append(Category.IDENTITY.value)
        if self.summary is not None:
            shown.append(self.transfer.summary_category)
        return sorted(set(shown))


def _side(actor: User, transfer: Transfer) -> str | None:
    if coordinates(actor, transfer.to_partnership_id):
        return RECEIVING
    if coordinates(actor, transfer.from_partnership_id):
        return SENDING
    return None


def _coordinated_transfers(actor: User) -> models.QuerySet[Transfer]:
    ids = coordinated_partnership_ids(actor)
    if not ids:
        return Transfer.objects.none()
    return Transfer.objects.filter(Q(from_partnership_id__in=ids) | Q(to_partnership_id__in=ids))


@functools.cache
def record_models() -> tuple[type[models.Model], ...]:
    """Every model of case records: a ``case``, a ``category`` and the policy's
    ``visible_to``. Found at run time, so records added by other apps count."""
    found = []
    for model in apps.get_models():
        try:
            case_field = model._meta.get_field("case")
            model._meta.get_field("category")
        except FieldDoesNotExist:
            continue
        if getattr(case_field, "related_model", None) is not Case:
            continue
        if not hasattr(model._default_manager, "visible_to"):
            continue
        if not issubclass(model, CaseRecord):
            continue  # a copy such as the search index follows its source by itself
        found.append(model)
    return tuple(sorted(found, key=lambda m: m._meta.label))


HeldCounts = dict[tuple[int, int], dict[str, int]]  # (case, holder) -> category -> records


def _record_counts(pairs: Iterable[tuple[int, int]]) -> HeldCounts:
    """Records per (case, holding partnership) and category: one grouped query per
    kind of record. A disclosure of numbers only: its callers audit it."""
    wanted = sorted(set(pairs))
    counts: HeldCounts = {pair: {} for pair in wanted}
    if not wanted:
        return counts
    case_ids = sorted({case_id for case_id, _holder in wanted})
    for model in record_models():
        rows = (
            model._default_manager.filter(case_id__in=case_ids)
            .order_by()
            .values("case_id", "partnership_id", "category")
            .annotate(n=Count("pk"))
        )
        for row in rows:
            per_case = counts.get((row["case_id"], row["partnership_id"]))
            if per_case is not None:
                per_case[row["category"]] = per_case.get(row["category"], 0) + row["n"]
    return counts


def held_counts(case: Case) -> dict[str, int]:
    """The case's records per category held by its partnership (not audited here)."""
    return _record_counts([(case.pk, case.partnership_id)])[(case.pk, case.partnership_id)]


def _views(actor: User, transfers: Sequence[Transfer]) -> list[TransferView]:
    """What the actor may see of each transfer, in a fixed number of queries.

    The receiver sees what their organisation's grants in the receiving
    partnership allow, while the transfer is open or after acceptance; the
    sender sees the summary and the person while the case is still theirs,
    and only the facts of the transfer after that. Both see which categories
    are handed over; while the proposal is open, the receiver also sees the
    number of records in each and, as one total, how many stay behind.
    """
    views: list[TransferView] = []
    person_of: dict[int, int] = {}  # transfer -> person, where identity is granted
    for transfer in transfers:
        side = _side(actor, transfer)
        if side is None:
            continue
        status = transfer.status
        if side == RECEIVING:
            live = status in (TransferStatus.PROPOSED, TransferStatus.ACCEPTED)
            granted = categories_of(actor, transfer.to_partnership_id) if live else frozenset()
        else:
            live = status == TransferStatus.PROPOSED
            granted = categories_of(actor, transfer.from_partnership_id) if live else frozenset()
        receiving_reads = categories_of(actor, transfer.to_partnership_id)
        views.append(
            TransferView(
                transfer=transfer,
                side=side,
                reference=transfer.case.reference if (live or side == SENDING) else None,
                summary=transfer.handover_summary if transfer.summary_category in granted else None,
                categories=[
                    PackageCategory(c, str(Category(c).label), None, readable=c in receiving_reads)
                    for c in transfer.handed_over
                ]
                if live or side == SENDING
                else None,
                may_decide=side == RECEIVING and status == TransferStatus.PROPOSED,
                may_withdraw=side == SENDING and status == TransferStatus.PROPOSED,
            )
        )
        if Category.IDENTITY in granted:
            person_of[transfer.pk] = transfer.case.person_id
    persons = Person.objects.in_bulk(sorted(set(person_of.values()))) if person_of else {}
    counted = [
        v
        for v in views
        if v.side == RECEIVING
        and v.categories is not None
        and v.transfer.status == TransferStatus.PROPOSED
    ]
    counted_ids = {id(v) for v in counted}
    counts = _record_counts((v.transfer.case_id, v.transfer.from_partnership_id) for v in counted)
    for view in views:
        if view.transfer.pk in person_of:
            view.person = persons.get(person_of[view.transfer.pk])
        if id(view) in counted_ids and view.categories is not None:
            held = counts.get((view.transfer.case_id, view.transfer.from_partnership_id), {})
            view.categories = [
                PackageCategory(p.category, p.label, held.get(p.category, 0), p.readable)
                for p in view.categories
            ]
            handed = set(view.transfer.handed_over)
            view.withheld = sum(n for c, n in held.items() if c not in handed)
    return views


def _audit_views(actor: User, views: Sequence[TransferView], *, view: str, many: bool) -> None:
    shown = sorted({c for v in views for c in v.shown_categories})
    identity = Category.IDENTITY in shown
    detail: dict[str, Any] = {
        "view": view,
        "transfers": [v.transfer.pk for v in views],
        "summaries": [v.transfer.pk for v in views if v.summary is not None],
        "categories": shown,
        # The numbers disclosed: records per category handed over, and the total
        # kept by the sender, per transfer (numbers only, never content).
        "counts": {
            str(v.transfer.pk): {p.category: p.records for p in v.categories or []}
            for v in views
            if v.withheld is not None
        },
        "withheld": {str(v.transfer.pk): v.withheld for v in views if v.withheld is not None},
        "handed_over": {str(v.transfer.pk): v.transfer.handed_over for v in views},
    }
    if many:
        audit_record(
            action=EventAction.LIST,
            actor=actor,
            case_ids=[v.transfer.case_id for v in views if v.reference is not None],
            category=Category.IDENTITY if identity else "",
            detail=detail,
        )
        return
    (one,) = views
    audit_record(
        action=EventAction.VIEW,
        actor=actor,
        case=one.transfer.case,
        obj=one.transfer,
        category=Category.IDENTITY if identity else (shown[0] if shown else ""),
        detail=detail,
    )


def _base() -> models.QuerySet[Transfer]:
    # The person is read only where identity is granted (``_views``).
    return Transfer.objects.select_related(
        "case", "from_partnership", "to_partnership__coordinating_organisation"
    )


def transfer_after_write(*, actor: User, transfer_id: Any) -> TransferView:
    """The transfer the actor has just proposed or decided, as they may see it.

    For the answer to that write, whose own event names the case: not a new read.
    """
    transfer = _base().filter(pk__in=_coordinated_transfers(actor).values("pk"), pk=transfer_id)
    found = transfer.first()
    if found is None:
        raise NotVisible
    (view,) = _views(actor, [found])
    return view


def transfer_get(*, actor: User, transfer_id: Any) -> Transfer:
    """The transfer if the actor coordinates either side of it; 404 otherwise."""
    pk = parse_pk(transfer_id)
    if pk is None:
        raise NotVisible
    transfer = _coordinated_transfers(actor).filter(pk=pk).first()
    if transfer is None:
        raise NotVisible
    return transfer


def transfer_package(
    *, actor: User, transfer_id: Any, view: str = "transfer_package"
) -> TransferView:
    """One transfer as the actor may see it: for the receiver, the package.

    Audited as a view of the case (``detail.view`` names the page).
    """
    pk = parse_pk(transfer_id)
    if pk is None:
        raise NotVisible
    transfer = (
        _base().filter(pk=pk).filter(pk__in=_coordinated_transfers(actor).values("pk")).first()
    )
    if transfer is None:
        raise NotVisible
    (result,) = _views(actor, [transfer])
    _audit_views(actor, [result], view=view, many=False)
    return result


def transfer_decision_check(*, actor: User, transfer_id: Any) -> Transfer:
    """Before a decision: 404 if the actor does not see the transfer, 403 if it
    is not theirs to decide. Shows nothing, so it is not a consultation."""
    transfer = transfer_get(actor=actor, transfer_id=transfer_id)
    if _side(actor, transfer) != RECEIVING:
        raise WriteForbidden
    return transfer


@dataclass
class TransferLists:
    incoming: list[TransferView] = field(default_factory=list)
    outgoing: list[TransferView] = field(default_factory=list)


def transfer_lists(*, actor: User, view: str = "transfer_inbox") -> TransferLists:
    """Open transfers into the partnerships the actor coordinates (with their
    packages) and the latest transfers out of them. One audited list event."""
    ids = coordinated_partnership_ids(actor)
    if not ids:
        _audit_views(actor, [], view=view, many=True)
        return TransferLists()
    incoming = list(
        _base().filter(to_partnership_id__in=ids, status=TransferStatus.PROPOSED)[:LIST_LIMIT]
    )
    outgoing = list(
        _base().filter(from_partnership_id__in=ids).exclude(to_partnership_id__in=ids)[:LIST_LIMIT]
    )
    views = _views(actor, [*incoming, *outgoing])
    _audit_views(actor, views, view=view, many=True)
    return TransferLists(
        incoming=[v for v in views if v.side == RECEIVING],
        outgoing=[v for v in views if v.side == SENDING],
    )


def transfer_page(
    *, actor: User, transfers: models.QuerySet[Transfer], paginate: Any, view: str
) -> list[TransferView]:
    """One page of ``transfers`` (already limited to the actor's) for the API."""
    page: list[Transfer] = paginate(transfers)
    views = _views(actor, page)
    _audit_views(actor, views, view=view, many=True)
    return views


def transfer_queryset(*, actor: User, direction: str = "", status: str = "") -> Any:
    """The actor's transfers, newest first, for paging: in, out or both."""
    ids = coordinated_partnership_ids(actor)
    if not ids:
        return Transfer.objects.none()
    if direction == "in":
        qs = _base().filter(to_partnership_id__in=ids)
    elif direction == "out":
        qs = _base().filter(from_partnership_id__in=ids).exclude(to_partnership_id__in=ids)
    else:
        qs = _base().filter(Q(from_partnership_id__in=ids) | Q(to_partnership_id__in=ids))
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("-proposed_at", "-pk")


@dataclass
class TransferSection:
    """The transfer section of a case page."""

    case: Case
    transfers: list[Transfer]
    open: Transfer | None
    may_propose: bool
    may_withdraw: bool
    # When the actor reads the case only through a transfer's grace period.
    grace_until: datetime.datetime | None = None


def case_transfers(*, actor: User, case: Case) -> TransferSection:
    """The transfers of a case already fetched through the policy, and what the
    actor may do; one query (two for a reader in a transfer's grace); not audited here."""
    coordinator = coordinates(actor, case.partnership_id) and bool(
        categories_of(actor, case.partnership_id, Action.WRITE)
    )
    transfers = list(
        Transfer.objects.filter(case_id=case.pk)
        .select_related("from_partnership", "to_partnership")
        .order_by("-proposed_at", "-pk")[:LIST_LIMIT]
    )
    open_transfer = next((t for t in transfers if t.status == TransferStatus.PROPOSED), None)
    ended = transfer_refusal(case) is not None
    return TransferSection(
        case=case,
        transfers=transfers,
        open=open_transfer,
        may_propose=coordinator and open_transfer is None and not ended,
        may_withdraw=coordinator and open_transfer is not None,
        grace_until=grace_until(actor, case),
    )


def transfers_shown(section: TransferSection) -> dict[str, Any]:
    return {"transfers": [t.pk for t in section.transfers]}


def transfer_section(*, actor: User, case_id: Any) -> TransferSection:
    """The transfer section on its own (``case_transfers``); audited as a view of the case."""
    case = get_case_or_404(actor, case_id)
    section = case_transfers(actor=actor, case=case)
    audit_record(
        action=EventAction.VIEW,
        actor=actor,
        case=case,
        obj=case,
        detail={"view": "transfer_section", **transfers_shown(section)},
    )
    return section


def propose_check(*, actor: User, case_id: Any) -> Case:
    """404 if the actor cannot see the case, 403 if they may not propose its transfer."""
    return case_for_coordinator(actor, case_id, Action.WRITE)


def target_partnerships(*, case: Case) -> list[tuple[int, str]]:
    """Every partnership but the case's own, by name: where it could move."""
    return list(
        Partnership.objects.exclude(pk=case.partnership_id)
        .order_by("name")
        .values_list("pk", "name")
    )


@dataclass(frozen=True)
class Targets:
    """Where a case could move, and what each agreement shares (for the defaults)."""

    partnerships: list[tuple[int, str]]
    shared: dict[int, set[str]]

    def default_for(self, sending: int, receiving: int | None) -> list[str]:
        return _default_of(self.shared, sending, receiving)


def transfer_targets(*, case: Case) -> Targets:
    """Every partnership but the case's own, by name, with the categories each
    agreement in force grants to someone: one query (the case page pins it)."""
    today = timezone.localdate()
    in_force = Q(agreements__valid_from__lte=today) & (
        Q(agreements__valid_until__isnull=True) | Q(agreements__valid_until__gte=today)
    )
    rows = (
        Partnership.objects.annotate(
            cell=FilteredRelation("agreements__grants", condition=in_force)
        )
        .order_by("name", "pk")
        .values_list("pk", "name", "cell__category")
        .distinct()
    )
    names: dict[int, str] = {}
    shared: dict[int, set[str]] = {}
    for pk, name, category in rows:
        names.setdefault(pk, name)
        found = shared.setdefault(pk, set())
        if category:
            found.add(category)
    return Targets(
        partnerships=[(pk, name) for pk, name in names.items() if pk != case.partnership_id],
        shared=shared,
    )


def summary_categories(*, actor: User, case: Case) -> list[str]:
    """The categories the actor may write the handover summary in."""
    writable = categories_of(actor, case.partnership_id, Action.WRITE)
    return [c for c in Category.values if c in writable]


def shared_categories(partnership_ids: Iterable[int]) -> dict[int, set[str]]:
    """Per partnership, the categories its agreement in force grants to at least
    one organisation (one query)."""
    ids = sorted(set(partnership_ids))
    found: dict[int, set[str]] = {pid: set() for pid in ids}
    agreements = SharingAgreement.objects.in_force(timezone.localdate()).filter(
        partnership_id__in=ids
    )
    rows = (
        CategoryGrant.objects.filter(agreement__in=agreements.values("pk"))
        .order_by()
        .values_list("agreement__partnership_id", "category")
        .distinct()
    )
    for pid, category in rows:
        found[pid].add(category)
    return found


def default_categories(*, from_partnership_id: int, to_partnership_id: int | None) -> list[str]:
    """What a transfer hands over unless its proposer chooses otherwise: the
    categories both partnerships' agreements grant to someone, never
    intelligence (police information is handed over only when ticked). Without
    a receiving partnership yet: what the sending agreement grants."""
    ids = [from_partnership_id] + ([to_partnership_id] if to_partnership_id else [])
    return _default_of(shared_categories(ids), from_partnership_id, to_partnership_id)


def _default_of(shared: dict[int, set[str]], sending: int, receiving: int | None) -> list[str]:
    both = set(shared.get(sending, set()))
    if receiving is not None:
        both &= shared.get(receiving, set())
    return [c for c in Category.values if c in both and c != Category.INTELLIGENCE]


GraceHolder = tuple[int, int | None, bool]  # organisation, named user, coordination


def grace_holders(case: Case, today: datetime.date) -> dict[GraceHolder, set[str]]:
    """Who reaches the case now, as they reach it, and the categories they may read.

    A team entry for a whole organisation, a named practitioner of a team
    entry, and the coordinators of the coordinating organisation: each keeps
    exactly that reach (no wider) with the categories their organisation holds
    under the agreements in force, while an active, current member.
    """
    partnership = case.partnership
    entries = list(
        CaseTeamMember.objects.active(today)
        .filter(case_id=case.pk)
        .values_list("organisation_id", "user_id")
    )
    team = {org_id for org_id, _user in entries}
    candidates = team | {partnership.coordinating_organisation_id}
    members = set(
        Membership.objects.current(today)
        .filter(
            partnership_id=partnership.pk,
            organisation_id__in=sorted(candidates),
            organisation__is_active=True,
        )
        .values_list("organisation_id", flat=True)
    )
    if partnership.coordinating_organisation.is_active:
        members.add(partnership.coordinating_organisation_id)
    agreements = SharingAgreement.objects.in_force(today).filter(partnership_id=partnership.pk)
    granted: dict[int, set[str]] = {}
    for org_id, category in CategoryGrant.objects.filter(
        agreement__in=agreements.values("pk"), organisation_id__in=sorted(members)
    ).values_list("organisation_id", "category"):
        granted.setdefault(org_id, set()).add(category)
    reaches: list[GraceHolder] = [(org_id, user_id, False) for org_id, user_id in entries]
    reaches.append((partnership.coordinating_organisation_id, None, True))
    return {reach: set(granted[reach[0]]) for reach in reaches if granted.get(reach[0])}
