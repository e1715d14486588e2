"""A case's assessments over time: two side by side, and each domain's course
through the completed assessments of one instrument.

Nothing is added up. The comparison shows what each assessor rated and marks
what changed; the trajectory places each rating on its own item's scale, as
a chart drawn here in SVG with the same data in a table beside it. Items
continue across instrument versions through the mapping a version declares
(``prepare.assessments.comparison``).

Thin views: parse, read through the selectors (policy, audited), render.
Errors answer as on the case pages (``case_errors``): an assessment or an
instrument the reader may not read is 404, whichever it is; two ids that are
not numbers are 400; two assessments that cannot be compared are 422.
"""

from __future__ import annotations

import datetime
import itertools
import zoneinfo
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import formats, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from prepare.access.policy import get_case_or_404, parse_pk
from prepare.access.routes import RoutePolicy, route_policy
from prepare.assessments import selectors
from prepare.assessments.charts import SHAPE_NAMES, Chart, Series, line_chart
from prepare.assessments.comparison import (
    ComparedDomain,
    ComparedItem,
    Comparison,
    Rating,
    compare,
    lineage,
    rating_of,
    sources,
    trajectory,
)
from prepare.assessments.content import UNKNOWN_KEYS, InstrumentContent, Item, Level
from prepare.assessments.models import Assessment, Instrument
from prepare.cases.models import Case
from prepare.documents.selectors import partnership_zone
from prepare.moments import day_text, local
from prepare.web import INVALID, case_errors, request_actor

BAD_REQUEST = 400


def _language() -> str:
    return translation.get_language() or ""


def _short_day(value: datetime.datetime, zone: zoneinfo.ZoneInfo) -> str:
    return formats.date_format(local(value, zone).date(), "SHORT_DATE_FORMAT")


# --- Choosing two assessments ---------------------------------------------------------


