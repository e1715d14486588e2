"""Contacts: an outcome, a default of now, and corrections that keep the earlier
version, audited and shown to exactly those who may read the contact."""

from __future__ import annotations

import datetime
import re
import zoneinfo
from typing import Any

from django.urls import reverse
from django.utils import timezone

from prepare.access.categories import Action
from prepare.audit.models import Event, EventAction
from prepare.monitoring import services
from prepare.monitoring.models import Contact, ContactVersion
from tests.api.conftest import token_client
from tests.cast import Cast, sentinel


def _contact(cast: Cast, category: str = "risk", summary: str = "") -> Contact:
    return services.contact_record(
        actor=cast.case_manager,
        case_id=cast.case.pk,
        category=category,
        kind="meeting",
        occurred_at=timezone.now() - datetime.timedelta(days=1),
        summary=summary or sentinel(category),
        with_whom="Mother",
    )


def _page(cast: Cast, contact: Contact) -> str:
    return reverse("monitoring:contact_correct", args=[cast.case.pk, contact.pk])


def _correction(contact: Contact, **changes: str) -> dict[str, str]:
    when = timezone.localtime(contact.occurred_at, zoneinfo.ZoneInfo("Europe/Amsterdam"))
    return {
        "kind": contact.kind,
        "outcome": contact.outcome,
        "occurred_at": when.strftime("%Y-%m-%dT%H:%M"),
        "with_whom": contact.with_whom,
        "summary": contact.summary,
        "reason": "Wrong outcome",
        "version": str(contact.version),
        **changes,
    }


def test_a_contact_records_its_outcome(cast: Cast) -> None:
    contact = services.contact_record(
        actor=cast.case_manager,
        case_id=cast.case.pk,
        category="social",
        kind="meeting",
        occurred_at=timezone.now(),
        summary="He did not come.",
        outcome="did_not_attend",
    )
    contact.refresh_from_db()
    assert contact.outcome == "did_not_attend"
    event = Event.objects.get(action=EventAction.CREATE, object_id=str(contact.pk))
    assert event.detail == {"kind": "meeting", "outcome": "did_not_attend"}


def test_a_correction_keeps_the_earlier_version_and_is_audited(cast: Cast) -> None:
    contact = _contact(cast, summary="FIRST-TEXT-17")
    written_at = contact.updated_at

    services.contact_correct(
        actor=cast.police_on_team,
        contact_id=contact.pk,
        version=1,
        reason="REASON-TEXT-19",
        outcome="did_not_attend",
        summary="SECOND-TEXT-18",
    )

    contact.refresh_from_db()
    assert (contact.summary, contact.outcome, contact.version) == (
        "SECOND-TEXT-18",
        "did_not_attend",
        2,
    )
    [kept] = ContactVersion.objects.filter(contact=contact)
    assert (kept.version, kept.summary, kept.outcome, kept.with_whom) == (
        1,
        "FIRST-TEXT-17",
        "attended",
        "Mother",
    )
    assert (kept.case_id, kept.category) == (contact.case_id, contact.category)
    assert (kept.written_by_id, kept.written_at) == (cast.case_manager.pk, written_at)
    assert (kept.corrected_by_id, kept.reason) == (cast.police_on_team.pk, "REASON-TEXT-19")
    event = Event.objects.get(action=EventAction.UPDATE, object_id=str(contact.pk))
    assert event.actor_id == cast.police_on_team.pk
    assert event.detail == {
        "fields": ["outcome", "summary"],
        "version": 2,
        "correction": True,
        "earlier_version": 1,
        "reason_given": True,
    }
    assert [t for t in ("FIRST-TEXT", "SECOND-TEXT", "REASON-TEXT") if t in str(event.detail)] == []


def test_a_correction_that_changes_nothing_keeps_nothing(cast: Cast) -> None:
    contact = _contact(cast)
    services.contact_correct(
        actor=cast.case_manager, contact_id=contact.pk, version=1, summary=contact.summary
    )
    contact.refresh_from_db()
    assert contact.version == 1 and not contact.versions.exists()
    assert not Event.objects.filter(action=EventAction.UPDATE).exists()


def test_a_stale_or_invalid_correction_keeps_nothing(cast: Cast, as_user: Any) -> None:
    contact = _contact(cast)
    client = as_user(cast.case_manager)

    stale = client.post(_page(cast, contact), _correction(contact, summary="x", version="7"))
    invalid = client.post(_page(cast, contact), _correction(contact, summary=""))
    missing = _correction(contact, summary="y")
    del missing["version"]
    no_version = client.post(_page(cast, contact), missing)

    assert (stale.status_code, invalid.status_code, no_version.status_code) == (409, 422, 428)
    contact.refresh_from_db()
    assert (contact.version, contact.summary) == (1, sentinel("risk"))
    assert not ContactVersion.objects.exists()


