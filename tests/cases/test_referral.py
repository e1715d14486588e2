"""Referral (with possible duplicates) and triage, through the pages."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from prepare.access.categories import Category
from prepare.access.grants import case_grants_rebuild
from prepare.accounts.models import Role
from prepare.audit.models import Event
from prepare.cases.lifecycle.services import triage_decide
from prepare.cases.models import (
    Case,
    CaseStatus,
    CaseTransition,
    KeyDate,
    Person,
    Referral,
    TriageDecision,
)
from tests.factories import (
    AgreementFactory,
    CategoryGrantFactory,
    MembershipFactory,
    OrganisationFactory,
    PartnershipFactory,
    PersonFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

URL = "/referrals/new/"
REASON = "REFERRAL-REASON-Q81"


def form_data(cast, **changes):
    data = {
        "partnership": str(cast.partnership.pk),
        "referrer_type": "prison",
        "referring_organisation": str(cast.orgs["probation"].pk),
        "given_name": "Newcomer",
        "family_name": "Referredson",
        "birth_date": "1990-05-06",
        "identifier": "",
        "data_subject_category": "convicted",
        "reason": REASON,
        "reason_category": "risk",
        "expected_release": "",
        "sentence_start": "",
        "sentence_end": "",
        "earliest_release": "",
        "decision": "",
    }
    data.update(changes)
    return data


def counts():
    return (
        Person.objects.count(),
        Case.objects.count(),
        Referral.objects.count(),
        KeyDate.objects.count(),
    )


def as_k_person(cast, **changes):
    """The cast's person K, typed again (another case, name in other letters)."""
    person = cast.case.person
    return form_data(
        cast,
        given_name=person.given_name.upper(),
        family_name=person.family_name.lower(),
        birth_date=person.birth_date.isoformat(),
        **changes,
    )


def test_the_url_is_the_named_route():
    assert reverse("cases:referral_create") == URL


# --- Who may refer ----------------------------------------------------------------------


@pytest.mark.parametrize("actor", ["coordinator", "case_manager"])
def test_who_writes_identity_gets_the_form_with_their_partnerships(cast, as_user, actor):
    response = as_user(cast.actors[actor]).get(URL)
    body = response.content.decode()
    assert response.status_code == 200
    assert cast.partnership.name in body
    assert cast.other_partnership.name not in body
    assert Event.objects.count() == 0  # no case data on the empty form


@pytest.mark.parametrize(
    "actor", ["police_on_team", "ngo_mentor", "auditor", "trainer", "police_off_team"]
)
def test_who_may_not_write_identity_cannot_refer(cast, as_user, actor):
    client = as_user(cast.actors[actor])
    before = counts()
    assert client.get(URL).status_code == 403
    assert client.post(URL, form_data(cast)).status_code == 403
    assert counts() == before


def test_a_partnership_the_user_may_not_refer_in_is_refused(cast, as_user):
    before = counts()
    response = as_user(cast.outsider).post(URL, form_data(cast))
    assert response.status_code == 422
    assert counts() == before


# --- Creating --------------------------------------------------------------------------------


def test_a_referral_opens_a_referred_case_with_its_dates(cast, as_user):
    release = timezone.localdate() + datetime.timedelta(days=120)
    data = form_data(cast, expected_release=release.isoformat(), sentence_start="2022-01-10")

    response = as_user(cast.case_manager).post(URL, data)

    assert response.status_code == 302
    referral = Referral.objects.select_related("case__person").get()
    case = referral.case
    assert response["Location"] == reverse("cases:case", args=[case.pk])
    assert (case.status, case.partnership_id, case.version) == ("referred", cast.partnership.pk, 1)
    assert (case.person.given_name, case.person.birth_date) == (
        "Newcomer",
        datetime.date(1990, 5, 6),
    )
    assert (referral.reason, referral.category, referral.referrer_type) == (
        REASON,
        "risk",
        "prison",
    )
    assert referral.referring_organisation_id == cast.orgs["probation"].pk
    assert referral.created_by_id == cast.case_manager.pk
    assert set(KeyDate.objects.filter(case=case).values_list("kind", "date", "source")) == {
        ("expected_release", release, "referral"),
        ("sentence_start", datetime.date(2022, 1, 10), "referral"),
    }
    events = Event.objects.filter(case_id=case.pk, action="create")
    assert sorted(e.object_type for e in events) == [
        "cases.case",
        "cases.keydate",
        "cases.keydate",
        "cases.referral",
    ]
    logged = events.get(object_type="cases.referral")
    assert logged.category == "risk"
    assert "combination" not in logged.detail
    assert REASON not in str(logged.detail)
    # The referrer's organisation is on the team and sees the case.
    page = as_user(cast.case_manager).get(reverse("cases:case", args=[case.pk]))
    assert page.status_code == 200


