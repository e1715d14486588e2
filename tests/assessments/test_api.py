"""The assessments API: instruments (read, export) and a case's assessments
(start, save a draft, complete, countersign, correct, discard, compare),
through the policy, audited, with optimistic locking."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from prepare.accounts.models import Role
from prepare.assessments.files import check_bytes, to_yaml
from prepare.assessments.models import Assessment, AssessmentStatus
from prepare.assessments.services import instruments_load
from prepare.assessments.workbook import read_workbook
from prepare.audit.models import Event, EventAction
from tests.api.conftest import API, schema_of_api, token_client
from tests.assessments.support import (
    NEEDS,
    completed_assessment,
    example,
    full_ratings,
    load_examples,
    train,
)
from tests.assessments.test_comparison import needs_2
from tests.cast import Cast, sentinel
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

RISK_ID = "example-extremism-risk"
NEEDS_ID = "example-resettlement-needs"


@pytest.fixture
def versions(db: None) -> dict[str, Any]:
    return load_examples()


def _patch(client: Any, url: str, body: dict[str, Any], **headers: str) -> Any:
    return client.patch(url, json.dumps(body), content_type="application/json", headers=headers)


def _post(client: Any, url: str, body: dict[str, Any] | None = None, **headers: str) -> Any:
    return client.post(
        url, json.dumps(body or {}), content_type="application/json", headers=headers
    )


def _events(action: str, after: int = 0) -> list[Event]:
    """The events of ``action`` after ``after``: about an assessment, or a list."""
    events = Event.objects.filter(action=action, seq__gt=after).order_by("seq")
    if action != EventAction.LIST:
        events = events.filter(object_type="assessments.assessment")
    return list(events)


def _last_seq() -> int:
    return Event.objects.order_by("-seq").values_list("seq", flat=True).first() or 0


# --- Instruments ----------------------------------------------------------------------


def test_instruments_list_their_versions_with_titles_in_the_readers_language(
    cast: Cast, versions: dict[str, Any]
) -> None:
    cast.case_manager.language = "fr"
    cast.case_manager.save()
    client = token_client(cast.case_manager)
    before = _last_seq()
    body = client.get(f"{API}/instruments/").json()
    assert [row["identifier"] for row in body["results"]] == [RISK_ID, NEEDS_ID]
    risk = body["results"][0]
    assert risk["category"] == "risk"
    assert risk["title"] == versions["risk"].content["title"]["fr"]
    assert risk["versions"] == [
        {
            "id": versions["risk"].pk,
            "version": "1.0",
            "content_hash": versions["risk"].content_hash,
            "loaded_at": risk["versions"][0]["loaded_at"],
        }
    ]
    # Not case data: nothing is logged.
    assert _last_seq() == before


@pytest.mark.parametrize(
    ("actor", "expected"),
    [
        ("coordinator", 200),
        ("case_manager", 200),
        ("police_on_team", 200),
        ("ngo_mentor", 200),
        ("outsider", 200),  # another partnership's coordinator: instruments are not case data
        ("auditor", 403),
        ("trainer", 403),
    ],
)
def test_who_reads_instruments(cast: Cast, versions: dict[str, Any], actor: str, expected: int):
    client = token_client(cast.actors[actor])
    pk = versions["needs"].pk
    for url in (
        f"{API}/instruments/",
        f"{API}/instrument-versions/{pk}/",
        f"{API}/instrument-versions/{pk}/export/",
    ):
        response = client.get(url)
        assert response.status_code == expected, (url, response.status_code)
        if expected == 403:
            assert "administrator" in response.json()["detail"]


def test_the_administrator_reads_instruments(cast: Cast, versions: dict[str, Any]) -> None:
    admin = UserFactory(username="admin", organisation=None, role=Role.ADMINISTRATOR)
    assert token_client(admin).get(f"{API}/instruments/").status_code == 200


def test_a_version_is_its_stored_content(cast: Cast, versions: dict[str, Any]) -> None:
    stored = versions["risk"]
    client = token_client(cast.police_on_team)
    body = client.get(f"{API}/instrument-versions/{stored.pk}/").json()
    assert body["content"] == stored.content
    assert (body["identifier"], body["version"], body["category"]) == (RISK_ID, "1.0", "risk")
    assert body["content_hash"] == stored.content_hash
    assert client.get(f"{API}/instrument-versions/987654/").status_code == 404


def test_a_version_exports_as_yaml_workbook_and_fhir(cast: Cast, versions: dict[str, Any]) -> None:
    stored = versions["risk"]
    client = token_client(cast.coordinator)
    url = f"{API}/instrument-versions/{stored.pk}/export/"

    as_yaml = client.get(url)
    assert as_yaml["Content-Type"] == "application/yaml; charset=utf-8"
    assert as_yaml["Content-Disposition"] == f'attachment; filename="{RISK_ID}-1.0.yaml"'
    assert check_bytes("x.yaml", as_yaml.content).content == stored.content
    assert yaml.safe_load(as_yaml.content)["identifier"] == RISK_ID

    as_xlsx = client.get(url, {"file_format": "xlsx"})
    assert as_xlsx["Content-Disposition"].endswith('-1.0.xlsx"')
    assert check_bytes("x.xlsx", as_xlsx.content).content == stored.content
    assert read_workbook(as_xlsx.content).problems == []

    as_fhir = client.get(url, {"file_format": "fhir"})
    assert as_fhir["Content-Type"].startswith("application/fhir+json")
    questionnaire = json.loads(as_fhir.content)
    assert questionnaire["resourceType"] == "Questionnaire"
    assert questionnaire["version"] == "1.0"

    refused = client.get(url, {"file_format": "pdf"})
    assert refused.status_code == 400
    assert "file_format" in refused.json()
    assert client.get(f"{API}/instrument-versions/987654/export/").status_code == 404


def test_the_instrument_list_has_a_fixed_number_of_queries(
    cast: Cast, versions: dict[str, Any], django_assert_num_queries: Any
) -> None:
    client = token_client(cast.case_manager)
    client.get(f"{API}/instruments/")  # the token's first use is recorded
    # The request's savepoint (2), the token (1), grants (1), the page, its
    # count and the versions (3).
    with django_assert_num_queries(7):
        assert client.get(f"{API}/instruments/").status_code == 200


# --- The whole course of an assessment ------------------------------------------------------


def test_start_save_conflict_complete_countersign_correct(
    cast: Cast, versions: dict[str, Any]
) -> None:
    police = cast.police_on_team
    train(police)
    client = token_client(police)
    other_tab = token_client(police)

    # Start: a draft pinned to the latest version, 201 with its ETag.
    started = _post(client, f"{API}/cases/{cast.case.pk}/assessments/", {"instrument": RISK_ID})
    assert started.status_code == 201, started.content
    body = started.json()
    pk = body["id"]
    assert started["ETag"] == '"1"'
    assert body["status"] == "draft" and body["category"] == "risk"
    assert body["instrument"] == {
        "version_id": versions["risk"].pk,
        "identifier": RISK_ID,
        "version": "1.0",
        "title": versions["risk"].content["title"]["en"],
    }
    assert body["organisation"] == {"id": cast.orgs["police"].pk, "name": "Police Testdam"}
    url = f"{API}/assessments/{pk}/"

    # Save a rating (If-Match): the answer gives its labels.
    rating = {"presence": "present", "relevance": "high", "evidence": "Said so on 3 March."}
    saved = _patch(client, url, {"ratings": {"B1": rating}}, **{"If-Match": '"1"'})
    assert saved.status_code == 200, saved.content
    assert saved["ETag"] == '"2"'
    b1 = saved.json()["ratings"]["B1"]
    assert b1["presence"] == "present" and b1["presence_label"]
    assert b1["relevance"] == "high" and b1["relevance_label"]
    assert b1["evidence"] == rating["evidence"] and b1["item_label"]

    # The other tab saves on version 1: 409 (body) or 412 (If-Match); B1 is kept.
    stale = _patch(other_tab, url, {"ratings": {"B1": {"presence": "absent"}}, "version": 1})
    assert stale.status_code == 409
    assert "reload" in stale.json()["detail"]
    stale_header = _patch(other_tab, url, {"ratings": {}}, **{"If-Match": '"1"'})
    assert stale_header.status_code == 412
    without_version = _patch(other_tab, url, {"ratings": {}})
    assert without_version.status_code == 428
    assert Assessment.objects.get(pk=pk).ratings["B1"]["presence"] == "present"

    # Completing without judgement and rationale: 400, each problem by name.
    ratings = full_ratings(versions["risk"])
    refused = _post(client, f"{url}complete/", {"ratings": ratings, "version": 2})
    assert refused.status_code == 400
    assert set(refused.json()) == {"judgement", "rationale"}
    missing = _post(client, f"{url}complete/", {"version": 2})
    assert "ratings.B2" in missing.json()
    assert Assessment.objects.get(pk=pk).status == AssessmentStatus.DRAFT

    done = _post(
        client,
        f"{url}complete/",
        {"ratings": ratings, "judgement": "moderate", "rationale": "Weighed.", "version": 2},
    )
    assert done.status_code == 200, done.content
    completed = done.json()
    assert completed["status"] == "completed"
    assert completed["judgement"] == "moderate" and completed["judgement_label"]
    assert completed["review_due_on"] is not None
    assert completed["completed_by"] == police.pk
    # Locked: a change is refused.
    locked = _patch(client, url, {"rationale": "Later thoughts."}, **{"If-Match": '"3"'})
    assert locked.status_code == 403
    assert "locked" in locked.json()["detail"]

    # Countersigning: not by the assessor; by a trained case manager of probation.
    assert _post(client, f"{url}countersign/", {"version": 3}).status_code == 403
    train(cast.case_manager)
    signed = _post(token_client(cast.case_manager), f"{url}countersign/", {"version": 3})
    assert signed.status_code == 200, signed.content
    assert signed.json()["status"] == "countersigned"
    assert signed.json()["countersigned_by"] == cast.case_manager.pk

    # Correcting: a new draft (201), then the same open one (200).
    correction = _post(client, f"{url}correct/")
    assert correction.status_code == 201, correction.content
    new = correction.json()
    assert new["corrects"] == pk and new["status"] == "draft"
    assert new["ratings"]["B1"]["presence"] == ratings["B1"]["presence"]
    again = _post(client, f"{url}correct/")
    assert again.status_code == 200 and again.json()["id"] == new["id"]
    assert Assessment.objects.get(pk=pk).status == AssessmentStatus.COUNTERSIGNED

    # The correction compared with the original: nothing changed yet.
    compared = client.get(f"{url}compare/{new['id']}/")
    assert compared.status_code == 200
    comparison = compared.json()
    assert comparison["changed_count"] == 0
    assert comparison["earlier"]["id"] == pk and comparison["later"]["id"] == new["id"]
    assert comparison["judgement_changed"] is False
    first_item = comparison["domains"][0]["items"][0]
    assert first_item["how"] == "same" and first_item["earlier"][0]["presence_label"]

    # The list: both, newest first, without ratings.
    listed = client.get(f"{API}/cases/{cast.case.pk}/assessments/").json()
    assert [row["id"] for row in listed["results"]] == [new["id"], pk]
    assert "ratings" not in listed["results"][0]


def test_a_draft_is_discarded_with_its_version(cast: Cast, versions: dict[str, Any]) -> None:
    client = token_client(cast.case_manager)
    pk = _post(client, f"{API}/cases/{cast.case.pk}/assessments/", {"instrument": NEEDS_ID}).json()[
        "id"
    ]
    url = f"{API}/assessments/{pk}/"
    assert client.delete(url).status_code == 428
    assert client.delete(url + "?version=2").status_code == 409
    assert client.delete(url, headers={"If-Match": '"2"'}).status_code == 412
    assert client.delete(url + "?version=zero").status_code == 400
    assert client.delete(url + "?version=1").status_code == 204
    assert not Assessment.objects.filter(pk=pk).exists()
    assert client.get(url).status_code == 404
    # A completed assessment is never deleted.
    done = completed_assessment(cast.case_manager, cast.case, versions["needs"])
    refused = client.delete(f"{API}/assessments/{done.pk}/", headers={"If-Match": '"2"'})
    assert refused.status_code == 403


def test_invalid_input_is_refused_by_where_it_applies(cast: Cast, versions: dict[str, Any]) -> None:
    client = token_client(cast.case_manager)
    cases = f"{API}/cases/{cast.case.pk}/assessments/"
    assert _post(client, cases, {}).json() == {"instrument": ["This field is required."]}
    assert "instrument" in _post(client, cases, {"instrument": "no-such"}).json()
    assert "case" in _post(client, cases, {"instrument": NEEDS_ID, "case": 1}).json()
    pk = _post(client, cases, {"instrument": NEEDS_ID}).json()["id"]
    url = f"{API}/assessments/{pk}/"
    for body, where in (
        ({"ratings": {"housing-place": {"presence": 5}}}, "ratings.housing-place.presence"),
        ({"ratings": {"housing-place": {"colour": "red"}}}, "ratings.housing-place.colour"),
        ({"ratings": {"housing-place": "serious"}}, "ratings.housing-place"),
        ({"ratings": {"housing-place": {"presence": "hi-lo"}}}, "ratings.housing-place"),
        ({"ratings": {"X9": {"presence": "none"}}}, "ratings"),
        ({"scenarios": [{"likelihood": "low"}]}, "scenarios"),
        ({"scenarios": [{"likelihood": 1}]}, "scenarios[0].likelihood"),
        ({"management_plan": {"nowhere": "x"}}, "management_plan"),
        ({"judgement": "meh"}, "judgement"),
        ({"rationale": 12}, "rationale"),
        ({"status": "completed"}, "status"),
    ):
        response = _patch(client, url, {**body, "version": 1})
        assert response.status_code == 400, (body, response.content)
        assert where in response.json(), (body, response.json())
    assert Assessment.objects.get(pk=pk).version == 1
    assert _post(client, f"{url}correct/", {"x": 1}).status_code == 400


# --- Who may do what ----------------------------------------------------------------------


@pytest.fixture
def both(cast: Cast, versions: dict[str, Any]) -> dict[str, Assessment]:
    """A completed risk assessment by the police and a completed needs assessment
    by probation on K, each with its category's sentinel in the evidence."""
    risk = completed_assessment(
        cast.police_on_team, cast.case, versions["risk"], evidence=sentinel("risk")
    )
    needs = completed_assessment(
        cast.case_manager, cast.case, versions["needs"], evidence=sentinel("social")
    )
    return {"risk": risk, "needs": needs}


