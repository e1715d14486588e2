"""Assessments over time: how items continue across instrument versions, two
assessments side by side, and each item's course through a series.

Nothing here adds ratings up: a comparison shows what each assessor rated and
what changed, a trajectory where each rating sat on its own scale. Across
versions an item is followed through the ``maps_from`` of each version
(renamed, merged, split, removed; an item keeping its id continues by itself).
A merged item has several earlier sources: it is shown with each of them and
never plotted from a combination.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from prepare.assessments.content import UNKNOWN_KEYS, InstrumentContent, Item, Level

# --- Lineage --------------------------------------------------------------------------


def _step(earlier: Mapping[str, Any], later: Mapping[str, Any]) -> dict[str, list[str]]:
    """Earlier item id -> the later version's item ids it continues as, for a
    ``later`` version that maps from ``earlier``."""
    later_ids = [i["id"] for i in later.get("items", [])]
    mapped: dict[str, list[str]] = {}
    for change in (later.get("maps_from") or {}).get("items", []):
        for old in change.get("old", []):
            mapped[old] = list(change.get("new", []))
    out: dict[str, list[str]] = {}
    for item in earlier.get("items", []):
        old_id = item["id"]
        if old_id in mapped:
            out[old_id] = mapped[old_id]
        elif old_id in later_ids:
            out[old_id] = [old_id]
        else:
            out[old_id] = []
    return out


def chain(
    contents: Iterable[Mapping[str, Any]], target: Mapping[str, Any]
) -> list[Mapping[str, Any]]:
    """The versions from the earliest reachable one to ``target``, following
    each version's ``maps_from`` back (``contents``: every loaded version of
    the instrument)."""
    by_version = {c["version"]: c for c in contents}
    path = [target]
    seen = {target["version"]}
    current = target
    while True:
        previous = (current.get("maps_from") or {}).get("version")
        if not previous or previous in seen or previous not in by_version:
            break
        current = by_version[previous]
        seen.add(previous)
        path.append(current)
    return list(reversed(path))


def lineage(
    contents: Iterable[Mapping[str, Any]], target: Mapping[str, Any]
) -> dict[str, dict[str, list[str]]]:
    """For each version on the chain to ``target``: its item id -> the target's
    item ids it continues as ([] when it was removed on the way). A version
    not on the chain is absent (its items do not continue)."""
    path = chain(contents, target)
    out: dict[str, dict[str, list[str]]] = {}
    for n, version in enumerate(path):
        ids = {i["id"]: [i["id"]] for i in version.get("items", [])}
        for later in path[n + 1 :]:
            earlier = path[path.index(later) - 1]
            step = _step(earlier, later)
            ids = {
                item: sorted({new for mid in current for new in step.get(mid, [])})
                for item, current in ids.items()
            }
        out[version["version"]] = ids
    return out


def sources(lines: Mapping[str, list[str]]) -> dict[str, list[str]]:
    """Inverted lineage of one version: target item id -> its earlier item ids."""
    out: dict[str, list[str]] = {}
    for old, news in lines.items():
        for new in news:
            out.setdefault(new, []).append(old)
    return {k: sorted(v) for k, v in out.items()}


# --- One assessment's ratings, read -----------------------------------------------------


@dataclass(frozen=True)
class Rating:
    item_id: str
    item_label: str
    presence: Level | None
    relevance: Level | None
    evidence: str


def rating_of(assessment: Any, item: Item) -> Rating:
    raw = (assessment.ratings or {}).get(item.id) or {}
    return Rating(
        item_id=item.id,
        item_label=item.label,
        presence=item.level(raw.get("presence", "")),
        relevance=item.relevance_level(raw.get("relevance", "")),
        evidence=raw.get("evidence", ""),
    )


def _same(a: Rating | None, b: Rating | None) -> bool:
    if a is None or b is None:
        return a is b
    key = lambda lv: lv.key if lv else ""  # noqa: E731
    return (key(a.presence), key(a.relevance)) == (key(b.presence), key(b.relevance))


# --- Two assessments side by side -----------------------------------------------------


@dataclass
class ComparedItem:
    item: Item  # in the later assessment's version
    earlier: list[Rating]  # the earlier assessment's ratings of its sources
    later: Rating
    how: str  # "same", "renamed", "merged", "split", "new"
    changed: bool


@dataclass
class ComparedDomain:
    id: str
    label: str
    items: list[ComparedItem]


@dataclass
class Comparison:
    earlier: Any
    later: Any
    earlier_content: InstrumentContent
    later_content: InstrumentContent
    domains: list[ComparedDomain]
    # Items of the earlier version that do not continue in the later one.
    removed: list[Rating] = field(default_factory=list)
    judgement_changed: bool = False
    across_versions: bool = False
    # The two versions are not on one chain: nothing could be matched.
    unrelated: bool = False

    @property
    def changed_count(self) -> int:
        return sum(1 for d in self.domains for i in d.items if i.changed)


def _how(item_id: str, olds: list[str], lines: Mapping[str, list[str]]) -> str:
    if not olds:
        return "new"
    if len(olds) > 1:
        return "merged"
    old = olds[0]
    if len(lines.get(old, [])) > 1:
        return "split"
    return "same" if old == item_id else "renamed"


def compare(
    first: Any, second: Any, versions: Iterable[Mapping[str, Any]], language: str = ""
) -> Comparison:
    """``first`` and ``second`` side by side, the earlier one (by completion,
    else start) on the left, matched through the later one's version.
    ``versions``: the contents of every loaded version of the instrument."""
    earlier, later = sorted([first, second], key=lambda a: (a.assessed_at, a.pk))
    ec = InstrumentContent(earlier.instrument_version.content, language)
    lc = InstrumentContent(later.instrument_version.content, language)
    contents = list(versions)
    lines = lineage(contents, later.instrument_version.content).get(ec.version)
    unrelated = lines is None or ec.identifier != lc.identifier
    lines = lines or {}
    back = sources(lines)
    earlier_items = ec.item_map()
    domains = []
    for domain in lc.domains():
        rows = []
        for item in domain.items:
            olds = back.get(item.id, [])
            before = [rating_of(earlier, earlier_items[o]) for o in olds if o in earlier_items]
            now = rating_of(later, item)
            how = _how(item.id, olds, lines)
            changed = how in {"new", "merged"} or not _same(before[0] if before else None, now)
            if how == "new" and now.presence is None:
                changed = False
            rows.append(ComparedItem(item, before, now, how, changed))
        domains.append(ComparedDomain(domain.id, domain.label, rows))
    removed = [
        rating_of(earlier, earlier_items[old])
        for old, news in lines.items()
        if not news and old in earlier_items
    ]
    return Comparison(
        earlier=earlier,
        later=later,
        earlier_content=ec,
        later_content=lc,
        domains=domains,
        removed=removed,
        judgement_changed=earlier.judgement != later.judgement,
        across_versions=ec.version != lc.version,
        unrelated=unrelated,
    )


# --- A series over time -----------------------------------------------------------------


@dataclass(frozen=True)
class Point:
    """One rating of an item in one assessment: its level and where that level
    sits on the item's scale (0 = the first level); ``position`` is None for
    "unknown", for no rating, and for an item merged from several."""

    level: Level | None
    position: int | None
    steps: int  # how many ordinal levels the scale has
    note: str = ""  # "merged": several earlier items; "absent": not in that version


@dataclass
class ItemSeries:
    item: Item
    points: list[Point]


@dataclass
class DomainSeries:
    id: str
    label: str
    items: list[ItemSeries]


@dataclass
class Trajectory:
    assessments: list[Any]  # oldest first
    content: InstrumentContent  # the frame: the latest version among them
    domains: list[DomainSeries]
    judgements: list[Point]
    across_versions: bool


def _ordinal(levels: Sequence[Level]) -> list[Level]:
    return [lv for lv in levels if lv.key not in UNKNOWN_KEYS]


def _point(item: Item, key: str) -> Point:
    ordinal = _ordinal(item.levels)
    level = item.level(key)
    keys = [lv.key for lv in ordinal]
    position = keys.index(key) if key in keys else None
    return Point(level=level, position=position, steps=len(ordinal))


def trajectory(
    assessments: Sequence[Any], versions: Iterable[Mapping[str, Any]], language: str = ""
) -> Trajectory:
    """Each item's course through ``assessments`` (one instrument, oldest
    first), in the frame of the latest version among them."""
    contents = list(versions)
    frame_assessment = max(
        assessments, key=lambda a: (a.instrument_version.loaded_at, a.instrument_version.pk)
    )
    frame = InstrumentContent(frame_assessment.instrument_version.content, language)
    lines = lineage(contents, frame_assessment.instrument_version.content)
    per_version_sources = {v: sources(ls) for v, ls in lines.items()}
    domains = []
    for domain in frame.domains():
        series = []
        for item in domain.items:
            points = []
            for a in assessments:
                version = a.instrument_version.version
                back = per_version_sources.get(version)
                olds = back.get(item.id, []) if back is not None else []
                ratings = a.ratings or {}
                if len(olds) == 1:
                    own = InstrumentContent(a.instrument_version.content, language).item_map()
                    old_item = own.get(olds[0])
                    key = (ratings.get(olds[0]) or {}).get("presence", "")
                    if old_item is not None:
                        # Read the old rating on the old item's scale, placed on its own steps.
                        points.append(_point(old_item, key))
                        continue
                note = "merged" if len(olds) > 1 else "absent"
                points.append(
                    Point(level=None, position=None, steps=len(_ordinal(item.levels)), note=note)
                )
            series.append(ItemSeries(item, points))
        domains.append(DomainSeries(domain.id, domain.label, series))
    judgements = []
    for a in assessments:
        content = InstrumentContent(a.instrument_version.content, language)
        levels = list(content.judgement_levels())
        level = content.judgement_level(a.judgement)
        keys = [lv.key for lv in levels]
        judgements.append(
            Point(
                level=level,
                position=keys.index(a.judgement) if a.judgement in keys else None,
                steps=len(levels),
            )
        )
    return Trajectory(
        assessments=list(assessments),
        content=frame,
        domains=domains,
        judgements=judgements,
        across_versions=len({a.instrument_version_id for a in assessments}) > 1,
    )
