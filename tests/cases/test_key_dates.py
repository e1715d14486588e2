"""Key dates of a case (category justice): reading, setting, moving."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse

from prepare.access.errors import WriteForbidden
from prepare.audit.models import Event
from prepare.cases.lifecycle import selectors as lifecycle_selectors
from prepare.cases.lifecycle.services import key_date_set
from prepare.cases.models import KeyDate
from prepare.locking import StaleVersion, VersionRequired

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}
DAY = datetime.date(2027, 3, 1)


def url(case):
    return reverse("cases:key_dates", args=[case.pk])


def dates(case):
    return sorted(KeyDate.objects.filter(case=case).values_list("kind", "date", "version"))


@pytest.fixture
def release(cast):
    return key_date_set(
        actor=cast.case_manager,
        case_id=cast.case.pk,
        kind="expected_release",
        date=DAY,
        version=None,
        source="probation system",
    )


# --- The service ---------------------------------------------------------------------


def test_set_creates_then_moves_with_the_version(cast, release):
    assert (release.version, release.source, release.updated_by_id) == (
        1,
        "probation system",
        cast.case_manager.pk,
    )
    moved = key_date_set(
        actor=cast.coordinator,
        case_id=cast.case.pk,
        kind="expected_release",
        date=DAY + datetime.timedelta(days=14),
        version=1,
    )
    assert dates(cast.case) == [("expected_release", DAY + datetime.timedelta(days=14), 2)]
    assert moved.updated_by_id == cast.coordinator.pk
    actions = list(
        Event.objects.filter(object_type="cases.keydate")
        .order_by("seq")
        .values_list("action", "category")
    )
    assert actions == [("create", "justice"), ("update", "justice")]


def test_moving_needs_the_current_version(cast, release):
    with pytest.raises(VersionRequired):
        key_date_set(
            actor=cast.coordinator,
            case_id=cast.case.pk,
            kind="expected_release",
            date=DAY,
            version=None,
        )
    with pytest.raises(StaleVersion):
        key_date_set(
            actor=cast.coordinator,
            case_id=cast.case.pk,
            kind="expected_release",
            date=DAY + datetime.timedelta(days=1),
            version=5,
        )
    with pytest.raises(StaleVersion):  # a version for a date that is not set
        key_date_set(
            actor=cast.coordinator, case_id=cast.case.pk, kind="licence_end", date=DAY, version=1
        )
    assert dates(cast.case) == [("expected_release", DAY, 1)]


def test_moving_the_expected_release_reschedules_the_checklist(cast, release, monkeypatch):
    calls = []
    from prepare.plans import services as plans

    monkeypatch.setattr(
        plans,
        "checklist_reschedule",
        lambda *, case, release_on, **_: calls.append((case.pk, release_on)),
    )
    later = DAY + datetime.timedelta(days=30)
    key_date_set(
        actor=cast.case_manager,
        case_id=cast.case.pk,
        kind="expected_release",
        date=later,
        version=1,
    )
    key_date_set(
        actor=cast.case_manager, case_id=cast.case.pk, kind="licence_end", date=later, version=None
    )
    assert calls == [(cast.case.pk, later)]


@pytest.mark.parametrize("actor", ["police_on_team", "ngo_mentor"])
def test_only_writers_of_justice_set_dates(cast, actor):
    with pytest.raises(WriteForbidden):
        key_date_set(
            actor=cast.actors[actor],
            case_id=cast.case.pk,
            kind="next_review",
            date=DAY,
            version=None,
        )
    assert dates(cast.case) == []


# --- The section -----------------------------------------------------------------------


def test_the_section_lists_the_dates_with_a_move_form(cast, as_user, release):
    response = as_user(cast.case_manager).get(url(cast.case), headers=HTMX)
    body = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in body
    assert "2027-03-01" in body and "probation system" in body
    assert 'name="version" value="1"' in body
    viewed = Event.objects.get(action="view", case_id=cast.case.pk)
    assert (viewed.detail["view"], viewed.detail["key_dates"], viewed.category) == (
        "key_dates",
        [release.pk],
        "justice",
    )


def test_readers_of_justice_see_the_dates_without_forms(cast, as_user, release):
    body = as_user(cast.police_on_team).get(url(cast.case)).content.decode()
    assert "2027-03-01" in body
    assert f'<form method="post" action="{url(cast.case)}"' not in body


def test_who_is_not_granted_justice_sees_no_date(cast, as_user, release):
    response = as_user(cast.ngo_mentor).get(url(cast.case))
    body = response.content.decode()
    assert response.status_code == 200
    assert "2027-03-01" not in body and "probation system" not in body
    assert "not shared with your organisation" in body
    viewed = Event.objects.get(action="view", case_id=cast.case.pk)
    assert (viewed.detail["key_dates"], viewed.category) == ([], "")


@pytest.mark.parametrize("extra", [0, 6])
def test_section_query_count(cast, as_user, django_assert_num_queries, extra):
    kinds = [
        "sentence_start",
        "earliest_release",
        "actual_release",
        "licence_end",
        "sentence_end",
        "next_review",
    ][:extra]
    for kind in kinds:
        key_date_set(
            actor=cast.coordinator, case_id=cast.case.pk, kind=kind, date=DAY, version=None
        )
    client = as_user(cast.case_manager)
    client.get(url(cast.case))

    # session, user, device; grants (1); case; key dates; write check; audit
    # (stored, access index, then check, head, seal, head update); the
    # navigation's counts; the request's transaction (2).
    with django_assert_num_queries(15):
        response = client.get(url(cast.case), headers=HTMX)
    assert response.content.decode().count("<tr>") == extra + (1 if extra else 0)


def test_adding_a_date(cast, as_user):
    response = as_user(cast.case_manager).post(
        url(cast.case), {"kind": "next_review", "date": "2026-12-01", "version": ""}
    )
    assert response.status_code == 302
    assert response["Location"].endswith("#key-dates")
    assert dates(cast.case) == [("next_review", datetime.date(2026, 12, 1), 1)]


def test_moving_a_date(cast, as_user, release):
    response = as_user(cast.coordinator).post(
        url(cast.case), {"kind": "expected_release", "date": "2027-04-01", "version": "1"}
    )
    assert response.status_code == 302
    assert dates(cast.case) == [("expected_release", datetime.date(2027, 4, 1), 2)]


def test_a_stale_move_keeps_the_typed_date(cast, as_user, release):
    key_date_set(
        actor=cast.coordinator,
        case_id=cast.case.pk,
        kind="expected_release",
        date=DAY + datetime.timedelta(days=3),
        version=1,
    )
    response = as_user(cast.case_manager).post(
        url(cast.case), {"kind": "expected_release", "date": "2027-05-05", "version": "1"}
    )
    body = response.content.decode()
    assert response.status_code == 409
    assert 'value="2027-05-05"' in body
    assert 'name="version" value="2"' in body
    assert dates(cast.case) == [("expected_release", DAY + datetime.timedelta(days=3), 2)]


def test_moving_without_a_version_is_refused(cast, as_user, release):
    response = as_user(cast.case_manager).post(
        url(cast.case), {"kind": "expected_release", "date": "2027-05-05"}
    )
    assert response.status_code == 428
    assert dates(cast.case) == [("expected_release", DAY, 1)]


def test_an_invalid_date_is_refused(cast, as_user):
    response = as_user(cast.case_manager).post(
        url(cast.case), {"kind": "next_review", "date": "soon", "version": ""}
    )
    assert response.status_code == 422
    assert dates(cast.case) == []


@pytest.mark.parametrize(
    ("actor", "status"),
    [("police_on_team", 403), ("ngo_mentor", 403), ("police_off_team", 404), ("outsider", 404)],
)
def test_who_may_not_write_justice_cannot_set_dates(cast, as_user, actor, status):
    response = as_user(cast.actors[actor]).post(
        url(cast.case), {"kind": "next_review", "date": "2026-12-01", "version": ""}
    )
    assert response.status_code == status
    assert dates(cast.case) == []


def test_reading_helper_lists_unset_kinds(cast, release):
    kd = lifecycle_selectors.key_dates_read(actor=cast.case_manager, case_id=cast.case.pk)
    assert "expected_release" not in {k for k, _ in kd.unset_kinds}
    assert kd.writable and kd.shared
