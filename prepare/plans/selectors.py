"""Reads of release planning: each takes the actor, goes through the policy and is audited."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any

from django.db.models import Count, Exists, OuterRef, Q
from django.utils import timezone

from prepare.access.abilities import CaseAbilities, case_abilities, may_start_planning
from prepare.access.categories import Action, Category
from prepare.access.errors import WriteForbidden
from prepare.access.policy import (
    OrganisationReach,
    case_for_coordinator,
    caseload_grants,
    get_case_or_404,
    is_granted,
    organisation_reach,
    organisations_reach,
    release_grants,
)
from prepare.accounts.models import Organisation, User
from prepare.audit.models import EventAction
from prepare.audit.services import audit_record
from prepare.cases.models import Case, KeyDate, KeyDateKind
from prepare.cases.selectors import COUNT_CAP
from prepare.plans.models import ChecklistItem, ItemStatus
from prepare.plans.services import (
    assignable_users,
    owner_team_defaults,
    owner_unreached,
    partnership_organisations,
    planning_started,
)

WINDOWS = (30, 90, 180)
DEFAULT_WINDOW = 90
BOARD_PAGE_SIZE = 25
TASKS_LIMIT = 100


def _reached(actor: User) -> Exists:
    """Cases the actor reaches through their team or coordination (as the caseload):
    a case seen only through emergency access or a transfer's grace is not listed."""
    return Exists(caseload_grants(actor).filter(case_id=OuterRef("case_id")))


# --- A case's checklist ------------------------------------------------------------


@dataclass(frozen=True)
class ItemRow:
    item: ChecklistItem
    overdue: bool
    writable: bool
    # Open, and owned by an organisation that cannot see it (flagged until resolved).
    owner_unreached: bool = False


@dataclass(frozen=True)
class DueGroup:
    due_on: datetime.date
    rows: list[ItemRow]

    @property
    def overdue(self) -> bool:
        return any(r.overdue for r in self.rows)


@dataclass
class Progress:
    total: int = 0
    done: int = 0
    not_applicable: int = 0
    overdue: int = 0
    # Open items whose owner organisation cannot see them.
    owner_unreached: int = 0

    @property
    def applicable(self) -> int:
        return self.total - self.not_applicable


@dataclass
class CaseChecklist:
    case: Case
    today: datetime.date
    started: bool
    may_start: bool
    release_on: datetime.date | None
    groups: list[DueGroup]
    progress: Progress
    write_categories: frozenset[str]
    can_use_offset: bool
    organisations: list[Organisation] = field(default_factory=list)
    users: list[User] = field(default_factory=list)
    # Whether ``organisations`` and ``users`` were read: the forms that assign
    # are offered only then (elsewhere, a link to the checklist's own page).
    choices: bool = False
    # Whether the actor coordinates the case: they add owners to the team.
    coordinates: bool = False

    @property
    def items(self) -> list[ChecklistItem]:
        return [r.item for g in self.groups for r in g.rows]

    @property
    def owners_unreached(self) -> list[str]:
        """The names of the organisations owning an item they cannot see."""
        flagged = (r for g in self.groups for r in g.rows if r.owner_unreached)
        return sorted({str(r.item.owner_organisation) for r in flagged})

    @property
    def may_add(self) -> bool:
        return self.started and bool(self.write_categories)


def _progress(rows: Sequence[ItemRow], today: datetime.date) -> Progress:
    p = Progress(total=len(rows))
    for row in rows:
        item = row.item
        p.owner_unreached += row.owner_unreached
        if item.status == ItemStatus.DONE:
            p.done += 1
        elif item.status == ItemStatus.NOT_APPLICABLE:
            p.not_applicable += 1
        elif item.due_on < today:
            p.overdue += 1
    return p


def owner_flag(item: ChecklistItem) -> bool:
    """Whether an item read with ``owner_reaches`` (``organisation_reach``) is
    open and owned by an organisation that cannot see it."""
    return _unreached(item)


def _unreached(item: ChecklistItem) -> bool:
    """For an item read with ``owner_reaches`` (``organisation_reach``)."""
    return (
        item.status == ItemStatus.OPEN
        and item.owner_organisation_id is not None
        and not getattr(item, "owner_reaches", True)
    )


def item_owner_unreached(item: ChecklistItem) -> bool:
    """Whether the item's owner cannot see it: one query (for one item's answer)."""
    if item.status != ItemStatus.OPEN or item.owner_organisation_id is None:
        return False
    return ChecklistItem.objects.filter(pk=item.pk).filter(owner_unreached()).exists()


