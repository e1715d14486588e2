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
import zoneinfo
from dataclasses import dataclass, field
from typing import Any

from django.urls import reverse
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from prepare.access.abilities import case_abilities
from prepare.access.categories import Category
from prepare.access.policy import get_case_or_404
from prepare.accounts.models import User
from prepare.assessments.selectors import (
    AssessmentsSection,
    ReviewDate,
    assessments_section,
    assessments_shown,
    review_dates_shown,
    section_review_dates,
)
from prepare.audit.models import EventAction
from prepare.audit.services import audit_record
from prepare.cases.lifecycle import rules as lifecycle_rules
from prepare.cases.lifecycle.selectors import (
    KeyDates,
    Lifecycle,
    key_dates_section,
    key_dates_shown,
    lifecycle_section,
    lifecycle_shown,
)
from prepare.cases.models import CaseStatus, KeyDate, KeyDateKind
from prepare.cases.retention.selectors import RetentionOverview, case_retention, retention_shown
from prepare.cases.selectors import CaseDetail, case_notes_and_team, notes_shown
from prepare.cases.transfer.selectors import TransferSection, case_transfers, transfers_shown
from prepare.documents.selectors import DocumentsSection, documents_section, documents_shown
from prepare.monitoring.models import Contact, Severity, SignalStatus
from prepare.monitoring.selectors import MonitoringSection, monitoring_section, monitoring_shown
from prepare.plans.selectors import CaseChecklist, ItemRow, checklist_section, checklist_shown


@dataclass(frozen=True)
class NextDate:
    key_date: KeyDate
    days: int  # from today; 0 is today


@dataclass(frozen=True)
class PageSection:
    """One section of the case page: its anchor, its name in the in-page
    navigation and the template that renders it (``cases/case_page/_<id>.html``
    by convention). Another part adds its section with one line in
    ``SECTIONS``."""

    anchor: str
    label: str | Promise
    template: str


# The page's sections in reading order; the in-page navigation is generated from it.
SECTIONS: tuple[PageSection, ...] = (
    PageSection("key-dates", _("Key dates"), "cases/case_page/_key_dates.html"),
    PageSection("checklist", _("Release planning"), "cases/case_page/_checklist.html"),
    PageSection(
        "monitoring", _("Signals, contacts and conditions"), "cases/case_page/_monitoring.html"
    ),
    PageSection("assessments", _("Assessments"), "cases/case_page/_assessments.html"),
    PageSection("notes", _("Notes"), "cases/case_page/_notes.html"),
    PageSection("documents", _("Documents"), "cases/case_page/_documents.html"),
    PageSection("team", _("Case team"), "cases/case_page/_team.html"),
    PageSection("lifecycle", _("Status and history"), "cases/case_page/_lifecycle.html"),
    PageSection("transfer", _("Transfer"), "cases/case_page/_transfer.html"),
    PageSection("retention", _("Retention and legal holds"), "cases/case_page/_retention.html"),
)

# Most severe first, as the summary lists them.
SEVERITY_ORDER = (Severity.URGENT, Severity.HIGH, Severity.MEDIUM, Severity.LOW)


@dataclass(frozen=True)
class SeverityCount:
    severity: str
    label: str | Promise
    count: int


