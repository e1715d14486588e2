"""API of the lifecycle: referrals, status changes and key dates."""

from __future__ import annotations

import datetime
import json

import pytest

from prepare.audit.models import Event
from prepare.cases.lifecycle.services import case_transition, key_date_set
from prepare.cases.models import Case, CaseStatus, CaseTransition, KeyDate, Person, Referral
from tests.api.conftest import API, token_client

pytestmark = pytest.mark.django_db

DAY = datetime.date(2027, 3, 1)


def send(client, method, url, data=None, **headers):
    return client.generic(
        method, url, json.dumps(data or {}), content_type="application/json", headers=headers
    )


def referral(cast, **changes):
    data = {
        "partnership": cast.partnership.pk,
        "referrer_type": "probation",
        "person": {
            "given_name": "Api",
            "family_name": "Referred",
            "birth_date": "1988-02-03",
            "data_subject_category": "convicted",
        },
        "reason": "API-REASON-11",
        "reason_category": "risk",
        "dates": {"expected_release": "2027-01-15"},
    }
    data.update(changes)
    return data


def k_person(cast):
    person = cast.case.person
    return {
        "given_name": person.given_name.lower(),
        "family_name": person.family_name,
        "birth_date": person.birth_date.isoformat(),
        "data_subject_category": "convicted",
    }


# --- Referrals -----------------------------------------------------------------------------


def test_a_referral_opens_a_case(cast):
    response = send(token_client(cast.case_manager), "POST", f"{API}/referrals/", referral(cast))
    assert response.status_code == 201, response.content
    body = response.json()
    case = Case.objects.get(pk=body["case"]["id"])
    assert (case.status, body["case"]["status"], body["linked"]) == ("referred", "referred", False)
    assert Referral.objects.get(pk=body["id"]).reason == "API-REASON-11"
    assert list(KeyDate.objects.filter(case=case).values_list("kind", "date")) == [
        ("expected_release", datetime.date(2027, 1, 15))
    ]


def test_a_possible_duplicate_answers_409_with_the_visible_cases_and_creates_nothing(cast):
    before = (Person.objects.count(), Case.objects.count())
    response = send(
        token_client(cast.case_manager),
        "POST",
        f"{API}/referrals/",
        referral(cast, person=k_person(cast)),
    )
    assert response.status_code == 409
    assert response.json()["candidates"] == [
        {"case": cast.case.pk, "reference": cast.case.reference, "person": cast.case.person.pk}
    ]
    assert (Person.objects.count(), Case.objects.count()) == before
    listed = Event.objects.get(action="list")  # the answer is logged, and kept
    assert listed.case_ids == [cast.case.pk]


def test_linking_through_the_api(cast):
    client = token_client(cast.case_manager)
    data = referral(cast, person=k_person(cast), link_person=cast.case.person.pk)
    response = send(client, "POST", f"{API}/referrals/", data)
    assert response.status_code == 201
    assert response.json()["person"] == cast.case.person.pk
    assert response.json()["linked"] is True
    assert Case.objects.filter(person=cast.case.person).count() == 2


def test_create_new_through_the_api(cast):
    persons = Person.objects.count()
    data = referral(cast, person=k_person(cast), create_new=True)
    response = send(token_client(cast.coordinator), "POST", f"{API}/referrals/", data)
    assert response.status_code == 201
    assert Person.objects.count() == persons + 1


def test_a_referrer_who_cannot_see_the_person_is_not_told(cast):
    # The other partnership's coordinator, referring the same person there.
    data = referral(cast, partnership=cast.other_partnership.pk, person=k_person(cast))
    response = send(token_client(cast.outsider), "POST", f"{API}/referrals/", data)
    assert response.status_code == 201
    assert cast.case.reference not in response.content.decode()


@pytest.mark.parametrize("actor", ["police_on_team", "ngo_mentor", "auditor"])
def test_who_may_not_write_identity_cannot_refer(cast, actor):
    before = Case.objects.count()
    response = send(token_client(cast.actors[actor]), "POST", f"{API}/referrals/", referral(cast))
    assert response.status_code == 403
    assert Case.objects.count() == before


def test_referring_in_another_partnership_is_forbidden(cast):
    response = send(token_client(cast.outsider), "POST", f"{API}/referrals/", referral(cast))
    assert response.status_code == 403


def test_a_referral_refuses_unknown_fields(cast):
    data = referral(cast, status="community")
    response = send(token_client(cast.coordinator), "POST", f"{API}/referrals/", data)
    assert response.status_code == 400
    assert "status" in response.json()


# --- Transitions ----------------------------------------------------------------------------


def transitions_url(case):
    return f"{API}/cases/{case.pk}/transitions/"