def _every_answer(client: Any, cast: Cast, both: dict[str, Assessment]) -> list[Any]:
    risk, needs = both["risk"].pk, both["needs"].pk
    urls = [
        f"{API}/cases/{cast.case.pk}/assessments/",
        f"{API}/assessments/{risk}/",
        f"{API}/assessments/{needs}/",
        f"{API}/assessments/{risk}/compare/{needs}/",
        f"{API}/assessments/{needs}/compare/{risk}/",
    ]
    answers = [client.get(url) for url in urls]
    for url in (f"{API}/assessments/{risk}/", f"{API}/assessments/{needs}/"):
        answers.append(_patch(client, url, {"version": 2}))
        answers.append(_post(client, f"{url}complete/", {"version": 2}))
        answers.append(_post(client, f"{url}countersign/", {"version": 2}))
        answers.append(_post(client, f"{url}correct/"))
        answers.append(client.delete(url, headers={"If-Match": '"2"'}))
    return answers


def test_the_outsider_gets_404_for_everything(cast: Cast, both: dict[str, Assessment]) -> None:
    client = token_client(cast.outsider)
    for response in _every_answer(client, cast, both):
        assert response.status_code == 404, (response.request["PATH_INFO"], response.content)
    start = _post(client, f"{API}/cases/{cast.case.pk}/assessments/", {"instrument": NEEDS_ID})
    assert start.status_code == 404
    assert Assessment.objects.count() == 2


