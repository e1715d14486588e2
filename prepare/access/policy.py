"""THE access policy: who may do what on which category of which case.

Everything that reads case data starts from ``visible_cases`` or a model's
``visible_to`` queryset method, both built here, so that lists are filtered
in SQL and nothing can leak through a forgotten ``if``.

A user may act on category C of case K when:
1. the user is active and signed in with a second factor (middleware);
2. the user's organisation is on K's case team, the user is named on it, or
   the user coordinates K's partnership (or holds live break-glass access);
3. the partnership's sharing agreement grants the organisation C today;
4. the user's role allows the action (observers never write).
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.db.models import Exists, FilteredRelation, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone
from django.utils.translation import gettext_lazy as _lazy

from prepare.access.categories import Action, Category
from prepare.access.errors import NotVisible, WriteForbidden
from prepare.accounts.models import (
    CASE_READING_ROLES,
    CASE_WRITING_ROLES,
    Organisation,
    Role,
    User,
)

if TYPE_CHECKING:
    from prepare.cases.models import Case, CaseQuerySet

_CACHE_ATTR = "_prepare_grants"


@dataclass(frozen=True)
class Grants:
    """What one user may do, computed once per request."""

    user_id: int | None
    organisation_id: int | None
    role: str
    today: datetime.date
    # Partnerships the organisation is a current member of (or coordinates).
    partnership_ids: frozenset[int] = frozenset()
    # Partnerships this user coordinates (coordinator role, coordinating org).
    coordinated_ids: frozenset[int] = frozenset()
    readable: Mapping[int, frozenset[str]] = field(default_factory=dict)
    writable: Mapping[int, frozenset[str]] = field(default_factory=dict)
    # The names of ``partnership_ids``, for filters and headings.
    partnership_names: Mapping[int, str] = field(default_factory=dict)

    @property
    def reads_cases(self) -> bool:
        return self.role in CASE_READING_ROLES and bool(self.partnership_ids)

    @property
    def writes_cases(self) -> bool:
        return self.role in CASE_WRITING_ROLES and bool(self.partnership_ids)

    def case_partnership_ids(self, action: str = Action.READ) -> frozenset[int]:
        """Partnerships whose agreement grants the organisation a category for ``action``.

        A case is only reachable there: an organisation that may read nothing
        of a case (its agreement expired, or never covered it) does not learn
        that the case exists.
        """
        return frozenset(pid for pid in self.partnership_ids if self.categories(pid, action))

    def categories(self, partnership_id: int, action: str = Action.READ) -> frozenset[str]:
        if action == Action.WRITE:
            if self.role not in CASE_WRITING_ROLES:
                return frozenset()
            return self.writable.get(partnership_id, frozenset())
        if self.role not in CASE_READING_ROLES:
            return frozenset()
        return self.readable.get(partnership_id, frozenset())

    def may(self, partnership_id: int, category: str, action: str = Action.READ) -> bool:
        return category in self.categories(partnership_id, action)

    def coordinates(self, partnership_id: int) -> bool:
        return partnership_id in self.coordinated_ids


NO_GRANTS = Grants(user_id=None, organisation_id=None, role="", today=datetime.date.min)


def grants_for(user: Any) -> Grants:
    """The user's grants, cached on the user object of this request."""
    cached = getattr(user, _CACHE_ATTR, None)
    today = timezone.localdate()
    if cached is not None and cached.today == today:
        return cached
    grants = _compute_grants(user, today)
    if getattr(user, "pk", None) is not None:
        setattr(user, _CACHE_ATTR, grants)
    return grants


def forget_grants(user: Any) -> None:
    """Drop the cached grants after a change that alters them."""
    if hasattr(user, _CACHE_ATTR):
        delattr(user, _CACHE_ATTR)


def _compute_grants(user: Any, today: datetime.date) -> Grants:
    """The user's grants in one query: the partnerships their (active) organisation
    is a current member of or coordinates, each joined to the cells of the
    agreements in force today that name the organisation."""
    from prepare.partnerships.models import Membership, Partnership

    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return NO_GRANTS
    org_id = user.organisation_id
    if org_id is None:
        return Grants(user_id=user.pk, organisation_id=None, role=user.role, today=today)
    member = Exists(
        Membership.objects.current(today).filter(
            partnership_id=OuterRef("pk"), organisation_id=org_id
        )
    )
    in_force = Q(agreements__valid_from__lte=today) & (
        Q(agreements__valid_until__isnull=True) | Q(agreements__valid_until__gte=today)
    )
    rows = (
        Partnership.objects.filter(Q(coordinating_organisation_id=org_id) | member)
        # A deactivated organisation reaches nothing, whatever its memberships say.
        .filter(Exists(Organisation.objects.filter(pk=org_id, is_active=True)))
        .annotate(
            cell=FilteredRelation(
                "agreements__grants",
                condition=Q(agreements__grants__organisation_id=org_id) & in_force,
            )
        )
        .order_by()
        .values_list("pk", "name", "coordinating_organisation_id", "cell__category", "cell__access")
    )
    names: dict[int, str] = {}
    coordinating: set[int] = set()
    readable: dict[int, set[str]] = {}
    writable: dict[int, set[str]] = {}
    for pid, name, coordinator_org, category, access in rows:
        names[pid] = name
        if coordinator_org == org_id:
            coordinating.add(pid)
        if category is None:
            continue
        readable.setdefault(pid, set()).add(category)
        if access == Action.WRITE:
            writable.setdefault(pid, set()).add(category)
    coordinated = coordinating if user.role == Role.COORDINATOR else set()
    return Grants(
        user_id=user.pk,
        organisation_id=org_id,
        role=user.role,
        today=today,
        partnership_ids=frozenset(names),
        coordinated_ids=frozenset(coordinated),
        readable={k: frozenset(v) for k, v in readable.items()},
        writable={k: frozenset(v) for k, v in writable.items()},
        partnership_names=names,
    )


