"""Monitoring pages: the case section, its forms, the alerts list and banner."""

from __future__ import annotations

import datetime
import re

import pytest
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from prepare.access.categories import Category
from prepare.audit.models import Event
from prepare.monitoring import services
from prepare.monitoring.models import (
    Breach,
    Contact,
    LicenceCondition,
    Severity,
    Signal,
    SignalAlert,
    SignalStatus,
)
from tests.cast import ALL, Cast
from tests.monitoring.support import add_condition, add_contacts, contact_sentinel
from tests.oracle import CAST_ACTORS as ACTORS
from tests.oracle import access

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


def _section_url(cast: Cast) -> str:
    return reverse("monitoring:case_monitoring", args=[cast.case.pk])


@pytest.mark.parametrize("actor", ACTORS)
def test_contacts_show_only_in_the_categories_the_actor_reads(
    cast: Cast, as_user, actor: str
) -> None:
    contacts = add_contacts(cast)
    user = cast.actors[actor]
    a = access(cast, user, cast.case)
    response = as_user(user).get(_section_url(cast), headers=HTMX)
    if not a.sees:
        assert response.status_code == 404
        assert [c for c in ALL if contact_sentinel(c) in response.content.decode()] == []
        return
    assert response.status_code == 200
    body = response.content.decode()
    shown = {c for c in ALL if contact_sentinel(c) in body}
    assert shown == set(a.read)
    # "with whom" is in the contact's category too.
    assert {c for c in ALL if f"WITH-{c.upper()}" in body} == set(a.read)
    event = Event.objects.get(request_id=response["X-Request-ID"], action="view")
    assert event.case_id == cast.case.pk
    assert event.detail["view"] == "case_monitoring"
    assert sorted(event.detail["contacts"]) == sorted(contacts[c].pk for c in a.read)


def test_the_section_answers_as_a_full_page_without_htmx(cast: Cast, as_user) -> None:
    add_contacts(cast)
    response = as_user(cast.case_manager).get(_section_url(cast))
    assert response.status_code == 200
    body = response.content.decode()
    assert "<html" in body and 'id="monitoring"' in body
    assert contact_sentinel("risk") in body and contact_sentinel("intelligence") not in body


def test_contacts_are_latest_first(cast: Cast, as_user) -> None:
    add_contacts(cast)  # identity is the latest, intelligence the oldest
    body = as_user(cast.coordinator).get(_section_url(cast), headers=HTMX).content.decode()
    positions = [body.index(contact_sentinel(c)) for c in ALL if c != Category.INTELLIGENCE]
    assert positions == sorted(positions)


def test_the_section_has_a_fixed_number_of_queries(
    cast: Cast, as_user, django_assert_num_queries
) -> None:
    client = as_user(cast.case_manager)
    client.get(_section_url(cast), headers=HTMX)  # records the session's activity
    condition = add_condition(cast)

    def grow() -> None:
        add_contacts(cast)
        Breach.objects.create(
            condition=condition,
            case=cast.case,
            occurred_on=timezone.localdate(),
            description="x",
            reported_by=cast.case_manager,
            created_by=cast.case_manager,
            updated_by=cast.case_manager,
        )
        services.signal_raise(
            actor=cast.coordinator,
            case_id=cast.case.pk,
            severity=Severity.HIGH,
            description="x",
        )

    grow()
    with django_assert_num_queries(SECTION_QUERIES):
        assert client.get(_section_url(cast), headers=HTMX).status_code == 200
    grow()
    grow()
    with django_assert_num_queries(SECTION_QUERIES):
        assert client.get(_section_url(cast), headers=HTMX).status_code == 200


# Session, user and second factor (3), the request's transaction (2), grants (1),
# the case and whether it may be written (2), contacts, conditions, breaches,
# signals (4), the audit event (stored, case index, then sealed: check, chain
# head, seal, head update: 6), the breach form's conditions (1). An HTMX section
# shows no navigation, so it counts nothing for it.
SECTION_QUERIES = 19


def _options(body: str, name: str) -> set[str]:
    select = re.search(rf'<select name="{name}"[^>]*>(.*?)</select>', body, re.S)
    assert select is not None, name
    return set(re.findall(r'<option value="([^"]+)"', select.group(1)))


