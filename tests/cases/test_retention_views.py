"""The retention section of the case page, the legal-hold forms and the
partnership's retention settings page."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from prepare.audit.models import Event, EventAction
from prepare.cases.models import CaseStatus, LegalHold
from prepare.partnerships.models import Partnership
from tests.cast import Cast

LATER = datetime.date(2040, 1, 1)


def section_url(cast: Cast) -> str:
    return reverse("cases:retention_section", args=[cast.case.pk])


def place_url(cast: Cast) -> str:
    return reverse("cases:legal_hold_place", args=[cast.case.pk])


def release_url(cast: Cast) -> str:
    return reverse("cases:legal_hold_release", args=[cast.case.pk])


def hold(cast: Cast, reason: str = "Court order 7") -> LegalHold:
    return LegalHold.objects.create(
        case=cast.case, reason=reason, until=LATER, placed_by=cast.coordinator
    )


# --- The section -----------------------------------------------------------------------


@pytest.mark.django_db
def test_the_coordinator_sees_the_holds_and_the_forms(
    cast: Cast, as_user: Any, django_assert_max_num_queries: Any
) -> None:
    Partnership.objects.filter(pk=cast.partnership.pk).update(retention_years=3)
    cast.case.status = CaseStatus.CLOSED
    cast.case.closed_on = datetime.date(2026, 1, 31)
    cast.case.save()
    h = hold(cast)
    client = as_user(cast.coordinator)
    # Session, user, device, grants (3), the case, its holds, a pending erasure
    # request, the audit event, the bell.
    with django_assert_max_num_queries(23):
        response = client.get(section_url(cast), headers={"HX-Request": "true"})
    assert response.status_code == 200
    body = response.content.decode()
    assert "<html" not in body  # the fragment
    assert "Court order 7" in body
    assert 'datetime="2029-01-31"' in body  # closed_on + 3 years
    assert place_url(cast) in body and f'value="{h.pk}"' in body
    event = Event.objects.get(action=EventAction.VIEW, case_id=cast.case.pk)
    assert event.detail == {"view": "retention", "holds": [h.pk]}
    assert event.request_id == response["X-Request-ID"]
    page = client.get(section_url(cast))
    assert page.status_code == 200 and "<html" in page.content.decode()


@pytest.mark.django_db
def test_the_team_sees_that_a_hold_is_in_force_but_not_why(cast: Cast, as_user: Any) -> None:
    hold(cast)
    LegalHold.objects.create(
        case=cast.case,
        reason="Old inquiry",
        until=LATER,
        placed_by=cast.coordinator,
        released_by=cast.coordinator,
        released_at=timezone.now(),
    )
    response = as_user(cast.ngo_mentor).get(section_url(cast), headers={"HX-Request": "true"})
    body = response.content.decode()
    assert response.status_code == 200
    assert "In force" in body
    assert "Court order 7" not in body and "Old inquiry" not in body
    assert place_url(cast) not in body and release_url(cast) not in body


@pytest.mark.django_db
@pytest.mark.parametrize("actor", ["police_off_team", "outsider", "auditor"])
def test_who_does_not_see_the_case_gets_404(cast: Cast, as_user: Any, actor: str) -> None:
    hold(cast)
    response = as_user(cast.actors[actor]).get(section_url(cast))
    assert response.status_code == 404
    assert "Court order 7" not in response.content.decode()
    assert not Event.objects.filter(action=EventAction.VIEW, case_id=cast.case.pk).exists()


# --- Placing and releasing ---------------------------------------------------------------


@pytest.mark.django_db
def test_the_coordinator_places_a_hold(cast: Cast, as_user: Any) -> None:
    response = as_user(cast.coordinator).post(
        place_url(cast), {"reason": "Inquiry by the ombudsman", "until": "2040-01-01"}
    )
    assert response.status_code == 302
    assert response["Location"].endswith(f"/cases/{cast.case.pk}/#retention")
    placed = LegalHold.objects.get(case=cast.case)
    assert (placed.reason, placed.until, placed.placed_by_id) == (
        "Inquiry by the ombudsman",
        LATER,
        cast.coordinator.pk,
    )
    assert Event.objects.filter(
        action=EventAction.CREATE,
        object_type="cases.legalhold",
        request_id=response["X-Request-ID"],
        case_id=cast.case.pk,
    ).exists()


@pytest.mark.django_db
def test_an_htmx_placement_answers_the_section(cast: Cast, as_user: Any) -> None:
    response = as_user(cast.coordinator).post(
        place_url(cast),
        {"reason": "Inquiry", "until": "2040-01-01"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert 'id="retention"' in body and "Inquiry" in body
    assert 'hx-swap-oob="innerHTML"' in body and "legal hold is in force" in body


@pytest.mark.django_db
def test_an_invalid_hold_is_refused_with_the_form(cast: Cast, as_user: Any) -> None:
    response = as_user(cast.coordinator).post(
        place_url(cast), {"reason": "", "until": "2001-01-01"}
    )
    assert response.status_code == 422
    body = response.content.decode()
    assert "There is a problem" in body
    assert not LegalHold.objects.exists()
    past = as_user(cast.coordinator).post(place_url(cast), {"reason": "x", "until": "2001-01-01"})
    assert past.status_code == 422
    assert "until today or later" in past.content.decode()
    assert not LegalHold.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("actor", "status"),
    [("case_manager", 403), ("police_on_team", 403), ("police_off_team", 404), ("outsider", 404)],
)
def test_only_the_coordinator_changes_holds(
    cast: Cast, as_user: Any, actor: str, status: int
) -> None:
    h = hold(cast)
    client = as_user(cast.actors[actor])
    placed = client.post(place_url(cast), {"reason": "Mine", "until": "2040-01-01"})
    released = client.post(release_url(cast), {"hold": h.pk, "confirm": "on"})
    assert (placed.status_code, released.status_code) == (status, status)
    h.refresh_from_db()
    assert h.released_at is None
    assert LegalHold.objects.count() == 1


@pytest.mark.django_db
def test_the_coordinator_releases_a_hold(cast: Cast, as_user: Any) -> None:
    h = hold(cast)
    client = as_user(cast.coordinator)
    # Not confirmed: nothing changes, and the page says why.
    unconfirmed = client.post(release_url(cast), {"hold": h.pk})
    assert unconfirmed.status_code == 422
    assert "tick the box to confirm" in unconfirmed.content.decode()
    h.refresh_from_db()
    assert h.released_at is None
    assert not Event.objects.filter(
        action=EventAction.UPDATE, object_type="cases.legalhold"
    ).exists()
    response = client.post(release_url(cast), {"hold": h.pk, "confirm": "on"})
    assert response.status_code == 302
    h.refresh_from_db()
    assert h.released_by_id == cast.coordinator.pk
    assert Event.objects.filter(
        action=EventAction.UPDATE, object_type="cases.legalhold", object_id=str(h.pk)
    ).exists()
    again = client.post(release_url(cast), {"hold": h.pk, "confirm": "on"})
    assert again.status_code == 422
    assert "already released" in again.content.decode()
    assert client.post(release_url(cast), {"hold": "x"}).status_code == 404
    assert client.post(release_url(cast), {"hold": 987654}).status_code == 404


# --- The partnership's settings ------------------------------------------------------------


def settings_url(cast: Cast) -> str:
    return reverse("partnerships:retention", args=[cast.partnership.pk])


@pytest.mark.django_db
def test_the_coordinator_changes_the_rule(
    cast: Cast, as_user: Any, django_assert_max_num_queries: Any
) -> None:
    client = as_user(cast.coordinator)
    # Session, user, device, grants (3), the partnership, the bell, the session save.
    with django_assert_max_num_queries(13):
        page = client.get(settings_url(cast))
    assert page.status_code == 200
    body = page.content.decode()
    assert 'name="current" value="5:erase"' in body
    response = client.post(
        settings_url(cast),
        {"retention_years": "8", "retention_action": "anonymise", "current": "5:erase"},
    )
    assert response.status_code == 302
    p = Partnership.objects.get(pk=cast.partnership.pk)
    assert (p.retention_years, p.retention_action) == (8, "anonymise")
    event = Event.objects.get(action=EventAction.AGREEMENT_CHANGE)
    assert event.request_id == response["X-Request-ID"]


@pytest.mark.django_db
def test_a_stale_or_unversioned_rule_is_not_saved(cast: Cast, as_user: Any) -> None:
    client = as_user(cast.coordinator)
    data = {"retention_years": "8", "retention_action": "anonymise"}
    stale = client.post(settings_url(cast), {**data, "current": "3:erase"})
    missing = client.post(settings_url(cast), data)
    invalid = client.post(
        settings_url(cast), {**data, "retention_years": "0", "current": "5:erase"}
    )
    assert (stale.status_code, missing.status_code, invalid.status_code) == (409, 428, 422)
    assert "Someone else changed" in stale.content.decode()
    p = Partnership.objects.get(pk=cast.partnership.pk)
    assert (p.retention_years, p.retention_action) == (5, "erase")
    assert not Event.objects.filter(action=EventAction.AGREEMENT_CHANGE).exists()


@pytest.mark.django_db
def test_members_read_the_rule_and_others_do_not_reach_it(cast: Cast, as_user: Any) -> None:
    member = as_user(cast.case_manager)
    page = member.get(settings_url(cast))
    assert page.status_code == 200
    assert 'name="retention_years"' not in page.content.decode()
    data = {"retention_years": "8", "retention_action": "anonymise", "current": "5:erase"}
    assert member.post(settings_url(cast), data).status_code == 403
    outsider = as_user(cast.outsider)
    assert outsider.get(settings_url(cast)).status_code == 404
    assert outsider.post(settings_url(cast), data).status_code == 404
    assert Partnership.objects.get(pk=cast.partnership.pk).retention_years == 5


# --- The data-protection officer's page ------------------------------------------------------


@pytest.mark.django_db
def test_the_dpo_places_and_releases_a_hold_by_reference(
    cast: Cast, as_user: Any, django_assert_max_num_queries: Any
) -> None:
    client = as_user(cast.auditor)
    url = reverse("cases:legal_holds")
    response = client.post(
        url, {"reference": cast.case.reference, "reason": "Complaint 3", "until": "2040-01-01"}
    )
    assert response.status_code == 302
    placed = LegalHold.objects.get(case=cast.case)
    assert placed.placed_by_id == cast.auditor.pk
    with django_assert_max_num_queries(22):
        page = client.get(url)
    body = page.content.decode()
    assert page.status_code == 200
    assert cast.case.reference in body and "Complaint 3" in body
    assert "Sentinelia" not in body and "SENTINEL" not in body
    listed = Event.objects.filter(action=EventAction.LIST, request_id=page["X-Request-ID"]).get()
    assert listed.case_ids == [cast.case.pk]
    unconfirmed = client.post(url, {"hold": placed.pk})
    assert unconfirmed.status_code == 422
    assert "tick the box to confirm" in unconfirmed.content.decode()
    placed.refresh_from_db()
    assert placed.released_at is None
    released = client.post(url, {"hold": placed.pk, "confirm": "on"})
    assert released.status_code == 302
    placed.refresh_from_db()
    assert placed.released_by_id == cast.auditor.pk


@pytest.mark.django_db
def test_the_dpo_cannot_hold_a_case_of_another_partnership(cast: Cast, as_user: Any) -> None:
    response = as_user(cast.auditor).post(
        reverse("cases:legal_holds"),
        {"reference": cast.other_case.reference, "reason": "x", "until": "2040-01-01"},
    )
    assert response.status_code == 422
    assert "No case of your partnerships" in response.content.decode()
    assert not LegalHold.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("actor", ["coordinator", "case_manager", "trainer"])
def test_the_dpo_page_is_the_auditors(cast: Cast, as_user: Any, actor: str) -> None:
    client = as_user(cast.actors[actor])
    assert client.get(reverse("cases:legal_holds")).status_code == 403
    data = {"reference": cast.case.reference, "reason": "x", "until": "2040-01-01"}
    assert client.post(reverse("cases:legal_holds"), data).status_code == 403
    assert not LegalHold.objects.exists()
