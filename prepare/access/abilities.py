"""What a user may do, as the pages and the API offer it.

Visibility is decided in ``policy``; this module answers the questions the
pages ask to show or hide an action (the services ask the same questions
again before they write). Everything here is computed from the request's
grants: ``case_abilities`` costs at most one query, the predicates none unless
they say so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from prepare.access.categories import Action, Category
from prepare.access.policy import (
    _live_graces,
    grants_for,
    is_access_change_approver,
    is_administrator,
    partnership_coordinators,
    visible_cases,
)
from prepare.accounts.models import Role

if TYPE_CHECKING:
    from prepare.cases.models import Case, CaseNote, ErasureRequest
    from prepare.monitoring.models import Signal
    from prepare.partnerships.models import AccessChangeRequest

# A case's status moves are minuted: changing it is writing the meetings category.
TRANSITION_CATEGORY = Category.MEETINGS


@dataclass(frozen=True)
class CaseAbilities:
    """What the user may do on one case; handed to templates and the API."""

    read_categories: frozenset[str]
    write_categories: frozenset[str]
    see_identity: bool
    edit_team: bool
    see_access_log: bool
    write: bool
    coordinates: bool = False
    move: bool = False
    write_dates: bool = False
    start_planning: bool = False
    manage_holds: bool = False


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
        coordinates=coordinator,
        move=TRANSITION_CATEGORY in writes,
        write_dates=Category.JUSTICE in writes,
        start_planning=Category.JUSTICE in writes,
        manage_holds=coordinator,
    )


# --- One ability, asked on its own --------------------------------------------------


def may_triage(user: Any) -> bool:
    """Whether the user triages referrals: they coordinate a partnership."""
    return bool(grants_for(user).coordinated_ids)


def may_move(user: Any, case: Case) -> bool:
    """Whether the agreement lets the user change the status of the case
    (the case itself must be within their reach for writing)."""
    return grants_for(user).may(case.partnership_id, TRANSITION_CATEGORY, Action.WRITE)


def may_write_dates(user: Any, case: Case) -> bool:
    """Key dates are justice: the user writes that category on a case they may write."""
    return (
        grants_for(user).may(case.partnership_id, Category.JUSTICE, Action.WRITE)
        and visible_cases(user, Action.WRITE).filter(pk=case.pk).exists()
    )


def may_start_planning(user: Any, case: Case, *, can_write_case: bool) -> bool:
    """Release planning follows the release date (justice)."""
    return can_write_case and grants_for(user).may(
        case.partnership_id, Category.JUSTICE, Action.WRITE
    )


def may_manage_holds(user: Any, case: Case) -> bool:
    """Legal holds are placed and lifted by the coordinator of the case's partnership."""
    return grants_for(user).coordinates(case.partnership_id)


def may_request_erasure(user: Any, case: Case) -> bool:
    """A coordinator asks for the erasure of a closed or archived case."""
    from prepare.cases.models import CaseStatus

    return grants_for(user).coordinates(case.partnership_id) and case.status in (
        CaseStatus.CLOSED,
        CaseStatus.ARCHIVED,
    )


def may_decide_erasure(user: Any, request: ErasureRequest) -> bool:
    """Four eyes: the person who asked does not approve or refuse."""
    return bool(request.requested_by_id != user.pk)


def may_propose_access_change(user: Any, partnership_id: int) -> bool:
    """A coordinator of the partnership changes its sharing agreement."""
    return grants_for(user).coordinates(partnership_id)


def may_decide_access_change(user: Any, request: AccessChangeRequest) -> bool:
    """Four eyes: an approver of the change (``policy.is_access_change_approver``)
    other than the person who proposed it approves or rejects it."""
    return bool(
        request.proposed_by_id != user.pk and is_access_change_approver(user, request.partnership)
    )


def may_withdraw_access_change(user: Any, request: AccessChangeRequest) -> bool:
    """The proposer takes back their own pending change."""
    return bool(request.proposed_by_id == user.pk)


