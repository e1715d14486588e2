"""The case page: the case read once through the policy, every section built
from it, and one audit event naming what each section showed.

The sections belong to other parts of PREPARE (lifecycle, release planning,
monitoring, transfer, retention); each exposes a builder that takes the case
already fetched and the actor's abilities on it, so the page costs a fixed
number of queries whatever the number of records. Each section's own URL is
built on the same builder, for the updates and for a browser without
JavaScript.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from prepare.access.abilities import case_abilities
from prepare.access.categories import Category
from prepare.access.policy import get_case_or_404
from prepare.accounts.models import User
from prepare.audit.models import EventAction
from prepare.audit.services import audit_record
from prepare.cases.lifecycle.selectors import (
    KeyDates,
    Lifecycle,
    key_dates_section,
    key_dates_shown,
    lifecycle_section,
    lifecycle_shown,
)
from prepare.cases.models import KeyDate
from prepare.cases.retention.selectors import RetentionOverview, case_retention, retention_shown
from prepare.cases.selectors import CaseDetail, case_notes_and_team, notes_shown
from prepare.cases.transfer.selectors import TransferSection, case_transfers, transfers_shown
from prepare.documents.selectors import DocumentsSection, documents_section, documents_shown
from prepare.monitoring.models import SignalStatus
from prepare.monitoring.selectors import MonitoringSection, monitoring_section, monitoring_shown
from prepare.plans.selectors import CaseChecklist, ItemRow, checklist_section, checklist_shown


@dataclass(frozen=True)
class NextDate:
    key_date: KeyDate
    days: int  # from today; 0 is today


@dataclass
class CasePage:
    detail: CaseDetail
    lifecycle: Lifecycle
    key_dates: KeyDates
    checklist: CaseChecklist
    monitoring: MonitoringSection
    transfer: TransferSection
    retention: RetentionOverview
    documents: DocumentsSection
    today: datetime.date

    @property
    def next_date(self) -> NextDate | None:
        """The first key date from today on (the dates come sorted)."""
        for key_date in self.key_dates.dates:
            if key_date.date >= self.today:
                return NextDate(key_date=key_date, days=(key_date.date - self.today).days)
        return None

    @property
    def overdue_items(self) -> list[ItemRow]:
        return [row for group in self.checklist.groups for row in group.rows if row.overdue]

    @property
    def open_signals(self) -> int:
        """Signals not acknowledged yet, among those the section shows."""
        return sum(1 for r in self.monitoring.signals if r.signal.status == SignalStatus.OPEN)

    @property
    def owed_signals(self) -> int:
        """Signals waiting for this actor's acknowledgement."""
        return sum(1 for r in self.monitoring.signals if r.owed and r.may_acknowledge)


def case_page(*, actor: User, case_id: Any, purpose: str = "") -> CasePage:
    """Everything the case page shows the actor; one view event for all of it."""
    case = get_case_or_404(actor, case_id)
    abilities = case_abilities(actor, case)
    detail = case_notes_and_team(actor=actor, case=case, abilities=abilities)
    key_dates = key_dates_section(actor=actor, case=case, abilities=abilities)
    page = CasePage(
        detail=detail,
        lifecycle=lifecycle_section(actor=actor, case=case, abilities=abilities),
        key_dates=key_dates,
        checklist=checklist_section(
            actor=actor, case=case, abilities=abilities, key_dates=key_dates.dates, choices=False
        ),
        monitoring=monitoring_section(actor=actor, case=case, abilities=abilities),
        transfer=case_transfers(actor=actor, case=case),
        retention=case_retention(actor=actor, case=case),
        documents=documents_section(actor=actor, case=case, abilities=abilities),
        today=timezone.localdate(),
    )
    sections: dict[str, dict[str, Any]] = {
        "lifecycle": lifecycle_shown(page.lifecycle),
        "key_dates": key_dates_shown(page.key_dates),
        "checklist": checklist_shown(page.checklist),
        "monitoring": monitoring_shown(page.monitoring),
        "transfer": transfers_shown(page.transfer),
        "retention": retention_shown(page.retention),
        "documents": documents_shown(page.documents),
    }
    shown = notes_shown(detail)
    categories = set(shown["categories"])
    for part in sections.values():
        categories.update(part.get("categories", ()))
        if part.get("category"):
            categories.add(part["category"])
    audit_record(
        action=EventAction.VIEW,
        actor=actor,
        case=case,
        obj=case,
        category=Category.IDENTITY if abilities.see_identity else "",
        purpose=purpose,
        detail={
            "view": "case",
            "categories": sorted(categories),
            "notes": shown["notes"],
            "members": [m.pk for m in detail.team],
            "sections": sections,
            "version": case.version,
        },
    )
    return page
