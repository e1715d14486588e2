"""Reads of instruments (not case data: no audit event) and of assessments
(case data: through the policy, audited)."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.db.models import Exists, JSONField, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from prepare.access.assessing import (
    assessable_categories,
    assessing_categories,
    assessment_for,
    countersign_refusal,
    is_qualified,
    may_correct,
    may_edit,
    qualified_trainings,
    require_instrument_readable,
)
from prepare.access.categories import Action
from prepare.access.errors import NotVisible
from prepare.access.policy import get_case_or_404, parse_pk
from prepare.assessments.content import Domain, InstrumentContent, Item, Level, text_in
from prepare.assessments.models import Assessment, AssessmentStatus, Instrument, InstrumentVersion
from prepare.audit.models import EventAction
from prepare.audit.services import audit_record
from prepare.cases.models import ENDED_STATUSES

if TYPE_CHECKING:
    from prepare.access.abilities import CaseAbilities
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
    description: str = ""


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
                description=content.description,
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


def _list_event(actor: User, case: Case, view: str, found: Iterable[Assessment]) -> None:
    """One audited list of a case's assessments: their ids and categories."""
    shown = list(found)
    audit_record(
        action=EventAction.LIST,
        actor=actor,
        case=case,
        detail={
            "view": view,
            "assessments": [a.pk for a in shown],
            "categories": sorted({a.category for a in shown}),
        },
    )


def case_assessments(
    *, actor: User, case: Case, view: str, limit: int | None = None
) -> list[Assessment]:
    """The case's assessments the actor may read, newest first; the read is audited."""
    rows = _assessments(actor, case).order_by("-created_at", "-pk")
    found = list(rows[:limit] if limit else rows)
    _list_event(actor, case, view, found)
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
    _list_event(actor, case, view, found)
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
    _list_event(actor, case, view, found)
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


# --- Pages: the history, one assessment, the case page's section ----------------------


def judgement_label(content: InstrumentContent, key: str) -> str:
    """The label of a judgement level in the pinned version, in the reader's language."""
    level = content.judgement_level(key) if key else None
    return level.label if level is not None else key


@dataclass(frozen=True)
class HistoryRow:
    assessment: Assessment
    content: InstrumentContent
    may_edit: bool
    corrects: Assessment | None  # the assessment it corrects, if the reader may read it
    corrected_by: tuple[Assessment, ...]  # its corrections the reader may read

    @property
    def judgement(self) -> str:
        return judgement_label(self.content, self.assessment.judgement)


@dataclass(frozen=True)
class AssessmentHistory:
    case: Case
    rows: list[HistoryRow]
    offered: list[OfferedInstrument]

    @property
    def may_start(self) -> bool:
        return any(o.qualified for o in self.offered)


def _contents(found: Iterable[Assessment]) -> dict[int, InstrumentContent]:
    """Each pinned version's content read once, in the active language."""
    out: dict[int, InstrumentContent] = {}
    for a in found:
        if a.instrument_version_id not in out:
            out[a.instrument_version_id] = InstrumentContent(a.instrument_version.content)
    return out


def assessment_history(
    *, actor: User, case_id: Any, view: str = "case_assessments"
) -> AssessmentHistory:
    """Every assessment of the case the actor may read, newest first, with the
    instruments they may start there; one audited list. A fixed number of
    queries whatever the number of assessments."""
    case = get_case_or_404(actor, case_id)
    found = case_assessments(actor=actor, case=case, view=view)
    writable = assessing_categories(actor, case)
    offered = offered_instruments(actor=actor, case=case) if writable else []
    contents = _contents(found)
    by_pk = {a.pk: a for a in found}
    corrections: dict[int, list[Assessment]] = {}
    for a in found:
        if a.corrects_id is not None:
            corrections.setdefault(a.corrects_id, []).append(a)
    rows = [
        HistoryRow(
            assessment=a,
            content=contents[a.instrument_version_id],
            may_edit=may_edit(actor, a, writable=writable),
            corrects=by_pk.get(a.corrects_id) if a.corrects_id is not None else None,
            corrected_by=tuple(corrections.get(a.pk, ())),
        )
        for a in found
    ]
    return AssessmentHistory(case=case, rows=rows, offered=offered)