# --- Cases ---------------------------------------------------------------------


def caseload_grants(user: Any) -> Any:
    """The user's rows of the case grant index, in caseload order.

    Only the organisation's rows are read, in the order of the index
    (organisation, -sort_key, case), so that a page is one range scan that
    stops after the page, at ten cases or a million. Pass the result through
    ``.values("case_id")`` or slice it.
    """
    from prepare.access.models import CaseGrant
    from prepare.cases.models import ENDED_STATUSES, CaseTeamMember

    g = grants_for(user)
    if not g.reads_cases or g.organisation_id is None or g.user_id is None:
        return CaseGrant.objects.none()
    open_team = ~Q(status__in=[str(s) for s in ENDED_STATUSES])
    # Whether the user is named on the row's case, as a scalar subquery: one
    # probe of the (case, user) index for each row the range scan reaches.
    # Written as EXISTS, PostgreSQL hashes every team row naming the user
    # before the scan starts, which grows with the user's history.
    named_entry = Subquery(
        CaseTeamMember.objects.active(g.today)
        .filter(case_id=OuterRef("case_id"), user_id=g.user_id)
        .order_by()
        .values("pk")[:1]
    )
    reach: Q = (
        Q(whole_organisation=True) & (Q(ends_on__isnull=True) | Q(ends_on__gte=g.today)) & open_team
    ) | (Q(named_users=True) & Q(named_entry__isnull=False) & open_team)
    if g.coordinated_ids:
        reach |= Q(coordination=True, partnership_id__in=g.coordinated_ids)
    return (
        CaseGrant.objects.filter(organisation_id=g.organisation_id)
        .filter(partnership_id__in=sorted(g.case_partnership_ids(Action.READ)))
        .alias(named_entry=named_entry)
        .filter(reach)
        .order_by("-sort_key", "case_id")
    )


def release_grants(
    user: Any, start: datetime.date, end: datetime.date, *, category: str = Category.JUSTICE
) -> Any:
    """The user's caseload rows whose case is expected to be released between
    ``start`` and ``end`` (open cases only, in partnerships whose agreement lets
    the user read ``category``), soonest first.

    Read through the index (organisation, release_on, case): the organisation's
    own rows in the window, whatever the number of releases elsewhere.
    """
    from prepare.cases.models import ENDED_STATUSES

    granting = [
        pid for pid in sorted(grants_for(user).partnership_ids) if is_granted(user, pid, category)
    ]
    return (
        caseload_grants(user)
        .filter(
            partnership_id__in=granting,
            release_on__gte=start,
            release_on__lte=end,
        )
        .exclude(status__in=[str(s) for s in ENDED_STATUSES])
        .order_by("release_on", "case_id")
    )


@dataclass(frozen=True)
class CaseloadWindow:
    """One page of a caseload: its case ids in order, the cases themselves (a
    lazy queryset, fetched by key), and how many there are in all, counted up
    to ``cap`` (``total_capped`` then says "more")."""

    ids: list[int]
    cases: CaseQuerySet
    has_next: bool
    total: int
    total_capped: bool


# The orders a caseload can be read in, each the order of one index of the grant
# table (organisation, key, case): a page is one range scan in any of them. By
# release date, only the cases that have an expected release date are listed.
CASELOAD_ORDERS: dict[str, tuple[str, ...]] = {
    "activity": ("-sort_key", "case_id"),
    "reference": ("reference", "case_id"),
    "release": ("release_on", "case_id"),
}


def caseload_window(
    user: Any,
    *,
    offset: int,
    limit: int,
    cap: int,
    status: str = "",
    partnership_id: int | None = None,
    sort: str = "activity",
    released_between: tuple[datetime.date, datetime.date] | None = None,
    having: tuple[Q, ...] = (),
) -> CaseloadWindow:
    """The ids of one caseload page and the capped total, in one query.

    The range scan reads at most ``max(cap, offset + limit) + 1`` index entries:
    the total is known from the same rows as the page, without a second pass.
    The page's cases are then fetched by key: their ids were read through the
    policy here, so the grant index is not consulted a second time.

    ``sort`` names one of ``CASELOAD_ORDERS``; ``released_between`` keeps the
    cases expected to be released in that window (read on the release index);
    ``having`` adds conditions on the row's case (``Exists`` of its records,
    built with ``category_q`` so that only readable records count).
    """
    from prepare.cases.models import Case

    grants = caseload_grants(user)
    if status:
        grants = grants.filter(status=status)
    if partnership_id:
        grants = grants.filter(partnership_id=partnership_id)
    if released_between is not None:
        start, end = released_between
        grants = grants.filter(release_on__gte=start, release_on__lte=end)
    for condition in having:
        grants = grants.filter(condition)
    order = CASELOAD_ORDERS.get(sort, CASELOAD_ORDERS["activity"])
    if sort == "release":
        grants = grants.filter(release_on__isnull=False)
    grants = grants.order_by(*order)
    reach = max(cap, offset + limit) + 1
    ids = list(grants.values_list("case_id", flat=True)[:reach])
    page = ids[offset : offset + limit]
    return CaseloadWindow(
        ids=page,
        cases=Case.objects.filter(pk__in=page),
        has_next=len(ids) > offset + limit,
        total=min(len(ids), cap),
        total_capped=len(ids) > cap,
    )