def test_status_history_and_moves(cast):
    case_transition(
        actor=cast.case_manager,
        case_id=cast.case.pk,
        to_status="community",
        reason="Out",
        version=1,
    )
    response = token_client(cast.case_manager).get(transitions_url(cast.case))
    body = response.json()
    assert response.status_code == 200
    assert response["ETag"] == '"2"'
    assert (body["status"], body["version"]) == ("community", 2)
    assert {m["to_status"] for m in body["allowed"]} == {"pre_release", "closing"}
    assert [t["reason"] for t in body["transitions"]] == ["Out"]
    assert Event.objects.filter(action="view", case_id=cast.case.pk).get().detail["view"] == (
        "api_transitions"
    )


def test_without_meetings_the_history_is_empty(cast):
    case_transition(
        actor=cast.case_manager,
        case_id=cast.case.pk,
        to_status="community",
        reason="Out",
        version=1,
    )
    body = token_client(cast.ngo_mentor).get(transitions_url(cast.case)).json()
    assert (body["status"], body["transitions"], body["allowed"]) == ("community", [], [])


def test_a_move_through_the_api(cast):
    response = send(
        token_client(cast.case_manager),
        "POST",
        transitions_url(cast.case),
        {"to_status": "closing", "reason": "Goals met"},
        **{"If-Match": '"1"'},
    )
    assert response.status_code == 201
    assert response["ETag"] == '"2"'
    body = response.json()
    assert (body["status"], body["transition"]["from_status"]) == ("closing", "pre_release")
    cast.case.refresh_from_db()
    assert cast.case.status == "closing"


@pytest.mark.parametrize(
    ("headers", "data", "status"),
    [
        ({}, {}, 428),
        ({"If-Match": '"4"'}, {}, 412),
        ({}, {"version": 4}, 409),
        ({"If-Match": '"1"'}, {"to_status": "archived"}, 422),
        ({"If-Match": '"1"'}, {"reason": " "}, 400),
    ],
)
def test_refused_moves_change_nothing(cast, headers, data, status):
    payload = {"to_status": "community", "reason": "Released", **data}
    response = send(
        token_client(cast.case_manager), "POST", transitions_url(cast.case), payload, **headers
    )
    assert response.status_code == status, response.content
    answer = response.json()
    assert answer["detail"] if status != 400 else answer["reason"]
    cast.case.refresh_from_db()
    assert (cast.case.status, cast.case.version) == ("pre_release", 1)
    assert not CaseTransition.objects.exists()


def test_a_refused_move_says_why(cast):
    response = send(
        token_client(cast.coordinator),
        "POST",
        transitions_url(cast.case),
        {"to_status": "archived", "reason": "x", "version": 1},
    )
    assert response.status_code == 422
    assert "cannot become" in response.json()["detail"]


@pytest.mark.parametrize(
    ("actor", "status"), [("police_on_team", 403), ("ngo_mentor", 403), ("police_off_team", 404)]
)
def test_moves_by_who_may_not_write_meetings(cast, actor, status):
    response = send(
        token_client(cast.actors[actor]),
        "POST",
        transitions_url(cast.case),
        {"to_status": "community", "reason": "x", "version": 1},
    )
    assert response.status_code == status
    assert not CaseTransition.objects.exists()


def test_closure_through_the_api_schedules_follow_ups(cast):
    Case.objects.filter(pk=cast.case.pk).update(status=CaseStatus.CLOSING)
    response = send(
        token_client(cast.coordinator),
        "POST",
        transitions_url(cast.case),
        {"to_status": "closed", "reason": "Done", "outcome": "moved", "version": 1},
    )
    assert response.status_code == 201
    assert response.json()["outcome"] == "moved"
    kinds = set(KeyDate.objects.filter(case=cast.case).values_list("kind", flat=True))
    assert kinds == {"follow_up_6", "follow_up_12"}


# --- Key dates -----------------------------------------------------------------------------


def dates_url(case, key_date=None):
    return f"{API}/cases/{case.pk}/key-dates/" + (f"{key_date.pk}/" if key_date else "")


