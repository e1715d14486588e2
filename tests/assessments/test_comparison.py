"""Following items across instrument versions; comparing and charting without adding up."""

from __future__ import annotations

import pytest

from prepare.assessments.assessing import Draft, assessment_complete, assessment_start
from prepare.assessments.comparison import compare, lineage, trajectory
from prepare.assessments.files import to_yaml
from prepare.assessments.models import InstrumentVersion
from prepare.assessments.services import instruments_load
from tests.assessments.support import (
    NEEDS,
    completed_assessment,
    example,
    full_ratings,
    needs_2,
)

pytestmark = pytest.mark.django_db


def test_the_lineage_follows_renames_merges_splits_and_removals() -> None:
    v1, v2 = example(NEEDS), needs_2()
    lines = lineage([v1, v2], v2)
    assert lines["1.0"]["housing-place"] == ["housing-tonight"]
    assert lines["1.0"]["money-income"] == ["money"] == lines["1.0"]["money-debts"]
    assert lines["1.0"]["family-contact"] == ["family-calls", "family-visits"]
    assert lines["1.0"]["documents-status"] == []
    assert lines["1.0"]["work-skills"] == ["work-skills"]
    assert lines["2.0"]["money"] == ["money"]


def test_a_comparison_across_versions_matches_items_and_marks_what_changed(cast) -> None:
    [v1] = [
        r.version for r in instruments_load(files=[("n.yaml", to_yaml(example(NEEDS)).encode())])
    ]
    first = completed_assessment(cast.case_manager, cast.case, v1)
    [v2] = [r.version for r in instruments_load(files=[("n2.yaml", to_yaml(needs_2()).encode())])]
    a = assessment_start(
        actor=cast.case_manager, case_id=cast.case.pk, instrument="example-resettlement-needs"
    )
    ratings = full_ratings(v2)
    ratings["housing-tonight"]["presence"] = "serious"
    second = assessment_complete(
        actor=cast.case_manager,
        assessment_id=a.pk,
        version=a.version,
        draft=Draft(ratings=ratings, judgement="high", rationale="Lost the flat."),
    )
    versions = InstrumentVersion.objects.values_list("content", flat=True)
    result = compare(second, first, versions, "en")
    assert (result.earlier, result.later) == (first, second)
    assert result.across_versions and not result.unrelated
    rows = {row.item.id: row for d in result.domains for row in d.items}
    assert rows["housing-tonight"].how == "renamed" and rows["housing-tonight"].changed
    assert [r.item_id for r in rows["housing-tonight"].earlier] == ["housing-place"]
    assert rows["money"].how == "merged" and len(rows["money"].earlier) == 2
    assert rows["family-visits"].how == "split"
    assert not rows["work-skills"].changed
    assert [r.item_id for r in result.removed] == ["documents-status"]
    assert result.judgement_changed

    series = trajectory([first, second], versions, "en")
    points = {s.item.id: s.points for d in series.domains for s in d.items}
    assert [p.level.key if p.level else None for p in points["housing-tonight"]] == [
        full_ratings(v1)["housing-place"]["presence"],
        "serious",
    ]
    assert points["money"][0].note == "merged" and points["money"][0].position is None
    assert [p.level.key for p in series.judgements if p.level] == ["low", "high"]