def test_the_correction_page_confirms_and_goes_back_to_the_contact(
    cast: Cast, as_user: Any
) -> None:
    contact = _contact(cast)
    client = as_user(cast.case_manager)

    response = client.post(
        _page(cast, contact), _correction(contact, outcome="cancelled"), follow=True
    )

    assert response.redirect_chain == [
        (reverse("cases:case", args=[cast.case.pk]) + f"#contact-{contact.pk}", 302)
    ]
    body = response.content.decode()
    region = body[body.index('id="messages"') : body.index("</div>", body.index('id="messages"'))]
    assert 'role="status"' in region
    assert "The contact is corrected. The earlier version is kept with it." in region
    contact.refresh_from_db()
    assert contact.outcome == "cancelled" and contact.versions.count() == 1
    # The case page says it was corrected and links to its history.
    assert "corrected" in body and _page(cast, contact) in body


def test_the_versions_show_only_to_who_reads_the_contact(cast: Cast, as_user: Any) -> None:
    """Sentinel: the earlier version holds the risk sentinel; an organisation
    without risk sees no version anywhere (page, API, case page)."""
    contact = _contact(cast)  # its summary is the risk sentinel
    services.contact_correct(
        actor=cast.case_manager, contact_id=contact.pk, version=1, summary="Now neutral"
    )
    secret = sentinel("risk")

    # The NGO reads social and interventions, not risk.
    mentor = cast.ngo_mentor
    assert not ContactVersion.objects.visible_to(mentor, Action.READ).exists()
    assert as_user(mentor).get(_page(cast, contact)).status_code == 404
    assert token_client(mentor).get(f"/api/v1/contacts/{contact.pk}/").status_code == 404
    case_page = as_user(mentor).get(reverse("cases:case", args=[cast.case.pk])).content
    assert secret not in case_page.decode() and "Now neutral" not in case_page.decode()

    # The police officer on the team reads risk: the history is there.
    police = cast.police_on_team
    body = as_user(police).get(_page(cast, contact)).content.decode()
    assert secret in body and "Now neutral" in body
    event = Event.objects.filter(actor_id=police.pk, action=EventAction.VIEW).latest("pk")
    assert event.detail["versions"] == [contact.versions.get().pk]
    answer = token_client(police).get(f"/api/v1/contacts/{contact.pk}/").json()
    assert [v["summary"] for v in answer["earlier_versions"]] == [secret]
    assert answer["summary"] == "Now neutral" and answer["outcome"] == "attended"


def test_the_api_corrects_with_an_outcome_and_a_reason(cast: Cast) -> None:
    contact = _contact(cast)
    response = token_client(cast.case_manager).patch(
        f"/api/v1/contacts/{contact.pk}/",
        {"outcome": "did_not_attend", "reason": "No show"},
        content_type="application/json",
        headers={"If-Match": '"1"'},
    )
    assert response.status_code == 200, response.content
    assert response.json()["outcome"] == "did_not_attend"
    kept = ContactVersion.objects.get(contact=contact)
    assert (kept.outcome, kept.reason) == ("attended", "No show")


def test_the_contact_form_defaults_to_now_in_the_partnerships_zone(
    cast: Cast, as_user: Any
) -> None:
    body = as_user(cast.case_manager).get(reverse("cases:case", args=[cast.case.pk])).content
    match = re.search(r'name="contact-occurred_at" value="([^"]+)"', body.decode())
    assert match is not None
    shown = datetime.datetime.strptime(match.group(1), "%Y-%m-%dT%H:%M")
    zone = zoneinfo.ZoneInfo(cast.partnership.timezone)
    now = timezone.localtime(timezone.now(), zone).replace(tzinfo=None)
    assert abs(now - shown) < datetime.timedelta(minutes=2)
    # "Attended" is preselected.
    assert re.search(r'value="attended"[^>]*checked', body.decode())


def test_recording_a_contact_without_javascript_confirms_on_the_case_page(
    cast: Cast, as_user: Any
) -> None:
    client = as_user(cast.case_manager)
    when = timezone.localtime(timezone.now(), zoneinfo.ZoneInfo(cast.partnership.timezone))
    response = client.post(
        reverse("monitoring:contact_create", args=[cast.case.pk]),
        {
            "contact-category": "social",
            "contact-kind": "call",
            "contact-outcome": "cancelled",
            "contact-occurred_at": (when - datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
            "contact-summary": "Cancelled by him.",
        },
        follow=True,
    )
    assert response.redirect_chain == [
        (reverse("cases:case", args=[cast.case.pk]) + "#contacts", 302)
    ]
    body = response.content.decode()
    region = body[body.index('id="messages"') : body.index("</div>", body.index('id="messages"'))]
    assert "The contact is recorded." in region
    assert Contact.objects.get(summary="Cancelled by him.").outcome == "cancelled"
