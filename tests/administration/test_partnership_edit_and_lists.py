"""The administrator renames a partnership or changes its time zone, and reads
the organisations and partnerships a page at a time."""

from __future__ import annotations

import json

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from prepare.accounts.models import ApiToken, User
from prepare.accounts.services import api_token_create
from prepare.administration.selectors import PAGE_SIZE
from prepare.audit.models import Event, EventAction
from prepare.partnerships.models import Partnership
from tests.cast import Cast, verified_client
from tests.factories import OrganisationFactory, UserFactory

JSON = "application/json"


def _api(user: User) -> Client:
    _, raw = api_token_create(actor=user, name="t")
    return Client(headers={"Authorization": f"Bearer {raw}"})


def _updates(partnership: Partnership) -> list[Event]:
    return list(
        Event.objects.filter(
            action=EventAction.UPDATE,
            object_type="partnerships.partnership",
            object_id=str(partnership.pk),
        )
    )


# --- Renaming and the time zone -----------------------------------------------------------


def test_the_administrator_renames_a_partnership_and_changes_its_zone(
    cast: Cast, admin: User
) -> None:
    partnership = cast.partnership
    client = verified_client(admin)
    url = reverse("administration:partnership_edit", args=[partnership.pk])
    form = client.get(url).content.decode()
    assert 'name="version"' in form and partnership.code in form

    response = client.post(
        url, {"name": "Rotterdam Exit Network", "timezone": "Europe/Madrid", "version": 1}
    )

    assert response.status_code == 302
    partnership.refresh_from_db()
    assert (partnership.name, partnership.timezone, partnership.version) == (
        "Rotterdam Exit Network",
        "Europe/Madrid",
        2,
    )
    [event] = _updates(partnership)
    assert event.actor_id == admin.pk
    assert event.detail["changed"] == ["name", "timezone"]
    assert event.detail["timezone"]["to"] == "Europe/Madrid"
    shown = client.get(response["Location"]).content.decode()
    assert "Rotterdam Exit Network is saved." in shown and "Europe/Madrid" in shown


def test_saving_the_same_values_changes_nothing(cast: Cast, admin: User) -> None:
    partnership = cast.partnership
    client = verified_client(admin)
    response = client.post(
        reverse("administration:partnership_edit", args=[partnership.pk]),
        {"name": partnership.name, "timezone": partnership.timezone, "version": 1},
        follow=True,
    )
    assert "Nothing was changed." in response.content.decode()
    partnership.refresh_from_db()
    assert partnership.version == 1 and _updates(partnership) == []


def test_a_stale_or_wrong_edit_is_refused_and_nothing_is_written(cast: Cast, admin: User) -> None:
    partnership = cast.partnership
    other = Partnership.objects.exclude(pk=partnership.pk).first()
    client = verified_client(admin)
    url = reverse("administration:partnership_edit", args=[partnership.pk])
    before = (partnership.name, partnership.timezone)

    stale = client.post(url, {"name": "Changed", "timezone": "Europe/Paris", "version": 7})
    zone = client.post(url, {"name": "Changed", "timezone": "Mars/Olympus", "version": 1})
    empty = client.post(url, {"name": "", "timezone": "Europe/Paris", "version": 1})

    assert stale.status_code == 409 and "Someone else changed" in stale.content.decode()
    assert zone.status_code == 422 and empty.status_code == 422
    if other is not None:
        taken = client.post(url, {"name": other.name, "timezone": "Europe/Paris", "version": 1})
        assert taken.status_code == 422
    partnership.refresh_from_db()
    assert (partnership.name, partnership.timezone, partnership.version) == (*before, 1)
    assert _updates(partnership) == []


def test_only_the_administrator_edits_a_partnership(cast: Cast) -> None:
    url = reverse("administration:partnership_edit", args=[cast.partnership.pk])
    response = verified_client(cast.coordinator).post(
        url, {"name": "Taken over", "timezone": "Europe/Paris", "version": 1}
    )
    assert response.status_code == 403
    cast.partnership.refresh_from_db()
    assert cast.partnership.name != "Taken over"


