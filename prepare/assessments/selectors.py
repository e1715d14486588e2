"""Reads of instruments (not case data: no audit event) and of assessments
(case data: through the policy, audited)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db.models import OuterRef, Subquery

from prepare.access.assessing import assessable_categories, assessment_for, qualified_trainings
from prepare.access.categories import Action
from prepare.assessments.content import InstrumentContent
from prepare.assessments.models import Assessment, AssessmentStatus, Instrument, InstrumentVersion
from prepare.audit.models import EventAction
from prepare.audit.services import audit_record

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


def required_trainings() -> list[str]:
    """The trainings that some loaded instrument version requires, sorted: one query."""
    keys = (
        InstrumentVersion.objects.order_by().values_list("content__training", flat=True).distinct()
    )
    return sorted({k for k in keys if isinstance(k, str) and k})


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