def test_the_police_read_risk_but_never_the_needs_assessment(
    cast: Cast, both: dict[str, Assessment]
) -> None:
    client = token_client(cast.police_on_team)
    listed = client.get(f"{API}/cases/{cast.case.pk}/assessments/").json()
    assert [row["id"] for row in listed["results"]] == [both["risk"].pk]
    risk = client.get(f"{API}/assessments/{both['risk'].pk}/").json()
    assert risk["ratings"]["B1"]["evidence"] == sentinel("risk")
    needs = both["needs"].pk
    assert client.get(f"{API}/assessments/{needs}/").status_code == 404
    assert client.get(f"{API}/assessments/{both['risk'].pk}/compare/{needs}/").status_code == 404
    for response in _every_answer(client, cast, both):
        assert sentinel("social") not in response.content.decode()
        if str(needs) in response.request["PATH_INFO"]:
            assert response.status_code == 404, response.request["PATH_INFO"]


def test_the_ngo_reads_the_needs_assessment_but_may_not_start_one(
    cast: Cast, both: dict[str, Assessment]
) -> None:
    client = token_client(cast.ngo_mentor)
    needs = client.get(f"{API}/assessments/{both['needs'].pk}/")
    assert needs.status_code == 200
    assert sentinel("social") in needs.content.decode()
    assert client.get(f"{API}/assessments/{both['risk'].pk}/").status_code == 404
    for response in _every_answer(client, cast, both):
        assert sentinel("risk") not in response.content.decode()
    start = _post(client, f"{API}/cases/{cast.case.pk}/assessments/", {"instrument": NEEDS_ID})
    assert start.status_code == 403
    # Reading is not writing: its changes are refused, nothing is saved.
    url = f"{API}/assessments/{both['needs'].pk}/"
    assert _patch(client, url, {"rationale": "x", "version": 2}).status_code == 403
    assert _post(client, f"{url}countersign/", {"version": 2}).status_code == 403
    assert _post(client, f"{url}correct/").status_code == 403
    assert Assessment.objects.count() == 2