def case_filter(user: Any, action: str = Action.READ) -> Q:
    """A ``Q`` on ``Case`` that keeps the cases ``user`` may reach for ``action``."""
    from prepare.access.models import BreakGlassAccess

    g = grants_for(user)
    if not g.reads_cases or (action == Action.WRITE and not g.writes_cases):
        return Q(pk__in=[])
    # A correlated semi-join: each candidate case is checked against the grant
    # index's (case, organisation) key, so fetching one case or one page costs
    # the same at any number of cases (an IN-list over every grant would not).
    reach = Q(Exists(caseload_grants(user).filter(case_id=OuterRef("pk"))))
    if action == Action.READ and g.user_id is not None:
        glass = BreakGlassAccess.objects.filter(
            case_id=OuterRef("pk"), user_id=g.user_id, expires_at__gt=timezone.now()
        )
        reach |= Q(Exists(glass))
    visible = Q(partnership_id__in=sorted(g.case_partnership_ids(action))) & reach
    if action == Action.READ and g.organisation_id is not None:
        # After a transfer the old team keeps read-only access for a grace period.
        visible |= Q(Exists(_live_graces(g).filter(case_id=OuterRef("pk"))))
    return visible


def _live_graces(g: Grants) -> Any:
    """The running grace rows that reach this user: their organisation's rows for
    the whole organisation or naming them, and coordination rows for coordinators."""
    from prepare.cases.models import TransferGrace

    if g.organisation_id is None or g.user_id is None:
        return TransferGrace.objects.none()
    rows = TransferGrace.objects.filter(
        Q(user__isnull=True) | Q(user_id=g.user_id),
        organisation_id=g.organisation_id,
        until__gt=timezone.now(),
    )
    if g.role != Role.COORDINATOR:
        rows = rows.filter(coordination=False)
    return rows


def visible_cases(user: Any, action: str = Action.READ) -> CaseQuerySet:
    from prepare.cases.models import Case

    return Case.objects.visible_to(user, action)


_MAX_PK = 2**63 - 1


def parse_pk(raw: Any) -> int | None:
    """A primary key from a URL or payload, or None if it cannot be one.

    ``str.isdigit`` accepts characters such as "²" that ``int`` refuses, and a
    number past the column's range makes the database raise: both would answer
    500 instead of 404.
    """
    if isinstance(raw, bool):
        return None
    text = str(raw)
    if not (text.isascii() and text.isdecimal()):
        return None
    value = int(text)
    return value if 0 < value <= _MAX_PK else None


def get_case_or_404(user: Any, pk: Any, action: str = Action.READ) -> Case:
    """The case, if the user may see it; 404 otherwise (never 403: no oracle).

    For ``action=WRITE`` a case the user can see but not write raises
    ``WriteForbidden`` (403).
    """
    case_pk = parse_pk(pk)
    if case_pk is None:
        raise NotVisible
    case = (
        visible_cases(user, Action.READ)
        .select_related("person", "partnership")
        .filter(pk=case_pk)
        .first()
    )
    if case is None:
        raise NotVisible
    if action == Action.WRITE and not visible_cases(user, Action.WRITE).filter(pk=case.pk).exists():
        raise WriteForbidden
    return case


def handed_over_cases(user: Any) -> CaseQuerySet:
    """Cases that a partnership the user coordinates transferred to another one.

    The sending coordinator stays accountable for what was disclosed while the
    case was theirs, so they keep its access log up to the handover (and
    nothing else of the case once the grace period is over).
    """
    from prepare.cases.models import Case, Transfer, TransferStatus

    g = grants_for(user)
    if not g.coordinated_ids:
        return Case.objects.none()
    handed_over = Transfer.objects.filter(
        case_id=OuterRef("pk"),
        status=TransferStatus.ACCEPTED,
        from_partnership_id__in=sorted(g.coordinated_ids),
    )
    return Case.objects.filter(Exists(handed_over))


def has_break_glass(user: Any, case: Case) -> bool:
    """Whether the user reaches the case only through break-glass access."""
    return not visible_cases_without_glass(user).filter(pk=case.pk).exists()


def visible_cases_without_glass(user: Any) -> CaseQuerySet:
    from prepare.cases.models import Case

    g = grants_for(user)
    if not g.reads_cases:
        return Case.objects.none()
    return Case.objects.filter(
        Exists(caseload_grants(user).filter(case_id=OuterRef("pk"))),
        partnership_id__in=sorted(g.case_partnership_ids(Action.READ)),
    )


# --- Records inside a case ------------------------------------------------------


def category_q(user: Any, action: str = Action.READ, prefix: str = "") -> Q:
    """(partnership = p AND category IN granted(p)) OR ... for the user.

    On a record, ``partnership`` is the partnership that holds it (decision
    0012); with ``prefix="case__"`` it is the case's.
    """
    g = grants_for(user)
    q = Q(pk__in=[])
    for pid in sorted(g.partnership_ids):
        cats = g.categories(pid, action)
        if cats:
            q |= Q(**{f"{prefix}partnership_id": pid, "category__in": sorted(cats)})
    return q