def test_a_probation_system_pushes_dates_with_a_token(cast):
    probation = token_client(cast.case_manager)  # the integration's account
    created = send(
        probation,
        "PUT",
        dates_url(cast.case),
        {
            "source": "probation system",
            "dates": [{"kind": "expected_release", "date": "2027-03-01"}],
        },
    )
    assert created.status_code == 200
    [row] = created.json()
    assert (row["kind"], row["version"], row["source"]) == (
        "expected_release",
        1,
        "probation system",
    )
    date = KeyDate.objects.get(pk=row["id"])
    # Pushing the same kind again without the version read does not overwrite it.
    again = send(
        probation,
        "PUT",
        dates_url(cast.case),
        {"dates": [{"kind": "expected_release", "date": "2027-09-09"}]},
    )
    assert again.status_code == 428
    # Moving one date: If-Match with its ETag.
    read = probation.get(dates_url(cast.case, date))
    assert read["ETag"] == '"1"'
    blind = send(probation, "PUT", dates_url(cast.case, date), {"date": "2027-04-01"})
    assert blind.status_code == 428
    moved = send(
        probation,
        "PUT",
        dates_url(cast.case, date),
        {"date": "2027-04-01"},
        **{"If-Match": read["ETag"]},
    )
    assert moved.status_code == 200
    assert (moved.json()["date"], moved["ETag"]) == ("2027-04-01", '"2"')
    stale = send(
        probation, "PUT", dates_url(cast.case, date), {"date": "2027-05-01"}, **{"If-Match": '"1"'}
    )
    assert stale.status_code == 412
    date.refresh_from_db()
    assert (date.date, date.version, date.source) == (datetime.date(2027, 4, 1), 2, "api")
    assert Event.objects.filter(object_type="cases.keydate").count() == 2


def test_pushing_several_dates_at_once_is_all_or_nothing(cast):
    key_date_set(
        actor=cast.case_manager,
        case_id=cast.case.pk,
        kind="sentence_start",
        date=DAY,
        version=None,
    )
    client = token_client(cast.case_manager)
    refused = send(
        client,
        "PUT",
        dates_url(cast.case),
        {
            "dates": [
                {"kind": "licence_end", "date": "2030-01-01"},
                {"kind": "sentence_start", "date": "2020-01-01", "version": 7},
            ]
        },
    )
    assert refused.status_code == 409
    assert list(KeyDate.objects.values_list("kind", "version")) == [("sentence_start", 1)]
    done = send(
        client,
        "PUT",
        dates_url(cast.case),
        {
            "source": "probation system",
            "dates": [
                {"kind": "licence_end", "date": "2030-01-01"},
                {"kind": "sentence_start", "date": "2020-01-01", "version": 1},
            ],
        },
    )
    assert done.status_code == 200
    assert {(d["kind"], d["version"]) for d in done.json()} == {
        ("licence_end", 1),
        ("sentence_start", 2),
    }


def test_reading_dates_follows_the_justice_grant(cast):
    key_date_set(
        actor=cast.case_manager,
        case_id=cast.case.pk,
        kind="expected_release",
        date=DAY,
        version=None,
    )
    police = token_client(cast.police_on_team)
    assert [d["kind"] for d in police.get(dates_url(cast.case)).json()] == ["expected_release"]
    date = KeyDate.objects.get()
    one = police.get(dates_url(cast.case, date))
    assert (one.status_code, one["ETag"]) == (200, '"1"')
    ngo = token_client(cast.ngo_mentor)
    assert ngo.get(dates_url(cast.case)).json() == []
    assert ngo.get(dates_url(cast.case, date)).status_code == 404
    # Under another case's id, the date does not exist.
    other = f"{API}/cases/{cast.other_case.pk}/key-dates/{date.pk}/"
    assert token_client(cast.outsider).get(other).status_code == 404
    outsider = token_client(cast.outsider)
    assert outsider.get(dates_url(cast.case)).status_code == 404


@pytest.mark.parametrize(
    ("actor", "status"), [("police_on_team", 403), ("ngo_mentor", 403), ("outsider", 404)]
)
def test_only_writers_of_justice_push_dates(cast, actor, status):
    client = token_client(cast.actors[actor])
    response = send(
        client,
        "PUT",
        dates_url(cast.case),
        {"dates": [{"kind": "next_review", "date": "2027-01-01"}]},
    )
    assert response.status_code == status
    assert not KeyDate.objects.exists()
    date = key_date_set(
        actor=cast.coordinator, case_id=cast.case.pk, kind="next_review", date=DAY, version=None
    )
    moved = send(client, "PUT", dates_url(cast.case, date), {"date": "2027-01-01", "version": 1})
    assert moved.status_code == (404 if actor == "ngo_mentor" else status)
    date.refresh_from_db()
    assert (date.date, date.version) == (DAY, 1)


@pytest.mark.parametrize("dates", [0, 6])
def test_key_dates_query_count(cast, django_assert_num_queries, dates):
    kinds = [
        "sentence_start",
        "earliest_release",
        "expected_release",
        "licence_end",
        "sentence_end",
        "next_review",
    ][:dates]
    for kind in kinds:
        key_date_set(
            actor=cast.case_manager, case_id=cast.case.pk, kind=kind, date=DAY, version=None
        )
    client = token_client(cast.case_manager)
    client.get(dates_url(cast.case))

    # token (with its user); grants (1); case; key dates; audit
    # (stored, access index, then check, head, seal, head update); write check;
    # the request's transaction (2): the same for no date or six.
    with django_assert_num_queries(13):
        response = client.get(dates_url(cast.case))
    assert len(response.json()) == dates
