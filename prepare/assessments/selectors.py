"""Reads of instruments (not case data: no audit event) and of assessments
(case data: through the policy, audited)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db.models import OuterRef, Q, Subquery
from django.utils.translation import gettext as _

from prepare.access.assessing import (
    assessable_categories,
    assessment_for,
    qualified_trainings,
    require_instrument_readable,
)
from prepare.access.categories import Action
from prepare.access.errors import NotVisible
from prepare.access.policy import parse_pk
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


# --- Over time: the comparison, the trajectory and the PDF ---------------------------


def instrument_on_case(*, actor: User, case: Case, instrument_id: Any) -> Instrument:
    """An instrument, for its pages on ``case``: 404 unless it exists and its
    category is one the actor reads there (no case data: not audited)."""
    pk = parse_pk(instrument_id)
    found = Instrument.objects.filter(pk=pk).first() if pk is not None else None
    if found is None:
        raise NotVisible
    require_instrument_readable(actor, case, found.category)
    return found


@dataclass(frozen=True)
class LoadedVersion:
    pk: int
    instrument_id: int
    version: str
    content: dict[str, Any]


def instrument_versions(instrument_ids: Iterable[int]) -> list[LoadedVersion]:
    """Every loaded version of the instruments, oldest first (one query, none
    when there are none): what items continue across versions."""
    wanted = sorted(set(instrument_ids))
    if not wanted:
        return []
    rows = (
        InstrumentVersion.objects.filter(instrument_id__in=wanted)
        .order_by("instrument_id", "loaded_at", "pk")
        .values_list("pk", "instrument_id", "version", "content")
    )
    return [LoadedVersion(*row) for row in rows]


def comparable_assessments(*, actor: User, case: Case, view: str) -> list[Assessment]:
    """The case's completed assessments the actor may read, oldest first, to
    choose two to compare: light rows (no ratings, no texts, no instrument
    content); the list is audited."""
    found = list(
        Assessment.objects.visible_to(actor, Action.READ)
        .filter(case_id=case.pk)
        .exclude(status=AssessmentStatus.DRAFT)
        .select_related("instrument_version", "organisation")
        .only(
            "pk",
            "case_id",
            "category",
            "status",
            "judgement",
            "created_at",
            "completed_at",
            "organisation__name",
            "instrument_version__instrument_id",
            "instrument_version__version",
        )
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


class PairRefused(ValueError):
    """Two assessments that cannot be compared (the message says why)."""


def assessment_pair(
    *, actor: User, case: Case, first: int, second: int, view: str
) -> tuple[Assessment, Assessment]:
    """Two completed assessments of one instrument on ``case``, for comparing:
    404 unless the actor may read both (which one is missing is not said);
    ``PairRefused`` for two that cannot be compared. Each read is audited."""
    if first == second:
        raise PairRefused(_("Choose two different assessments."))
    rows = {a.pk: a for a in _assessments(actor, case).filter(pk__in=[first, second])}
    if len(rows) != 2:
        raise NotVisible
    pair = (rows[first], rows[second])
    if pair[0].instrument_version.instrument_id != pair[1].instrument_version.instrument_id:
        raise PairRefused(
            _("These two assessments were made with different instruments: compare two of one.")
        )
    if any(a.is_draft for a in pair):
        raise PairRefused(_("A draft is not compared: choose two completed assessments."))
    for a in pair:
        audit_record(
            action=EventAction.VIEW,
            actor=actor,
            case=case,
            obj=a,
            category=a.category,
            detail={"view": view},
        )
    return pair


@dataclass(frozen=True)
class ExportedAssessment:
    assessment: Assessment
    # The assessment it corrects and those that correct it, when the actor reads them.
    corrects: Assessment | None
    corrected_by: list[Assessment]


def assessment_for_export(*, actor: User, case: Case, assessment_id: Any) -> ExportedAssessment:
    """One assessment to print (404 unless readable on ``case``), with the
    corrections around it that the actor may read (two queries). Not audited
    here: the export is, once it is made."""
    pk = parse_pk(assessment_id)
    found = _assessments(actor, case).filter(pk=pk).first() if pk is not None else None
    if found is None:
        raise NotVisible
    related = list(
        Assessment.objects.visible_to(actor, Action.READ)
        .filter(Q(corrects_id=found.pk) | Q(pk=found.corrects_id or 0))
        .only("pk", "case_id", "category", "corrects_id", "created_at", "completed_at")
        .order_by("created_at", "pk")
    )
    return ExportedAssessment(
        assessment=found,
        corrects=next((r for r in related if r.pk == found.corrects_id), None),
        corrected_by=[r for r in related if r.corrects_id == found.pk],
    )