def record_filter(user: Any, action: str = Action.READ, *, model: Any = None) -> Q:
    """A ``Q`` on any case record (``case``, ``category``, its holder
    ``partnership`` and ``handed_over_by``).

    A record is kept when its case is visible **and still held by the
    partnership that holds the record**, and the agreement of that partnership
    grants its category; or, for reading, when a transfer's grace period still
    covers the category for the user and the record is one the old team read
    before the move (``_grace_q``). A record a sending partnership kept after a
    transfer is therefore read by nobody through the case's new partnership,
    and by the old team only during the grace period, even if the user's
    organisation is a member of both partnerships. The case check is
    correlated (one indexed probe per record).

    ``model`` is the queryset's model (``visible_to`` passes it): a model with
    an ``updated_at`` column also hides, from the old team, a handed-over
    record that the receiver changed after the acceptance.
    """
    g = grants_for(user)
    visible = _held_q(user, action)
    if action == Action.READ and g.reads_cases and g.organisation_id is not None:
        edited = model is not None and any(
            f.name == "updated_at" for f in model._meta.concrete_fields
        )
        visible |= _grace_q(g, edited=edited)
    return visible


def case_fact_filter(user: Any) -> Q:
    """A ``Q`` on a row about the case itself rather than a record someone wrote
    (the person's identity in the search index), held by the case's
    partnership: read like a record, and during a transfer's grace period for
    its category as the case page shows it (the case's current identity)."""
    g = grants_for(user)
    visible = _held_q(user, Action.READ)
    if g.reads_cases and g.organisation_id is not None:
        visible |= Q(
            Exists(
                _live_graces(g).filter(case_id=OuterRef("case_id"), category=OuterRef("category"))
            )
        )
    return visible


def _held_q(user: Any, action: str) -> Q:
    """In a visible case, held by the case's partnership, in a granted category."""
    in_visible_case = Exists(
        visible_cases(user, action).filter(
            pk=OuterRef("case_id"), partnership_id=OuterRef("partnership_id")
        )
    )
    return Q(in_visible_case) & category_q(user, action)


def _grace_q(g: Grants, *, edited: bool) -> Q:
    """The records a running grace row lets the old team read: of the row's case
    and category, either kept by the sending partnership (still its holder) or
    handed over by that very transfer (``handed_over_by``) and, with ``edited``,
    not changed since its acceptance. Never a record the receiver wrote after
    the acceptance (its ``handed_over_by`` is empty), nor one it holds from an
    earlier transfer, nor the receiver's new text of a handed-over one.

    A live grace row is itself what makes the case visible to the old team
    (``case_filter``). One correlated probe of the grace index per record,
    joined to its transfer by key."""
    handed = Q(transfer_id=OuterRef("handed_over_by_id"))
    if edited:
        # An edit by the receiver comes in a request after the acceptance
        # committed, so it is later than the acceptance's time (taken before
        # the records moved). Strictly earlier counts as unchanged: a tie, or
        # a clock running ahead, hides the record, it never shows it.
        handed &= Q(transfer__decided_at__gt=OuterRef("updated_at"))
    rows = _live_graces(g).filter(
        Q(transfer__from_partnership_id=OuterRef("partnership_id")) | handed,
        case_id=OuterRef("case_id"),
        category=OuterRef("category"),
    )
    return Q(Exists(rows))


def note_edit_filter(user: Any) -> Q:
    """A ``Q`` on ``CaseNote``: the notes ``user`` may edit. Those they may write
    (``record_filter``) whose author belongs to the user's organisation: a note
    is its author organisation's statement (a probation officer does not edit
    the police's risk assessment); others answer with a reply."""
    g = grants_for(user)
    if g.organisation_id is None:
        return Q(pk__in=[])
    return record_filter(user, Action.WRITE) & Q(created_by__organisation_id=g.organisation_id)


NOTE_OF_ANOTHER_ORGANISATION = _lazy(
    "This note was written by another organisation, so only its people may edit it. "
    "Nothing was changed. Reply to the note with a note of your own instead."
)


def note_for_edit(user: Any, note_id: Any, *, case_id: Any = None, lock: bool = False) -> Any:
    """The note, for changing it: 404 if the user does not read it (or it is not
    on ``case_id``), 403 if they may not write it, 403 with
    ``NOTE_OF_ANOTHER_ORGANISATION`` if its author is of another organisation.
    With ``lock``, the row is locked for the caller's transaction."""
    from prepare.cases.models import CaseNote

    note = record_for(
        user,
        CaseNote,
        note_id,
        Action.READ,
        case_id=case_id,
        related=("case", "case__partnership", "created_by"),
    )
    editable = CaseNote.objects.filter(pk=note.pk)
    if not editable.filter(record_filter(user, Action.WRITE)).exists():
        raise WriteForbidden
    if not editable.filter(note_edit_filter(user)).exists():
        raise WriteForbidden(NOTE_OF_ANOTHER_ORGANISATION)
    if lock:
        locked = CaseNote.objects.select_for_update().get(pk=note.pk)
        for name in ("kind", "text", "version", "updated_by_id", "updated_at"):
            setattr(note, name, getattr(locked, name))
    return note


def may_see_identity(user: Any, case: Case) -> bool:
    return grants_for(user).may(case.partnership_id, Category.IDENTITY)


# --- What the grants say, for the modules that must not read them directly --------


def member_partnership_ids(user: Any) -> list[int]:
    """The partnerships the user's organisation is a current member of (or coordinates)."""
    return sorted(grants_for(user).partnership_ids)


def member_partnerships(user: Any) -> list[tuple[int, str]]:
    """``member_partnership_ids`` with their names, by name (read with the grants)."""
    names = grants_for(user).partnership_names
    return sorted(names.items(), key=lambda item: (item[1], item[0]))


def coordinated_partnership_ids(user: Any) -> list[int]:
    """The partnerships the user coordinates (coordinator of the coordinating organisation)."""
    return sorted(grants_for(user).coordinated_ids)


