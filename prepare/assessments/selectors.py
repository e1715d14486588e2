"""Reads of instruments (not case data: no audit event) and of assessments
(case data: through the policy, audited)."""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db.models import Exists, OuterRef, Q, Subquery
from django.utils import timezone

from prepare.access.assessing import assessable_categories, assessment_for, qualified_trainings
from prepare.access.categories import Action
from prepare.assessments.content import InstrumentContent
from prepare.assessments.models import Assessment, AssessmentStatus, Instrument, InstrumentVersion
from prepare.audit.models import EventAction
from prepare.audit.services import audit_record
from prepare.cases.models import ENDED_STATUSES

if TYPE_CHECKING:
    from prepare.accounts.models import User
    from prepare.cases.models import Case


def instrument_version(identifier: str, version: str) -> InstrumentVersion | None:
    return (
        InstrumentVersion.objects.select_related("instrument")
        .filter(instrument__identifier=identifier, version=version)
        .first()
    )


def instrument_content(identifier: str, version: str) -> dict[str, Any] | None:
    """The stored content of one version, or None when it is not loaded."""
    found = instrument_version(identifier, version)
    return found.content if found is not None else None


# --- Assessments on a case (case data: every read is audited) ------------------------


@dataclass(frozen=True)
class OfferedInstrument:
    instrument: Instrument
    version: InstrumentVersion
    title: str
    qualified: bool
    training: str | None


def latest_versions(categories: Iterable[str]) -> list[InstrumentVersion]:
    """The latest version of each instrument of ``categories`` (one query)."""
    wanted = sorted(set(categories))
    if not wanted:
        return []
    newest = (
        InstrumentVersion.objects.filter(instrument_id=OuterRef("instrument_id"))
        .order_by("-loaded_at", "-pk")
        .values("pk")[:1]
    )
    return list(
        InstrumentVersion.objects.select_related("instrument")
        .filter(instrument__category__in=wanted, pk=Subquery(newest))
        .order_by("instrument__identifier")
    )


def offered_instruments(*, actor: User, case: Case) -> list[OfferedInstrument]:
    """The instruments the actor may start on ``case``: the latest version of each
    instrument in a category they may write there, and whether they hold the
    training it requires (two queries at most)."""
    versions = latest_versions(assessable_categories(actor, case))
    trainings = {InstrumentContent(v.content).training for v in versions} - {None}
    held = qualified_trainings(actor, {t for t in trainings if t})
    out = []
    for v in versions:
        content = InstrumentContent(v.content)
        out.append(
            OfferedInstrument(
                instrument=v.instrument,
                version=v,
                title=content.title,
                qualified=not content.training or content.training in held,
                training=content.training,
            )
        )
    return out


def _assessments(actor: User, case: Case) -> Any:
    return (
        Assessment.objects.visible_to(actor, Action.READ)
        .filter(case_id=case.pk)
        .select_related(
            "instrument_version",
            "instrument_version__instrument",
            "organisation",
            "created_by",
            "completed_by",
            "countersigned_by",
        )
    )


def case_assessments(
    *, actor: User, case: Case, view: str, limit: int | None = None
) -> list[Assessment]:
    """The case's assessments the actor may read, newest first; the read is audited."""
    rows = _assessments(actor, case).order_by("-created_at", "-pk")
    found = list(rows[:limit] if limit else rows)
    audit_record(
        action=EventAction.LIST,
        actor=actor,
        case=case,
        detail={
            "view": view,
            "assessments": [a.pk for a in found],
            "categories": sorted({a.category for a in found}),
        },
    )
    return found


def assessment_read(*, actor: User, case_id: Any, assessment_id: Any, view: str) -> Assessment:
    """One assessment for reading (404 unless the actor may read it); audited."""
    a = assessment_for(actor, assessment_id, case_id=case_id)
    audit_record(
        action=EventAction.VIEW,
        actor=actor,
        case=a.case,
        obj=a,
        category=a.category,
        detail={"view": view},
    )
    return a