@dataclass(frozen=True)
class StartPage:
    case: Case
    offered: list[OfferedInstrument]

    @property
    def startable(self) -> list[OfferedInstrument]:
        return [o for o in self.offered if o.qualified]

    @property
    def untrained(self) -> list[OfferedInstrument]:
        return [o for o in self.offered if not o.qualified]


def start_page(*, actor: User, case_id: Any, view: str = "assessment_start") -> StartPage:
    """The instruments the actor may start on the case (403 unless they may write
    on it); the page names the case: one audited view."""
    case = get_case_or_404(actor, case_id, Action.WRITE)
    offered = offered_instruments(actor=actor, case=case)
    audit_record(
        action=EventAction.VIEW,
        actor=actor,
        case=case,
        obj=case,
        detail={"view": view, "instruments": [o.instrument.identifier for o in offered]},
    )
    return StartPage(case=case, offered=offered)


@dataclass(frozen=True)
class RatedItem:
    item: Item
    presence: Level | None
    relevance: Level | None
    evidence: str


@dataclass(frozen=True)
class RatedDomain:
    domain: Domain
    items: list[RatedItem]


def rated_domains(content: InstrumentContent, ratings: dict[str, Any]) -> list[RatedDomain]:
    """Each domain of the pinned version with its items as rated (no score: the
    ratings are shown, never added up)."""
    out = []
    for domain in content.domains():
        rows = []
        for item in domain.items:
            rating = ratings.get(item.id) or {}
            rows.append(
                RatedItem(
                    item=item,
                    presence=item.level(rating.get("presence") or ""),
                    relevance=item.relevance_level(rating.get("relevance") or ""),
                    evidence=rating.get("evidence") or "",
                )
            )
        out.append(RatedDomain(domain=domain, items=rows))
    return out


# A page names these with the assessment, in its one query.
_PAGE_RELATED = (
    "instrument_version__instrument",
    "organisation",
    "created_by",
    "completed_by",
    "countersigned_by",
)


@dataclass
class AssessmentPage:
    """One assessment with its pinned version's texts, and what the reader may do."""

    assessment: Assessment
    content: InstrumentContent
    writable: frozenset[str]
    qualified: bool
    corrects: Assessment | None = None
    corrections: list[Assessment] = field(default_factory=list)
    may_edit: bool = False
    may_countersign: bool = False
    countersign_refusal: str | None = None
    may_correct: bool = False

    @property
    def case(self) -> Case:
        return self.assessment.case

    @property
    def domains(self) -> list[RatedDomain]:
        return rated_domains(self.content, self.assessment.ratings)

    @property
    def judgement(self) -> str:
        return judgement_label(self.content, self.assessment.judgement)

    @property
    def rated(self) -> int:
        return sum(1 for r in self.assessment.ratings.values() if r.get("presence"))

    @property
    def item_count(self) -> int:
        return len(self.content.items())

    def likelihood(self, key: str) -> str:
        level = next((lv for lv in self.content.likelihood_levels() if lv.key == key), None)
        return level.label if level is not None else key

    @property
    def scenarios(self) -> list[dict[str, str]]:
        return [
            {**s, "likelihood_label": self.likelihood(s.get("likelihood", ""))}
            for s in self.assessment.scenarios
        ]

    @property
    def plan(self) -> list[tuple[Any, str]]:
        """Each plan section of the pinned version with what was written in it."""
        written = self.assessment.management_plan
        return [(s, written.get(s.id, "")) for s in self.content.plan_sections()]