@dataclass(frozen=True)
class PageAction:
    """A rare or consequential action, offered under "More actions"; its own
    page asks for confirmation."""

    label: str | Promise
    url: str
    hint: str | Promise = ""


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
    assessments: AssessmentsSection
    today: datetime.date
    sections: tuple[PageSection, ...] = SECTIONS
    # The next review of each instrument assessed on the case (those the actor reads).
    review_dates: list[ReviewDate] = field(default_factory=list)

    @property
    def next_date(self) -> NextDate | None:
        """The date that matters next: the expected release when it is set and
        not past (everything in release planning counts from it), otherwise the
        first key date from today on (the dates come sorted)."""
        ahead = [d for d in self.key_dates.dates if d.date >= self.today]
        expected = [d for d in ahead if d.kind == KeyDateKind.EXPECTED_RELEASE]
        for key_date in expected or ahead:
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
    def open_signals_by_severity(self) -> list[SeverityCount]:
        """The signals not acknowledged yet, per severity, most severe first
        (only the severities that have any)."""
        counts = dict.fromkeys(SEVERITY_ORDER, 0)
        for row in self.monitoring.signals:
            if row.signal.status == SignalStatus.OPEN:
                counts[Severity(row.signal.severity)] += 1
        return [
            SeverityCount(severity=s.value, label=s.label, count=n) for s, n in counts.items() if n
        ]

    @property
    def owed_signals(self) -> int:
        """Signals waiting for this actor's acknowledgement."""
        return sum(1 for r in self.monitoring.signals if r.owed and r.may_acknowledge)

    @property
    def last_contact(self) -> Contact | None:
        """The most recent contact the actor may read (the section reads them newest first)."""
        return self.monitoring.contacts[0] if self.monitoring.contacts else None

    @property
    def last_contact_days(self) -> int | None:
        contact = self.last_contact
        if contact is None:
            return None
        return (self.today - contact.occurred_at.astimezone(self.zone).date()).days

    @property
    def more_actions(self) -> list[PageAction]:
        """What the user may do that is rare or cannot easily be undone, from
        what the sections already decided (no query)."""
        case = self.detail.case
        abilities = self.detail.abilities
        actions: list[PageAction] = []
        if self.lifecycle.moves:
            labels = ", ".join(str(m.label) for m in self.lifecycle.moves)
            url = reverse("cases:lifecycle_section", args=[case.pk]) + "#moves"
            actions.append(PageAction(_("Change the status"), url, labels))
        if (
            self.lifecycle.moves
            and abilities.coordinates
            and case.status in lifecycle_rules.TRIAGE_STATUSES
        ):
            actions.append(
                PageAction(
                    _("Record the triage decision"), reverse("cases:triage_decide", args=[case.pk])
                )
            )
        if self.transfer.may_propose:
            actions.append(
                PageAction(
                    _("Propose a transfer to another partnership"),
                    reverse("cases:transfer_section", args=[case.pk]),
                )
            )
        if self.retention.manage:
            retention_url = reverse("cases:retention_section", args=[case.pk])
            actions.append(PageAction(_("Place or lift a legal hold"), retention_url))
            if case.status in (CaseStatus.CLOSED, CaseStatus.ARCHIVED):
                actions.append(PageAction(_("Ask for the erasure of this case"), retention_url))
        return actions

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        """The partnership's time zone, in which the page shows every time."""
        try:
            return zoneinfo.ZoneInfo(self.detail.case.partnership.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            return zoneinfo.ZoneInfo("UTC")


def case_page(*, actor: User, case_id: Any, purpose: str = "") -> CasePage:
    """Everything the case page shows the actor; one view event for all of it."""
    case = get_case_or_404(actor, case_id)
    abilities = case_abilities(actor, case)
    detail = case_notes_and_team(actor=actor, case=case, abilities=abilities)
    key_dates = key_dates_section(actor=actor, case=case, abilities=abilities)
    assessments = assessments_section(actor=actor, case=case, abilities=abilities)
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
        assessments=assessments,
        today=timezone.localdate(),
        # The same latest assessments as the section: no query of their own.
        review_dates=section_review_dates(assessments),
    )
    sections: dict[str, dict[str, Any]] = {
        "lifecycle": lifecycle_shown(page.lifecycle),
        "key_dates": key_dates_shown(page.key_dates),
        "checklist": checklist_shown(page.checklist),
        "monitoring": monitoring_shown(page.monitoring),
        "transfer": transfers_shown(page.transfer),
        "retention": retention_shown(page.retention),
        "documents": documents_shown(page.documents),
        "assessments": assessments_shown(page.assessments),
        "review_dates": review_dates_shown(page.review_dates),
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
