"""Training records on a person's account page (issue 11, item 5: "a training
record on the user now"): added and removed by whoever may change the
account (the administrator, the organisation's account manager; nobody for
themselves), each change audited with the key and the dates only; read by
the person on their own settings page."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from prepare.access.assessing import is_qualified
from prepare.accounts.models import Role, TrainingRecord, User
from prepare.audit.models import Event, EventAction
from tests.assessments.support import load_examples
from tests.cast import Cast, verified_client
from tests.factories import UserFactory

KEY = "risk-assessment-basics"


@pytest.fixture
def manager(cast: Cast) -> User:
    """The probation service's account manager (an observer who manages accounts)."""
    return UserFactory(
        username="probation_office",
        organisation=cast.orgs["probation"],
        role=Role.OBSERVER,
        manages_accounts=True,
    )


@pytest.fixture
def police_manager(cast: Cast) -> User:
    return UserFactory(
        username="police_office",
        organisation=cast.orgs["police"],
        role=Role.OBSERVER,
        manages_accounts=True,
    )


@pytest.fixture
def admin(cast: Cast) -> User:
    return UserFactory(username="admin", organisation=None, role=Role.ADMINISTRATOR)


def today() -> datetime.date:
    return timezone.localdate()


def add_url(person: User) -> str:
    return reverse("accounts:training_add", args=[person.pk])


def remove_url(person: User, record: TrainingRecord) -> str:
    return reverse("accounts:training_remove", args=[person.pk, record.pk])


def form(**changes: Any) -> dict[str, str]:
    data = {
        "training": KEY,
        "completed_on": (today() - datetime.timedelta(days=30)).isoformat(),
        "expires_on": (today() + datetime.timedelta(days=700)).isoformat(),
        "note": "Course of March, certificate 12",
    }
    data.update(changes)
    return data


def record_for(person: User, **fields: Any) -> TrainingRecord:
    values = {"training": KEY, "completed_on": today() - datetime.timedelta(days=10)}
    values.update(fields)
    return TrainingRecord.objects.create(user=person, **values)


def last_event() -> int:
    return Event.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def changes_since(pk: int) -> list[Event]:
    return list(
        Event.objects.filter(pk__gt=pk, action=EventAction.PERMISSION_CHANGE).order_by("pk")
    )


# --- Adding and removing ----------------------------------------------------------------


def test_an_account_manager_records_a_training_of_their_organisations_person(
    cast: Cast, manager: User
) -> None:
    person = cast.case_manager
    client = verified_client(manager)
    before = last_event()
    assert not is_qualified(person, KEY)

    response = client.post(add_url(person), form())

    assert response.status_code == 302
    assert response["Location"] == (
        reverse("accounts:account", args=[person.pk]) + "#training-title"
    )
    record = TrainingRecord.objects.get(user=person)
    assert (record.training, record.completed_on, record.expires_on) == (
        KEY,
        today() - datetime.timedelta(days=30),
        today() + datetime.timedelta(days=700),
    )
    assert (record.note, record.recorded_by) == ("Course of March, certificate 12", manager)
    assert is_qualified(User.objects.get(pk=person.pk), KEY)
    [event] = changes_since(before)
    assert (event.actor_id, event.object_type, event.object_id) == (
        manager.pk,
        "accounts.trainingrecord",
        str(record.pk),
    )
    # The key and the dates, never the note.
    assert event.detail == {
        "change": "training_recorded",
        "account": person.pk,
        "training": KEY,
        "completed_on": record.completed_on.isoformat(),
        "expires_on": record.expires_on.isoformat(),
    }
    page = client.get(response["Location"])
    body = page.content.decode()
    assert f"The training {KEY} of" in body and "is recorded." in body
    assert "Current" in body and "Course of March" in body
    assert remove_url(person, record) in body


