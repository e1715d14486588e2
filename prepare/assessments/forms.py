"""Forms of the assessment pages: they parse input; the services decide and check.

The draft form is built from the assessment's pinned instrument version: one
group of fields per item (its rating on the item's own scale, its relevance
where the item asks for it, the evidence), a few scenario rows, one text per
section of the management plan, the final judgement and its rationale. The
version a save is based on is not a field of the form: the page carries it
apart, so that a form sent back with its entries can carry the version that
was saved in the meantime.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.forms import BoundField
from django.utils.translation import gettext_lazy as _

from prepare.assessments.assessing import MAX_SCENARIOS, MAX_TEXT, Draft
from prepare.assessments.content import Domain, InstrumentContent, Item
from prepare.assessments.models import Assessment
from prepare.forms import required_when

# Empty scenario rows offered below the written ones: a scenario is added
# without JavaScript by writing in one and saving (the page then offers more).
EMPTY_SCENARIO_ROWS = 2


def _text_field(label: Any, *, rows: int = 3) -> forms.CharField:
    return forms.CharField(
        label=label,
        required=False,
        max_length=MAX_TEXT,
        widget=forms.Textarea(attrs={"rows": rows}),
    )


class StartForm(forms.Form):
    """The instrument to start with: the service decides whether the actor may."""

    instrument = forms.CharField(
        label=_("Instrument"),
        max_length=64,
        error_messages={"required": _("Choose the instrument to assess with.")},
        widget=forms.RadioSelect,
    )

    def offer(self, choices: list[tuple[str, str]]) -> StartForm:
        """The instruments the page offers (the radios the error summary links to)."""
        widget = self.fields["instrument"].widget
        assert isinstance(widget, forms.RadioSelect)
        widget.choices = choices
        return self


class ConfirmForm(forms.Form):
    """A consequential action: the version it is based on and a confirmation."""

    version = forms.CharField(required=False, widget=forms.HiddenInput)
    confirm = forms.BooleanField(
        label=_("I confirm"),
        error_messages={"required": _("Tick the box to confirm.")},
    )


def _item_name(item_id: str, part: str) -> str:
    return f"item-{item_id}-{part}"


def _plan_name(section_id: str) -> str:
    return f"plan-{section_id}" if section_id else "plan"


def _scenario_name(n: int, part: str) -> str:
    return f"scenario-{n}-{part}"


@dataclass(frozen=True)
class ItemFields:
    item: Item
    presence: BoundField
    relevance: BoundField | None
    evidence: BoundField

    @property
    def has_errors(self) -> bool:
        return bool(
            self.presence.errors
            or self.evidence.errors
            or (self.relevance is not None and self.relevance.errors)
        )

    @property
    def rated(self) -> bool:
        return bool(self.presence.value())

    @property
    def protective(self) -> bool:
        return self.item.kind == "protective"


@dataclass(frozen=True)
class DomainFields:
    domain: Domain
    items: list[ItemFields]

    @property
    def rated(self) -> int:
        return sum(1 for row in self.items if row.rated)


@dataclass(frozen=True)
class ScenarioFields:
    number: int  # from 1, as the page shows it
    description: BoundField
    likelihood: BoundField
    prevention: BoundField


class DraftForm(forms.Form):
    """Every entry of one assessment, as the draft page shows and sends them."""

    def __init__(
        self,
        data: Any = None,
        *,
        content: InstrumentContent,
        assessment: Assessment | None = None,
    ) -> None:
        self.content = content
        initial = _initial(assessment) if assessment is not None and data is None else None
        super().__init__(data, initial=initial)
        self._items = content.items()
        for item in self._items:
            presence = forms.ChoiceField(
                label=item.label,
                required=False,
                choices=[(lv.key, lv.label) for lv in item.levels],
                widget=forms.RadioSelect,
                help_text=item.guidance,
            )
            self.fields[_item_name(item.id, "presence")] = presence
            if item.relevance_levels:
                self.fields[_item_name(item.id, "relevance")] = forms.ChoiceField(
                    label=_("Relevance: %(item)s") % {"item": item.label},
                    required=False,
                    choices=[(lv.key, lv.label) for lv in item.relevance_levels],
                    widget=forms.RadioSelect,
                )
            evidence = _text_field(_("Evidence: %(item)s") % {"item": item.label})
            if item.evidence_required:
                required_when(evidence, _("to complete, unless not known"))
            self.fields[_item_name(item.id, "evidence")] = evidence
        likelihoods = [
            ("", _("Not said")),
            *((lv.key, lv.label) for lv in content.likelihood_levels()),
        ]
        self.scenario_rows = self._scenario_rows(data, assessment) if content.has_scenarios else 0
        for n in range(self.scenario_rows):
            self.fields[_scenario_name(n, "description")] = _text_field(
                _("Scenario %(number)d: what could happen") % {"number": n + 1}
            )
            self.fields[_scenario_name(n, "likelihood")] = forms.ChoiceField(
                label=_("Scenario %(number)d: how likely") % {"number": n + 1},
                required=False,
                choices=likelihoods,
            )
            self.fields[_scenario_name(n, "prevention")] = _text_field(
                _("Scenario %(number)d: what would prevent it") % {"number": n + 1}
            )
        for section in content.plan_sections():
            plan = _text_field(section.label or _("Management plan"), rows=4)
            plan.help_text = section.guidance
            self.fields[_plan_name(section.id)] = plan
        judgement = forms.ChoiceField(
            label=content.judgement_label or _("Final judgement"),
            required=False,
            choices=[(lv.key, lv.label) for lv in content.judgement_levels()],
            widget=forms.RadioSelect,
            help_text=content.judgement_guidance,
        )
        self.fields["judgement"] = required_when(judgement, _("to complete the assessment"))
        rationale = _text_field(_("The reasons for your judgement"), rows=6)
        self.fields["rationale"] = required_when(rationale, _("to complete the assessment"))

    @staticmethod
    def _scenario_rows(data: Any, assessment: Assessment | None) -> int:
        """The rows a page shows: those written (or sent) and a few empty ones."""
        if data is not None:
            sent = [
                n
                for n in range(MAX_SCENARIOS)
                if any(_scenario_name(n, p) in data for p in ("description", "prevention"))
            ]
            return max(sent) + 1 if sent else 0
        written = len(assessment.scenarios) if assessment is not None else 0
        return min(written + EMPTY_SCENARIO_ROWS, MAX_SCENARIOS)

    # --- What the page shows ------------------------------------------------------

    def domains(self) -> list[DomainFields]:
        out = []
        for domain in self.content.domains():
            rows = []
            for item in domain.items:
                relevance = _item_name(item.id, "relevance")
                rows.append(
                    ItemFields(
                        item=item,
                        presence=self[_item_name(item.id, "presence")],
                        relevance=self[relevance] if relevance in self.fields else None,
                        evidence=self[_item_name(item.id, "evidence")],
                    )
                )
            out.append(DomainFields(domain=domain, items=rows))
        return out

    def scenarios(self) -> list[ScenarioFields]:
        return [
            ScenarioFields(
                number=n + 1,
                description=self[_scenario_name(n, "description")],
                likelihood=self[_scenario_name(n, "likelihood")],
                prevention=self[_scenario_name(n, "prevention")],
            )
            for n in range(self.scenario_rows)
        ]

    def plan(self) -> list[BoundField]:
        return [self[_plan_name(s.id)] for s in self.content.plan_sections()]

    @property
    def rated(self) -> int:
        return sum(1 for item in self._items if self[_item_name(item.id, "presence")].value())

    @property
    def item_count(self) -> int:
        return len(self._items)

    # --- What a save carries ------------------------------------------------------

    def draft(self) -> Draft:
        """The entries, whole (an item or row left empty is dropped): call after
        ``is_valid``."""
        data = self.cleaned_data
        ratings: dict[str, Any] = {}
        for item in self._items:
            rating = {
                "presence": data.get(_item_name(item.id, "presence")) or "",
                "relevance": data.get(_item_name(item.id, "relevance")) or "",
                "evidence": (data.get(_item_name(item.id, "evidence")) or "").strip(),
            }
            if any(rating.values()):
                ratings[item.id] = rating
        scenarios: list[dict[str, str]] = []
        self._scenario_index: dict[int, int] = {}
        for n in range(self.scenario_rows):
            row = {
                part: (data.get(_scenario_name(n, part)) or "").strip()
                for part in ("description", "likelihood", "prevention")
            }
            if any(row.values()):
                self._scenario_index[len(scenarios)] = n
                scenarios.append(row)
        plan = {}
        for section in self.content.plan_sections():
            text = (data.get(_plan_name(section.id)) or "").strip()
            if text:
                plan[section.id] = text
        return Draft(
            ratings=ratings,
            scenarios=scenarios if self.content.has_scenarios else None,
            management_plan=plan if self.content.has_plan else None,
            judgement=data.get("judgement") or "",
            rationale=(data.get("rationale") or "").strip(),
        )

    def add_service_errors(self, exc: ValidationError) -> None:
        """A service's refusal next to the fields it names ("ratings.<item>",
        "scenarios[n]", "management_plan.<section>", "judgement", "rationale");
        anything else at the top of the form."""
        if not hasattr(exc, "error_dict"):
            self.add_error(None, exc.messages)
            return
        index = getattr(self, "_scenario_index", {})
        for key, messages in exc.message_dict.items():
            self.add_error(self._field_of(key, index), messages)

    def _field_of(self, key: str, index: dict[int, int]) -> str | None:
        if key.startswith("ratings."):
            item_id = key.removeprefix("ratings.")
            presence = _item_name(item_id, "presence")
            if presence not in self.fields:
                return None
            # Not rated: the rating is what is missing; rated: its evidence.
            return presence if not self[presence].value() else _item_name(item_id, "evidence")
        if key.startswith("scenarios[") and key.endswith("]"):
            raw = key.removeprefix("scenarios[").removesuffix("]")
            n = index.get(int(raw)) if raw.isdecimal() else None
            return _scenario_name(n, "description") if n is not None else None
        if key.startswith("management_plan."):
            name = _plan_name(key.removeprefix("management_plan."))
            return name if name in self.fields else None
        if key in ("judgement", "rationale"):
            return key
        return None


def _initial(a: Assessment) -> dict[str, Any]:
    """The saved entries as the form's initial values."""
    initial: dict[str, Any] = {}
    for item_id, rating in a.ratings.items():
        for part in ("presence", "relevance", "evidence"):
            initial[_item_name(item_id, part)] = rating.get(part, "")
    for n, scenario in enumerate(a.scenarios):
        for part in ("description", "likelihood", "prevention"):
            initial[_scenario_name(n, part)] = scenario.get(part, "")
    for section_id, text in a.management_plan.items():
        initial[_plan_name(section_id)] = text
    initial["judgement"] = a.judgement
    initial["rationale"] = a.rationale
    return initial
