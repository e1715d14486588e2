"""Reads of the staff pages and the accounts API: each starts from
``access.policy.manageable_accounts`` and reads a bounded page."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from prepare.access.abilities import AccountAbilities, account_abilities
from prepare.access.errors import NotVisible
from prepare.access.policy import manageable_accounts
from prepare.accounts.models import Invitation, Organisation, User
from prepare.accounts.staff import account_state
from prepare.cases.selectors import COUNT_CAP

PAGE_SIZE = 50


@dataclass(frozen=True)
class StaffRow:
    account: User
    state: str
    invitation_expires_at: datetime.datetime | None
    abilities: AccountAbilities

    @property
    def state_label(self) -> str:
        from prepare.accounts.staff import AccountState

        return str(AccountState(self.state).label)


@dataclass(frozen=True)
class StaffPage:
    organisation: Organisation
    rows: list[StaffRow]
    page: int
    has_next: bool
    count: int
    count_capped: bool
    query: str

    @property
    def has_previous(self) -> bool:
        return self.page > 1


def _with_invitation(accounts: QuerySet[User]) -> QuerySet[User]:
    deadline = (
        Invitation.objects.filter(user=OuterRef("pk"))
        .open()
        .order_by("-created_at")
        .values("expires_at")[:1]
    )
    return accounts.annotate(invitation_expires_at=Subquery(deadline))


def _row(actor: User, account: Any, now: datetime.datetime) -> StaffRow:
    deadline = account.invitation_expires_at
    state = account_state(account, invitation_expires_at=deadline, now=now)
    return StaffRow(
        account=account,
        state=state,
        invitation_expires_at=deadline,
        abilities=account_abilities(actor, account, state=state),
    )


def staff_accounts(*, actor: User, organisation: Organisation, query: str = "") -> QuerySet[User]:
    """The organisation's accounts the actor manages, by name, with the deadline
    of each one's open invitation; ``query`` matches part of a name or address."""
    accounts = manageable_accounts(actor).filter(organisation=organisation)
    query = query.strip()[:100]
    if query:
        accounts = accounts.filter(
            Q(first_name__icontains=query)
            | Q(last_name__icontains=query)
            | Q(email__icontains=query)
            | Q(username__icontains=query)
        )
    return _with_invitation(accounts).order_by("last_name", "first_name", "pk")


def staff_page(
    *, actor: User, organisation: Organisation, page: int = 1, query: str = ""
) -> StaffPage:
    """One page of the staff list: the page's rows and one more (is there a
    next?), and a count capped at ``COUNT_CAP``: two queries whatever the size."""
    accounts = staff_accounts(actor=actor, organisation=organisation, query=query)
    offset = (page - 1) * PAGE_SIZE
    found = list(accounts[offset : offset + PAGE_SIZE + 1])
    total = accounts.values("pk")[: COUNT_CAP + 1].count()
    now = timezone.now()
    return StaffPage(
        organisation=organisation,
        rows=[_row(actor, a, now) for a in found[:PAGE_SIZE]],
        page=page,
        has_next=len(found) > PAGE_SIZE,
        count=min(total, COUNT_CAP),
        count_capped=total > COUNT_CAP,
        query=query.strip()[:100],
    )


def staff_rows(*, actor: User, accounts: list[Any]) -> list[StaffRow]:
    """Rows for accounts already read with ``staff_accounts`` (the API's page)."""
    now = timezone.now()
    return [_row(actor, a, now) for a in accounts]


def account_row(*, actor: User, account_id: int) -> StaffRow:
    """One account the actor manages, with its state and what they may do; else 404."""
    account = (
        _with_invitation(manageable_accounts(actor))
        .select_related("organisation")
        .filter(pk=account_id)
        .first()
    )
    if account is None:
        raise NotVisible
    return _row(actor, account, timezone.now())