def test_removing_a_record_asks_first_then_removes_and_audits(cast: Cast, manager: User) -> None:
    person = cast.case_manager
    record = record_for(person, expires_on=today() + datetime.timedelta(days=30))
    client = verified_client(manager)
    before = last_event()

    confirm = client.get(remove_url(person, record))

    assert confirm.status_code == 200
    assert TrainingRecord.objects.filter(pk=record.pk).exists()
    assert "Remove the record" in confirm.content.decode()
    assert changes_since(before) == []

    response = client.post(remove_url(person, record))

    assert response.status_code == 302
    assert not TrainingRecord.objects.filter(pk=record.pk).exists()
    [event] = changes_since(before)
    assert event.detail == {
        "change": "training_removed",
        "account": person.pk,
        "training": KEY,
        "completed_on": record.completed_on.isoformat(),
        "expires_on": record.expires_on.isoformat() if record.expires_on else None,
    }
    assert event.object_id == str(record.pk)
    assert not is_qualified(User.objects.get(pk=person.pk), KEY)


def test_the_administrator_records_for_anyone(cast: Cast, admin: User) -> None:
    person = cast.police_on_team
    response = verified_client(admin).post(add_url(person), form(expires_on=""))
    assert response.status_code == 302
    record = TrainingRecord.objects.get(user=person)
    assert (record.expires_on, record.recorded_by) == (None, admin)


# --- Who may ---------------------------------------------------------------------------


def test_another_organisations_account_manager_is_refused_and_changes_nothing(
    cast: Cast, police_manager: User
) -> None:
    person = cast.case_manager
    record = record_for(person)
    client = verified_client(police_manager)
    before = last_event()

    answers = [
        client.get(reverse("accounts:account", args=[person.pk])),
        client.post(add_url(person), form(completed_on=today().isoformat())),
        client.get(remove_url(person, record)),
        client.post(remove_url(person, record)),
    ]

    assert [a.status_code for a in answers] == [404, 404, 404, 404]
    assert list(TrainingRecord.objects.values_list("pk", flat=True)) == [record.pk]
    assert changes_since(before) == []
    assert Event.objects.filter(pk__gt=before, action=EventAction.DENIED).exists()


@pytest.mark.parametrize("actor", ["case_manager", "coordinator", "police_on_team", "trainer"])
def test_people_who_manage_no_accounts_are_refused(cast: Cast, actor: str) -> None:
    person = cast.ngo_mentor
    record = record_for(person)
    client = verified_client(cast.actors[actor])
    assert client.post(add_url(person), form()).status_code == 404
    assert client.post(remove_url(person, record)).status_code == 404
    assert TrainingRecord.objects.count() == 1


def test_nobody_records_their_own_training(cast: Cast, manager: User) -> None:
    """A record opens instruments: like a role, someone else gives it."""
    client = verified_client(manager)
    own = record_for(manager)

    page = client.get(reverse("accounts:account", args=[manager.pk]))
    assert page.status_code == 200
    assert page.context["training_form"] is None
    assert remove_url(manager, own) not in page.content.decode()

    assert client.post(add_url(manager), form()).status_code == 403
    assert client.get(remove_url(manager, own)).status_code == 403
    assert client.post(remove_url(manager, own)).status_code == 403
    assert list(TrainingRecord.objects.values_list("pk", flat=True)) == [own.pk]


def test_a_record_is_reached_only_under_its_own_account(cast: Cast, manager: User) -> None:
    """Another person's record under this person's address: not found."""
    theirs = record_for(cast.case_manager)
    other = UserFactory(organisation=cast.orgs["probation"], role=Role.PRACTITIONER)
    client = verified_client(manager)
    assert client.get(remove_url(other, theirs)).status_code == 404
    assert client.post(remove_url(other, theirs)).status_code == 404
    assert TrainingRecord.objects.filter(pk=theirs.pk).exists()