def test_category_selects_offer_only_writable_categories(cast: Cast, as_user) -> None:
    body = as_user(cast.police_on_team).get(_section_url(cast), headers=HTMX).content.decode()
    assert _options(body, "contact-category") == {"risk", "intelligence"}
    assert _options(body, "signal-category") == {"risk", "intelligence"}
    assert "condition-text" not in body  # the police do not write justice
    body = as_user(cast.ngo_mentor).get(_section_url(cast), headers=HTMX).content.decode()
    assert _options(body, "contact-category") == {"interventions"}


def test_recording_a_contact(cast: Cast, as_user) -> None:
    client = as_user(cast.case_manager)
    url = reverse("monitoring:contact_create", args=[cast.case.pk])
    when = (timezone.localtime() - datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    data = {
        "contact-category": "social",
        "contact-kind": "home_visit",
        "contact-occurred_at": when,
        "contact-with_whom": "Mother",
        "contact-summary": "Typed summary 1234",
    }
    response = client.post(url, data, headers=HTMX)
    assert response.status_code == 200
    contact = Contact.objects.get()
    assert (contact.category, contact.who_id, contact.summary) == (
        "social",
        cast.case_manager.pk,
        "Typed summary 1234",
    )
    assert "Typed summary 1234" in response.content.decode()
    assert Event.objects.filter(
        request_id=response["X-Request-ID"], action="create", object_id=str(contact.pk)
    ).exists()
    # Without HTMX: a redirect to the page.
    response = client.post(url, data)
    assert response.status_code == 302
    assert Contact.objects.count() == 2


def test_an_invalid_contact_keeps_what_was_typed(cast: Cast, as_user) -> None:
    client = as_user(cast.case_manager)
    url = reverse("monitoring:contact_create", args=[cast.case.pk])
    data = {
        "contact-category": "social",
        "contact-kind": "call",
        "contact-occurred_at": "",
        "contact-summary": "Typed but not saved 5678",
    }
    response = client.post(url, data, headers=HTMX)
    assert response.status_code == 422
    body = response.content.decode()
    assert "Typed but not saved 5678" in body
    assert 'class="error-summary"' in body
    assert not Contact.objects.exists()


def test_a_contact_in_a_category_not_writable_is_403(cast: Cast, as_user) -> None:
    response = as_user(cast.ngo_mentor).post(
        reverse("monitoring:contact_create", args=[cast.case.pk]),
        {
            "contact-category": "social",  # the NGO reads social, does not write it
            "contact-kind": "call",
            "contact-occurred_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
            "contact-summary": "x",
        },
    )
    assert response.status_code == 403
    assert not Contact.objects.exists()


def test_writes_on_an_invisible_case_are_404(cast: Cast, as_user) -> None:
    client = as_user(cast.police_off_team)
    for name in ("contact_create", "condition_create", "breach_create", "signal_create"):
        response = client.post(reverse(f"monitoring:{name}", args=[cast.case.pk]), {})
        assert response.status_code == 404, name
    assert not Contact.objects.exists() and not Signal.objects.exists()


def test_conditions_and_breaches_through_the_page(cast: Cast, as_user) -> None:
    client = as_user(cast.case_manager)
    today = timezone.localdate()
    response = client.post(
        reverse("monitoring:condition_create", args=[cast.case.pk]),
        {
            "condition-text": "Report weekly",
            "condition-starts_on": (today - datetime.timedelta(days=7)).isoformat(),
        },
        headers=HTMX,
    )
    assert response.status_code == 200
    condition = LicenceCondition.objects.get()
    response = client.post(
        reverse("monitoring:breach_create", args=[cast.case.pk]),
        {
            "breach-condition": str(condition.pk),
            "breach-occurred_on": today.isoformat(),
            "breach-description": "Missed the appointment 4321",
            "breach-action_taken": "Warning",
        },
        headers=HTMX,
    )
    assert response.status_code == 200
    assert "Missed the appointment 4321" in response.content.decode()
    breach = Breach.objects.get()
    assert (breach.condition_id, breach.case_id) == (condition.pk, cast.case.pk)
    # The police read justice: they see the condition and the breach, and no forms.
    body = as_user(cast.police_on_team).get(_section_url(cast), headers=HTMX).content.decode()
    assert "Report weekly" in body and "Missed the appointment 4321" in body
    assert "breach-description" not in body
    # The NGO does not read justice.
    body = as_user(cast.ngo_mentor).get(_section_url(cast), headers=HTMX).content.decode()
    assert "Report weekly" not in body and "Missed the appointment" not in body
    # Ending it, with the version read; then a stale end is 409.
    end = reverse("monitoring:condition_end", args=[cast.case.pk, condition.pk])
    assert client.post(end, {"version": "1"}).status_code == 302
    condition.refresh_from_db()
    assert (condition.ends_on, condition.version) == (today, 2)
    assert client.post(end, {"version": "1"}).status_code == 409
    assert client.post(end, {}).status_code == 428


def test_a_high_signal_shows_in_the_alerts_until_acknowledged(
    escalating: Cast, as_user, django_assert_num_queries
) -> None:
    cast = escalating
    response = as_user(cast.case_manager).post(
        reverse("monitoring:signal_create", args=[cast.case.pk]),
        {
            "signal-severity": "urgent",
            "signal-category": "risk",
            "signal-description": "Concern text 9876",
        },
        headers=HTMX,
    )
    assert response.status_code == 200
    signal = Signal.objects.get()
    assert signal.escalated
    coordinator = as_user(cast.coordinator)
    with django_assert_num_queries(ALERTS_QUERIES):
        page = coordinator.get(reverse("monitoring:alerts"))
    assert page.status_code == 200
    body = page.content.decode()
    assert cast.case.reference in body and "Concern text 9876" in body
    assert "Urgent" in body and "badge--severity-urgent" in body
    event = Event.objects.get(request_id=page["X-Request-ID"], action="list")
    assert event.case_ids == [cast.case.pk] and event.detail["signals"] == [signal.pk]
    # The section offers the coordinator the acknowledgement form.
    section = coordinator.get(_section_url(cast), headers=HTMX).content.decode()
    assert f"ack-{signal.pk}-note" in section and "Waiting for your acknowledgement" in section
    # An empty note is refused and changes nothing.
    ack = reverse("monitoring:signal_acknowledge", args=[cast.case.pk, signal.pk])
    prefix = f"ack-{signal.pk}"
    refused = coordinator.post(ack, {f"{prefix}-note": "", f"{prefix}-version": "1"}, headers=HTMX)
    assert refused.status_code == 422
    assert SignalAlert.objects.filter(closed_at__isnull=True).count() == 2
    # The police acknowledge; the coordinator's list is empty.
    police = as_user(cast.police_on_team)
    done = police.post(ack, {f"{prefix}-note": "Patrol sent", f"{prefix}-version": "1"})
    assert done.status_code == 302
    signal.refresh_from_db()
    assert signal.status == SignalStatus.ACKNOWLEDGED
    body = coordinator.get(reverse("monitoring:alerts")).content.decode()
    assert "Concern text 9876" not in body
    # A second acknowledgement on the old version is a conflict.
    again = coordinator.post(ack, {f"{prefix}-note": "Me too", f"{prefix}-version": "1"})
    assert again.status_code == 409


# Session, user and second factor (3), the request's transaction (2), grants (1),
# the signals with their cases (1), the audit event (6), the navigation's counts
# (1), the session's save (3).
ALERTS_QUERIES = 17


def test_the_alerts_page_has_a_fixed_number_of_queries(
    escalating: Cast, as_user, django_assert_num_queries
) -> None:
    cast = escalating
    client = as_user(cast.coordinator)
    for _ in range(5):
        services.signal_raise(
            actor=cast.case_manager, case_id=cast.case.pk, severity=Severity.HIGH, description="x"
        )
    with django_assert_num_queries(ALERTS_QUERIES):
        assert client.get(reverse("monitoring:alerts")).status_code == 200


def test_low_signals_do_not_alert(escalating: Cast, as_user) -> None:
    as_user(escalating.case_manager).post(
        reverse("monitoring:signal_create", args=[escalating.case.pk]),
        {"signal-severity": "low", "signal-category": "risk", "signal-description": "Low one"},
    )
    assert Signal.objects.get().escalated is False
    body = as_user(escalating.coordinator).get(reverse("monitoring:alerts")).content.decode()
    assert "Low one" not in body


def test_the_banner(cast: Cast) -> None:
    request = RequestFactory().get("/")
    assert render_to_string("monitoring/_alerts_banner.html", {"count": 0}, request).strip() == ""
    one = render_to_string("monitoring/_alerts_banner.html", {"count": 1}, request)
    assert "One signal of concern" in one and reverse("monitoring:alerts") in one
    many = render_to_string("monitoring/_alerts_banner.html", {"count": 100}, request)
    assert "More than 99" in many
