"""Monitoring's part of a closure proposal: signals not acknowledged yet."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from prepare.cases.lifecycle.open_items import OpenGroup, OpenItem, group_from_rows

if TYPE_CHECKING:
    from prepare.accounts.models import User
    from prepare.cases.models import Case


def unacknowledged_signals(actor: User, case: Case) -> OpenGroup:
    from prepare.monitoring.models import Severity, Signal, SignalStatus

    rows = (
        Signal.objects.visible_to(actor)
        .filter(case_id=case.pk, status=SignalStatus.OPEN)
        .order_by("-raised_at", "-pk")
        .values("pk", "severity", "raised_at", "category")
    )
    return group_from_rows(
        key="signals",
        heading=_("Signals of concern not acknowledged"),
        rows=rows,
        item=lambda r: OpenItem(
            pk=r["pk"],
            label=str(Severity(r["severity"]).label),
            category=r["category"],
            when=r["raised_at"],
        ),
        confirm=lambda n: ngettext(
            "I confirm that the %(count)s signal not acknowledged has been dealt with or "
            "will be followed up elsewhere.",
            "I confirm that the %(count)s signals not acknowledged have been dealt with or "
            "will be followed up elsewhere.",
            n,
        ),
    )
