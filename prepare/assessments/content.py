"""Reading a stored instrument version: its texts in the reader's language, its
items, scales and levels.

Everything an assessment shows comes from the version it is pinned to, never
from today's version of the instrument (decision 0027).
"""

from __future__ import annotations

import calendar
import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.utils import translation

from prepare.assessments.scales import BUILTIN_SCALES, DEFAULT_LIKELIHOOD_SCALE, RELEVANCE_SCALE

# Rating keys that say "not known": evidence is not asked for them.
UNKNOWN_KEYS = frozenset({"unknown"})


def text_in(texts: Mapping[str, str] | None, languages: list[str], language: str = "") -> str:
    """The text in ``language`` (the active one by default), else in the
    instrument's first language, else any."""
    if not texts:
        return ""
    wanted = language or translation.get_language() or ""
    for code in (wanted, wanted.split("-")[0], *languages):
        if code and texts.get(code):
            return texts[code]
    return next(iter(texts.values()), "")


def add_months(day: datetime.date, months: int) -> datetime.date:
    """The same day ``months`` later, or the month's last day when it is shorter."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return datetime.date(year, month + 1, min(day.day, last))


@dataclass(frozen=True)
class Level:
    key: str
    label: str
    guidance: str = ""


@dataclass(frozen=True)
class Item:
    id: str
    domain: str
    kind: str  # risk or protective
    label: str
    guidance: str
    scale: str
    levels: tuple[Level, ...]
    relevance_levels: tuple[Level, ...]  # empty: relevance is not rated
    evidence_required: bool

    def level(self, key: str) -> Level | None:
        return next((lv for lv in self.levels if lv.key == key), None)

    def relevance_level(self, key: str) -> Level | None:
        return next((lv for lv in self.relevance_levels if lv.key == key), None)


@dataclass(frozen=True)
class Domain:
    id: str
    label: str
    description: str
    items: tuple[Item, ...]


@dataclass(frozen=True)
class PlanSection:
    id: str  # "" for a plan without sections
    label: str
    guidance: str


class InstrumentContent:
    """One stored version's content, read in one language."""

    def __init__(self, content: Mapping[str, Any], language: str = "") -> None:
        self.raw = content
        self.languages: list[str] = list(content.get("languages") or [])
        self.language = language

    def text(self, texts: Mapping[str, str] | None) -> str:
        return text_in(texts, self.languages, self.language)

    @property
    def identifier(self) -> str:
        return str(self.raw["identifier"])

    @property
    def version(self) -> str:
        return str(self.raw["version"])

    @property
    def category(self) -> str:
        return str(self.raw["category"])

    @property
    def title(self) -> str:
        return self.text(self.raw.get("title"))

    @property
    def description(self) -> str:
        return self.text(self.raw.get("description"))

    @property
    def training(self) -> str | None:
        return self.raw.get("training") or None

    def scale_levels(self, key: str) -> tuple[Level, ...]:
        scale = (self.raw.get("scales") or {}).get(key) or BUILTIN_SCALES.get(key) or {}
        return tuple(
            Level(lv["key"], self.text(lv.get("label")), self.text(lv.get("guidance")))
            for lv in scale.get("levels", [])
        )

    def items(self) -> list[Item]:
        relevance = self.scale_levels(RELEVANCE_SCALE)
        return [
            Item(
                id=raw["id"],
                domain=raw["domain"],
                kind=raw.get("kind", "risk"),
                label=self.text(raw.get("label")),
                guidance=self.text(raw.get("guidance")),
                scale=raw["scale"],
                levels=self.scale_levels(raw["scale"]),
                relevance_levels=relevance if raw.get("relevance") else (),
                evidence_required=bool(raw.get("evidence_required")),
            )
            for raw in self.raw.get("items", [])
        ]

    def item_map(self) -> dict[str, Item]:
        return {item.id: item for item in self.items()}

    def domains(self) -> list[Domain]:
        items = self.items()
        return [
            Domain(
                id=raw["id"],
                label=self.text(raw.get("label")),
                description=self.text(raw.get("description")),
                items=tuple(i for i in items if i.domain == raw["id"]),
            )
            for raw in self.raw.get("domains", [])
        ]

    @property
    def judgement_label(self) -> str:
        return self.text((self.raw.get("judgement") or {}).get("label"))

    @property
    def judgement_guidance(self) -> str:
        return self.text((self.raw.get("judgement") or {}).get("guidance"))

    def judgement_levels(self) -> tuple[Level, ...]:
        return tuple(
            Level(lv["key"], self.text(lv.get("label")), self.text(lv.get("guidance")))
            for lv in (self.raw.get("judgement") or {}).get("levels", [])
        )

    def judgement_level(self, key: str) -> Level | None:
        return next((lv for lv in self.judgement_levels() if lv.key == key), None)

    @property
    def has_scenarios(self) -> bool:
        return bool(self.raw.get("scenarios"))

    @property
    def scenarios_label(self) -> str:
        return self.text((self.raw.get("scenarios") or {}).get("label"))

    @property
    def scenarios_guidance(self) -> str:
        return self.text((self.raw.get("scenarios") or {}).get("guidance"))

    def likelihood_levels(self) -> tuple[Level, ...]:
        scenarios = self.raw.get("scenarios") or {}
        return self.scale_levels(scenarios.get("likelihood_scale", DEFAULT_LIKELIHOOD_SCALE))

    @property
    def has_plan(self) -> bool:
        return bool(self.raw.get("management_plan"))

    @property
    def plan_label(self) -> str:
        return self.text((self.raw.get("management_plan") or {}).get("label"))

    @property
    def plan_guidance(self) -> str:
        return self.text((self.raw.get("management_plan") or {}).get("guidance"))

    def plan_sections(self) -> list[PlanSection]:
        plan = self.raw.get("management_plan") or {}
        if not plan:
            return []
        sections = plan.get("sections") or []
        if not sections:
            return [PlanSection("", self.plan_label, self.plan_guidance)]
        return [
            PlanSection(s["id"], self.text(s.get("label")), self.text(s.get("guidance")))
            for s in sections
        ]

    def review_due(self, day: datetime.date) -> datetime.date:
        """The next review after an assessment completed on ``day``."""
        interval = self.raw.get("review_interval") or {}
        if "months" in interval:
            return add_months(day, int(interval["months"]))
        return day + datetime.timedelta(days=int(interval.get("days", 0)))