def test_a_form_with_errors_keeps_what_was_typed_and_creates_nothing(cast, as_user):
    before = counts()
    response = as_user(cast.coordinator).post(URL, form_data(cast, family_name=""))
    assert response.status_code == 422
    assert REASON in response.content.decode()
    assert counts() == before


def test_the_reason_category_must_be_one_the_referrer_writes(cast, as_user):
    # Probation reads health but may not write it.
    before = counts()
    response = as_user(cast.case_manager).post(URL, form_data(cast, reason_category="health"))
    assert response.status_code == 422
    assert counts() == before


# --- Duplicates ------------------------------------------------------------------------------


def test_a_possible_duplicate_is_shown_and_nothing_is_created(cast, as_user):
    before = counts()

    response = as_user(cast.case_manager).post(URL, as_k_person(cast))

    body = response.content.decode()
    assert response.status_code == 409
    assert cast.case.reference in body
    assert f'value="{cast.case.person.pk}"' in body
    assert REASON in body  # nothing typed is lost
    assert counts() == before
    shown = Event.objects.get(action="list")
    assert shown.case_ids == [cast.case.pk]
    assert shown.category == Category.IDENTITY
    assert shown.detail["view"] == "referral_duplicates"


def test_the_same_identifier_is_a_possible_duplicate(cast, as_user):
    Person.objects.filter(pk=cast.case.person.pk).update(identifier="P-12345")
    data = form_data(cast, identifier=" p-12345 ")
    response = as_user(cast.coordinator).post(URL, data)
    assert response.status_code == 409
    assert cast.case.reference in response.content.decode()


def test_linking_opens_a_second_case_for_the_same_person(cast, as_user):
    person = cast.case.person
    persons = Person.objects.count()

    response = as_user(cast.case_manager).post(URL, as_k_person(cast, decision=str(person.pk)))

    assert response.status_code == 302
    assert Person.objects.count() == persons
    cases = list(Case.objects.filter(person=person).order_by("pk"))
    assert len(cases) == 2 and cases[0].pk == cast.case.pk
    new = cases[1]
    assert new.status == "referred"
    logged = Event.objects.get(case_id=new.pk, object_type="cases.referral")
    assert logged.detail["combination"] == "linked_person"
    assert logged.detail["linked_person"] == person.pk
    assert logged.detail["duplicates_seen"] == [cast.case.pk]
    # The name typed again did not change the person.
    person.refresh_from_db()
    assert person.given_name == "Sentinelia"


def test_creating_a_new_person_after_seeing_the_duplicates(cast, as_user):
    persons = Person.objects.count()
    response = as_user(cast.case_manager).post(URL, as_k_person(cast, decision="new"))
    assert response.status_code == 302
    assert Person.objects.count() == persons + 1


def test_linking_to_a_person_who_is_no_candidate_is_refused(cast, as_user):
    # The other partnership's person: not visible to the case manager.
    stranger = cast.other_case.person
    before = counts()
    response = as_user(cast.case_manager).post(URL, as_k_person(cast, decision=str(stranger.pk)))
    assert response.status_code == 422
    assert counts() == before
    assert stranger.family_name not in response.content.decode()


def _housing_case_manager(cast):
    """A member organisation that may write identity but is not on K's team."""
    housing = OrganisationFactory(name="Housing Testdam")
    MembershipFactory(partnership=cast.partnership, organisation=housing)
    for category in ("identity", "risk"):
        CategoryGrantFactory(
            agreement=cast.agreement, organisation=housing, category=category, access="write"
        )
    return UserFactory(organisation=housing, role=Role.CASE_MANAGER)


def test_persons_in_cases_the_referrer_cannot_see_are_never_shown(cast, as_user):
    user = _housing_case_manager(cast)
    persons = Person.objects.count()

    response = as_user(user).post(URL, as_k_person(cast))

    # No candidate it may see: a new person, at once, and nothing about K.
    assert response.status_code == 302
    assert Person.objects.count() == persons + 1
    assert not Event.objects.filter(action="list").exists()
    followed = as_user(user).get(response["Location"])
    assert cast.case.reference not in followed.content.decode()