def test_a_training_restricted_instrument_refuses_the_untrained(
    cast: Cast, versions: dict[str, Any]
) -> None:
    client = token_client(cast.police_on_team)
    refused = _post(client, f"{API}/cases/{cast.case.pk}/assessments/", {"instrument": RISK_ID})
    assert refused.status_code == 403
    assert "risk-assessment-basics" in refused.json()["detail"]
    assert not Assessment.objects.exists()
    # The police may not start a needs assessment either (social is not theirs).
    needs = _post(client, f"{API}/cases/{cast.case.pk}/assessments/", {"instrument": NEEDS_ID})
    assert needs.status_code == 403


# --- Audit --------------------------------------------------------------------------------


def test_every_read_and_write_is_logged(cast: Cast, versions: dict[str, Any]) -> None:
    client = token_client(cast.case_manager)
    case = cast.case.pk

    def logged(action: str, call: Any) -> tuple[Any, list[Event]]:
        before = _last_seq()
        response = call()
        assert response.status_code < 300, response.content
        events = [e for e in _events(action, before) if e.request_id == response["X-Request-ID"]]
        assert events, action
        for event in events:
            assert event.case_id == case
            assert event.category == ("" if action == EventAction.LIST else "social")
            assert event.actor_id == cast.case_manager.pk
        return response, events

    started, (event,) = logged(
        EventAction.CREATE,
        lambda: _post(client, f"{API}/cases/{case}/assessments/", {"instrument": NEEDS_ID}),
    )
    pk = started.json()["id"]
    assert event.object_id == str(pk)
    url = f"{API}/assessments/{pk}/"
    ratings = full_ratings(versions["needs"], evidence="WRITTEN-EVIDENCE")
    _, (event,) = logged(
        EventAction.UPDATE, lambda: _patch(client, url, {"ratings": ratings, "version": 1})
    )
    assert event.detail["fields"] == ["ratings"]
    assert "WRITTEN-EVIDENCE" not in json.dumps(event.detail)
    body = {"judgement": "low", "rationale": "Reasons.", "version": 2}
    _, (event,) = logged(EventAction.UPDATE, lambda: _post(client, f"{url}complete/", body))
    assert event.detail["completed"] is True
    colleague = UserFactory(organisation=cast.orgs["probation"], role="case_manager")
    before = _last_seq()
    assert _post(token_client(colleague), f"{url}countersign/", {"version": 3}).status_code == 200
    assert [e.detail.get("countersigned") for e in _events(EventAction.UPDATE, before)] == [True]
    corrected, (event,) = logged(EventAction.CREATE, lambda: _post(client, f"{url}correct/"))
    assert event.detail == {"corrects": pk}
    new = corrected.json()["id"]
    _, (event,) = logged(EventAction.VIEW, lambda: client.get(url))
    assert event.object_id == str(pk)
    _, events = logged(EventAction.VIEW, lambda: client.get(f"{url}compare/{new}/"))
    assert sorted(e.object_id for e in events) == sorted([str(pk), str(new)])
    _, (event,) = logged(EventAction.LIST, lambda: client.get(f"{API}/cases/{case}/assessments/"))
    assert event.detail["assessments"] == [new, pk]
    assert event.detail["categories"] == ["social"]
    _, (event,) = logged(
        EventAction.DELETE,
        lambda: client.delete(f"{API}/assessments/{new}/", headers={"If-Match": '"1"'}),
    )
    assert event.object_id == str(new)


