"""The case team over the API: reading, adding (a disclosure) and removing."""

from __future__ import annotations

import datetime

from django.utils import timezone

from prepare.audit.models import Event, EventAction
from prepare.cases.models import CaseTeamMember
from tests.api.conftest import API, token_client
from tests.factories import UserFactory


def _url(cast) -> str:
    return f"{API}/cases/{cast.case.pk}/team/"


def _post(client, cast, payload):
    return client.post(_url(cast), payload, content_type="application/json")


def test_list_is_audited(cast):
    response = token_client(cast.police_on_team).get(_url(cast))
    rows = response.json()
    named = next(r for r in rows if r["user"])
    assert named["user"]["username"] == "police_on_team"
    assert named["organisation"]["name"] == "Police Testdam"
    event = Event.objects.get(action=EventAction.LIST)
    assert event.case_id == cast.case.pk
    assert sorted(event.detail["members"]) == sorted(r["id"] for r in rows)


def test_add_a_named_practitioner_is_a_logged_disclosure(cast):
    ends = timezone.localdate() + datetime.timedelta(days=90)
    response = _post(
        token_client(cast.case_manager),
        cast,
        {
            "organisation": cast.orgs["police"].pk,
            "user": cast.police_off_team.pk,
            "purpose": "Risk briefing before release",
            "ends_on": ends.isoformat(),
        },
    )
    assert response.status_code == 201
    body = response.json()
    assert body["user"]["id"] == cast.police_off_team.pk
    assert body["ends_on"] == ends.isoformat()
    member = CaseTeamMember.objects.get(pk=body["id"])
    assert (member.user_id, member.added_by_id) == (cast.police_off_team.pk, cast.case_manager.pk)
    event = Event.objects.get(action=EventAction.TEAM_CHANGE)
    assert event.detail["recipient_user"] == cast.police_off_team.pk
    assert event.detail["recipient_organisation"] == cast.orgs["police"].pk
    # The new member reaches the case on their next request.
    reader = token_client(cast.police_off_team)
    assert reader.get(f"{API}/cases/{cast.case.pk}/").status_code == 200


def test_add_validation(cast):
    client = token_client(cast.coordinator)
    before = CaseTeamMember.objects.count()
    stranger = UserFactory(organisation=cast.orgs["elsewhere"])
    cases = [
        ({"organisation": cast.orgs["elsewhere"].pk, "purpose": "x"}, "non_field_errors"),
        ({"organisation": 999_999, "purpose": "x"}, "organisation"),
        ({"organisation": cast.orgs["police"].pk, "user": stranger.pk, "purpose": "x"}, "user"),
        ({"organisation": cast.orgs["police"].pk, "user": 999_999, "purpose": "x"}, "user"),
        ({"organisation": cast.orgs["probation"].pk, "purpose": "again"}, "non_field_errors"),
        ({"organisation": cast.orgs["police"].pk}, "purpose"),
        (
            {"organisation": cast.orgs["police"].pk, "purpose": "x", "ends_on": "2000-01-01"},
            "non_field_errors",
        ),
        ({"organisation": cast.orgs["police"].pk, "purpose": "x", "case": 2}, "case"),
        ({"organisation": cast.orgs["police"].pk, "purpose": "x", "added_by": 1}, "added_by"),
    ]
    for payload, field in cases:
        response = _post(client, cast, payload)
        assert response.status_code == 400, payload
        assert field in response.json(), (payload, response.json())
    assert CaseTeamMember.objects.count() == before
    assert not Event.objects.filter(action=EventAction.TEAM_CHANGE).exists()


def test_remove_ends_access(cast):
    member = CaseTeamMember.objects.get(case=cast.case, user=cast.police_on_team)
    officer = token_client(cast.police_on_team)
    assert officer.get(f"{API}/cases/{cast.case.pk}/").status_code == 200
    response = token_client(cast.coordinator).delete(f"{_url(cast)}{member.pk}/")
    assert response.status_code == 204
    assert not CaseTeamMember.objects.filter(pk=member.pk).exists()
    event = Event.objects.get(action=EventAction.TEAM_CHANGE)
    assert event.detail["change"] == "removed"
    assert officer.get(f"{API}/cases/{cast.case.pk}/").status_code == 404


def test_member_of_another_case_is_404(cast):
    other = cast.other_case.team.create(organisation=cast.orgs["elsewhere"], purpose="x")
    response = token_client(cast.coordinator).delete(f"{_url(cast)}{other.pk}/")
    assert response.status_code == 404
    assert CaseTeamMember.objects.filter(pk=other.pk).exists()