def test_persons_in_cases_seen_without_identity_are_never_shown(cast, as_user):
    # The NGO is on K's team without identity; in a second partnership it may
    # write identity and refers there the same person.
    ngo = cast.orgs["ngo"]
    second = PartnershipFactory(name="Second partnership", code="SEC")
    MembershipFactory(partnership=second, organisation=ngo)
    agreement = AgreementFactory(partnership=second)
    for category in ("identity", "risk"):
        CategoryGrantFactory(
            agreement=agreement, organisation=ngo, category=category, access="write"
        )
    persons = Person.objects.count()

    response = as_user(cast.ngo_mentor).post(
        URL, as_k_person(cast, partnership=str(second.pk), referring_organisation="")
    )

    assert response.status_code == 302
    assert Person.objects.count() == persons + 1
    assert not Event.objects.filter(action="list").exists()


# --- Triage queue -------------------------------------------------------------------------------


def referred_case(cast, days_ago=0, partnership=None, status=CaseStatus.REFERRED):
    case = Case.objects.create(
        person=PersonFactory(),
        partnership=partnership or cast.partnership,
        reference=f"Q-{Case.objects.count() + 1:05d}",
        status=status,
        opened_on=timezone.localdate() - datetime.timedelta(days=days_ago),
    )
    case_grants_rebuild(case)
    return case


def test_the_queue_lists_the_coordinators_waiting_cases_oldest_first(cast, as_user):
    newer = referred_case(cast, days_ago=1)
    older = referred_case(cast, days_ago=9, status=CaseStatus.TRIAGE)
    elsewhere = referred_case(cast, days_ago=30, partnership=cast.other_partnership)
    Referral.objects.create(
        case=newer, referrer_type="police", reason="x", created_by=cast.coordinator
    )

    response = as_user(cast.coordinator).get(reverse("cases:triage_queue"))

    body = response.content.decode()
    assert response.status_code == 200
    assert body.index(older.reference) < body.index(newer.reference)
    assert elsewhere.reference not in body
    assert cast.case.reference not in body  # active: not waiting
    assert "Police" in body
    listed = Event.objects.get(action="list")
    assert listed.case_ids == sorted([newer.pk, older.pk])
    assert listed.detail["view"] == "triage_queue"


@pytest.mark.parametrize("actor", ["case_manager", "police_on_team", "auditor", "trainer"])
def test_the_queue_is_for_coordinators(cast, as_user, actor):
    referred_case(cast)
    response = as_user(cast.actors[actor]).get(reverse("cases:triage_queue"))
    assert response.status_code == 403
    assert not Event.objects.filter(action="list").exists()


def test_another_partnerships_coordinator_sees_only_their_own(cast, as_user):
    mine = referred_case(cast)
    theirs = referred_case(cast, partnership=cast.other_partnership)
    body = as_user(cast.outsider).get(reverse("cases:triage_queue")).content.decode()
    assert theirs.reference in body and mine.reference not in body


@pytest.mark.parametrize("count", [3, 40])
def test_the_queue_query_count_does_not_grow(cast, as_user, django_assert_num_queries, count):
    for i in range(count):
        case = referred_case(cast, days_ago=i)
        Referral.objects.create(
            case=case, referrer_type="court", reason="x", created_by=cast.coordinator
        )
    client = as_user(cast.coordinator)
    client.get(reverse("cases:triage_queue"))  # starts the audit chain

    # session, user, OTP device; grants (1); cases; referrals; audit event
    # (stored, access index, then check, head, seal, head update); the
    # navigation's counts; the request's transaction (2): the same for 3 cases or 40.
    with django_assert_num_queries(15):
        response = client.get(reverse("cases:triage_queue"))
    assert response.status_code == 200
    assert response.content.decode().count(">Decide<") == min(count, 25)


def test_the_queue_pages(cast, as_user):
    for i in range(27):
        referred_case(cast, days_ago=i)
    client = as_user(cast.coordinator)
    first = client.get(reverse("cases:triage_queue")).content.decode()
    second = client.get(reverse("cases:triage_queue") + "?page=2").content.decode()
    assert 'rel="next"' in first and 'rel="prev"' in second
    assert second.count(">Decide<") == 2


# --- Triage decision --------------------------------------------------------------------------


def decide_url(case):
    return reverse("cases:triage_decide", args=[case.pk])