def test_refusals_are_logged(cast: Cast, versions: dict[str, Any]) -> None:
    done = completed_assessment(cast.case_manager, cast.case, versions["needs"])
    token_client(cast.police_on_team).get(f"{API}/assessments/{done.pk}/")
    assert Event.objects.filter(action=EventAction.DENIED, actor_id=cast.police_on_team.pk)


# --- Query counts -------------------------------------------------------------------------


def _assessments(cast: Cast, versions: dict[str, Any], n: int) -> None:
    for _ in range(n):
        completed_assessment(cast.case_manager, cast.case, versions["needs"])


@pytest.mark.parametrize("n", [2, 20])
def test_the_list_keeps_its_query_count(
    cast: Cast, versions: dict[str, Any], django_assert_num_queries: Any, n: int
) -> None:
    _assessments(cast, versions, n)
    client = token_client(cast.coordinator)
    url = f"{API}/cases/{cast.case.pk}/assessments/"
    client.get(url)  # the token's first use is recorded
    # The request's savepoint (2), the token (1), grants (1), the case (1), the
    # page and its count (2), the instrument versions (1), the audit event (6).
    with django_assert_num_queries(14):
        response = client.get(url)
    assert len(response.json()["results"]) == n


def test_one_assessment_has_a_fixed_number_of_queries(
    cast: Cast, versions: dict[str, Any], django_assert_num_queries: Any
) -> None:
    done = completed_assessment(cast.case_manager, cast.case, versions["needs"])
    client = token_client(cast.coordinator)
    url = f"{API}/assessments/{done.pk}/"
    client.get(url)
    # The request's savepoint (2), the token (1), grants (1), the assessment (1),
    # its organisation (1), the audit event (6).
    with django_assert_num_queries(12):
        assert client.get(url).status_code == 200


