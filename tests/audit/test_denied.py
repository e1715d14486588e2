"""Refused access leaves a trace (issue 9, item 7): every 404/403 answer of the
policy writes one ``denied`` event after the request, capped per user."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from prepare.accounts.services import api_token_create
from prepare.audit import chain, denials
from prepare.audit.models import DenialWindow, Event, EventAction, Outcome
from prepare.cases.models import Case, CaseNote
from tests.access.support import audit_triggers_disabled, flushable_audit  # noqa: F401
from tests.cast import Cast, build_cast, sentinel


def denied() -> list[Event]:
    return list(Event.objects.filter(action=EventAction.DENIED).order_by("seq"))


@pytest.fixture
def small_cap(settings):
    settings.AUDIT_DENIED_CAP = 20
    settings.AUDIT_DENIED_WINDOW_MINUTES = 10


def test_a_walk_over_50_invisible_case_ids_is_recorded_and_capped(
    cast: Cast, as_user, small_cap
) -> None:
    client = as_user(cast.outsider)
    first = Case.objects.order_by("-pk").first().pk + 1
    walked = [cast.case.pk, *range(first, first + 49)]

    for pk in walked:
        response = client.get(reverse("cases:case", args=[pk]))
        assert response.status_code == 404

    events = denied()
    # 20 one by one, then one saying that the cap is reached; the rest counted.
    assert len(events) == 21
    assert all(e.seq is not None and e.outcome == Outcome.DENIED for e in events)
    assert {e.actor_id for e in events} == {cast.outsider.pk}
    assert [e.detail["asked"]["pk"] for e in events] == [str(pk) for pk in walked[:21]]
    assert [e.case_id for e in events] == walked[:21]
    assert {e.detail["route"] for e in events} == {"cases:case"}
    assert {e.detail["status"] for e in events} == {404}
    assert "cap_reached" not in events[19].detail
    assert events[20].detail["cap_reached"] == 20
    window = DenialWindow.objects.get(user=cast.outsider)
    assert (window.recorded, window.suppressed, window.summarised) == (20, 30, False)
    # Nothing of the case leaks into the log, and the chain holds.
    assert all(cast.case.reference not in str(e.detail) for e in events)
    assert chain.verify() is None

    # Once the window is over, one summary gives the number only counted.
    assert denials.denials_summarise(timezone.now()) == 0  # the window is still open
    later = window.ends_at + datetime.timedelta(seconds=1)
    assert denials.denials_summarise(later) == 1
    assert denials.denials_summarise(later) == 0  # idempotent
    summary = denied()[-1]
    assert summary.detail["suppressed"] == 30
    assert summary.detail["recorded"] == 20
    assert summary.actor_id == cast.outsider.pk
    assert chain.verify() is None


def test_the_next_denial_after_the_window_writes_the_summary(
    cast: Cast, as_user, small_cap, settings
) -> None:
    settings.AUDIT_DENIED_CAP = 1
    client = as_user(cast.outsider)
    for _ in range(4):
        client.get(reverse("cases:case", args=[cast.case.pk]))
    assert len(denied()) == 2
    window = DenialWindow.objects.get(user=cast.outsider)
    DenialWindow.objects.filter(pk=window.pk).update(
        starts_at=window.starts_at - datetime.timedelta(hours=1),
        ends_at=window.ends_at - datetime.timedelta(hours=1),
    )

    client.get(reverse("cases:case", args=[cast.case.pk]))

    summary, fresh = denied()[2:]
    assert summary.detail["suppressed"] == 3  # the one naming the cap, and two more
    assert fresh.detail["asked"] == {"pk": str(cast.case.pk)}


def test_a_forbidden_write_leaves_one_event_and_no_note(cast: Cast, as_user) -> None:
    # The NGO sees K (interventions, social) but may not write its risk.
    before = CaseNote.objects.count()
    response = as_user(cast.ngo_mentor).post(
        reverse("cases:note_create", args=[cast.case.pk]),
        {"category": "risk", "kind": "fact", "text": "NOT-WRITTEN"},
    )

    assert response.status_code == 403
    assert CaseNote.objects.count() == before
    (event,) = denied()
    assert event.actor_id == cast.ngo_mentor.pk
    assert event.detail == {
        "route": "cases:note_create",
        "method": "POST",
        "status": 403,
        "asked": {"pk": str(cast.case.pk)},
    }
    assert event.case_id == cast.case.pk
    assert (event.object_type, event.object_id) == ("cases:note_create", f"pk={cast.case.pk}")
    assert event.request_id == response["X-Request-ID"]
    assert "NOT-WRITTEN" not in str(event.detail)


def test_an_api_probe_names_the_token_user(cast: Cast) -> None:
    _, raw = api_token_create(actor=cast.outsider, name="probe")
    client = Client(headers={"Authorization": f"Bearer {raw}"})

    response = client.get(f"/api/v1/cases/{cast.case.pk}/notes/")

    assert response.status_code == 404
    (event,) = denied()
    assert (event.actor_id, event.case_id) == (cast.outsider.pk, cast.case.pk)
    assert event.detail["route"] == "v1_case_notes"


def test_a_normal_request_and_an_anonymous_one_leave_none(cast: Cast, as_user) -> None:
    page = as_user(cast.case_manager).get(reverse("cases:case", args=[cast.case.pk]))
    anonymous = Client().get(reverse("cases:case", args=[cast.case.pk]))

    assert page.status_code == 200
    assert anonymous.status_code == 302  # to the sign-in page
    assert denied() == []
    assert not DenialWindow.objects.exists()


def test_a_refusal_outside_case_pages_is_recorded(cast: Cast, as_user) -> None:
    """Django's own 403 page (the view let WriteForbidden through)."""
    response = as_user(cast.case_manager).get(reverse("audit:search"))

    assert response.status_code == 403
    (event,) = denied()
    assert (event.detail["route"], event.detail["status"], event.case_id) == (
        "audit:search",
        403,
        None,
    )