def checklist_section(
    *,
    actor: User,
    case: Case,
    abilities: CaseAbilities,
    key_dates: Sequence[KeyDate] | None = None,
    choices: bool = True,
) -> CaseChecklist:
    """The checklist of a case already fetched through the policy, as the actor
    may read it, grouped by due date; not audited here.

    ``key_dates``: the case's key dates the actor reads, when the caller has
    them already (the case page), so the expected release is not read again.
    ``choices``: also read the organisations and people an item can be
    assigned to (two queries), for the forms that assign.
    """
    today = timezone.localdate()
    items = list(
        ChecklistItem.objects.visible_to(actor, Action.READ)
        .filter(case_id=case.pk)
        .annotate(owner_reaches=organisation_reach())
        .select_related("owner_organisation", "assignee")
        .order_by("due_on", "pk")
    )
    writable = abilities.write_categories
    rows = [
        ItemRow(
            item=i,
            overdue=i.is_overdue(today),
            writable=i.category in writable,
            owner_unreached=_unreached(i),
        )
        for i in items
    ]
    groups = [
        DueGroup(due_on=due_on, rows=list(group))
        for due_on, group in groupby(rows, key=lambda r: r.item.due_on)
    ]
    started = bool(items) or planning_started(case)
    release_on = None
    if Category.JUSTICE in abilities.read_categories:
        if key_dates is None:
            release_on = (
                KeyDate.objects.visible_to(actor, Action.READ)
                .filter(case_id=case.pk, kind=KeyDateKind.EXPECTED_RELEASE)
                .values_list("date", flat=True)
                .first()
            )
        else:
            release_on = next(
                (d.date for d in key_dates if d.kind == KeyDateKind.EXPECTED_RELEASE), None
            )
    result = CaseChecklist(
        case=case,
        today=today,
        started=started,
        may_start=not started and abilities.start_planning,
        release_on=release_on,
        groups=groups,
        progress=_progress(rows, today),
        write_categories=writable,
        can_use_offset=Category.JUSTICE in abilities.read_categories,
        coordinates=abilities.coordinates,
    )
    if choices and started and writable:
        organisations = partnership_organisations(case.partnership)
        result.organisations = list(organisations)
        result.users = list(assignable_users(organisations))
        result.choices = True
    return result


def checklist_shown(checklist: CaseChecklist) -> dict[str, Any]:
    """What the section shows, for the audit event: ids and categories only."""
    items = checklist.items
    return {
        "category": Category.JUSTICE if checklist.release_on is not None else "",
        "items": [i.pk for i in items],
        "categories": sorted({i.category for i in items}),
    }


def case_checklist(
    *, actor: User, case_id: Any, view: str = "case_checklist", choices: bool = True
) -> CaseChecklist:
    """The checklist on its own (``checklist_section``); one view event."""
    case = get_case_or_404(actor, case_id)
    result = checklist_section(
        actor=actor, case=case, abilities=case_abilities(actor, case), choices=choices
    )
    shown = checklist_shown(result)
    audit_record(
        action=EventAction.VIEW,
        actor=actor,
        case=case,
        obj=case,
        category=shown.pop("category"),
        detail={"view": view, **shown},
    )
    return result


def case_for_start(*, actor: User, case_id: Any) -> Case:
    case = get_case_or_404(actor, case_id, Action.WRITE)
    if not may_start_planning(actor, case, can_write_case=True):
        raise WriteForbidden
    return case


# --- The release board ---------------------------------------------------------------


@dataclass(frozen=True)
class BoardRow:
    case: Case
    release_on: datetime.date
    show_identity: bool
    progress: Progress

    @property
    def display_name(self) -> str:
        return str(self.case.person) if self.show_identity else ""


@dataclass
class BoardPage:
    rows: list[BoardRow]
    days: int
    today: datetime.date
    until: datetime.date
    page: int
    per_page: int
    has_next: bool
    total: int
    total_capped: bool

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def owner_unreached(self) -> int:
        """Releases on this page with an item whose owner cannot see the case."""
        return sum(1 for r in self.rows if r.progress.owner_unreached)


def release_dates(actor: User, days: int) -> Any:
    """The expected releases in the next ``days`` days of the cases the actor reaches
    and whose justice category they may read, soonest first (for the API's pages)."""
    today = timezone.localdate()
    in_window = release_grants(actor, today, today + datetime.timedelta(days=days))
    return (
        KeyDate.objects.visible_to(actor, Action.READ)
        .filter(
            case_id__in=in_window.values("case_id"),
            kind=KeyDateKind.EXPECTED_RELEASE,
            date__gte=today,
            date__lte=today + datetime.timedelta(days=days),
        )
        .order_by("date", "case_id")
    )