def test_a_comparison_across_instrument_versions(cast: Cast) -> None:
    [v1] = [
        r.version for r in instruments_load(files=[("n.yaml", to_yaml(example(NEEDS)).encode())])
    ]
    first = completed_assessment(cast.case_manager, cast.case, v1)
    [v2] = [r.version for r in instruments_load(files=[("n2.yaml", to_yaml(needs_2()).encode())])]
    client = token_client(cast.case_manager)
    started = _post(client, f"{API}/cases/{cast.case.pk}/assessments/", {"instrument": NEEDS_ID})
    assert started.json()["instrument"]["version"] == "2.0"
    ratings = full_ratings(v2)
    ratings["housing-tonight"]["presence"] = "serious"
    second = started.json()["id"]
    body = {"ratings": ratings, "judgement": "high", "rationale": "Lost the flat.", "version": 1}
    assert _post(client, f"{API}/assessments/{second}/complete/", body).status_code == 200

    # Either order: the earlier one is on the left.
    answer = client.get(f"{API}/assessments/{second}/compare/{first.pk}/").json()
    assert (answer["earlier"]["id"], answer["later"]["id"]) == (first.pk, second)
    assert (
        answer["earlier"]["instrument"]["version"],
        answer["later"]["instrument"]["version"],
    ) == (
        "1.0",
        "2.0",
    )
    assert answer["across_versions"] is True and answer["unrelated"] is False
    assert answer["judgement_changed"] is True
    rows = {row["item"]: row for d in answer["domains"] for row in d["items"]}
    housing = rows["housing-tonight"]
    assert housing["how"] == "renamed" and housing["changed"] is True
    assert [r["item"] for r in housing["earlier"]] == ["housing-place"]
    assert housing["later"]["presence"] == "serious" and housing["later"]["presence_label"]
    assert rows["money"]["how"] == "merged"
    assert [r["item"] for r in rows["money"]["earlier"]] == ["money-debts", "money-income"]
    assert rows["family-visits"]["how"] == "split"
    assert [r["item"] for r in answer["removed"]] == ["documents-status"]