class CompareForm(forms.Form):
    """The two selects of the comparison page (sent with GET; read by the view)."""

    a = forms.ChoiceField(label=gettext_lazy("First assessment"))
    b = forms.ChoiceField(label=gettext_lazy("Second assessment"))

    def __init__(self, *args: Any, choices: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("a", "b"):
            self.fields[name].choices = choices  # type: ignore[attr-defined]


def _choice_label(a: Assessment, content: InstrumentContent, zone: zoneinfo.ZoneInfo) -> str:
    level = content.judgement_level(a.judgement)
    return _(
        "%(day)s · version %(version)s · %(organisation)s · final judgement: %(judgement)s"
    ) % {
        "day": day_text(a.assessed_at, zone),
        "version": content.version,
        "organisation": a.organisation.name,
        "judgement": level.label if level else a.judgement,
    }


def _choices(
    rows: Sequence[Assessment],
    contents: dict[int, InstrumentContent],
    zone: zoneinfo.ZoneInfo,
) -> list[Any]:
    """Grouped by instrument (an ``<optgroup>`` each, titled as its latest
    version), newest first inside each group."""
    groups: dict[int, list[tuple[str, str]]] = {}
    titles: dict[int, str] = {}
    for a in reversed(rows):
        content = contents[a.instrument_version_id]
        instrument_id = a.instrument_version.instrument_id
        titles.setdefault(instrument_id, content.title)
        groups.setdefault(instrument_id, []).append((str(a.pk), _choice_label(a, content, zone)))
    return [(titles[i], options) for i, options in groups.items()]


def _default_pair(rows: Sequence[Assessment]) -> tuple[str, str]:
    """The two latest assessments of the instrument assessed last (or blanks)."""
    if not rows:
        return "", ""
    latest = rows[-1]
    instrument_id = latest.instrument_version.instrument_id
    same = [a for a in rows if a.instrument_version.instrument_id == instrument_id]
    if len(same) < 2:
        return str(latest.pk), ""
    return str(same[-2].pk), str(same[-1].pk)


@dataclass
class Side:
    """One of the two assessments, as the page heads its column."""

    assessment: Assessment
    content: InstrumentContent
    judgement: Level | None


def _how_text(row: ComparedItem, version: str) -> str:
    names = ", ".join(f"“{r.item_label}”" for r in row.earlier)
    if row.how == "renamed":
        return _("Renamed from %(items)s") % {"items": names}
    if row.how == "merged":
        return _("Merged from %(items)s") % {"items": names}
    if row.how == "split":
        return _("Split from %(items)s") % {"items": names}
    if row.how == "new":
        return _("New in version %(version)s") % {"version": version}
    return ""


@dataclass(frozen=True)
class Row:
    row: ComparedItem
    how: str  # how the item continues from the earlier version, in words

    @property
    def merged(self) -> bool:
        return len(self.row.earlier) > 1


@dataclass
class ComparisonPage:
    comparison: Comparison
    earlier: Side
    later: Side
    domains: list[tuple[ComparedDomain, list[Row]]]
    changed: int
    total: int
    # Versions on no common chain: the earlier ratings, not matched to any item.
    unmatched: list[Rating]


def comparison_page(pair: tuple[Assessment, Assessment], contents: Iterable[Any]) -> ComparisonPage:
    result = compare(pair[0], pair[1], contents, _language())
    ec, lc = result.earlier_content, result.later_content
    domains = []
    for domain in result.domains:
        how = (lambda r: "") if result.unrelated else (lambda r: _how_text(r, lc.version))
        domains.append((domain, [Row(r, how(r)) for r in domain.items]))
    unmatched = [rating_of(result.earlier, item) for item in ec.items()] if result.unrelated else []
    return ComparisonPage(
        comparison=result,
        earlier=Side(result.earlier, ec, ec.judgement_level(result.earlier.judgement)),
        later=Side(result.later, lc, lc.judgement_level(result.later.judgement)),
        domains=domains,
        changed=0 if result.unrelated else result.changed_count,
        total=sum(len(d.items) for d in result.domains),
        unmatched=unmatched,
    )


@route_policy(RoutePolicy.CASE)
@require_http_methods(["GET"])
@case_errors
def compare_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Two completed assessments of one instrument side by side (``?a=&b=``),
    or the form to choose them."""
    actor = request_actor(request)
    case = get_case_or_404(actor, pk)
    zone = partnership_zone(case)
    rows = selectors.comparable_assessments(actor=actor, case=case, view="assessment_compare")
    versions = selectors.instrument_versions(a.instrument_version.instrument_id for a in rows)
    language = _language()
    contents = {v.pk: InstrumentContent(v.content, language) for v in versions}
    raw_a, raw_b = request.GET.get("a"), request.GET.get("b")
    context: dict[str, Any] = {"case": case, "zone": zone, "page": None, "problem": ""}
    status = 200
    initial = dict(zip(("a", "b"), _default_pair(rows), strict=True))
    if raw_a or raw_b:
        initial = {"a": raw_a or "", "b": raw_b or ""}
        first, second = parse_pk(raw_a), parse_pk(raw_b)
        if first is None or second is None:
            status = BAD_REQUEST
            context["problem"] = _("Choose two assessments from the lists.")
        else:
            try:
                pair = selectors.assessment_pair(
                    actor=actor, case=case, first=first, second=second, view="assessment_compare"
                )
            except selectors.PairRefused as refused:
                status = INVALID
                context["problem"] = str(refused)
            else:
                instrument_id = pair[0].instrument_version.instrument_id
                context["page"] = comparison_page(
                    pair, (v.content for v in versions if v.instrument_id == instrument_id)
                )
    context["form"] = CompareForm(choices=_choices(rows, contents, zone), initial=initial)
    context["comparable"] = len(rows) >= 2
    return render(request, "assessments/compare.html", context, status=status)


# --- The trajectory -------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """One assessment of the trajectory."""

    assessment: Assessment
    day: str
    tick: str
    version: str
    judgement: str


@dataclass(frozen=True)
class Cell:
    """One item at one assessment: what the table shows, and why there is no
    point on the chart when there is none."""

    text: str
    plotted: bool
    position: int | None = None


@dataclass
class Track:
    """One item's line."""

    label: str
    shape: str
    marker: str  # the shape as a character, for the table's header
    cells: list[Cell]


@dataclass
class Block:
    """One chart and its table: a domain's items on one scale, or the judgement."""

    id: str
    title: str
    levels: list[str]
    tracks: list[Track]
    chart: Chart
    gaps: list[str]
    rows: list[tuple[Column, list[Cell]]]


@dataclass
class TrajectoryPage:
    instrument: Instrument
    title: str
    columns: list[Column]
    blocks: list[Block]
    judgement: Block | None
    frame_version: str
    versions: list[tuple[str, int]]  # each version among the assessments, with how many

    @property
    def across_versions(self) -> bool:
        return len(self.versions) > 1


def _ordinal(levels: Iterable[Level]) -> list[Level]:
    return [lv for lv in levels if lv.key not in UNKNOWN_KEYS]


def _ticks(days: Sequence[str]) -> list[str]:
    """Short dates for the chart, a second one on the same day numbered."""
    seen: dict[str, int] = {}
    out = []
    for day in days:
        seen[day] = seen.get(day, 0) + 1
        out.append(day if seen[day] == 1 else f"{day} ({seen[day]})")
    return out


def _cell(
    item: Item,
    point: Any,
    olds: list[str],
    own: dict[str, Item],
    version: str,
) -> Cell:
    """What one rating shows, on the frame item's scale."""
    keys = [lv.key for lv in _ordinal(item.levels)]
    level = point.level
    if level is None:
        if point.note == "merged":
            names = ", ".join(f"“{own[o].label}”" if o in own else o for o in olds)
            return Cell(_("merged from %(items)s (not plotted)") % {"items": names}, False)
        if point.note == "absent":
            return Cell(_("not in version %(version)s") % {"version": version}, False)
        return Cell(_("not rated"), False)
    text = level.label
    if len(olds) == 1 and olds[0] != item.id and olds[0] in own:
        text = _("%(level)s (as “%(item)s”)") % {"level": level.label, "item": own[olds[0]].label}
    if level.key in UNKNOWN_KEYS:
        return Cell(_("%(level)s: unknown, no point") % {"level": text}, False)
    if level.key not in keys:
        return Cell(_("%(level)s: on another scale, no point") % {"level": text}, False)
    return Cell(text, True, keys.index(level.key))


def _block(
    *,
    id: str,
    title: str,
    levels: list[str],
    tracks: list[Track],
    columns: list[Column],
) -> Block:
    ticks = _ticks([c.tick for c in columns])
    series = [
        Series(
            label=t.label,
            positions=[c.position if c.plotted else None for c in t.cells],
            titles=[
                f"{t.label}: {c.text}, {col.day}" for c, col in zip(t.cells, columns, strict=True)
            ],
        )
        for t in tracks
    ]
    desc = _(
        "%(lines)s across %(count)s assessments, from %(first)s to %(last)s, each on its own "
        "scale: %(levels)s. Nothing is added up. The table after the chart holds the same data."
    ) % {
        "lines": "; ".join(t.label for t in tracks),
        "count": len(columns),
        "first": columns[0].day,
        "last": columns[-1].day,
        "levels": ", ".join(levels),
    }
    chart = line_chart(id=id, title=title, desc=desc, dates=ticks, levels=levels, series=series)
    for track, line in zip(tracks, chart.lines, strict=True):
        track.shape = line.shape
        track.marker = SHAPE_NAMES[line.shape]
    gaps = [
        _("%(item)s, %(day)s: %(reason)s") % {"item": t.label, "day": col.day, "reason": c.text}
        for t in tracks
        for c, col in zip(t.cells, columns, strict=True)
        if not c.plotted
    ]
    rows = [(col, [t.cells[i] for t in tracks]) for i, col in enumerate(columns)]
    return Block(id, title, levels, tracks, chart, gaps, rows)


def trajectory_page(
    instrument: Instrument,
    assessments: Sequence[Assessment],
    contents: Sequence[dict[str, Any]],
    zone: zoneinfo.ZoneInfo,
) -> TrajectoryPage:
    language = _language()
    if not assessments:
        latest = InstrumentContent(contents[-1], language) if contents else None
        return TrajectoryPage(
            instrument=instrument,
            title=latest.title if latest else instrument.identifier,
            columns=[],
            blocks=[],
            judgement=None,
            frame_version=latest.version if latest else "",
            versions=[],
        )
    series = trajectory(assessments, contents, language)
    frame = series.content
    back = {v: sources(lines) for v, lines in lineage(contents, frame.raw).items()}
    own: dict[str, dict[str, Item]] = {}
    pinned: dict[str, InstrumentContent] = {}
    for a in assessments:
        v = a.instrument_version.version
        if v not in pinned:
            pinned[v] = InstrumentContent(a.instrument_version.content, language)
            own[v] = pinned[v].item_map()
    columns = []
    for a in assessments:
        content = pinned[a.instrument_version.version]
        level = content.judgement_level(a.judgement)
        columns.append(
            Column(
                assessment=a,
                day=day_text(a.assessed_at, zone),
                tick=_short_day(a.assessed_at, zone),
                version=content.version,
                judgement=level.label if level else a.judgement,
            )
        )
    blocks = []
    for domain in series.domains:
        # Items on different scales are not drawn against one axis.
        groups: dict[tuple[str, ...], list[Any]] = {}
        for s in domain.items:
            groups.setdefault(tuple(lv.key for lv in _ordinal(s.item.levels)), []).append(s)
        for n, group in enumerate(groups.values()):
            levels = [lv.label for lv in _ordinal(group[0].item.levels)]
            tracks = []
            for s in group:
                cells = []
                for a, point in zip(assessments, s.points, strict=True):
                    v = a.instrument_version.version
                    olds = (back.get(v) or {}).get(s.item.id, [])
                    cells.append(_cell(s.item, point, olds, own[v], v))
                tracks.append(Track(s.item.label, "", "", cells))
            title = domain.label if len(groups) == 1 else f"{domain.label} ({n + 1})"
            blocks.append(
                _block(
                    id=f"chart-{domain.id}-{n}",
                    title=title,
                    levels=levels,
                    tracks=tracks,
                    columns=columns,
                )
            )
    judgement_levels = list(frame.judgement_levels())
    keys = [lv.key for lv in judgement_levels]
    judgement_cells = []
    for a, col in zip(assessments, columns, strict=True):
        if not a.judgement:
            judgement_cells.append(Cell(_("not given"), False))
        elif a.judgement in keys:
            judgement_cells.append(Cell(col.judgement, True, keys.index(a.judgement)))
        else:
            judgement_cells.append(
                Cell(_("%(level)s: on another scale, no point") % {"level": col.judgement}, False)
            )
    judgement_title = frame.judgement_label or _("Final judgement")
    judgement = _block(
        id="chart-judgement",
        title=judgement_title,
        levels=[lv.label for lv in judgement_levels],
        tracks=[Track(judgement_title, "", "", judgement_cells)],
        columns=columns,
    )
    counts: dict[str, int] = {}
    for col in columns:
        counts[col.version] = counts.get(col.version, 0) + 1
    return TrajectoryPage(
        instrument=instrument,
        title=frame.title,
        columns=columns,
        blocks=blocks,
        judgement=judgement,
        frame_version=frame.version,
        versions=list(counts.items()),
    )


@route_policy(RoutePolicy.CASE)
@require_http_methods(["GET"])
@case_errors
def trajectory_view(request: HttpRequest, pk: int, instrument_id: int) -> HttpResponse:
    """Each domain's course through the case's completed assessments with one
    instrument: a chart per domain and the final judgement's, each with its table."""
    actor = request_actor(request)
    case: Case = get_case_or_404(actor, pk)
    found = selectors.instrument_on_case(actor=actor, case=case, instrument_id=instrument_id)
    rows = selectors.assessments_of_instrument(
        actor=actor, case=case, instrument_id=found.pk, view="assessment_trajectory"
    )
    versions = selectors.instrument_versions([found.pk])
    zone = partnership_zone(case)
    page = trajectory_page(found, rows, [v.content for v in versions], zone)
    pairs = list(itertools.pairwise(rows))
    return render(
        request,
        "assessments/trajectory.html",
        {"case": case, "zone": zone, "page": page, "pairs": pairs},
    )