def checklist_progress(actor: User, case_ids: Sequence[int]) -> dict[int, Progress]:
    """Per case, the counts over the items the actor may read: one grouped query."""
    if not case_ids:
        return {}
    today = timezone.localdate()
    open_ = Q(status=ItemStatus.OPEN)
    rows = (
        ChecklistItem.objects.visible_to(actor, Action.READ)
        .filter(case_id__in=list(case_ids))
        .order_by()
        .values("case_id")
        .annotate(
            total=Count("pk"),
            done=Count("pk", filter=Q(status=ItemStatus.DONE)),
            not_applicable=Count("pk", filter=Q(status=ItemStatus.NOT_APPLICABLE)),
            overdue=Count("pk", filter=open_ & Q(due_on__lt=today)),
            owner_unreached=Count("pk", filter=owner_unreached()),
        )
    )
    return {
        r["case_id"]: Progress(
            total=r["total"],
            done=r["done"],
            not_applicable=r["not_applicable"],
            overdue=r["overdue"],
            owner_unreached=r["owner_unreached"],
        )
        for r in rows
    }


def board_rows(
    *,
    actor: User,
    dates: Sequence[KeyDate],
    days: int,
    page: int,
    purpose: str = "",
    view: str = "release_board",
) -> list[BoardRow]:
    """The rows of one page of release dates, with the checklist counts; one LIST event."""
    counts = checklist_progress(actor, [d.case_id for d in dates])
    rows = [
        BoardRow(
            case=d.case,
            release_on=d.date,
            show_identity=is_granted(actor, d.case.partnership_id, Category.IDENTITY),
            progress=counts.get(d.case_id, Progress()),
        )
        for d in dates
    ]
    audit_record(
        action=EventAction.LIST,
        actor=actor,
        case_ids=[r.case.pk for r in rows],
        category=Category.JUSTICE if rows else "",
        purpose=purpose,
        detail={
            "view": view,
            "days": days,
            "page": page,
            "identity": [r.case.pk for r in rows if r.show_identity],
        },
    )
    return rows


def release_board(
    *,
    actor: User,
    days: int = DEFAULT_WINDOW,
    page: int = 1,
    per_page: int = BOARD_PAGE_SIZE,
    purpose: str = "",
) -> BoardPage:
    """One page of the upcoming releases, with each case's checklist completion.

    A fixed number of queries whatever the number of cases: the window's case ids
    with the capped count, the page's dates (with the cases), the grouped
    checklist counts, the event.
    """
    if days not in WINDOWS:
        days = DEFAULT_WINDOW
    page = max(page, 1)
    today = timezone.localdate()
    until = today + datetime.timedelta(days=days)
    # The page's cases and the capped total from one range scan of the
    # organisation's rows in the window, then the page's dates.
    offset = (page - 1) * per_page
    reach = max(COUNT_CAP, offset + per_page) + 1
    in_window = list(release_grants(actor, today, until).values_list("case_id", flat=True)[:reach])
    page_ids = in_window[offset : offset + per_page]
    has_next = len(in_window) > offset + per_page
    total = len(in_window)
    by_case = {
        d.case_id: d
        for d in KeyDate.objects.visible_to(actor, Action.READ)
        .filter(case_id__in=page_ids, kind=KeyDateKind.EXPECTED_RELEASE)
        .select_related("case__person", "case__partnership")
    }
    found = [by_case[c] for c in page_ids if c in by_case]
    rows = board_rows(actor=actor, dates=found, days=days, page=page, purpose=purpose)
    return BoardPage(
        rows=rows,
        days=days,
        today=today,
        until=until,
        page=page,
        per_page=per_page,
        has_next=has_next,
        total=min(total, COUNT_CAP),
        total_capped=total > COUNT_CAP,
    )


# --- My tasks ------------------------------------------------------------------------


@dataclass(frozen=True)
class TaskRow:
    item: ChecklistItem
    overdue: bool
    show_identity: bool
    assigned_to_me: bool

    @property
    def display_name(self) -> str:
        return str(self.item.case.person) if self.show_identity else ""


@dataclass
class MyTasks:
    rows: list[TaskRow]
    more: bool
    today: datetime.date
    signals: list[Any] | None  # None: monitoring does not offer them (yet)

    @property
    def overdue(self) -> int:
        return sum(1 for r in self.rows if r.overdue)


