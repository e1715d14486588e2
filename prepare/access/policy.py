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

from django.db.models import Exists, OuterRef, Q
from django.http import Http404
from django.utils import timezone

from prepare.access.categories import Action, Category
from prepare.accounts.models import CASE_READING_ROLES, CASE_WRITING_ROLES, Role

if TYPE_CHECKING:
    from prepare.cases.models import Case, CaseQuerySet

_CACHE_ATTR = "_prepare_grants"


class WriteForbidden(Exception):
    """The user sees the object but may not make this change (HTTP 403)."""


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
    from prepare.partnerships.models import CategoryGrant, Membership, Partnership

    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return NO_GRANTS
    org_id = user.organisation_id
    if org_id is None:
        return Grants(user_id=user.pk, organisation_id=None, role=user.role, today=today)
    # A deactivated organisation reaches nothing, whatever its memberships say.
    member_of = set(
        Membership.objects.current(today)
        .filter(organisation_id=org_id, organisation__is_active=True)
        .values_list("partnership_id", flat=True)
    )
    coordinating = set(
        Partnership.objects.filter(
            coordinating_organisation_id=org_id, coordinating_organisation__is_active=True
        ).values_list("pk", flat=True)
    )
    partnerships = member_of | coordinating
    readable: dict[int, set[str]] = {}
    writable: dict[int, set[str]] = {}
    if partnerships:
        rows = CategoryGrant.objects.filter(
            organisation_id=org_id,
            agreement__partnership_id__in=partnerships,
            agreement__valid_from__lte=today,
        ).filter(Q(agreement__valid_until__isnull=True) | Q(agreement__valid_until__gte=today))
        for pid, category, access in rows.values_list(
            "agreement__partnership_id", "category", "access"
        ):
            readable.setdefault(pid, set()).add(category)
            if access == Action.WRITE:
                writable.setdefault(pid, set()).add(category)
    coordinated = coordinating if user.role == Role.COORDINATOR else set()
    return Grants(
        user_id=user.pk,
        organisation_id=org_id,
        role=user.role,
        today=today,
        partnership_ids=frozenset(partnerships),
        coordinated_ids=frozenset(coordinated),
        readable={k: frozenset(v) for k, v in readable.items()},
        writable={k: frozenset(v) for k, v in writable.items()},
    )


# --- Cases ---------------------------------------------------------------------


def caseload_grants(user: Any) -> Any:
    """The user's rows of the case grant index, in caseload order.

    Only the organisation's rows are read, newest first, through the index
    (organisation, -sort_key, case): a page costs the same at ten cases or a
    million. Pass the result through ``.values("case_id")`` or slice it.
    """
    from prepare.access.models import CaseGrant
    from prepare.cases.models import ENDED_STATUSES, CaseTeamMember

    g = grants_for(user)
    if not g.reads_cases or g.organisation_id is None or g.user_id is None:
        return CaseGrant.objects.none()
    open_team = ~Q(status__in=[str(s) for s in ENDED_STATUSES])
    named = Exists(
        CaseTeamMember.objects.active(g.today).filter(
            case_id=OuterRef("case_id"), user_id=g.user_id
        )
    )
    reach: Q = (
        Q(whole_organisation=True) & (Q(ends_on__isnull=True) | Q(ends_on__gte=g.today)) & open_team
    ) | (Q(named_users=True) & Q(named) & open_team)
    if g.coordinated_ids:
        reach |= Q(coordination=True, partnership_id__in=g.coordinated_ids)
    return (
        CaseGrant.objects.filter(organisation_id=g.organisation_id)
        .filter(partnership_id__in=sorted(g.case_partnership_ids(Action.READ)))
        .filter(reach)
        .order_by("-sort_key", "-case_id")
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
        raise Http404
    case = (
        visible_cases(user, Action.READ)
        .select_related("person", "partnership")
        .filter(pk=case_pk)
        .first()
    )
    if case is None:
        raise Http404
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


def category_q(user: Any, action: str = Action.READ, prefix: str = "case__") -> Q:
    """(partnership = p AND category IN granted(p)) OR ... for the user."""
    g = grants_for(user)
    q = Q(pk__in=[])
    for pid in sorted(g.partnership_ids):
        cats = g.categories(pid, action)
        if cats:
            q |= Q(**{f"{prefix}partnership_id": pid, "category__in": sorted(cats)})
    return q


def record_filter(user: Any, action: str = Action.READ) -> Q:
    """A ``Q`` on any case-bound record with ``case`` and ``category`` fields.

    The case check is correlated (one indexed probe per record), and a record
    is kept if the agreement grants its category in the case's partnership or,
    for reading, a transfer's grace period still covers that category.
    """
    granted = category_q(user, action)
    g = grants_for(user)
    if action == Action.READ and g.reads_cases and g.organisation_id is not None:
        granted |= Q(
            Exists(
                _live_graces(g).filter(case_id=OuterRef("case_id"), category=OuterRef("category"))
            )
        )
    in_visible_case = Exists(visible_cases(user, action).filter(pk=OuterRef("case_id")))
    return Q(in_visible_case) & granted


def may_see_identity(user: Any, case: Case) -> bool:
    return grants_for(user).may(case.partnership_id, Category.IDENTITY)


# --- Case-level abilities ---------------------------------------------------------


@dataclass(frozen=True)
class CaseAbilities:
    """What the user may do on one case; handed to templates and the API."""

    read_categories: frozenset[str]
    write_categories: frozenset[str]
    see_identity: bool
    edit_team: bool
    see_access_log: bool
    write: bool


def case_abilities(user: Any, case: Case, *, can_write_case: bool | None = None) -> CaseAbilities:
    g = grants_for(user)
    pid = case.partnership_id
    coordinator = g.coordinates(pid)
    if can_write_case is None:
        can_write_case = (
            g.writes_cases and visible_cases(user, Action.WRITE).filter(pk=case.pk).exists()
        )
    writes = g.categories(pid, Action.WRITE) if can_write_case else frozenset()
    reads = g.categories(pid, Action.READ)
    if pid not in g.partnership_ids and g.reads_cases and g.organisation_id is not None:
        # Not a member of the case's partnership: the user reads it only through
        # a transfer's grace period, and then exactly the categories it keeps.
        reads = frozenset(
            _live_graces(g).filter(case_id=case.pk).values_list("category", flat=True)
        )
    return CaseAbilities(
        read_categories=reads,
        write_categories=writes,
        see_identity=Category.IDENTITY in reads,
        edit_team=bool(can_write_case) and (coordinator or g.role == Role.CASE_MANAGER),
        see_access_log=coordinator,
        write=bool(can_write_case),
    )


def require(condition: bool) -> None:
    if not condition:
        raise WriteForbidden