# --- Validation ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"training": "Risk basics"}, "training", "lowercase letters, digits and hyphens"),
        ({"training": ""}, "training", "This field is required."),
        (
            {"completed_on": (datetime.date.today() + datetime.timedelta(days=400)).isoformat()},
            "completed_on",
            "cannot be in the future",
        ),
        ({"completed_on": "31/02/2026"}, "completed_on", "Enter a valid date."),
        ({"completed_on": ""}, "completed_on", "This field is required."),
        (
            {"completed_on": "2026-01-10", "expires_on": "2026-01-10"},
            "expires_on",
            "must come after the day it was completed",
        ),
        ({"note": "x" * 201}, "note", "at most 200 characters"),
    ],
    ids=["key", "no key", "future", "bad date", "no date", "expires same day", "long note"],
)
def test_a_wrong_form_is_sent_back_with_its_errors_and_nothing_is_recorded(
    cast: Cast, manager: User, changes: dict[str, str], field: str, message: str
) -> None:
    client = verified_client(manager)
    before = last_event()

    response = client.post(add_url(cast.case_manager), form(**changes))

    assert response.status_code == 422
    errors = response.context["training_form"].errors
    assert message in " ".join(errors[field]), errors
    body = response.content.decode()
    assert 'class="error-summary"' in body
    assert '<details class="disclosure" open>' in body
    assert TrainingRecord.objects.count() == 0
    assert changes_since(before) == []


def test_the_same_training_on_the_same_day_is_not_recorded_twice(cast: Cast, manager: User) -> None:
    client = verified_client(manager)
    assert client.post(add_url(cast.case_manager), form()).status_code == 302
    response = client.post(add_url(cast.case_manager), form())
    assert response.status_code == 422
    assert "already recorded" in " ".join(response.context["training_form"].errors["training"])
    assert TrainingRecord.objects.count() == 1


# --- Reading ---------------------------------------------------------------------------


def test_the_form_suggests_the_trainings_loaded_instruments_require(
    cast: Cast, manager: User
) -> None:
    load_examples()
    page = verified_client(manager).get(reverse("accounts:account", args=[cast.case_manager.pk]))
    assert page.context["training_keys"] == [KEY]
    assert f'<option value="{KEY}">' in page.content.decode()


def test_an_expired_record_shows_as_expired_and_no_longer_qualifies(
    cast: Cast, manager: User
) -> None:
    person = cast.case_manager
    record_for(
        person,
        completed_on=today() - datetime.timedelta(days=800),
        expires_on=today(),  # from this day on it no longer counts
    )
    page = verified_client(manager).get(reverse("accounts:account", args=[person.pk]))
    [row] = page.context["trainings"]
    assert row.current is False
    assert "Expired" in page.content.decode()
    assert not is_qualified(person, KEY)


def test_a_person_reads_their_own_records_on_their_settings_page(cast: Cast, manager: User) -> None:
    person = cast.case_manager
    record = record_for(person, note="Certificate 7", recorded_by=manager)
    record_for(cast.police_on_team, training="someone-elses")

    page = verified_client(person).get(reverse("accounts:preferences"))

    assert page.status_code == 200
    body = page.content.decode()
    assert KEY in body and "Certificate 7" in body and "Current" in body
    assert "someone-elses" not in body
    # Read only.
    assert remove_url(person, record) not in body
    assert reverse("accounts:training_add", args=[person.pk]) not in body


ACCOUNT_QUERIES = 9  # as tests/accounts/test_staff_pages.py pins it


def test_the_account_page_keeps_its_queries_with_more_records(
    cast: Cast, manager: User, django_assert_num_queries: Any
) -> None:
    load_examples()
    person = cast.case_manager
    client = verified_client(manager)
    url = reverse("accounts:account", args=[person.pk])
    record_for(person, recorded_by=manager)
    client.get(url)
    with django_assert_num_queries(ACCOUNT_QUERIES):
        assert client.get(url).status_code == 200
    for n in range(5):
        record_for(person, training=f"training-{n}", recorded_by=cast.coordinator)
    with django_assert_num_queries(ACCOUNT_QUERIES):
        page = client.get(url)
    assert len(page.context["trainings"]) == 6