def _owners(actor: User) -> list[Q]:
    """Who owes an item to the actor: the actor, or their organisation (unassigned)."""
    owners = [Q(assignee_id=actor.pk)]
    if actor.organisation_id is not None:
        owners.append(Q(owner_organisation_id=actor.organisation_id, assignee__isnull=True))
    return owners


def _owed_readable(actor: User) -> Any:
    return ChecklistItem.objects.visible_to(actor, Action.READ).filter(
        _reached(actor), status=ItemStatus.OPEN
    )


def owed_items(actor: User) -> Any:
    """Open items owed by the actor, or by their organisation and not yet assigned."""
    owed = Q(pk__in=[])
    for owner in _owners(actor):
        owed |= owner
    return _owed_readable(actor).filter(owed).order_by("due_on", "pk")


def _signals_owed(
    actor: User, view: str = "signals_owed", limit: int | None = None
) -> list[Any] | None:
    try:
        from prepare.monitoring import selectors as monitoring
    except ImportError:
        return None
    signals_owed = getattr(monitoring, "signals_owed", None)
    if signals_owed is None:
        return None
    if limit is not None:
        return list(signals_owed(actor=actor, view=view, limit=limit))
    return list(signals_owed(actor=actor, view=view))


TASK_RELATED = ("case__person", "case__partnership", "owner_organisation")


def owed_tasks(actor: User) -> Any:
    """``owed_items`` with what a row of the tasks shows, for slicing or paginating."""
    return owed_items(actor).select_related(*TASK_RELATED)


# "My tasks" reads open items in due order by their owner's index, a window of
# the list's length and a quarter more at a time (at most this many windows),
# then keeps those the policy lets the actor read.
TASK_WINDOWS = 5


def soonest_owed_tasks(actor: User, limit: int) -> list[ChecklistItem]:
    """The ``limit`` soonest of ``owed_tasks``.

    For each owner (the actor; their organisation, unassigned items) the open
    items are read in due order through that owner's index, a window at a time,
    and each window is then passed through the policy by key. Each read stops
    at its window, so the list costs the same however many items are owed in
    all; with the policy inside one query, PostgreSQL misjudges how many rows
    pass it and sorts every item of the owner first.
    """
    readable = _owed_readable(actor).select_related(*TASK_RELATED)
    window_size = limit + limit // 4 + 1
    found: list[ChecklistItem] = []
    for owner in _owners(actor):
        candidates = ChecklistItem.objects.filter(owner, status=ItemStatus.OPEN).order_by(
            "due_on", "pk"
        )
        kept: list[ChecklistItem] = []
        for _ in range(TASK_WINDOWS):
            window = list(candidates.values_list("due_on", "pk")[:window_size])
            if not window:
                break
            by_pk = {i.pk: i for i in readable.filter(pk__in=[pk for _, pk in window])}
            kept.extend(by_pk[pk] for _, pk in window if pk in by_pk)
            if len(kept) >= limit or len(window) < window_size:
                break
            last_due, last_pk = window[-1]
            candidates = candidates.filter(
                Q(due_on__gt=last_due) | Q(due_on=last_due, pk__gt=last_pk)
            )
        found.extend(kept[:limit])
    found.sort(key=lambda item: (item.due_on, item.pk))
    return found[:limit]


def tasks_read(
    *,
    actor: User,
    items: list[ChecklistItem],
    more: bool = False,
    purpose: str = "",
    view: str = "my_tasks",
    signals_view: str = "signals_owed",
    signals_limit: int | None = None,
) -> MyTasks:
    """The rows of ``items`` (from ``owed_tasks``), the signals owed, and the events."""
    today = timezone.localdate()
    rows = [
        TaskRow(
            item=i,
            overdue=i.is_overdue(today),
            show_identity=is_granted(actor, i.case.partnership_id, Category.IDENTITY),
            assigned_to_me=i.assignee_id == actor.pk,
        )
        for i in items
    ]
    # ``signals_owed`` goes through the policy and logs its own list event.
    signals = _signals_owed(actor, signals_view, signals_limit)
    audit_record(
        action=EventAction.LIST,
        actor=actor,
        case_ids=sorted({r.item.case_id for r in rows}),
        purpose=purpose,
        detail={
            "view": view,
            "items": [r.item.pk for r in rows],
            "categories": sorted({r.item.category for r in rows}),
            "identity": sorted({r.item.case_id for r in rows if r.show_identity}),
        },
    )
    return MyTasks(rows=rows, more=more, today=today, signals=signals)