@pytest.mark.parametrize(
    ("outcome", "active", "status", "case_outcome", "moves"),
    [
        ("multi_agency", "pre_release", "pre_release", "", 2),
        ("multi_agency", "community", "community", "", 2),
        ("no_action", "", "closed", "no_action", 2),
        ("criminal_justice", "", "closed", "criminal_justice", 2),
        ("more_information", "", "triage", "", 1),
    ],
)
def test_each_triage_outcome_leads_where_it_should(
    cast, as_user, outcome, active, status, case_outcome, moves
):
    case = referred_case(cast)

    response = as_user(cast.coordinator).post(
        decide_url(case),
        {
            "outcome": outcome,
            "active_status": active,
            "reasons": "Weighed by the team",
            "version": "1",
        },
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("cases:triage_queue")
    case.refresh_from_db()
    assert (case.status, case.outcome) == (status, case_outcome)
    assert case.version == 1 + moves
    decision = TriageDecision.objects.get(case=case)
    assert (decision.outcome, decision.decided_by_id) == (outcome, cast.coordinator.pk)
    path = list(
        CaseTransition.objects.filter(case=case)
        .order_by("at", "pk")
        .values_list("to_status", flat=True)
    )
    assert path == ["triage", status][:moves]
    logged = Event.objects.get(case_id=case.pk, object_type="cases.triagedecision")
    assert (logged.action, logged.category, logged.detail["outcome"]) == (
        "create",
        "meetings",
        outcome,
    )


def test_more_information_in_triage_keeps_the_status_with_a_new_version(cast):
    case = referred_case(cast, status=CaseStatus.TRIAGE)
    triage_decide(
        actor=cast.coordinator,
        case_id=case.pk,
        outcome="more_information",
        reasons="Ask probation for the file",
        version=1,
    )
    case.refresh_from_db()
    assert (case.status, case.version) == ("triage", 2)
    assert not CaseTransition.objects.filter(case=case).exists()


def test_a_multi_agency_case_needs_to_know_where_the_person_is(cast, as_user):
    case = referred_case(cast)
    response = as_user(cast.coordinator).post(
        decide_url(case), {"outcome": "multi_agency", "reasons": "Risk", "version": "1"}
    )
    assert response.status_code == 422
    case.refresh_from_db()
    assert (case.status, case.version) == ("referred", 1)
    assert not TriageDecision.objects.exists()


def test_a_stale_triage_keeps_the_reasons(cast, as_user):
    case = referred_case(cast)
    Case.objects.filter(pk=case.pk).update(version=3)
    response = as_user(cast.coordinator).post(
        decide_url(case), {"outcome": "no_action", "reasons": "TYPED-REASONS-77", "version": "1"}
    )
    body = response.content.decode()
    assert response.status_code == 409
    assert "TYPED-REASONS-77" in body
    assert 'name="version" value="3"' in body
    case.refresh_from_db()
    assert (case.status, case.version) == ("referred", 3)
    assert not TriageDecision.objects.exists()


def test_an_active_case_cannot_be_triaged(cast, as_user):
    response = as_user(cast.coordinator).post(
        decide_url(cast.case), {"outcome": "no_action", "reasons": "x", "version": "1"}
    )
    assert response.status_code == 422
    cast.case.refresh_from_db()
    assert cast.case.status == "pre_release"


@pytest.mark.parametrize(
    ("actor", "status"), [("case_manager", 403), ("police_off_team", 404), ("outsider", 404)]
)
def test_only_the_coordinator_triages(cast, as_user, actor, status):
    case = referred_case(cast)
    from prepare.cases.models import CaseTeamMember

    CaseTeamMember.objects.create(case=case, organisation=cast.orgs["probation"], purpose="x")
    case_grants_rebuild(case)
    client = as_user(cast.actors[actor])
    assert client.get(decide_url(case)).status_code == status
    response = client.post(
        decide_url(case), {"outcome": "no_action", "reasons": "x", "version": "1"}
    )
    assert response.status_code == status
    case.refresh_from_db()
    assert (case.status, case.version) == ("referred", 1)


def test_the_triage_page_shows_the_referral_and_is_logged(cast, as_user, django_assert_num_queries):
    case = referred_case(cast)
    Referral.objects.create(
        case=case, referrer_type="court", reason=REASON, created_by=cast.coordinator
    )
    client = as_user(cast.coordinator)
    client.get(decide_url(case))

    # session, user, device; grants (1); case (read, write check); referral;
    # decisions; audit (stored, access index, then check, head, seal, head
    # update); the navigation's counts; the request's transaction (2).
    with django_assert_num_queries(17):
        response = client.get(decide_url(case))

    assert response.status_code == 200
    assert REASON in response.content.decode()
    viewed = Event.objects.filter(case_id=case.pk, action="view").last()
    assert viewed.detail["view"] == "triage_decide"
    assert "risk" in viewed.detail["categories"]