def coordinates(user: Any, partnership_id: int) -> bool:
    return grants_for(user).coordinates(partnership_id)


def categories_of(user: Any, partnership_id: int, action: str = Action.READ) -> frozenset[str]:
    """The categories the agreement grants the user in the partnership, for ``action``."""
    return grants_for(user).categories(partnership_id, action)


def is_granted(user: Any, partnership_id: int, category: str, action: str = Action.READ) -> bool:
    return grants_for(user).may(partnership_id, category, action)


def partnerships_granting(user: Any, category: str, action: str = Action.READ) -> list[int]:
    """The user's partnerships whose agreement grants ``category`` for ``action``."""
    g = grants_for(user)
    if action == Action.WRITE and not g.writes_cases:
        return []
    return sorted(pid for pid in g.partnership_ids if g.may(pid, category, action))


# --- Fetching one object for an action ---------------------------------------------


def case_for_write(user: Any, case_id: Any, category: str | None = None) -> Case:
    """The case, for adding a record to it: 404 if the user does not see it, 403
    unless they may write on it and the agreement lets them write ``category``
    there (without one, or with an empty one: any category)."""
    case = get_case_or_404(user, case_id, Action.WRITE)
    writable = categories_of(user, case.partnership_id, Action.WRITE)
    if not writable or (category and category not in writable):
        raise WriteForbidden
    return case


def record_for(
    user: Any,
    model: Any,
    record_id: Any,
    action: str = Action.READ,
    *,
    case_id: Any = None,
    related: tuple[str, ...] = ("case", "case__partnership"),
) -> Any:
    """A case-bound record (``model`` has the ``visible_to`` manager) for ``action``.

    404 if it does not exist, is not on ``case_id`` (when given) or the user may
    not read it; for ``action=WRITE``, 403 if they read it but may not write it.
    Nothing of it is shown from here: the caller audits what it shows or changes.
    """
    pk = parse_pk(record_id)
    rows = model.objects.visible_to(user, Action.READ).filter(pk=pk)
    if case_id is not None:
        case_pk = parse_pk(case_id)
        if case_pk is None:
            raise NotVisible
        rows = rows.filter(case_id=case_pk)
    record = rows.select_related(*related).first() if pk is not None else None
    if record is None:
        raise NotVisible
    if action == Action.WRITE and not (
        model.objects.visible_to(user, Action.WRITE).filter(pk=record.pk).exists()
    ):
        raise WriteForbidden
    return record


# --- Reach outside the case team ---------------------------------------------------


def break_glass_case(user: Any, case_id: Any) -> Case:
    """The case a user may open through break-glass: a case of a partnership whose
    agreement grants their organisation something to read (404 otherwise)."""
    from prepare.cases.models import Case

    g = grants_for(user)
    case_pk = parse_pk(case_id)
    case = None
    if case_pk is not None and g.reads_cases:
        case = (
            Case.objects.filter(pk=case_pk, partnership_id__in=g.case_partnership_ids(Action.READ))
            .select_related("partnership")
            .first()
        )
    if case is None:
        raise NotVisible
    return case


@dataclass(frozen=True)
class BreakGlassCheck:
    """Whether the user may open emergency access to a case they reach through
    ``break_glass_case``, and if not, why.

    ``refused`` is "" (allowed), "role" (observers never use it), "ended" (the
    case is closed, in follow-up or archived: its team's access has ended, and
    so has any emergency) or "cap" (the user opened ``cap`` emergency accesses
    today, in the partnership's time zone; ``resets_at`` is that zone's next
    midnight). A case that is closing is still worked on: it is allowed.
    """

    refused: str
    cap: int
    opened_today: int
    resets_at: datetime.datetime