def test_a_tampered_denied_event_is_detected(cast: Cast, as_user) -> None:
    as_user(cast.outsider).get(reverse("cases:case", args=[cast.case.pk]))
    (event,) = denied()
    assert chain.verify() is None

    with audit_triggers_disabled():
        Event.objects.filter(pk=event.pk).update(detail={**event.detail, "status": 200})

    problem = chain.verify()
    assert problem is not None
    assert problem.seq == event.seq
    assert "altered" in problem.reason


def test_the_dpo_filters_the_log_by_denied(cast: Cast, as_user) -> None:
    as_user(cast.outsider).get(reverse("cases:case", args=[cast.case.pk]))
    as_user(cast.case_manager).get(reverse("cases:case", args=[cast.case.pk]))

    body = as_user(cast.auditor).get(reverse("audit:search"), {"action": "denied"}).content.decode()

    assert "outsider" in body
    assert "Access refused" in body
    assert f"(cases:case pk={cast.case.pk})" in body
    assert ">case_manager<" not in body
    assert sentinel("risk") not in body


@pytest.mark.django_db(transaction=True)
def test_the_event_survives_the_requests_rollback(flushable_audit) -> None:  # noqa: F811
    cast = build_cast()
    _, raw = api_token_create(actor=cast.ngo_mentor, name="writer")
    client = Client(headers={"Authorization": f"Bearer {raw}"})
    notes = CaseNote.objects.count()
    before = Event.objects.count()

    # A refused write through the API: its transaction is rolled back.
    response = client.post(
        f"/api/v1/cases/{cast.case.pk}/notes/",
        {"category": "risk", "kind": "fact", "text": "NOT-WRITTEN"},
        content_type="application/json",
    )

    assert response.status_code == 403
    assert CaseNote.objects.count() == notes
    assert connection.in_atomic_block is False  # autocommit: what is read is committed
    (event,) = denied()
    assert event.seq is not None
    assert event.detail["status"] == 403
    assert Event.objects.count() == before + 1
    assert chain.verify() is None


def test_an_api_refusal_by_role_is_recorded(cast: Cast) -> None:
    """The API's own 403 (a role that may not use the operation at all), not only
    the policy's refusals of one case."""
    _, raw = api_token_create(actor=cast.case_manager, name="queue")
    client = Client(headers={"Authorization": f"Bearer {raw}"})

    response = client.get("/api/v1/triage/")

    assert response.status_code == 403
    (event,) = denied()
    assert event.actor_id == cast.case_manager.pk
    assert (event.detail["route"], event.detail["status"], event.case_id) == (
        "v1_triage_queue",
        403,
        None,
    )


def test_an_unauthenticated_api_request_is_not_a_denial(cast: Cast) -> None:
    response = Client().get("/api/v1/triage/")

    assert response.status_code in (401, 403)
    assert denied() == []
