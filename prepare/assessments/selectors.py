"""Reads of instruments (not case data: no audit event) and of assessments
(case data: through the policy, audited)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db.models import JSONField, OuterRef, QuerySet, Subquery

from prepare.access.assessing import assessable_categories, assessment_for, qualified_trainings
from prepare.access.categories import Action
from prepare.access.errors import NotVisible
from prepare.access.policy import get_case_or_404, parse_pk
from prepare.assessments.content import InstrumentContent, text_in
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


Paginate = Callable[[QuerySet[Any]], list[Any]]


def _newest_version() -> QuerySet[InstrumentVersion]:
    return InstrumentVersion.objects.filter(instrument_id=OuterRef("pk")).order_by(
        "-loaded_at", "-pk"
    )


def instrument_page(*, paginate: Paginate) -> list[dict[str, Any]]:
    """One page of the loaded instruments, by identifier: each with its title in
    the active language (from its latest version) and its versions, oldest
    first. Three queries whatever the number of instruments and versions: the
    versions' contents are not read, only the latest one's title."""
    newest = _newest_version()
    rows = paginate(
        Instrument.objects.order_by("identifier")
        .annotate(
            title_texts=Subquery(newest.values("content__title")[:1], output_field=JSONField()),
            languages=Subquery(newest.values("content__languages")[:1], output_field=JSONField()),
        )
        .values("id", "identifier", "category", "title_texts", "languages")
    )
    by_id = {row["id"]: {**row, "versions": []} for row in rows}
    if by_id:
        for version in (
            InstrumentVersion.objects.filter(instrument_id__in=sorted(by_id))
            .order_by("instrument_id", "loaded_at", "pk")
            .values("id", "instrument_id", "version", "content_hash", "loaded_at")
        ):
            by_id[version["instrument_id"]]["versions"].append(version)
    out = []
    for row in by_id.values():
        texts = row.pop("title_texts")
        languages = row.pop("languages")
        row["title"] = text_in(
            texts if isinstance(texts, dict) else {},
            list(languages) if isinstance(languages, list) else [],
        )
        out.append(row)
    return out


def instrument_id_of(identifier: str) -> int | None:
    """The id of the instrument with this identifier, if one is loaded."""
    found: int | None = (
        Instrument.objects.filter(identifier=identifier).values_list("pk", flat=True).first()
    )
    return found


def instrument_version_by_id(version_id: Any) -> InstrumentVersion:
    """One loaded version, with its instrument; 404 when there is none."""
    pk = parse_pk(version_id)
    found = (
        InstrumentVersion.objects.select_related("instrument").filter(pk=pk).first()
        if pk is not None
        else None
    )
    if found is None:
        raise NotVisible
    return found


def version_contents(version_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """The content of each version named (one query; none for no version)."""
    wanted = sorted(set(version_ids))
    if not wanted:
        return {}
    return dict(InstrumentVersion.objects.filter(pk__in=wanted).values_list("pk", "content"))


def instrument_contents(instrument_id: int) -> list[dict[str, Any]]:
    """The contents of every loaded version of one instrument (for the lineage
    of a comparison across versions)."""
    return list(
        InstrumentVersion.objects.filter(instrument_id=instrument_id)
        .order_by("loaded_at", "pk")
        .values_list("content", flat=True)
    )


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


def assessment_page(
    *, actor: User, case_id: Any, paginate: Paginate, view: str
) -> tuple[list[Assessment], dict[int, dict[str, Any]]]:
    """One page of the case's assessments the actor may read, newest first, and
    the contents of their instrument versions (read once each, not per row);
    audited as one list event naming the assessments shown. 404 unless the
    case is visible. The ratings and texts are not read: a list shows none."""
    case = get_case_or_404(actor, case_id)
    rows = (
        Assessment.objects.visible_to(actor, Action.READ)
        .filter(case_id=case.pk)
        .select_related("instrument_version", "instrument_version__instrument", "organisation")
        .defer(
            "instrument_version__content",
            "ratings",
            "scenarios",
            "management_plan",
            "rationale",
            "searchable_text",
        )
        .order_by("-created_at", "-pk")
    )
    found: list[Assessment] = paginate(rows)
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
    return found, version_contents(a.instrument_version_id for a in found)


def open_correction_id(*, actor: User, assessment_id: Any) -> int | None:
    """The draft correcting ``assessment_id`` that the actor may read, if any."""
    pk = parse_pk(assessment_id)
    if pk is None:
        return None
    found: int | None = (
        Assessment.objects.visible_to(actor, Action.READ)
        .filter(corrects_id=pk, status=AssessmentStatus.DRAFT)
        .values_list("pk", flat=True)
        .first()
    )
    return found


def assessments_compared(
    *, actor: User, assessment_id: Any, other_id: Any, view: str
) -> tuple[Assessment, Assessment, list[dict[str, Any]]]:
    """Two assessments of one case, for comparing, and the contents of every
    version of the later one's instrument: 404 unless the actor reads both and
    they are on the same case. Each read is audited."""
    first = assessment_read(actor=actor, case_id=None, assessment_id=assessment_id, view=view)
    second = assessment_read(actor=actor, case_id=first.case_id, assessment_id=other_id, view=view)
    return first, second, instrument_contents(second.instrument_version.instrument_id)