def test_the_schema_says_what_each_operation_takes_and_answers(db: None) -> None:
    schema = yaml.safe_load(schema_of_api())
    components = schema["components"]["schemas"]
    draft = components["PatchedAssessmentDraftRequest"]
    assert draft["additionalProperties"] is False
    assert draft["required"] == ["version"]
    ratings = draft["properties"]["ratings"]["additionalProperties"]["$ref"].rsplit("/", 1)[-1]
    assert components[ratings]["additionalProperties"] is False
    assert set(components[ratings]["properties"]) == {"presence", "relevance", "evidence"}
    shown = components["Rating"]["properties"]
    assert {"presence", "presence_label", "relevance", "relevance_label", "evidence"} <= set(shown)
    paths = schema["paths"]
    export = paths["/api/v1/instrument-versions/{instrument_version_id}/export/"]["get"]
    assert set(export["responses"]["200"]["content"]) == {
        "application/yaml",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/fhir+json",
    }
    correct = paths["/api/v1/assessments/{assessment_id}/correct/"]["post"]
    assert {"200", "201"} <= set(correct["responses"])
    patch = paths["/api/v1/assessments/{assessment_id}/"]["patch"]
    assert any(p["name"] == "If-Match" for p in patch["parameters"])
    assert "ETag" in patch["responses"]["200"]["headers"]
    discard = paths["/api/v1/assessments/{assessment_id}/"]["delete"]
    assert {p["name"] for p in discard["parameters"]} >= {"If-Match", "version"}
