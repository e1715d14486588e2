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
