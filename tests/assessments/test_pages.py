"""The assessment pages: the case's history, starting, the draft page with its
autosave, reading, countersigning, correcting and discarding; through the
policy, audited, 4xx for bad input, a fixed number of queries."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.urls import reverse

from prepare.assessments.assessing import Draft, assessment_save, assessment_start
from prepare.assessments.content import InstrumentContent
from prepare.assessments.models import Assessment, AssessmentStatus
from prepare.audit.models import Event
from tests.assessments.support import completed_assessment, full_ratings, load_examples, train
from tests.cast import Cast

pytestmark = pytest.mark.django_db

NEEDS = "example-resettlement-needs"
RISK = "example-extremism-risk"
EVIDENCE = "PAGE-EVIDENCE-No address after release"


@pytest.fixture
def versions(db: Any) -> dict[str, Any]:
    return load_examples()


def _list(cast: Cast) -> str:
    return reverse("assessments:list", args=[cast.case.pk])


def _start(cast: Cast) -> str:
    return reverse("assessments:start", args=[cast.case.pk])


def _edit(a: Assessment) -> str:
    return reverse("assessments:edit", args=[a.case_id, a.pk])


def _read(a: Assessment) -> str:
    return reverse("assessments:assessment", args=[a.case_id, a.pk])


def _autosave(a: Assessment) -> str:
    return reverse("assessments:autosave", args=[a.case_id, a.pk])


def _draft(user: Any, cast: Cast, instrument: str = NEEDS) -> Assessment:
    return assessment_start(actor=user, case_id=cast.case.pk, instrument=instrument)


def form_data(
    a: Assessment,
    *,
    version: int | None = None,
    ratings: dict[str, dict[str, str]] | None = None,
    judgement: str = "",
    rationale: str = "",
    op: str = "save",
    scenarios: list[dict[str, str]] | None = None,
    plan: dict[str, str] | None = None,
) -> dict[str, str]:
    """What the draft page sends for ``a``."""
    data: dict[str, str] = {"op": op, "judgement": judgement, "rationale": rationale}
    if version is not None:
        data["version"] = str(version)
    content = InstrumentContent(a.instrument_version.content)
    for item in content.items():
        rating = (ratings or {}).get(item.id, {})
        data[f"item-{item.id}-presence"] = rating.get("presence", "")
        if item.relevance_levels:
            data[f"item-{item.id}-relevance"] = rating.get("relevance", "")
        data[f"item-{item.id}-evidence"] = rating.get("evidence", "")
    for n, scenario in enumerate(scenarios or []):
        for part in ("description", "likelihood", "prevention"):
            data[f"scenario-{n}-{part}"] = scenario.get(part, "")
    for section in content.plan_sections():
        name = f"plan-{section.id}" if section.id else "plan"
        data[name] = (plan or {}).get(section.id, "")
    return data


def _first_item(a: Assessment) -> Any:
    return InstrumentContent(a.instrument_version.content).items()[0]


# --- The history ----------------------------------------------------------------------------


def test_the_history_lists_what_each_reader_may_read_newest_first(
    cast: Cast, versions: dict[str, Any], as_user: Any
) -> None:
    needs = completed_assessment(cast.case_manager, cast.case, versions["needs"], judgement="high")
    risk = completed_assessment(cast.police_on_team, cast.case, versions["risk"])

    body = as_user(cast.case_manager).get(_list(cast)).content.decode()
    risk_title = InstrumentContent(versions["risk"].content).title
    needs_title = InstrumentContent(versions["needs"].content).title
    # Newest first, each with its pinned version, assessor, organisation and judgement.
    assert body.index(risk_title) < body.index(needs_title)
    assert "version 1.0" in body
    assert "Intensive support needed" in body  # the needs judgement "high", in English
    assert "Police Testdam" in body and "Probation Testdam" in body
    assert _read(needs) in body and _read(risk) in body

    # The NGO reads social only; the police read risk but not social.
    ngo = as_user(cast.ngo_mentor).get(_list(cast)).content.decode()
    assert needs_title in ngo and risk_title not in ngo
    police = as_user(cast.police_on_team).get(_list(cast)).content.decode()
    assert risk_title in police and needs_title not in police

    event = Event.objects.filter(action="list", actor_id=cast.ngo_mentor.pk).latest("seq")
    assert event.case_id == cast.case.pk
    assert event.detail["assessments"] == [needs.pk]
    assert event.detail["categories"] == ["social"]


def test_the_judgement_is_shown_in_the_readers_language_from_the_pinned_version(
    cast: Cast, versions: dict[str, Any], as_user: Any
) -> None:
    completed_assessment(cast.case_manager, cast.case, versions["needs"], judgement="high")
    cast.ngo_mentor.language = "fr"
    cast.ngo_mentor.save(update_fields=["language"])

    body = as_user(cast.ngo_mentor).get(_list(cast)).content.decode()

    assert "Accompagnement intensif nécessaire" in body


@pytest.mark.parametrize("actor", ["outsider", "auditor", "trainer"])
def test_who_does_not_see_the_case_gets_404_on_every_page(
    cast: Cast, versions: dict[str, Any], as_user: Any, actor: str
) -> None:
    done = completed_assessment(cast.case_manager, cast.case, versions["needs"])
    draft = _draft(cast.case_manager, cast)
    client = as_user(getattr(cast, actor))
    for url in (_list(cast), _start(cast), _read(done), _edit(draft), _edit(done)):
        assert client.get(url).status_code == 404, url
    for url in (
        _start(cast),
        _edit(draft),
        _autosave(draft),
        reverse("assessments:countersign", args=[cast.case.pk, done.pk]),
        reverse("assessments:correct", args=[cast.case.pk, done.pk]),
        reverse("assessments:discard", args=[cast.case.pk, draft.pk]),
    ):
        assert client.post(url, {"instrument": NEEDS, "version": "1"}).status_code == 404, url
    assert Assessment.objects.count() == 2


def test_the_police_never_see_a_needs_assessment(
    cast: Cast, versions: dict[str, Any], as_user: Any
) -> None:
    done = completed_assessment(cast.case_manager, cast.case, versions["needs"])
    client = as_user(cast.police_on_team)
    assert client.get(_read(done)).status_code == 404
    assert client.get(_edit(done)).status_code == 404
    case_page = client.get(reverse("cases:case", args=[cast.case.pk])).content.decode()
    assert InstrumentContent(versions["needs"].content).title not in case_page


def test_a_wrong_case_or_an_unknown_id_is_404(
    cast: Cast, versions: dict[str, Any], as_user: Any
) -> None:
    done = completed_assessment(cast.case_manager, cast.case, versions["needs"])
    client = as_user(cast.case_manager)
    other = cast.other_case.pk
    assert client.get(reverse("assessments:assessment", args=[other, done.pk])).status_code == 404
    assert (
        client.get(reverse("assessments:assessment", args=[cast.case.pk, 987654])).status_code
        == 404
    )
    assert client.get(reverse("assessments:list", args=[987654])).status_code == 404


# --- Starting ---------------------------------------------------------------------------------


def test_starting_offers_the_instruments_and_explains_the_training(
    cast: Cast, versions: dict[str, Any], as_user: Any
) -> None:
    client = as_user(cast.case_manager)
    body = client.get(_start(cast)).content.decode()
    needs = InstrumentContent(versions["needs"].content)
    risk = InstrumentContent(versions["risk"].content)
    # The needs instrument is offered, with its "example, not validated" description.
    assert f'value="{NEEDS}"' in body
    assert needs.description.split(".")[0] in body
    # The risk instrument asks for a training the case manager lacks: explained, not offered.
    assert f'value="{RISK}"' not in body
    assert risk.title in body and "risk-assessment-basics" in body

    refused = client.post(_start(cast), {"instrument": RISK})
    assert refused.status_code == 403
    assert "risk-assessment-basics" in refused.content.decode()
    assert not Assessment.objects.exists()

    started = client.post(_start(cast), {"instrument": NEEDS})
    a = Assessment.objects.get()
    assert started.status_code == 302 and started["Location"] == _edit(a)
    assert (a.category, a.status, a.created_by) == ("social", "draft", cast.case_manager)


def test_starting_without_a_choice_or_with_an_unknown_instrument_is_422(
    cast: Cast, versions: dict[str, Any], as_user: Any
) -> None:
    client = as_user(cast.case_manager)
    empty = client.post(_start(cast), {})
    assert empty.status_code == 422
    assert "Choose the instrument to assess with." in empty.content.decode()
    unknown = client.post(_start(cast), {"instrument": "no-such-instrument"})
    assert unknown.status_code == 422
    assert not Assessment.objects.exists()


def test_the_ngo_reads_needs_assessments_but_cannot_start_one(
    cast: Cast, versions: dict[str, Any], as_user: Any
) -> None:
    client = as_user(cast.ngo_mentor)
    page = client.get(_start(cast))
    assert page.status_code == 200
    assert "There is no instrument you may use on this case" in page.content.decode()
    assert client.post(_start(cast), {"instrument": NEEDS}).status_code == 403
    assert not Assessment.objects.exists()


# --- The draft page ------------------------------------------------------------------------


def test_the_draft_page_shows_every_item_and_the_progress(
    cast: Cast, versions: dict[str, Any], as_user: Any
) -> None:
    a = _draft(cast.case_manager, cast)
    content = InstrumentContent(a.instrument_version.content)
    response = as_user(cast.case_manager).get(_edit(a))
    body = response.content.decode()
    assert response.status_code == 200
    for item in content.items():
        assert item.label in body
        assert f'name="item-{item.id}-presence"' in body
        assert f'name="item-{item.id}-evidence"' in body
    assert content.description.split(".")[0] in body  # "example, not validated"
    assert f"0 of {len(content.items())} items rated" in body
    assert 'name="version" value="1"' in body
    assert "prepare/assessment.js" in body
    assert reverse("assessments:autosave", args=[cast.case.pk, a.pk]) in body
    for section in content.plan_sections():
        assert section.label in body
    assert Event.objects.filter(action="view", object_id=str(a.pk)).exists()


def test_saving_a_draft_keeps_the_entries_and_moves_the_version(
    cast: Cast, versions: dict[str, Any], as_user: Any
) -> None:
    a = _draft(cast.case_manager, cast)
    item = _first_item(a)
    client = as_user(cast.case_manager)
    data = form_data(
        a,
        version=1,
        ratings={item.id: {"presence": item.levels[-1].key, "evidence": EVIDENCE}},
    )
    response = client.post(_edit(a), data)
    assert response.status_code == 302 and response["Location"] == _edit(a)
    a.refresh_from_db()
    assert a.version == 2
    assert a.ratings == {
        item.id: {"presence": item.levels[-1].key, "relevance": "", "evidence": EVIDENCE}
    }
    page = client.get(_edit(a)).content.decode()
    assert EVIDENCE in page and "The draft is saved." in page
    total = len(InstrumentContent(a.instrument_version.content).items())
    assert f"1 of {total} items rated" in page


def test_scenarios_are_added_without_javascript(
    cast: Cast, versions: dict[str, Any], as_user: Any
) -> None:
    train(cast.case_manager)
    a = _draft(cast.case_manager, cast, RISK)
    client = as_user(cast.case_manager)
    page = client.get(_edit(a)).content.decode()
    # Two empty rows to write in; saving one offers two more.
    assert 'name="scenario-1-description"' in page
    assert 'name="scenario-2-description"' not in page
    data = form_data(
        a,
        version=1,
        scenarios=[
            {},
            {
                "description": "PAGE-SCENARIO travels abroad",
                "likelihood": "low",
                "prevention": "Passport held",
            },
        ],
    )
    assert client.post(_edit(a), data).status_code == 302
    a.refresh_from_db()
    assert a.scenarios == [
        {
            "description": "PAGE-SCENARIO travels abroad",
            "likelihood": "low",
            "prevention": "Passport held",
        }
    ]
    page = client.get(_edit(a)).content.decode()
    assert "PAGE-SCENARIO travels abroad" in page
    assert 'name="scenario-2-description"' in page
    assert 'name="scenario-3-description"' not in page
    bad = form_data(a, version=2, scenarios=[{"description": "x", "likelihood": "certain"}])
    assert client.post(_edit(a), bad).status_code == 422


def test_completing_shows_every_problem_next_to_its_field_and_keeps_the_draft(
    cast: Cast, versions: dict[str, Any], as_user: Any
) -> None:
    a = _draft(cast.case_manager, cast)
    item = _first_item(a)
    content = InstrumentContent(a.instrument_version.content)
    client = as_user(cast.case_manager)
    data = form_data(
        a,
        version=1,
        op="complete",
        ratings={item.id: {"presence": item.levels[0].key, "evidence": EVIDENCE}},
    )
    response = client.post(_edit(a), data)
    body = response.content.decode()
    assert response.status_code == 422
    assert "There is a problem" in body
    missing = len(content.items()) - 1
    # Once in the summary, once next to the field.
    assert body.count("Rate this item.") == 2 * missing
    assert body.count("Give your final judgement.") == 2
    assert body.count("Explain the reasons for your judgement.") == 2
    assert f'href="#id_item-{content.items()[1].id}-presence_0"' in body
    assert EVIDENCE in body
    # The entries are saved as a draft; it is not completed.
    a.refresh_from_db()
    assert (a.status, a.version) == (AssessmentStatus.DRAFT, 2)
    assert a.ratings[item.id]["evidence"] == EVIDENCE
    assert 'name="version" value="2"' in body


def test_completing_locks_and_the_read_page_shows_the_pinned_texts(
    cast: Cast, versions: dict[str, Any], as_user: Any
) -> None:
    a = _draft(cast.case_manager, cast)
    ratings = full_ratings(a.instrument_version, evidence=EVIDENCE)
    client = as_user(cast.case_manager)
    data = form_data(
        a,
        version=1,
        op="complete",
        ratings=ratings,
        judgement="moderate",
        rationale="PAGE-RATIONALE weighed with the person",
        plan={"priorities": "Housing first"},
    )
    response = client.post(_edit(a), data)
    assert response.status_code == 302 and response["Location"] == _read(a)
    a.refresh_from_db()
    assert a.status == AssessmentStatus.COMPLETED and a.review_due_on is not None
    page = client.get(_read(a)).content.decode()
    content = InstrumentContent(a.instrument_version.content)
    assert "The assessment is completed and locked." in page
    assert "Regular support needed" in page and "PAGE-RATIONALE" in page
    assert EVIDENCE in page and "Housing first" in page
    assert content.items()[0].levels[0].label in page
    assert f"{len(content.items())} of {len(content.items())} items rated" in page
    # The case manager completed it: no countersigning, but a correction.
    assert "Countersign the assessment" not in page
    assert "Start a correction" in page


def test_a_locked_assessment_cannot_be_edited(
    cast: Cast, versions: dict[str, Any], as_user: Any
) -> None:
    a = completed_assessment(cast.case_manager, cast.case, versions["needs"])
    before = (a.version, a.ratings, a.judgement)
    client = as_user(cast.case_manager)
    page = client.get(_edit(a))
    assert page.status_code == 200
    assert 'name="op"' not in page.content.decode()  # read, not a form
    refused = client.post(_edit(a), form_data(a, version=a.version, judgement="low"))
    assert refused.status_code == 403
    assert "completed and locked" in refused.content.decode()
    assert client.post(_autosave(a), form_data(a, version=a.version)).status_code == 403
    a.refresh_from_db()
    assert (a.version, a.ratings, a.judgement) == before


def test_a_stale_save_keeps_the_users_entries_and_overwrites_nothing(
    cast: Cast, versions: dict[str, Any], as_user: Any
) -> None:
    a = _draft(cast.case_manager, cast)
    first, second = InstrumentContent(a.instrument_version.content).items()[:2]
    # Another tab saved first.
    assessment_save(
        actor=cast.case_manager,
        assessment_id=a.pk,
        version=1,
        draft=Draft(ratings={first.id: {"presence": first.levels[0].key, "evidence": "TAB-A"}}),
    )
    client = as_user(cast.case_manager)
    mine = form_data(
        a,
        version=1,
        ratings={second.id: {"presence": second.levels[1].key, "evidence": "TAB-B-ENTRY"}},
        rationale="TAB-B-RATIONALE",
    )
    response = client.post(_edit(a), mine)
    body = response.content.decode()
    assert response.status_code == 409
    assert "someone else saved this draft" in body
    # The user's own entries are in the form, with the version they read.
    assert "TAB-B-ENTRY" in body and "TAB-B-RATIONALE" in body
    assert f'value="{second.levels[1].key}"' in body
    assert 'name="version" value="1"' in body
    assert _edit(a) in body  # the offer to reload
    a.refresh_from_db()
    assert a.version == 2
    assert a.ratings == {
        first.id: {"presence": first.levels[0].key, "relevance": "", "evidence": "TAB-A"}
    }
    # Saving again from that page is refused again: nothing of tab A is lost.
    assert client.post(_edit(a), mine).status_code == 409


def test_bad_input_is_4xx(cast: Cast, versions: dict[str, Any], as_user: Any) -> None:
    a = _draft(cast.case_manager, cast)
    item = _first_item(a)
    client = as_user(cast.case_manager)
    invalid = form_data(a, version=1, ratings={item.id: {"presence": "no-such-level"}})
    response = client.post(_edit(a), invalid)
    assert response.status_code == 422
    for version in (None, "abc", "0", "-1", "99999999999"):
        data = form_data(a)
        if version is not None:
            data["version"] = version
        assert client.post(_edit(a), data).status_code in (409, 428), version
    # A field the instrument does not have is ignored.
    rated = form_data(a, version=1, ratings={item.id: {"presence": item.levels[0].key}})
    assert client.post(_edit(a), {**rated, "item-x-presence": "y"}).status_code == 302
    a.refresh_from_db()
    assert a.version == 2 and set(a.ratings) == {item.id}


# --- Autosave -------------------------------------------------------------------------------


def test_autosave_answers_the_new_version_and_the_time(
    cast: Cast, versions: dict[str, Any], as_user: Any
) -> None:
    a = _draft(cast.case_manager, cast)
    item = _first_item(a)
    client = as_user(cast.case_manager)
    data = form_data(a, version=1, ratings={item.id: {"presence": item.levels[0].key}})
    response = client.post(_autosave(a), data, headers={"Accept": "application/json"})
    assert response.status_code == 200
    answer = json.loads(response.content)
    assert answer["version"] == 2 and answer["rated"] == 1
    assert answer["message"].startswith("Saved at ")
    assert answer["saved_at"].endswith(("+01:00", "+02:00", "+00:00"))
    # Tab B, still at version 1: told, nothing overwritten.
    stale = client.post(_autosave(a), form_data(a, version=1))
    assert stale.status_code == 409
    assert "someone else saved" in json.loads(stale.content)["message"]
    assert client.post(_autosave(a), form_data(a)).status_code == 428
    bad = form_data(a, version=2, ratings={item.id: {"presence": "nonsense"}})
    assert client.post(_autosave(a), bad).status_code == 422
    a.refresh_from_db()
    assert a.version == 2 and a.ratings[item.id]["presence"] == item.levels[0].key


def test_a_draft_of_another_organisation_is_read_only(
    cast: Cast, versions: dict[str, Any], as_user: Any
) -> None:
    train(cast.case_manager)
    train(cast.police_on_team)
    a = _draft(cast.case_manager, cast, RISK)
    client = as_user(cast.police_on_team)
    page = client.get(_edit(a))
    body = page.content.decode()
    assert page.status_code == 200
    assert "only they can change it" in body and 'name="op"' not in body
    assert client.post(_edit(a), form_data(a, version=1)).status_code == 403
    assert client.post(_autosave(a), form_data(a, version=1)).status_code == 403
    a.refresh_from_db()
    assert a.version == 1


# --- Countersigning, correcting, discarding -----------------------------------------------


def test_a_second_assessor_countersigns_after_confirming(
    cast: Cast, versions: dict[str, Any], as_user: Any
) -> None:
    a = completed_assessment(cast.case_manager, cast.case, versions["needs"])
    url = reverse("assessments:countersign", args=[cast.case.pk, a.pk])
    # Not the assessor.
    own = as_user(cast.case_manager).post(
        url, {"countersign-version": a.version, "countersign-confirm": "on"}
    )
    assert own.status_code == 403
    coordinator = as_user(cast.coordinator)
    assert "Countersign the assessment" in coordinator.get(_read(a)).content.decode()
    unconfirmed = coordinator.post(url, {"countersign-version": a.version})
    assert unconfirmed.status_code == 422
    assert "Tick the box to confirm." in unconfirmed.content.decode()
    stale = coordinator.post(url, {"countersign-version": 1, "countersign-confirm": "on"})
    assert stale.status_code == 409
    done = coordinator.post(url, {"countersign-version": a.version, "countersign-confirm": "on"})
    assert done.status_code == 302
    a.refresh_from_db()
    assert (a.status, a.countersigned_by) == (AssessmentStatus.COUNTERSIGNED, cast.coordinator)
    assert "Countersigned" in coordinator.get(_list(cast)).content.decode()


def test_a_correction_is_a_new_draft_and_both_are_shown(
    cast: Cast, versions: dict[str, Any], as_user: Any
) -> None:
    a = completed_assessment(cast.case_manager, cast.case, versions["needs"])
    client = as_user(cast.case_manager)
    assert (
        as_user(cast.coordinator)
        .post(reverse("assessments:correct", args=[cast.case.pk, a.pk]))
        .status_code
        == 403
    )  # not the assessor's organisation
    response = client.post(reverse("assessments:correct", args=[cast.case.pk, a.pk]))
    correction = Assessment.objects.exclude(pk=a.pk).get()
    assert response.status_code == 302 and response["Location"] == _edit(correction)
    assert correction.corrects == a and correction.is_draft
    history = client.get(_list(cast)).content.decode()
    assert "Corrects the assessment of" in history and "Corrected by the assessment of" in history
    read = client.get(_read(a)).content.decode()
    assert "Corrected by" in read and _read(correction) in read


def test_discarding_a_draft_asks_for_confirmation(
    cast: Cast, versions: dict[str, Any], as_user: Any
) -> None:
    a = _draft(cast.case_manager, cast)
    url = reverse("assessments:discard", args=[cast.case.pk, a.pk])
    client = as_user(cast.case_manager)
    unconfirmed = client.post(url, {"discard-version": "1"})
    assert unconfirmed.status_code == 422
    assert Assessment.objects.filter(pk=a.pk).exists()
    assert (
        as_user(cast.coordinator)
        .post(url, {"discard-version": "1", "discard-confirm": "on"})
        .status_code
        == 403
    )
    done = client.post(url, {"discard-version": "1", "discard-confirm": "on"})
    assert done.status_code == 302 and done["Location"] == _list(cast)
    assert not Assessment.objects.filter(pk=a.pk).exists()


# --- The case page ---------------------------------------------------------------------------


def test_the_case_page_shows_the_latest_judgement_per_instrument(
    cast: Cast, versions: dict[str, Any], as_user: Any
) -> None:
    completed_assessment(cast.case_manager, cast.case, versions["needs"], judgement="low")
    latest = completed_assessment(cast.case_manager, cast.case, versions["needs"], judgement="high")
    _draft(cast.case_manager, cast)
    body = as_user(cast.case_manager).get(reverse("cases:case", args=[cast.case.pk])).content
    text = body.decode()
    assert "Intensive support needed" in text and "Little support needed" not in text
    assert _read(latest) in text and _list(cast) in text
    police = as_user(cast.police_on_team).get(reverse("cases:case", args=[cast.case.pk]))
    assert "Intensive support needed" not in police.content.decode()


# --- Query counts ------------------------------------------------------------------------


def _many(cast: Cast, versions: dict[str, Any], n: int) -> list[Assessment]:
    found = []
    for i in range(n):
        a = completed_assessment(cast.case_manager, cast.case, versions["needs"])
        if i % 3 == 1:
            # Some corrected: the links are worked out from the same list.
            from prepare.assessments.assessing import assessment_correct

            found.append(assessment_correct(actor=cast.case_manager, assessment_id=a.pk))
        found.append(a)
    return found


# The request (session, user, OTP device, the navigation's counts and its
# transaction: 6), the grants (1), the case (1), the assessments with their
# versions and people (1), whether the case may be written (1), the latest
# versions offered and the trainings held (2), and the one audit event (6).
HISTORY_QUERIES = 18


@pytest.mark.parametrize("n", [2, 20])
def test_the_history_query_count_does_not_grow(
    cast: Cast, versions: dict[str, Any], as_user: Any, django_assert_num_queries: Any, n: int
) -> None:
    shown = _many(cast, versions, n)
    client = as_user(cast.case_manager)
    client.get(reverse("cases:caseload"))  # the audit chain has its head already
    with django_assert_num_queries(HISTORY_QUERIES):
        response = client.get(_list(cast))
    assert response.status_code == 200
    assert response.content.decode().count('<tr id="assessment-') == len(shown)


# The request (6), the grants (1), the assessment with its case, version and
# people (1), the audit event (6), whether the case may be written (1), the
# assessments it corrects or that correct it (1).
EDIT_QUERIES = 16


@pytest.mark.parametrize("saved_items", [0, 5])
def test_the_draft_page_query_count_is_fixed(
    cast: Cast,
    versions: dict[str, Any],
    as_user: Any,
    django_assert_num_queries: Any,
    saved_items: int,
) -> None:
    a = _draft(cast.case_manager, cast)
    ratings = dict(list(full_ratings(a.instrument_version).items())[:saved_items])
    a = assessment_save(
        actor=cast.case_manager, assessment_id=a.pk, version=1, draft=Draft(ratings=ratings)
    )
    client = as_user(cast.case_manager)
    client.get(reverse("cases:caseload"))
    with django_assert_num_queries(EDIT_QUERIES):
        response = client.get(_edit(a))
    assert response.status_code == 200
    assert f"{saved_items} of " in response.content.decode()
