"""Times in the partnership's zone, the same on every page; English day-first;
each user's language for their pages, notifications and e-mails."""

from __future__ import annotations

import datetime
import importlib

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import formats, translation

from prepare.audit.models import Event
from prepare.monitoring.models import Signal
from prepare.notifications.models import Notification, NotificationKind
from prepare.notifications.reminders import send_notification_mails
from tests.api.conftest import token_client
from tests.monitoring.support import plant_monitoring

# 07:57 UTC is 08:57 in Amsterdam in December (CET, UTC+1).
INSTANT = datetime.datetime(2026, 12, 7, 7, 57, tzinfo=datetime.UTC)
SHOWN = "7 Dec 2026, 08:57 CET"
ISO_LOCAL = "2026-12-07T08:57:00+01:00"


@pytest.fixture
def amsterdam(cast):
    cast.partnership.timezone = "Europe/Amsterdam"
    cast.partnership.save(update_fields=["timezone"])
    plant_monitoring(cast)
    Signal.objects.filter(case=cast.case).update(raised_at=INSTANT)
    return cast


def test_one_signal_time_is_shown_identically_on_every_page(amsterdam, as_user):
    cast = amsterdam
    coordinator = cast.coordinator
    coordinator.time_zone = "Europe/Amsterdam"
    coordinator.save(update_fields=["time_zone"])
    Notification.objects.create(
        user=coordinator,
        kind=NotificationKind.SIGNAL,
        case_id=cast.case.pk,
        message_key="signal_high",
        params={"ref": cast.case.reference},
        url=reverse("cases:case", args=[cast.case.pk]),
        dedupe_key="test:signal",
        created_at=INSTANT,
    )
    client = as_user(coordinator)
    pages = {
        "case page": reverse("cases:case", args=[cast.case.pk]),
        "monitoring section": reverse("monitoring:case_monitoring", args=[cast.case.pk]),
        "signals list": reverse("monitoring:alerts"),
        "timeline": reverse("cases:timeline", args=[cast.case.pk]),
        "my tasks": reverse("plans:my_tasks"),
        "notifications": reverse("notifications:list"),
    }
    for name, url in pages.items():
        response = client.get(url)
        assert response.status_code == 200, name
        html = response.content.decode()
        assert f'<time datetime="{ISO_LOCAL}" title="Europe/Amsterdam">{SHOWN}</time>' in html, name
        assert "07:57" not in html, name
    body = token_client(coordinator).get(f"/api/v1/cases/{cast.case.pk}/signals/").json()
    rows = body["results"] if isinstance(body, dict) else body
    raised = {datetime.datetime.fromisoformat(row["raised_at"]) for row in rows}
    assert INSTANT in raised


def test_the_same_instant_in_another_zone_is_labelled_with_that_zone(db):
    from prepare.moments import moment_text

    with translation.override("en"):
        assert moment_text(INSTANT, "Europe/Amsterdam") == SHOWN
        assert moment_text(INSTANT, "Europe/London") == "7 Dec 2026, 07:57 GMT"
        summer = datetime.datetime(2026, 7, 1, 6, 0, tzinfo=datetime.UTC)
        assert moment_text(summer, "Europe/Brussels") == "1 Jul 2026, 08:00 CEST"


def test_english_dates_are_day_first():
    day = datetime.date(2026, 12, 3)
    with translation.override("en"):
        assert formats.date_format(day, "DATE_FORMAT") == "3 December 2026"
        assert formats.date_format(day, "SHORT_DATE_FORMAT") == "03/12/2026"
        assert formats.date_format(datetime.date(2026, 12, 17), "j M Y") == "17 Dec 2026"
        assert formats.date_format(INSTANT, "SHORT_DATETIME_FORMAT") == "7 Dec 2026, 07:57"


@pytest.mark.parametrize("language", ["fr", "nl", "es", "ca", "de", "sv"])
def test_the_other_languages_keep_their_own_formats(language):
    theirs = importlib.import_module(f"django.conf.locale.{language}.formats")
    with translation.override(language):
        for name in ("DATE_FORMAT", "SHORT_DATE_FORMAT", "DATETIME_FORMAT"):
            assert formats.get_format(name) == getattr(theirs, name), (language, name)


def release_notification(user, cast):
    return Notification.objects.create(
        user=user,
        kind=NotificationKind.RELEASE,
        case_id=cast.case.pk,
        message_key="release_in_days",
        params={"ref": cast.case.reference, "days": 30, "date": "2027-01-06"},
        url=reverse("cases:case", args=[cast.case.pk]),
        dedupe_key="test:release",
    )