def may_acknowledge(user: Any, *, signal: Signal, alerted: bool) -> bool:
    """One of the signal's recipients, or anyone who may write its category; in
    both cases with a role that writes and the case within reach for writing.
    One query."""
    if not visible_cases(user, Action.WRITE).filter(pk=signal.case_id).exists():
        return False
    return alerted or grants_for(user).may(
        signal.case.partnership_id, signal.category, Action.WRITE
    )


def may_approve_closure(user: Any, case: Case, *, proposer_id: int | None) -> bool:
    """Four eyes on closure: the coordinator who approves is not the one who
    proposed, unless the partnership allows self-approval and the proposer is
    its only active coordinator (``may_approve_own_closure``). The caller has
    checked that the user coordinates the case's partnership."""
    if proposer_id is None or proposer_id != user.pk:
        return True
    return may_approve_own_closure(user, case)


def may_approve_own_closure(user: Any, case: Case) -> bool:
    """A partnership with a single coordinator may let them approve their own
    closure proposal (``Partnership.closure_self_approval``, off by default).
    One query when the setting is on, none otherwise."""
    if not case.partnership.closure_self_approval:
        return False
    others = partnership_coordinators([case.partnership_id]).exclude(pk=user.pk)
    return not others.exists()


def may_edit_note(user: Any, note: CaseNote, *, write_categories: frozenset[str]) -> bool:
    """A note is its author's organisation's statement: only users of that
    organisation edit it, and only while they may write its category on the case
    (``write_categories``, from ``case_abilities``). Others reply. No query (the
    note's author is read with it)."""
    g = grants_for(user)
    return (
        g.organisation_id is not None
        and note.category in write_categories
        and note.created_by.organisation_id == g.organisation_id
    )


def may_change_document(user: Any, *, organisation_id: int, partnership_id: int) -> bool:
    """A document is replaced or deleted by the organisation that attached it, or
    by the coordinator of the case's partnership; others attach their own. (The
    category's write grant is checked by fetching it for writing.) No query."""
    g = grants_for(user)
    return g.organisation_id == organisation_id or g.coordinates(partnership_id)


# --- Where each role lands ----------------------------------------------------------


class Home:
    """The page a role lands on after signing in, and on "/"."""

    TODAY = "today"  # what needs doing now, on the cases the user works on
    DATA_PROTECTION = "data_protection"  # the audit log (and the erasure requests)
    ADMINISTRATION = "administration"  # running the installation
    INTRODUCTION = "introduction"  # what PREPARE offers the role, and what is coming


def home_for(user: Any) -> str:
    """Each role lands where its work is: those who work on cases on what is due
    today, the data-protection officer on the audit log, the administrator on
    administration, trainers and analysts (who see no case) on a page that says
    what PREPARE holds for them. No query."""
    role = getattr(user, "role", "")
    if getattr(user, "reads_cases", False):
        return Home.TODAY
    if role == Role.AUDITOR:
        return Home.DATA_PROTECTION
    if role == Role.ADMINISTRATOR:
        return Home.ADMINISTRATION
    return Home.INTRODUCTION


def may_end_sessions_of(actor: Any, target_id: int) -> bool:
    """Everyone ends their own sessions and tokens; an administrator ends
    anyone's (a lost laptop, a departure, a suspected takeover). No query."""
    if not getattr(actor, "is_active", False):
        return False
    return actor.pk == target_id or getattr(actor, "role", "") == Role.ADMINISTRATOR


# --- Signing in and running the installation ------------------------------------------


def may_configure_sign_in(user: Any) -> bool:
    """Whether the user configures the organisations' identity providers (single
    sign-on): the installation's administrators only (the administrator role runs
    the whole installation, whatever organisation the account is filed under).
    Nobody else, not even an organisation's coordinator: whoever sets a provider
    decides who can sign in as that organisation's people."""
    return bool(
        getattr(user, "is_active", False) and getattr(user, "role", "") == Role.ADMINISTRATOR
    )


