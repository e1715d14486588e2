"""Shared material for the instrument tests: the examples, read once."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import prepare.assessments
from prepare.assessments.files import check_file

EXAMPLES = Path(prepare.assessments.__file__).parent / "examples"
RISK = EXAMPLES / "extremism-risk-example.yaml"
NEEDS = EXAMPLES / "resettlement-needs-example.yaml"
# The needs example's second version: it maps from 1.0 (renamed, merged, split).
NEEDS_1_1 = EXAMPLES / "resettlement-needs-example-1.1.yaml"
LANGUAGES = ["en", "fr", "nl", "es", "ca", "de", "sv"]

_CACHE: dict[Path, dict[str, Any]] = {}


def earlier_example(identifier: str, version: str) -> dict[str, Any] | None:
    """An example that a later one maps from, read from the examples directory
    (as if it were loaded)."""
    for path in (RISK, NEEDS):
        content = example(path)
        if (content["identifier"], content["version"]) == (identifier, version):
            return content
    return None


def example(path: Path = RISK) -> dict[str, Any]:
    """The canonical content of an example (a fresh copy to change)."""
    if path not in _CACHE:
        checked = check_file(str(path), previous=earlier_example)
        assert checked.errors == [], checked.errors
        assert checked.content is not None
        _CACHE[path] = checked.content
    return copy.deepcopy(_CACHE[path])


def load_examples() -> dict[str, Any]:
    """Load both examples; returns {"risk": InstrumentVersion, "needs": InstrumentVersion}."""
    from prepare.assessments.files import to_yaml
    from prepare.assessments.services import instruments_load

    results = instruments_load(
        files=[
            ("risk.yaml", to_yaml(example(RISK)).encode()),
            ("needs.yaml", to_yaml(example(NEEDS)).encode()),
        ]
    )
    return {"risk": results[0].version, "needs": results[1].version}


def full_ratings(version: Any, evidence: str = "Seen in the interview of 3 March.") -> dict:
    """A rating of every item of ``version`` (first level, evidence, first relevance)."""
    from prepare.assessments.content import InstrumentContent

    out = {}
    for item in InstrumentContent(version.content).items():
        rating = {"presence": item.levels[0].key, "evidence": evidence}
        if item.relevance_levels:
            rating["relevance"] = item.relevance_levels[0].key
        out[item.id] = rating
    return out


def train(user: Any, training: str = "risk-assessment-basics") -> Any:
    import datetime

    from prepare.accounts.models import TrainingRecord

    return TrainingRecord.objects.create(
        user=user, training=training, completed_on=datetime.date(2026, 1, 15)
    )


def completed_assessment(
    user: Any, case: Any, version: Any, *, judgement: str = "low", evidence: str = ""
) -> Any:
    """A completed assessment by ``user`` (trained if the instrument asks for it)."""
    from prepare.assessments.assessing import Draft, assessment_complete, assessment_start
    from prepare.assessments.content import InstrumentContent

    training = InstrumentContent(version.content).training
    if training and not user.training_records.filter(training=training).exists():
        train(user, training)
    a = assessment_start(actor=user, case_id=case.pk, instrument=version.instrument.identifier)
    ratings = full_ratings(version, evidence or "Seen in the interview of 3 March.")
    return assessment_complete(
        actor=user,
        assessment_id=a.pk,
        version=a.version,
        draft=Draft(ratings=ratings, judgement=judgement, rationale="Reasons given at length."),
    )


def needs_2() -> dict:
    """1.0 -> 2.0: housing-place renamed, the two money items merged, family-contact split,
    documents-status removed."""
    content = example(NEEDS)
    content["version"] = "2.0"
    items = {i["id"]: i for i in content["items"]}
    items["housing-place"]["id"] = "housing-tonight"
    money = items["money-income"]
    money["id"] = "money"
    del content["items"][content["items"].index(items["money-debts"])]
    family = items["family-contact"]
    twin = {**family, "id": "family-visits"}
    family["id"] = "family-calls"
    content["items"].insert(content["items"].index(family) + 1, twin)
    del content["items"][content["items"].index(items["documents-status"])]
    content["maps_from"] = {
        "version": "1.0",
        "items": [
            {"change": "renamed", "old": ["housing-place"], "new": ["housing-tonight"]},
            {"change": "merged", "old": ["money-income", "money-debts"], "new": ["money"]},
            {
                "change": "split",
                "old": ["family-contact"],
                "new": ["family-calls", "family-visits"],
            },
            {"change": "removed", "old": ["documents-status"]},
        ],
    }
    return content


# --- The route scene (tests/routes_table.py) ---------------------------------------------

NO_SUCH_ID = 987_654


def plant_assessments(cast: Any) -> None:
    """K's two completed assessments, the instruments loaded first: the police's
    risk assessment, then probation's needs assessment (social), each with its
    category's sentinel as the evidence of every item."""
    from tests.cast import sentinel

    versions = load_examples()
    completed_assessment(
        cast.police_on_team, cast.case, versions["risk"], evidence=sentinel("risk")
    )
    completed_assessment(
        cast.case_manager, cast.case, versions["needs"], evidence=sentinel("social")
    )


def planted_assessment_ids(case: Any) -> list[int]:
    """K's assessments, oldest first."""
    from prepare.assessments.models import Assessment

    return list(
        Assessment.objects.filter(case_id=case.pk).order_by("pk").values_list("pk", flat=True)
    )


def assessment_ids(case: Any) -> dict[str, int]:
    """URL values: K's latest assessment (a draft a test planted, else probation's
    needs assessment) compared with the police's risk assessment, and
    the first instrument version; ids that exist nowhere when none is planted."""
    from prepare.assessments.models import Assessment, InstrumentVersion

    ids = planted_assessment_ids(case)
    police = (
        Assessment.objects.filter(case_id=case.pk, created_by__username="police_on_team")
        .order_by("pk")
        .values_list("pk", flat=True)
        .first()
    )
    version = InstrumentVersion.objects.order_by("pk").values_list("pk", flat=True).first()
    return {
        "assessment_id": ids[-1] if ids else NO_SUCH_ID,
        "other_id": police or NO_SUCH_ID,
        "instrument_version_id": version or NO_SUCH_ID,
    }


def assessments_state() -> list[tuple[Any, ...]]:
    """What a write of an assessment could change."""
    from prepare.assessments.models import Assessment

    return sorted(
        Assessment.objects.values_list(
            "pk",
            "case_id",
            "category",
            "status",
            "version",
            "judgement",
            "rationale",
            "updated_by_id",
            "countersigned_by_id",
            "corrects_id",
        )
    )
