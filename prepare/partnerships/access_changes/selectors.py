"""Reads of access changes, for their approvers only."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from prepare.access.abilities import may_decide_access_change, may_withdraw_access_change
from prepare.access.errors import NotVisible
from prepare.access.policy import parse_pk, require_access_change_reader
from prepare.accounts.models import User
from prepare.partnerships.access_changes.kinds import Description, kind_of
from prepare.partnerships.access_changes.services import access_change_for
from prepare.partnerships.models import AccessChangeRequest, AccessChangeStatus, Partnership

# A list shows at most this many pending and this many decided changes.
LIST_CAP = 50
RECENT = 10


@dataclass(frozen=True)
class AccessChangeRow:
    request: AccessChangeRequest
    summary: str


@dataclass(frozen=True)
class AccessChangeList:
    partnership: Partnership
    pending: list[AccessChangeRow]
    more_pending: bool
    recent: list[AccessChangeRow]


def _rows(requests: Any) -> list[AccessChangeRow]:
    return [AccessChangeRow(request=r, summary=kind_of(r).summary(r.payload)) for r in requests]


def access_change_list(*, actor: User, partnership_id: Any) -> AccessChangeList:
    """The partnership's pending changes (oldest first) and the latest decided
    ones, for its approvers: three queries."""
    pk = parse_pk(partnership_id)
    partnership = (
        Partnership.objects.select_related("coordinating_organisation").filter(pk=pk).first()
        if pk is not None
        else None
    )
    if partnership is None:
        raise NotVisible
    require_access_change_reader(actor, partnership)
    base = AccessChangeRequest.objects.filter(partnership=partnership).select_related(
        "proposed_by", "decided_by"
    )
    pending = list(
        base.filter(status=AccessChangeStatus.PENDING).order_by("proposed_at", "pk")[: LIST_CAP + 1]
    )
    recent = base.exclude(status=AccessChangeStatus.PENDING).order_by("-decided_at", "-pk")[:RECENT]
    return AccessChangeList(
        partnership=partnership,
        pending=_rows(pending[:LIST_CAP]),
        more_pending=len(pending) > LIST_CAP,
        recent=_rows(recent),
    )


@dataclass(frozen=True)
class AccessChangeView:
    request: AccessChangeRequest
    description: Description
    may_decide: bool
    may_withdraw: bool

    @property
    def pending(self) -> bool:
        return self.request.status == AccessChangeStatus.PENDING


def access_change_view(*, actor: User, request_id: Any) -> AccessChangeView:
    """One change with its diff, for its approvers: four queries."""
    request = access_change_for(actor, request_id)
    return AccessChangeView(
        request=request,
        description=kind_of(request).describe(request),
        may_decide=may_decide_access_change(actor, request),
        may_withdraw=may_withdraw_access_change(actor, request),
    )
