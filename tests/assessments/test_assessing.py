"""Assessing a case: starting, saving drafts, completing, countersigning and
correcting, through the policy and audited."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import ValidationError

from prepare.access.errors import NotVisible, WriteForbidden
from prepare.assessments.assessing import (
    Draft,
    assessment_complete,
    assessment_correct,
    assessment_countersign,
    assessment_discard,
    assessment_save,
    assessment_start,
)
from prepare.assessments.content import InstrumentContent
from prepare.assessments.files import to_yaml
from prepare.assessments.models import Assessment, AssessmentStatus
from prepare.assessments.services import instruments_load
from prepare.audit.models import Event
from prepare.locking import StaleVersion
from tests.assessments.support import (
    NEEDS,
    completed_assessment,
    example,
    full_ratings,
    load_examples,
    train,
)
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def versions(db):
    return load_examples()


def test_a_trained_police_officer_starts_a_risk_assessment_pinned_to_the_latest_version(
    cast, versions
) -> None:
    train(cast.police_on_team)
    a = assessment_start(
        actor=cast.police_on_team, case_id=cast.case.pk, instrument="example-extremism-risk"
    )
    assert a.category == "risk"
    assert a.instrument_version == versions["risk"]
    assert a.organisation == cast.orgs["police"]
    assert a.status == AssessmentStatus.DRAFT
    event = Event.objects.get(object_type="assessments.assessment", action="create")
    assert event.detail == {"instrument": "example-extremism-risk", "instrument_version": "1.0"}
    assert event.category == "risk"


def test_an_untrained_practitioner_cannot_use_a_training_restricted_instrument(
    cast, versions
) -> None:
    with pytest.raises(WriteForbidden, match="risk-assessment-basics"):
        assessment_start(
            actor=cast.police_on_team, case_id=cast.case.pk, instrument="example-extremism-risk"
        )
    assert not Assessment.objects.exists()


def test_an_expired_training_no_longer_qualifies(cast, versions) -> None:
    record = train(cast.police_on_team)
    record.expires_on = datetime.date(2026, 6, 1)
    record.save()
    with pytest.raises(WriteForbidden):
        assessment_start(
            actor=cast.police_on_team, case_id=cast.case.pk, instrument="example-extremism-risk"
        )


def test_the_category_must_be_writable_and_the_case_visible(cast, versions) -> None:
    # The NGO reads social but may not write it; the outsider does not see the case.
    with pytest.raises(WriteForbidden):
        assessment_start(
            actor=cast.ngo_mentor, case_id=cast.case.pk, instrument="example-resettlement-needs"
        )
    with pytest.raises(NotVisible):
        assessment_start(
            actor=cast.outsider, case_id=cast.case.pk, instrument="example-resettlement-needs"
        )


def test_a_draft_is_saved_with_its_version_and_a_stale_save_is_refused(cast, versions) -> None:
    a = assessment_start(
        actor=cast.case_manager, case_id=cast.case.pk, instrument="example-resettlement-needs"
    )
    first = {"housing-place": {"presence": "serious", "evidence": "No address yet."}}
    a = assessment_save(
        actor=cast.case_manager, assessment_id=a.pk, version=1, draft=Draft(ratings=first)
    )
    assert a.version == 2
    # A second tab still at version 1: refused, the first tab's rating kept.
    second = {"housing-place": {"presence": "none", "evidence": ""}}
    with pytest.raises(StaleVersion):
        assessment_save(
            actor=cast.case_manager, assessment_id=a.pk, version=1, draft=Draft(ratings=second)
        )
    a.refresh_from_db()
    assert a.ratings["housing-place"]["presence"] == "serious"
    update = Event.objects.filter(object_type="assessments.assessment", action="update").get()
    assert update.detail["fields"] == ["ratings"]
    assert update.detail["items"] == ["housing-place"]
    assert "No address" not in str(update.detail)


def test_ratings_outside_the_pinned_version_are_refused(cast, versions) -> None:
    a = assessment_start(
        actor=cast.case_manager, case_id=cast.case.pk, instrument="example-resettlement-needs"
    )
    for bad in (
        {"X9": {"presence": "serious"}},
        {"housing-place": {"presence": "hi-lo"}},
        {"housing-place": {"presence": "serious", "colour": "red"}},
        {"housing-place": "serious"},
    ):
        with pytest.raises(ValidationError):
            assessment_save(
                actor=cast.case_manager, assessment_id=a.pk, version=1, draft=Draft(ratings=bad)
            )
    with pytest.raises(ValidationError):
        assessment_save(
            actor=cast.case_manager, assessment_id=a.pk, version=1, draft=Draft(judgement="meh")
        )


def test_completion_needs_every_rating_the_evidence_the_judgement_and_its_rationale(
    cast, versions
) -> None:
    a = assessment_start(
        actor=cast.case_manager, case_id=cast.case.pk, instrument="example-resettlement-needs"
    )
    with pytest.raises(ValidationError) as refused:
        assessment_complete(actor=cast.case_manager, assessment_id=a.pk, version=1)
    problems = refused.value.message_dict
    assert "judgement" in problems and "rationale" in problems
    assert "ratings.housing-place" in problems
    ratings = full_ratings(versions["needs"])
    with pytest.raises(ValidationError) as refused:
        assessment_complete(
            actor=cast.case_manager,
            assessment_id=a.pk,
            version=1,
            draft=Draft(ratings=ratings, judgement="low"),
        )
    assert list(refused.value.message_dict) == ["rationale"]
    a.refresh_from_db()
    assert a.is_draft and a.version == 1  # nothing of a refused completion is kept
    done = assessment_complete(
        actor=cast.case_manager,
        assessment_id=a.pk,
        version=1,
        draft=Draft(ratings=ratings, judgement="low", rationale="Stable housing found."),
    )
    assert done.status == AssessmentStatus.COMPLETED
    content = InstrumentContent(versions["needs"].content)
    assert done.review_due_on == content.review_due(done.completed_at.date())


def test_a_completed_assessment_is_locked_and_corrected_by_a_new_one(cast, versions) -> None:
    done = completed_assessment(cast.case_manager, cast.case, versions["needs"])
    with pytest.raises(WriteForbidden, match="locked"):
        assessment_save(
            actor=cast.case_manager,
            assessment_id=done.pk,
            version=done.version,
            draft=Draft(rationale="Changed"),
        )
    correction = assessment_correct(actor=cast.case_manager, assessment_id=done.pk)
    assert correction.corrects == done
    assert correction.ratings == done.ratings and correction.is_draft
    assert assessment_correct(actor=cast.case_manager, assessment_id=done.pk) == correction
    done.refresh_from_db()
    assert done.status == AssessmentStatus.COMPLETED


def test_countersigning_takes_a_second_assessor(cast, versions) -> None:
    done = completed_assessment(cast.case_manager, cast.case, versions["needs"])
    with pytest.raises(WriteForbidden):
        assessment_countersign(actor=cast.case_manager, assessment_id=done.pk, version=done.version)
    with pytest.raises(WriteForbidden):  # reads social, may not write it
        assessment_countersign(actor=cast.ngo_mentor, assessment_id=done.pk, version=done.version)
    colleague = UserFactory(organisation=cast.orgs["probation"], role="case_manager")
    signed = assessment_countersign(actor=colleague, assessment_id=done.pk, version=done.version)
    assert signed.status == AssessmentStatus.COUNTERSIGNED
    assert signed.countersigned_by == colleague


def test_another_organisation_cannot_edit_or_discard_a_draft(cast, versions) -> None:
    a = assessment_start(
        actor=cast.coordinator, case_id=cast.case.pk, instrument="example-resettlement-needs"
    )
    with pytest.raises(WriteForbidden):
        assessment_save(
            actor=cast.case_manager, assessment_id=a.pk, version=1, draft=Draft(rationale="x")
        )
    with pytest.raises(WriteForbidden):
        assessment_discard(actor=cast.case_manager, assessment_id=a.pk, version=1)
    assessment_discard(actor=cast.coordinator, assessment_id=a.pk, version=1)
    assert not Assessment.objects.exists()


def test_a_new_instrument_version_leaves_old_assessments_with_their_own_items(
    cast, versions
) -> None:
    old = completed_assessment(cast.case_manager, cast.case, versions["needs"])
    content = example(NEEDS)
    content["version"] = "2.0"
    content["items"][0]["id"] = "housing-now"
    for text in content["items"][0]["label"]:
        content["items"][0]["label"][text] = "Somewhere to live tonight"
    content["maps_from"] = {
        "version": "1.0",
        "items": [{"change": "renamed", "old": ["housing-place"], "new": ["housing-now"]}],
    }
    [loaded] = instruments_load(files=[("needs2.yaml", to_yaml(content).encode())])
    new = completed_assessment(cast.case_manager, cast.case, loaded.version)
    new.refresh_from_db()
    assert new.instrument_version.version == "2.0"
    old.refresh_from_db()
    old_content = InstrumentContent(old.instrument_version.content, "en")
    assert old.instrument_version.version == "1.0"
    assert "housing-place" in old.ratings
    assert old_content.item_map()["housing-place"].label != "Somewhere to live tonight"