def assessment_page(
    *, actor: User, case_id: Any, assessment_id: Any, view: str = "assessment"
) -> AssessmentPage:
    """One assessment for its page (404 unless readable, on ``case_id``), with
    the assessment it corrects and its corrections; audited."""
    a = assessment_for(actor, assessment_id, case_id=case_id, related=_PAGE_RELATED)
    audit_record(
        action=EventAction.VIEW,
        actor=actor,
        case=a.case,
        obj=a,
        category=a.category,
        detail={"view": view},
    )
    content = InstrumentContent(a.instrument_version.content)
    writable = assessing_categories(actor, a.case)
    qualified = bool(writable) and is_qualified(actor, content.training)
    # Both directions in one query, through the policy.
    linked = list(
        Assessment.objects.visible_to(actor, Action.READ)
        .filter(case_id=a.case_id)
        .filter(Q(corrects_id=a.pk) | Q(pk=a.corrects_id or 0))
        .exclude(pk=a.pk)
        .order_by("created_at", "pk")
    )
    refusal = countersign_refusal(actor, a, writable=writable, qualified=qualified)
    return AssessmentPage(
        assessment=a,
        content=content,
        writable=writable,
        qualified=qualified,
        corrects=next((x for x in linked if x.pk == a.corrects_id), None),
        corrections=[x for x in linked if x.corrects_id == a.pk],
        may_edit=may_edit(actor, a, writable=writable) and qualified,
        may_countersign=refusal is None,
        countersign_refusal=refusal,
        may_correct=may_correct(actor, a, writable=writable) and qualified,
    )


@dataclass(frozen=True)
class LatestJudgement:
    assessment: Assessment
    title: str
    judgement: str


@dataclass(frozen=True)
class AssessmentsSection:
    """The case page's section: the latest completed assessment of each
    instrument the actor may read, with its judgement and next review."""

    case: Case
    latest: list[LatestJudgement]
    may_write: bool


def assessments_section(*, actor: User, case: Case, abilities: CaseAbilities) -> AssessmentsSection:
    """The case already fetched through the policy: one query, whatever the
    number of assessments; not audited here (the case page's event names them)."""
    readable = Assessment.objects.visible_to(actor, Action.READ).filter(case_id=case.pk)
    newest = (
        readable.filter(
            instrument_version__instrument_id=OuterRef("instrument_version__instrument_id")
        )
        .exclude(status=AssessmentStatus.DRAFT)
        .order_by("-completed_at", "-pk")
        .values("pk")[:1]
    )
    found = list(
        readable.exclude(status=AssessmentStatus.DRAFT)
        .filter(pk=Subquery(newest))
        .select_related("instrument_version", "organisation")
        .order_by("instrument_version__instrument_id")
    )
    contents = _contents(found)
    latest = [
        LatestJudgement(
            assessment=a,
            title=contents[a.instrument_version_id].title,
            judgement=judgement_label(contents[a.instrument_version_id], a.judgement),
        )
        for a in found
    ]
    return AssessmentsSection(case=case, latest=latest, may_write=abilities.write)


def assessments_shown(section: AssessmentsSection) -> dict[str, Any]:
    """What the section shows, for the case page's audit event: ids and categories."""
    return {
        "categories": sorted({row.assessment.category for row in section.latest}),
        "assessments": [row.assessment.pk for row in section.latest],
    }


# --- For the API ----------------------------------------------------------------------


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


def assessment_list_page(
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
    _list_event(actor, case, view, found)
    return found, version_contents(a.instrument_version_id for a in found)


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


def section_review_dates(section: AssessmentsSection) -> list[ReviewDate]:
    """The next reviews on the case page, from its assessments section (the
    latest completed assessment of each instrument the reader may read): no
    query of their own; soonest first."""
    today = timezone.localdate()
    rows = [row.assessment for row in section.latest if row.assessment.review_due_on]
    return sorted((_review_date(a, today) for a in rows), key=lambda r: (r.due_on, r.assessment.pk))


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