def assessments_of_instrument(
    *, actor: User, case: Case, instrument_id: int, view: str
) -> list[Assessment]:
    """The case's completed assessments with one instrument (any of its
    versions), oldest first, for its trajectory; audited."""
    found = list(
        _assessments(actor, case)
        .filter(instrument_version__instrument_id=instrument_id)
        .exclude(status=AssessmentStatus.DRAFT)
        .order_by("completed_at", "pk")
    )
    audit_record(
        action=EventAction.LIST,
        actor=actor,
        case=case,
        detail={
            "view": view,
            "assessments": [a.pk for a in found],
            "categories": sorted({a.category for a in found}),
        },
    )
    return found


# --- Next reviews ------------------------------------------------------------------------

# A completed assessment, countersigned or not, carries the next review date.
DONE_STATUSES = (AssessmentStatus.COMPLETED, AssessmentStatus.COUNTERSIGNED)


def current_reviews() -> Any:
    """Completed (or countersigned) assessments with a next review date that no
    later completed assessment of the same instrument (any of its versions) on
    the same case has replaced: the reviews still to be done. Unfiltered by the
    policy: callers add ``visible_to`` (pages) or choose recipients through it
    (reminders). A draft replaces nothing until it is completed."""
    later = Assessment.objects.filter(
        Q(completed_at__gt=OuterRef("completed_at"))
        | Q(completed_at=OuterRef("completed_at"), pk__gt=OuterRef("pk")),
        case_id=OuterRef("case_id"),
        instrument_version__instrument_id=OuterRef("instrument_version__instrument_id"),
        status__in=DONE_STATUSES,
    )
    return Assessment.objects.filter(status__in=DONE_STATUSES, review_due_on__isnull=False).filter(
        ~Exists(later)
    )


@dataclass(frozen=True)
class ReviewDate:
    """The next review of one instrument on a case, as the reader may see it."""

    assessment: Assessment
    title: str  # the instrument's title in the reader's language
    due_on: datetime.date
    days: int  # from today; negative when the review is late

    @property
    def overdue(self) -> bool:
        return self.days < 0

    @property
    def late_days(self) -> int:
        return max(-self.days, 0)


def _review_date(a: Assessment, today: datetime.date) -> ReviewDate:
    assert a.review_due_on is not None  # current_reviews() keeps only these
    return ReviewDate(
        assessment=a,
        title=InstrumentContent(a.instrument_version.content).title,
        due_on=a.review_due_on,
        days=(a.review_due_on - today).days,
    )


def case_review_dates(*, actor: User, case: Case) -> list[ReviewDate]:
    """The next review of each instrument on ``case`` whose assessments the actor
    may read, soonest first (one query). Not audited here: the case page's
    event names them (``review_dates_shown``)."""
    today = timezone.localdate()
    rows = (
        current_reviews()
        .visible_to(actor, Action.READ)
        .filter(case_id=case.pk)
        .select_related("instrument_version")
        .order_by("review_due_on", "pk")
    )
    return [_review_date(a, today) for a in rows]


def reviews_due(*, actor: User, days: int, limit: int) -> tuple[list[ReviewDate], bool]:
    """Assessment reviews due within ``days`` or already late, on the open cases
    whose assessments the actor may read, soonest first: at most ``limit`` rows,
    and whether there are more (one query, whatever the number of cases). Not
    audited here: the page that shows them names them in its list event
    (``review_dates_shown``)."""
    today = timezone.localdate()
    found = list(
        current_reviews()
        .visible_to(actor, Action.READ)
        .filter(review_due_on__lte=today + datetime.timedelta(days=days))
        .exclude(case__status__in=[str(s) for s in ENDED_STATUSES])
        .select_related("case__person", "case__partnership", "instrument_version")
        .order_by("review_due_on", "case_id", "pk")[: limit + 1]
    )
    return [_review_date(a, today) for a in found[:limit]], len(found) > limit


def review_dates_shown(rows: Iterable[ReviewDate]) -> dict[str, Any]:
    """What a page showed of the review dates, for its audit event."""
    shown = list(rows)
    return {
        "assessments": [r.assessment.pk for r in shown],
        "categories": sorted({r.assessment.category for r in shown}),
    }