def break_glass_check(
    user: Any, case: Case, *, cap: int, now: datetime.datetime | None = None
) -> BreakGlassCheck:
    """The rules of break-glass beyond reaching the case (``break_glass_case``)."""
    import zoneinfo

    from prepare.access.models import BreakGlassAccess
    from prepare.cases.models import ENDED_STATUSES

    now = now or timezone.now()
    try:
        zone: datetime.tzinfo = zoneinfo.ZoneInfo(case.partnership.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = datetime.UTC
    local = timezone.localtime(now, zone)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    # Aware arithmetic in one zone is on the wall clock: the next midnight there.
    resets_at = midnight + datetime.timedelta(days=1)
    opened = 0
    refused = ""
    if user.role not in CASE_WRITING_ROLES:  # observers read, and never break glass
        refused = "role"
    elif case.status in ENDED_STATUSES:
        refused = "ended"
    else:
        opened = BreakGlassAccess.objects.filter(user_id=user.pk, created_at__gte=midnight).count()
        if opened >= cap:
            refused = "cap"
    return BreakGlassCheck(refused=refused, cap=cap, opened_today=opened, resets_at=resets_at)


def reviewable_break_glass(user: Any) -> Any:
    """The emergency accesses a data-protection officer reviews: those to cases of
    the partnerships their organisation coordinates (none for anyone else)."""
    from prepare.access.models import BreakGlassAccess

    if not is_data_protection_officer(user):
        return BreakGlassAccess.objects.none()
    return BreakGlassAccess.objects.filter(
        case__partnership__coordinating_organisation_id=user.organisation_id,
        case__partnership__coordinating_organisation__is_active=True,
    )


def is_data_protection_officer(user: Any) -> bool:
    """An auditor of an organisation: the data-protection officer of its partnerships."""
    return bool(user.is_active and user.role == Role.AUDITOR and user.organisation_id is not None)


def manageable_accounts(user: Any) -> QuerySet[User]:
    """The accounts whose staff pages the user sees: every account for the
    administrator, their own (active) organisation's for an account manager,
    none for anyone else. What they may then do to each is
    ``abilities.may_change_account``."""
    from prepare.access.abilities import may_manage_some_accounts

    if is_administrator(user):
        return User.objects.all()
    if may_manage_some_accounts(user):
        return User.objects.filter(
            organisation_id=user.organisation_id, organisation__is_active=True
        )
    return User.objects.none()


def manageable_organisations(user: Any) -> QuerySet[Organisation]:
    """The organisations whose staff the user manages: every one for the
    administrator, their own (if active) for an account manager."""
    from prepare.access.abilities import may_manage_some_accounts

    if is_administrator(user):
        return Organisation.objects.all()
    if may_manage_some_accounts(user):
        return Organisation.objects.filter(pk=user.organisation_id, is_active=True)
    return Organisation.objects.none()


def staff_organisation_for(user: Any, organisation_id: int) -> Organisation:
    """The organisation whose staff the user manages; any other is not found."""
    from prepare.access.abilities import may_manage_accounts

    if not may_manage_accounts(user, organisation_id):
        raise NotVisible
    organisation = Organisation.objects.filter(pk=organisation_id).first()
    if organisation is None or not (organisation.is_active or is_administrator(user)):
        raise NotVisible
    return organisation


def account_for(user: Any, account_id: int, *, change: bool = False) -> User:
    """One account through ``manageable_accounts`` (else 404); with ``change``, one
    the user may change (else 403). Locked for the change's transaction."""
    from prepare.access.abilities import may_change_account

    accounts = manageable_accounts(user)
    if change:
        accounts = accounts.select_for_update()
    account = accounts.filter(pk=account_id).first()
    if account is None:
        raise NotVisible
    if change and not may_change_account(user, account):
        raise WriteForbidden(_lazy("You may not change this account."))
    return account


def is_auditor(user: Any) -> bool:
    """Who reads the whole audit log."""
    return bool(getattr(user, "is_active", False) and user.role == Role.AUDITOR)


def dpo_cases(user: Any) -> CaseQuerySet:
    """The cases a data-protection officer reaches by reference: those of the
    partnerships their organisation coordinates. Nothing of them is shown to the
    DPO; they place holds and ask for erasure by reference."""
    from prepare.cases.models import Case

    if not is_data_protection_officer(user):
        return Case.objects.none()
    return Case.objects.filter(
        partnership__coordinating_organisation_id=user.organisation_id,
        partnership__coordinating_organisation__is_active=True,
        anonymised_at__isnull=True,
    )


def coordinated_transfers(user: Any) -> Any:
    """The transfers from or to a partnership the user coordinates."""
    from prepare.cases.models import Transfer

    ids = sorted(grants_for(user).coordinated_ids)
    if not ids:
        return Transfer.objects.none()
    return Transfer.objects.filter(Q(from_partnership_id__in=ids) | Q(to_partnership_id__in=ids))


def transfers_to_decide(user: Any) -> Any:
    """Open transfers into a partnership the user coordinates: those waiting for
    their decision. Decided in SQL from the user's own row (no grants read), so
    that the navigation counts them in its one query."""
    from prepare.cases.models import Transfer, TransferStatus

    if (
        not getattr(user, "is_active", False)
        or getattr(user, "role", "") != Role.COORDINATOR
        or getattr(user, "organisation_id", None) is None
    ):
        return Transfer.objects.none()
    return Transfer.objects.filter(
        status=TransferStatus.PROPOSED,
        to_partnership__coordinating_organisation_id=user.organisation_id,
        to_partnership__coordinating_organisation__is_active=True,
    )


def readers_of(
    users: Mapping[int, Any],
    cases_of: Mapping[int, set[int]],
    partnership_of: Mapping[int, int],
    category: str,
) -> dict[int, set[int]]:
    """Per case, which of the given users may read ``category`` of it through the
    case team (break-glass does not count): who a reminder may name the case to.

    ``users`` maps user id to user, ``cases_of`` user id to candidate case ids,
    ``partnership_of`` case id to its partnership."""
    allowed: dict[int, set[int]] = {}
    for uid, user in sorted(users.items()):
        g = grants_for(user)
        cases = sorted(c for c in cases_of.get(uid, ()) if g.may(partnership_of[c], category))
        if not cases:
            continue
        reachable = visible_cases_without_glass(user).filter(pk__in=cases)
        for case_id in reachable.values_list("pk", flat=True):
            allowed.setdefault(case_id, set()).add(uid)
    return allowed


def reads_cases(user: Any) -> bool:
    """Whether the user's role reads case data in some partnership."""
    return grants_for(user).reads_cases


def writes_cases(user: Any) -> bool:
    """Whether the user's role writes case data in some partnership."""
    return grants_for(user).writes_cases


def require_coordinator(user: Any, partnership_id: Any) -> int:
    """The partnership's id, for a page or change only its coordinator may use:
    404 for someone who is not a member of it, 403 for a member who does not
    coordinate it."""
    pk = parse_pk(partnership_id)
    g = grants_for(user)
    if pk is None or pk not in g.partnership_ids:
        raise NotVisible
    if not g.coordinates(pk):
        raise WriteForbidden
    return pk


def is_administrator(user: Any) -> bool:
    """The installation's administrator (a role that reads no case data)."""
    return bool(
        getattr(user, "is_active", False) and getattr(user, "role", "") == Role.ADMINISTRATOR
    )


def require_administrator(user: Any) -> None:
    """Administration is the installation administrator's: anyone else gets 403
    (the pages exist for everyone to know of; what they hold is no case)."""
    if not is_administrator(user):
        raise WriteForbidden(_lazy("Only the installation's administrator may do this."))


def partnership_for_memberships(user: Any, partnership_id: Any, *, write: bool) -> int:
    """The partnership's id, for its members page: the administrator reads and
    changes the members of every partnership; a member organisation's users
    read them, its coordinator changes them (403 for other members); anyone
    else gets 404. The caller checks that the partnership exists."""
    pk = parse_pk(partnership_id)
    if pk is None:
        raise NotVisible
    if is_administrator(user):
        return pk
    g = grants_for(user)
    if pk not in g.partnership_ids:
        raise NotVisible
    if write and not g.coordinates(pk):
        raise WriteForbidden
    return pk


def grace_until(user: Any, case: Case) -> datetime.datetime | None:
    """When the user's organisation stops reading a case it handed over, if it
    reads the case only through the transfer's grace period (None otherwise)."""
    from django.db.models import Max

    from prepare.cases.models import TransferGrace

    g = grants_for(user)
    if case.partnership_id in g.partnership_ids or g.organisation_id is None:
        return None
    until: datetime.datetime | None = TransferGrace.objects.filter(
        case_id=case.pk, organisation_id=g.organisation_id, until__gt=timezone.now()
    ).aggregate(until=Max("until"))["until"]
    return until


# --- Who, among the users, the rules name ----------------------------------------------


def case_practitioners() -> Any:
    """Active users whose role works on cases: who may be put on a team or assigned."""
    from prepare.accounts.models import User

    return User.objects.filter(is_active=True, role__in=sorted(CASE_READING_ROLES))


def partnership_coordinators(partnership_ids: Any) -> Any:
    """Active coordinators of the (active) coordinating organisations of these partnerships."""
    from prepare.accounts.models import User

    return User.objects.filter(
        is_active=True,
        role=Role.COORDINATOR,
        organisation__is_active=True,
        organisation__coordinated_partnerships__in=list(partnership_ids),
    )


def oversight_users(partnership: Any) -> Any:
    """The partnership's coordinators and data-protection officers (its coordinating
    organisation's coordinators and auditors): who approves an erasure and who is
    alerted of a break-glass access."""
    from prepare.accounts.models import User

    return User.objects.filter(
        is_active=True,
        role__in=[Role.COORDINATOR, Role.AUDITOR],
        organisation_id=partnership.coordinating_organisation_id,
    )


def require(condition: bool) -> None:
    """403 unless ``condition``: for a rule the caller has just asked the policy."""
    if not condition:
        raise WriteForbidden


def case_for_coordinator(user: Any, case_id: Any, action: str = Action.READ) -> Case:
    """The case, for what only its partnership's coordinator does (triage, holds,
    transfer): 404 if the user does not see it, 403 unless they coordinate it."""
    case = get_case_or_404(user, case_id, action)
    if not grants_for(user).coordinates(case.partnership_id):
        raise WriteForbidden
    return case


# --- Whether an organisation reaches a case ----------------------------------------------


def organisation_reach(
    *,
    case: str = "case_id",
    organisation: str = "owner_organisation_id",
    category: str = "category",
    named_user: str | None = "assignee_id",
    today: datetime.date | None = None,
) -> Exists:
    """An ``Exists`` on a case-bound row (a checklist item): whether the users of
    the organisation in its ``organisation`` column may read it through the
    policy, today.

    The organisation reaches the row's case when it is on the team as a whole
    organisation (entry running, case not closed) or coordinates the case's
    partnership; or, with ``named_user``, when that user of it is named on the
    team. And it must be a current member (or the coordinator) of the case's
    partnership, whose agreement in force grants it the row's ``category``.
    The same rules as ``caseload_grants`` and the grants, for an organisation
    rather than a user: one correlated probe of the grant index per row.
    """
    from prepare.access.models import CaseGrant
    from prepare.cases.models import ENDED_STATUSES, CaseTeamMember
    from prepare.partnerships.models import CategoryGrant, Membership

    day = today or timezone.localdate()
    open_team = ~Q(status__in=[str(s) for s in ENDED_STATUSES])
    reach = Q(coordination=True) | (
        Q(whole_organisation=True) & (Q(ends_on__isnull=True) | Q(ends_on__gte=day)) & open_team
    )
    if named_user is not None:
        named = CaseTeamMember.objects.active(day).filter(
            case_id=OuterRef("case_id"),
            user_id=OuterRef(OuterRef(named_user)),
            user__is_active=True,
        )
        reach |= Q(named_users=True) & open_team & Q(Exists(named))
    member = Q(coordination=True) | Q(
        Exists(
            Membership.objects.current(day).filter(
                partnership_id=OuterRef("partnership_id"),
                organisation_id=OuterRef("organisation_id"),
            )
        )
    )
    granted = CategoryGrant.objects.filter(
        agreement__partnership_id=OuterRef("partnership_id"),
        organisation_id=OuterRef("organisation_id"),
        category=OuterRef(OuterRef(category)),
        agreement__valid_from__lte=day,
    ).filter(Q(agreement__valid_until__isnull=True) | Q(agreement__valid_until__gte=day))
    rows = (
        CaseGrant.objects.filter(
            case_id=OuterRef(case),
            organisation_id=OuterRef(organisation),
            organisation__is_active=True,
        )
        .filter(reach)
        .filter(member)
        .filter(Exists(granted))
    )
    return Exists(rows)


@dataclass(frozen=True)
class OrganisationReach:
    """What an organisation has on one case, for the coordinator who may add it."""

    member: bool  # a current member of the case's partnership, or its coordinator
    on_team: bool  # on the team as a whole organisation (running), or coordinating
    readable: frozenset[str]  # the categories the agreement in force grants it


def organisations_reach(case: Case, organisation_ids: Any) -> dict[int, OrganisationReach]:
    """For each of ``organisation_ids``: member, on the team, granted categories.

    Three queries whatever the number of organisations; for showing the
    coordinator what a team addition would disclose (the decision itself is
    ``organisation_reach``).
    """
    from prepare.access.models import CaseGrant
    from prepare.cases.models import ENDED_STATUSES
    from prepare.partnerships.models import CategoryGrant, Membership

    ids = sorted({int(i) for i in organisation_ids})
    if not ids:
        return {}
    day = timezone.localdate()
    members = set(
        Membership.objects.current(day)
        .filter(partnership_id=case.partnership_id, organisation_id__in=ids)
        .filter(organisation__is_active=True)
        .values_list("organisation_id", flat=True)
    )
    readable: dict[int, set[str]] = {}
    for org_id, category in (
        CategoryGrant.objects.filter(
            agreement__partnership_id=case.partnership_id,
            organisation_id__in=ids,
            agreement__valid_from__lte=day,
        )
        .filter(Q(agreement__valid_until__isnull=True) | Q(agreement__valid_until__gte=day))
        .values_list("organisation_id", "category")
    ):
        readable.setdefault(org_id, set()).add(category)
    reach = Q(coordination=True)
    if case.status not in ENDED_STATUSES:
        reach |= Q(whole_organisation=True) & (Q(ends_on__isnull=True) | Q(ends_on__gte=day))
    on_team = set(
        CaseGrant.objects.filter(case_id=case.pk, organisation_id__in=ids)
        .filter(reach, organisation__is_active=True)
        .values_list("organisation_id", flat=True)
    )
    # The coordinating organisation is in its partnership without a membership row.
    if case.partnership.coordinating_organisation_id in on_team:
        members.add(case.partnership.coordinating_organisation_id)
    return {
        i: OrganisationReach(
            member=i in members,
            on_team=i in on_team,
            readable=frozenset(readable.get(i, ())) if i in members else frozenset(),
        )
        for i in ids
    }


# --- Four eyes on what widens access (AccessChangeRequest) ---------------------------


def is_access_change_approver(user: Any, partnership: Any) -> bool:
    """Who may approve a change that widens access: a coordinator of the
    partnership or its data-protection officer (an auditor of its coordinating
    organisation); for a change of the whole installation (``partnership`` None,
    e.g. an import), an administrator or a data-protection officer. No query."""
    if not getattr(user, "is_active", False):
        return False
    if partnership is None:
        return bool(user.role == Role.ADMINISTRATOR or is_data_protection_officer(user))
    if grants_for(user).coordinates(partnership.pk):
        return True
    return bool(
        is_data_protection_officer(user)
        and user.organisation_id == partnership.coordinating_organisation_id
        and partnership.pk in grants_for(user).partnership_ids
    )


def access_change_approvers(partnership: Any) -> Any:
    """The users ``is_access_change_approver`` accepts, as a queryset (to notify them)."""
    from prepare.accounts.models import User

    if partnership is None:
        return User.objects.filter(
            Q(role=Role.ADMINISTRATOR) | Q(role=Role.AUDITOR, organisation__isnull=False),
            is_active=True,
        )
    return oversight_users(partnership).filter(organisation__is_active=True)


def require_access_change_reader(user: Any, partnership: Any) -> None:
    """The pending changes of a partnership are for its approvers: 404 for a
    non-member, 403 for a member who may not approve."""
    if partnership is not None and partnership.pk not in grants_for(user).partnership_ids:
        raise NotVisible
    if not is_access_change_approver(user, partnership):
        raise WriteForbidden


# --- Credentials of members ---------------------------------------------------------


def membership_annotations(organisation_path: str) -> dict[str, Any]:
    """Annotations for a query whose rows lead to a user's organisation (e.g.
    ``"user__organisation_id"`` from an API token): whether it is a current
    member of a partnership today, and whether it coordinates one."""
    from prepare.partnerships.models import Membership, Partnership

    organisation = OuterRef(organisation_path)
    today = timezone.localdate()
    return {
        "organisation_is_member": Exists(
            Membership.objects.current(today).filter(organisation_id=organisation)
        ),
        "organisation_coordinates": Exists(
            Partnership.objects.filter(coordinating_organisation_id=organisation)
        ),
    }


def membership_refusal(user: Any, *, is_member: bool, coordinates: bool) -> str | None:
    """Why a user's credentials no longer stand for their organisation, or None.

    Loss of membership: the user belongs to an organisation, and it is
    deactivated, or (for the roles that work on cases) it is no longer a
    current member of any partnership (its memberships have all ended) and
    coordinates none. A user without an
    organisation (the installation's administrator) is not concerned: their
    account's own state decides. ``is_member`` and ``coordinates`` come from
    ``membership_annotations``; the organisation must be loaded with the user.
    """
    if getattr(user, "organisation_id", None) is None:
        return None
    if not user.organisation.is_active:
        return "organisation_inactive"
    if user.role in CASE_READING_ROLES and not (is_member or coordinates):
        # Only those whose work comes from the membership lose it with the
        # membership: an administrator, a trainer or an analyst may belong to
        # an organisation that is in no partnership.
        return "no_membership"
    return None