def my_tasks(*, actor: User, limit: int = TASKS_LIMIT, purpose: str = "") -> MyTasks:
    """What the actor or their organisation owes, soonest (so overdue) first."""
    found = soonest_owed_tasks(actor, limit + 1)
    return tasks_read(actor=actor, items=found[:limit], more=len(found) > limit, purpose=purpose)


# --- Owners who cannot see the case ------------------------------------------------------


@dataclass(frozen=True)
class OwnerRow:
    """An organisation owning open items of the case that it cannot see."""

    organisation: Organisation
    items: list[ChecklistItem]
    reach: OrganisationReach
    purpose: str
    ends_on: datetime.date

    @property
    def shown_categories(self) -> list[tuple[str, str]]:
        """What a place on the team would let it read: its agreement's categories."""
        return [
            (value, str(label)) for value, label in Category.choices if value in self.reach.readable
        ]

    @property
    def resolved_by_team(self) -> list[ChecklistItem]:
        """The items a place on the team would show it (their category is granted)."""
        return [i for i in self.items if i.category in self.reach.readable]

    @property
    def addable(self) -> bool:
        return self.reach.member and not self.reach.on_team and bool(self.resolved_by_team)

    @property
    def reason(self) -> str:
        """Why it cannot see them: not a member, no grant, or not on the team."""
        if not self.reach.member:
            return "not_member"
        if self.reach.on_team or not self.resolved_by_team:
            return "not_granted"
        return "not_on_team"


@dataclass
class CaseOwners:
    case: Case
    rows: list[OwnerRow]
    release_on: datetime.date | None
    organisations: list[Organisation]

    @property
    def addable(self) -> list[OwnerRow]:
        return [r for r in self.rows if r.addable]

    @property
    def item_ids(self) -> list[int]:
        return [i.pk for r in self.rows for i in r.items]


def case_for_owners(*, actor: User, case_id: Any, action: str = Action.READ) -> Case:
    """The case, for its coordinator: 404 if not seen, 403 unless coordinating."""
    return case_for_coordinator(actor, case_id, action)


def checklist_owners_section(*, actor: User, case: Case) -> CaseOwners:
    """The organisations owning open items of the case (that the actor reads)
    which they cannot see, with what a place on the team would show them and
    the purpose and end date offered. Six queries at most, whatever the
    number of items and organisations; not audited here."""
    items = list(
        ChecklistItem.objects.visible_to(actor, Action.READ)
        .filter(case_id=case.pk)
        .filter(owner_unreached())
        .select_related("owner_organisation")
        .order_by("owner_organisation__name", "owner_organisation_id", "due_on", "pk")
    )
    release_on = None
    if is_granted(actor, case.partnership_id, Category.JUSTICE):
        release_on = (
            KeyDate.objects.visible_to(actor, Action.READ)
            .filter(case_id=case.pk, kind=KeyDateKind.EXPECTED_RELEASE)
            .values_list("date", flat=True)
            .first()
        )
    facts = organisations_reach(case, {i.owner_organisation_id for i in items})
    rows = []
    for _org_id, group in groupby(items, key=lambda i: i.owner_organisation_id):
        owned = list(group)
        organisation = owned[0].owner_organisation
        assert organisation is not None
        reach = facts[organisation.pk]
        readable = [i for i in owned if i.category in reach.readable]
        purpose, ends_on = owner_team_defaults(readable or owned, release_on)
        rows.append(
            OwnerRow(
                organisation=organisation,
                items=owned,
                reach=reach,
                purpose=purpose,
                ends_on=ends_on,
            )
        )
    organisations = list(partnership_organisations(case.partnership)) if rows else []
    return CaseOwners(case=case, rows=rows, release_on=release_on, organisations=organisations)


def checklist_owners(*, actor: User, case_id: Any, view: str = "checklist_owners") -> CaseOwners:
    """``checklist_owners_section`` for the case's coordinator; one view event."""
    case = case_for_owners(actor=actor, case_id=case_id)
    result = checklist_owners_section(actor=actor, case=case)
    audit_record(
        action=EventAction.VIEW,
        actor=actor,
        case=case,
        obj=case,
        category=Category.JUSTICE if result.release_on is not None else "",
        detail={
            "view": view,
            "items": result.item_ids,
            "categories": sorted({i.category for r in result.rows for i in r.items}),
            "organisations": [r.organisation.pk for r in result.rows],
        },
    )
    return result