def test_the_api_changes_a_partnership_with_if_match(cast: Cast, admin: User) -> None:
    partnership = cast.partnership
    client = _api(admin)
    url = reverse("v1_partnership", args=[partnership.pk])
    read = client.get(url)
    assert read["ETag"] == '"1"' and read.json()["version"] == 1

    missing = client.patch(url, json.dumps({"name": "No version"}), content_type=JSON)
    code = client.patch(url, json.dumps({"code": "NEW", "version": 1}), content_type=JSON)
    changed = client.patch(
        url,
        json.dumps({"timezone": "Europe/Stockholm"}),
        content_type=JSON,
        headers={"If-Match": '"1"'},
    )
    stale = client.patch(
        url, json.dumps({"name": "Late"}), content_type=JSON, headers={"If-Match": '"1"'}
    )

    assert missing.status_code == 428
    assert code.status_code == 400  # the code cannot be changed
    assert changed.status_code == 200, changed.content
    assert changed["ETag"] == '"2"' and changed.json()["timezone"] == "Europe/Stockholm"
    assert stale.status_code == 412
    partnership.refresh_from_db()
    assert (partnership.timezone, partnership.version) == ("Europe/Stockholm", 2)
    assert partnership.name != "Late" and partnership.code != "NEW"
    assert len(_updates(partnership)) == 1


# --- The lists, a page at a time ------------------------------------------------------------


def test_the_organisation_list_is_paged_and_searched(cast: Cast, admin: User) -> None:
    for n in range(PAGE_SIZE + 1):
        OrganisationFactory(name=f"Youth service {n:03d}", city="Testdam")
    client = verified_client(admin)
    url = reverse("administration:organisations")

    first = client.get(url).content.decode()
    second = client.get(url, {"page": 2}).content.decode()
    found = client.get(url, {"q": "service 007"}).content.decode()

    assert 'rel="next"' in first and 'rel="prev"' in second
    assert "Youth service 007" in found and "Youth service 008" not in found
    assert "1 organisation" in found
    api = _api(admin).get(reverse("v1_organisations"), {"q": "youth SERVICE"}).json()
    assert api["count"] == PAGE_SIZE + 1 and len(api["results"]) == PAGE_SIZE
    assert api["next"] is not None


def test_the_partnership_list_is_searched_by_name_or_code(cast: Cast, admin: User) -> None:
    partnership = cast.partnership
    client = verified_client(admin)
    by_code = client.get(reverse("administration:partnerships"), {"q": partnership.code.lower()})
    nothing = client.get(reverse("administration:partnerships"), {"q": "no-such-partnership"})
    assert partnership.name in by_code.content.decode()
    assert "No partnership matches." in nothing.content.decode()
    api = _api(admin).get(reverse("v1_partnerships"), {"q": partnership.code}).json()
    assert [row["id"] for row in api["results"]] == [partnership.pk]


# --- Deactivation costs the same whatever the number of people --------------------------------


def test_deactivating_an_organisation_costs_the_same_for_many_people(
    cast: Cast, admin: User
) -> None:
    client = _api(admin)
    client.get(reverse("v1_organisations"))  # the token's first use recorded
    counts = []
    for people in (1, 8):
        organisation = OrganisationFactory()
        for _ in range(people):
            user = UserFactory(organisation=organisation)
            api_token_create(actor=user, name="t")
        url = reverse("v1_organisation", args=[organisation.pk])
        with CaptureQueriesContext(connection) as queries:
            response = client.patch(
                url, json.dumps({"is_active": False, "version": 1}), content_type=JSON
            )
        assert response.status_code == 200, response.content
        assert not ApiToken.objects.filter(
            user__organisation=organisation, revoked_at__isnull=True
        ).exists()
        counts.append(len(queries))
    assert counts[0] == counts[1], counts