def password_sign_in_allowed(user: Any) -> bool:
    """False for a user whose organisation requires single sign-on through its
    (enabled) identity provider. One query."""
    from prepare.accounts.models import IdentityProvider

    if getattr(user, "organisation_id", None) is None:
        return True
    return not IdentityProvider.objects.filter(
        organisation_id=user.organisation_id, is_enabled=True, requires_sso=True
    ).exists()


def may_administer(user: Any) -> bool:
    """The installation's administrator: organisations, partnerships, their first
    coordinators. A role that reads no case data. No query."""
    return is_administrator(user)


def may_manage_memberships(user: Any, partnership_id: int) -> bool:
    """Members are added and ended by the partnership's coordinator, and by the
    administrator while setting the installation up. No query (the grants)."""
    return may_administer(user) or grants_for(user).coordinates(partnership_id)


def may_see_transfer_inbox(user: Any) -> bool:
    """Incoming transfers are decided by the coordinators of the receiving partnership."""
    return bool(grants_for(user).coordinated_ids)


# --- Accounts ---------------------------------------------------------------------

# Roles that reach beyond one organisation (the whole installation, the whole
# audit log): only an administrator gives them, or changes an account that has
# one. An account manager never raises anyone above their own powers.
ELEVATED_ROLES = frozenset({Role.ADMINISTRATOR, Role.AUDITOR})


def may_manage_accounts(user: Any, organisation_id: int | None) -> bool:
    """Whether the user manages the accounts of this organisation: an administrator
    any organisation's, an account manager (``User.manages_accounts``) only their
    own. No query."""
    if is_administrator(user):
        return True
    return bool(
        getattr(user, "is_active", False)
        and getattr(user, "manages_accounts", False)
        and organisation_id is not None
        and user.organisation_id == organisation_id
    )


def may_manage_some_accounts(user: Any) -> bool:
    """Whether the staff pages are for the user at all (the navigation). No query."""
    return may_manage_accounts(user, getattr(user, "organisation_id", None))


def assignable_roles(user: Any) -> list[str]:
    """The roles the user may give: all for an administrator, the others not
    the elevated ones. No query."""
    if is_administrator(user):
        return list(Role.values)
    if may_manage_some_accounts(user):
        return [r for r in Role.values if r not in ELEVATED_ROLES]
    return []


def may_change_account(user: Any, account: Any) -> bool:
    """Whether the user may change, deactivate, reactivate or re-invite ``account``:
    they manage its organisation, it is not their own (nobody changes their own
    role or switches themselves off), and it holds no role above what they may
    give. No query."""
    if account.pk == user.pk or not may_manage_accounts(user, account.organisation_id):
        return False
    return account.role in assignable_roles(user)


def may_record_training(user: Any, account: Any) -> bool:
    """Whether the user may add or remove ``account``'s training records: whoever
    may change the account. A training record opens instruments to its holder,
    so, like a role, nobody records their own. No query."""
    return may_change_account(user, account)


def may_move_accounts(user: Any) -> bool:
    """Moving an account to another organisation is the administrator's: an
    account manager manages only their own organisation. No query."""
    return is_administrator(user)


@dataclass(frozen=True)
class AccountAbilities:
    """What the user may do to one account; handed to the staff pages and the API."""

    change: bool
    move: bool
    roles: tuple[str, ...]
    resend: bool
    deactivate: bool
    reactivate: bool
    # Add and remove its training records (not in the API: the pages only).
    training: bool = False


def account_abilities(user: Any, account: Any, *, state: str) -> AccountAbilities:
    """``state``: the account's ``AccountState`` value (active, invited, expired,
    not_enrolled, deactivated). No query."""
    change = may_change_account(user, account)
    never_enrolled = state in ("invited", "expired", "not_enrolled")
    return AccountAbilities(
        change=change,
        move=change and may_move_accounts(user),
        roles=tuple(assignable_roles(user)) if change else (),
        resend=change and never_enrolled,
        deactivate=change and state in ("active", "invited", "expired"),
        reactivate=change and state == "deactivated",
        training=may_record_training(user, account),
    )
