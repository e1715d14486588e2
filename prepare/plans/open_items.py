"""The release checklist's part of a closure proposal: the items still open."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from prepare.cases.lifecycle.open_items import OpenGroup, OpenItem, group_from_rows

if TYPE_CHECKING:
    from prepare.accounts.models import User
    from prepare.cases.models import Case


def open_checklist_items(actor: User, case: Case) -> OpenGroup:
    from prepare.plans.models import ChecklistItem, ItemStatus, title_of

    rows = (
        ChecklistItem.objects.visible_to(actor)
        .filter(case_id=case.pk, status=ItemStatus.OPEN)
        .order_by("due_on", "pk")
        .values("pk", "key", "title", "due_on", "category")
    )
    return group_from_rows(
        key="checklist",
        heading=_("Open checklist items"),
        rows=rows,
        item=lambda r: OpenItem(
            pk=r["pk"],
            label=title_of(r["key"], r["title"]),
            category=r["category"],
            when=r["due_on"],
        ),
        confirm=lambda n: ngettext(
            "I confirm that the %(count)s open checklist item will stay open or is no "
            "longer needed.",
            "I confirm that the %(count)s open checklist items will stay open or are no "
            "longer needed.",
            n,
        ),
    )
