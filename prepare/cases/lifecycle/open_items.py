"""What is still open on a case when its closure is proposed.

Each part of PREPARE that holds open work on a case registers a *provider*
here (``register_open_items``), from its app's ``ready()``: the key dates
(``prepare.cases``), the release checklist (``prepare.plans``) and the signals
of concern (``prepare.monitoring``); the round tables will register their open
actions the same way. A provider reads through the policy (the proposer sees
and counts what they may read, nothing else), in one query of at most
``OPEN_ITEMS_CAP + 1`` rows: the count is bounded ("50+") and the first
``OPEN_ITEMS_SHOWN`` rows are listed.

The proposer confirms each group that is not empty; the proposal records the
counts confirmed (``ClosureProposal.confirmed``), never the items' content.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

if TYPE_CHECKING:
    from prepare.accounts.models import User
    from prepare.cases.models import Case

OPEN_ITEMS_CAP = 50
OPEN_ITEMS_SHOWN = 10


@dataclass(frozen=True)
class OpenItem:
    """One open thing, as the proposal lists it: a short label and when."""

    pk: int
    label: str
    category: str
    when: datetime.date | None = None


@dataclass(frozen=True)
class OpenGroup:
    key: str
    heading: str
    items: list[OpenItem] = field(default_factory=list)  # the first OPEN_ITEMS_SHOWN
    count: int = 0  # up to OPEN_ITEMS_CAP
    capped: bool = False  # more than OPEN_ITEMS_CAP
    # n -> "I confirm that the %(count)s ...": an ngettext call of the provider's
    # own, so that the words are translated when the page is rendered.
    confirm: Callable[[int], str] | None = None

    @property
    def field_name(self) -> str:
        return f"confirm_{self.key}"

    @property
    def count_label(self) -> str:
        return f"{self.count}+" if self.capped else str(self.count)

    @property
    def confirmation(self) -> str:
        text = self.confirm(self.count) if self.confirm else str(self.heading)
        return text % {"count": self.count_label}

    @property
    def more(self) -> int:
        return max(self.count - len(self.items), 0)


Provider = Callable[["User", "Case"], OpenGroup]
_PROVIDERS: dict[str, Provider] = {}


def register_open_items(key: str, provider: Provider) -> None:
    """Add a group of open items to every closure proposal (idempotent per key)."""
    _PROVIDERS[key] = provider


def open_item_keys() -> list[str]:
    return list(_PROVIDERS)


def open_items(*, actor: User, case: Case) -> list[OpenGroup]:
    """Every registered group for the case, as the actor may see it (empty ones
    included, in registration order): one bounded query per group."""
    return [provider(actor, case) for provider in _PROVIDERS.values()]


def group_from_rows(
    *,
    key: str,
    heading: Any,
    rows: QuerySet[Any] | Sequence[Any],
    item: Callable[[Any], OpenItem],
    confirm: Callable[[int], str],
) -> OpenGroup:
    """A group from a queryset of open rows (already filtered by the policy and
    ordered): reads at most ``OPEN_ITEMS_CAP + 1`` of them, in one query."""
    fetched = list(rows[: OPEN_ITEMS_CAP + 1])
    return OpenGroup(
        key=key,
        heading=str(heading),
        items=[item(row) for row in fetched[:OPEN_ITEMS_SHOWN]],
        count=min(len(fetched), OPEN_ITEMS_CAP),
        capped=len(fetched) > OPEN_ITEMS_CAP,
        confirm=confirm,
    )


def groups_shown(groups: Sequence[OpenGroup]) -> dict[str, list[int]]:
    """What a page showed of the groups, for its audit event: ids only."""
    return {g.key: [i.pk for i in g.items] for g in groups if g.items}


def confirmed_counts(groups: Sequence[OpenGroup]) -> dict[str, int]:
    return {g.key: g.count for g in groups if g.count}


# --- The case's own group: key dates still ahead ---------------------------------------


def open_key_dates(actor: User, case: Case) -> OpenGroup:
    """Key dates still ahead (today or later). The follow-up reviews are left
    out: closure itself schedules them."""
    from prepare.cases.models import KeyDate, KeyDateKind

    rows = (
        KeyDate.objects.visible_to(actor)
        .filter(case_id=case.pk, date__gte=timezone.localdate())
        .exclude(kind__in=[KeyDateKind.FOLLOW_UP_6, KeyDateKind.FOLLOW_UP_12])
        .order_by("date", "kind")
        .values("pk", "kind", "date", "category")
    )
    return group_from_rows(
        key="key_dates",
        heading=_("Key dates still ahead"),
        rows=rows,
        item=lambda r: OpenItem(
            pk=r["pk"],
            label=str(KeyDateKind(r["kind"]).label),
            category=r["category"],
            when=r["date"],
        ),
        confirm=lambda n: ngettext(
            "I confirm that the %(count)s key date still ahead will pass with the case closed.",
            "I confirm that the %(count)s key dates still ahead will pass with the case closed.",
            n,
        ),
    )