def test_a_french_users_notification_is_in_french(cast, as_user):
    user = cast.case_manager
    user.language = "fr"
    user.save(update_fields=["language"])
    release_notification(user, cast)
    html = as_user(user).get(reverse("notifications:list")).content.decode()
    assert '<html lang="fr">' in html
    assert "Dossier TST-2026-0001 : libération dans 30 jours (6 janvier 2027)" in html
    assert "Release of" not in html
    # The API gives the key, the parameters and the text in the caller's language.
    row = token_client(user).get("/api/v1/notifications/").json()["results"][0]
    assert row["message_key"] == "release_in_days"
    assert row["params"] == {"ref": "TST-2026-0001", "days": 30, "date": "2027-01-06"}
    assert row["title"] == "Dossier TST-2026-0001 : libération dans 30 jours (6 janvier 2027)"
    # Another reader of the same kind of row reads it in English.
    release_notification(cast.coordinator, cast)
    english = as_user(cast.coordinator).get(reverse("notifications:list")).content.decode()
    assert "Release of TST-2026-0001 in 30 days (6 January 2027)" in english


def test_a_dutch_users_email_is_in_dutch(cast):
    user = cast.police_on_team
    user.language = "nl"
    user.email = "agent@example.org"
    user.save(update_fields=["language", "email"])
    notification = release_notification(user, cast)
    english = release_notification(cast.coordinator, cast)
    cast.coordinator.email = "coordinator@example.org"
    cast.coordinator.save(update_fields=["email"])
    assert send_notification_mails([notification.pk, english.pk]) == 2
    by_address = {m.to[0]: m for m in mail.outbox}
    dutch = by_address["agent@example.org"]
    assert "Invrijheidstelling van TST-2026-0001 over 30 dagen (6 januari 2027)" in dutch.subject
    assert "Invrijheidstelling van TST-2026-0001" in dutch.body
    assert "Sign in to PREPARE" not in dutch.body
    assert "Release of TST-2026-0001 in 30 days (6 January 2027)" in (
        by_address["coordinator@example.org"].subject
    )


def test_a_row_from_before_message_keys_keeps_its_stored_text(cast, as_user):
    Notification.objects.create(
        user=cast.case_manager,
        kind=NotificationKind.RELEASE,
        case_id=cast.case.pk,
        title="Een oude tekst",
        dedupe_key="test:old",
    )
    html = as_user(cast.case_manager).get(reverse("notifications:list")).content.decode()
    assert "Een oude tekst" in html


def test_the_data_migration_maps_english_texts_to_keys():
    migration = importlib.import_module(
        "prepare.notifications.migrations.0008_notification_texts_to_message_keys"
    )
    assert migration.key_and_params("Release of RTM-2026-0004 in 30 days (2027-01-06)") == (
        "release_in_days",
        {"ref": "RTM-2026-0004", "days": 30, "date": "2027-01-06"},
    )
    assert migration.key_and_params("Urgent signal on RTM-1 still not acknowledged") == (
        "signal_urgent_late",
        {"ref": "RTM-1"},
    )
    assert migration.key_and_params("Erasure of X-1 to approve") == (
        "erasure_to_approve",
        {"ref": "X-1"},
    )
    assert migration.key_and_params("Libération de RTM-1") is None


def test_a_user_chooses_their_language_and_zone(cast, as_user):
    user = cast.case_manager
    client = as_user(user)
    page = client.get(reverse("accounts:preferences"))
    assert page.status_code == 200
    response = client.post(
        reverse("accounts:preferences"), {"language": "nl", "time_zone": "Europe/Brussels"}
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert (user.language, user.time_zone) == ("nl", "Europe/Brussels")
    event = Event.objects.filter(actor_id=user.pk, action="update").latest("pk")
    assert event.detail["changed"] == ["language", "time_zone"]
    html = client.get(reverse("cases:caseload")).content.decode()
    assert '<html lang="nl">' in html
    refused = client.post(
        reverse("accounts:preferences"), {"language": "nl", "time_zone": "Mars/Olympus"}
    )
    assert refused.status_code == 200
    user.refresh_from_db()
    assert user.time_zone == "Europe/Brussels"


def test_the_header_language_choice_is_stored_for_a_signed_in_user(cast, as_user):
    user = cast.case_manager
    client = as_user(user)
    client.post(reverse("set_language"), {"language": "de", "next": "/"})
    user.refresh_from_db()
    assert user.language == "de"
