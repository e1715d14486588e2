"""Monitoring services: policy, optimistic locking, escalation, audit, mail."""

from __future__ import annotations

import datetime

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.http import Http404
from django.utils import timezone

from prepare.access.categories import Category
from prepare.access.errors import WriteForbidden
from prepare.audit.models import Event
from prepare.locking import StaleVersion
from prepare.monitoring import selectors, services
from prepare.monitoring.models import (
    Breach,
    Contact,
    ContactKind,
    LicenceCondition,
    Severity,
    Signal,
    SignalAlert,
    SignalStatus,
)
from tests.cast import Cast
from tests.factories import UserFactory
from tests.monitoring.support import add_condition, name_for_escalation

pytestmark = pytest.mark.django_db

SECRET = "SECRET-CONCERN-TEXT-91b2"


def _events(obj: object, action: str) -> list[Event]:
    return list(
        Event.objects.filter(
            object_type=obj._meta.label_lower,  # type: ignore[attr-defined]
            object_id=str(obj.pk),  # type: ignore[attr-defined]
            action=action,
        )
    )


# --- Contacts --------------------------------------------------------------------------


def test_a_contact_is_recorded_in_a_writable_category_and_audited(cast: Cast) -> None:
    when = timezone.now() - datetime.timedelta(hours=2)
    contact = services.contact_record(
        actor=cast.case_manager,
        case_id=cast.case.pk,
        category=Category.SOCIAL,
        kind=ContactKind.HOME_VISIT,
        occurred_at=when,
        with_whom="The person and their mother",
        summary="Housing is stable.",
    )
    contact.refresh_from_db()
    assert (contact.who_id, contact.category, contact.version) == (
        cast.case_manager.pk,
        "social",
        1,
    )
    [event] = _events(contact, "create")
    assert (event.case_id, event.category, event.actor_id) == (
        cast.case.pk,
        "social",
        cast.case_manager.pk,
    )
    assert "Housing" not in str(event.detail)


@pytest.mark.parametrize(
    ("actor", "category"),
    [
        ("case_manager", Category.HEALTH),  # probation reads health, does not write it
        ("police_on_team", Category.SOCIAL),  # police does not even read social
        ("ngo_mentor", Category.RISK),
        ("coordinator", Category.INTELLIGENCE),
    ],
)
def test_a_contact_in_a_category_not_writable_is_refused(
    cast: Cast, actor: str, category: str
) -> None:
    with pytest.raises(WriteForbidden):
        services.contact_record(
            actor=cast.actors[actor],
            case_id=cast.case.pk,
            category=category,
            kind=ContactKind.CALL,
            occurred_at=timezone.now(),
            summary="x",
        )
    assert not Contact.objects.exists()


@pytest.mark.parametrize("actor", ["police_off_team", "outsider", "auditor", "trainer"])
def test_a_contact_on_an_invisible_case_is_404(cast: Cast, actor: str) -> None:
    with pytest.raises(Http404):
        services.contact_record(
            actor=cast.actors[actor],
            case_id=cast.case.pk,
            category=Category.RISK,
            kind=ContactKind.CALL,
            occurred_at=timezone.now(),
            summary="x",
        )
    assert not Contact.objects.exists()


def test_a_contact_cannot_be_in_the_future(cast: Cast) -> None:
    with pytest.raises(ValidationError) as info:
        services.contact_record(
            actor=cast.case_manager,
            case_id=cast.case.pk,
            category=Category.RISK,
            kind=ContactKind.CALL,
            occurred_at=timezone.now() + datetime.timedelta(days=1),
            summary="x",
        )
    assert "occurred_at" in info.value.message_dict
    assert not Contact.objects.exists()


def _contact(cast: Cast, category: str = Category.RISK) -> Contact:
    return services.contact_record(
        actor=cast.case_manager,
        case_id=cast.case.pk,
        category=category,
        kind=ContactKind.MEETING,
        occurred_at=timezone.now() - datetime.timedelta(days=1),
        summary="First version",
    )


def test_a_contact_update_checks_the_version(cast: Cast) -> None:
    contact = _contact(cast)
    services.contact_update(
        actor=cast.police_on_team, contact_id=contact.pk, version=1, summary="Second version"
    )
    with pytest.raises(StaleVersion):
        services.contact_update(
            actor=cast.case_manager, contact_id=contact.pk, version=1, summary="Lost update"
        )
    contact.refresh_from_db()
    assert (contact.summary, contact.version, contact.updated_by_id) == (
        "Second version",
        2,
        cast.police_on_team.pk,
    )
    [event] = _events(contact, "update")
    assert event.detail == {
        "fields": ["summary"],
        "version": 2,
        "correction": True,
        "earlier_version": 1,
        "reason_given": False,
    }
    # The stale correction kept no copy: only the first version was replaced.
    assert list(contact.versions.values_list("version", "summary")) == [(1, "First version")]


def test_a_contact_update_needs_the_category(cast: Cast) -> None:
    contact = _contact(cast, Category.SOCIAL)
    with pytest.raises(Http404):  # the police do not read social
        services.contact_update(
            actor=cast.police_on_team, contact_id=contact.pk, version=1, summary="x"
        )
    with pytest.raises(WriteForbidden):  # the NGO reads social, does not write it
        services.contact_update(
            actor=cast.ngo_mentor, contact_id=contact.pk, version=1, summary="x"
        )
    contact.refresh_from_db()
    assert (contact.summary, contact.version) == ("First version", 1)


# --- Licence conditions and breaches ---------------------------------------------------------


def test_conditions_and_breaches(cast: Cast) -> None:
    today = timezone.localdate()
    condition = services.licence_condition_add(
        actor=cast.case_manager,
        case_id=cast.case.pk,
        text="No contact with the co-defendants",
        starts_on=today - datetime.timedelta(days=10),
    )
    breach = services.breach_record(
        actor=cast.case_manager,
        condition_id=condition.pk,
        occurred_on=today - datetime.timedelta(days=2),
        description="Seen with a co-defendant",
        action_taken="Formal warning",
    )
    breach.refresh_from_db()
    assert (breach.case_id, breach.condition_id, breach.category, breach.reported_by_id) == (
        cast.case.pk,
        condition.pk,
        "justice",
        cast.case_manager.pk,
    )
    assert _events(breach, "create")[0].detail == {"condition": condition.pk}
    ended = services.licence_condition_end(
        actor=cast.case_manager, condition_id=condition.pk, version=1
    )
    ended.refresh_from_db()
    assert (ended.ends_on, ended.version) == (today, 2)
    with pytest.raises(StaleVersion):
        services.licence_condition_update(
            actor=cast.case_manager,
            condition_id=condition.pk,
            version=1,
            text="Changed",
            starts_on=condition.starts_on,
            ends_on=None,
        )
    # A breach after the condition ended, or before it started, is refused.
    with pytest.raises(ValidationError):
        services.breach_record(
            actor=cast.case_manager,
            condition_id=condition.pk,
            occurred_on=today - datetime.timedelta(days=20),
            description="Before it applied",
        )
    assert Breach.objects.count() == 1


def test_conditions_are_justice_writers_only(cast: Cast) -> None:
    condition = add_condition(cast)
    for name in ("police_on_team", "ngo_mentor"):
        actor = cast.actors[name]
        with pytest.raises(WriteForbidden):
            services.licence_condition_add(
                actor=actor, case_id=cast.case.pk, text="x", starts_on=timezone.localdate()
            )
    # The police read justice (403 on a breach), the NGO does not (404).
    with pytest.raises(WriteForbidden):
        services.breach_record(
            actor=cast.police_on_team,
            condition_id=condition.pk,
            occurred_on=timezone.localdate(),
            description="x",
        )
    with pytest.raises(Http404):
        services.breach_record(
            actor=cast.ngo_mentor,
            condition_id=condition.pk,
            occurred_on=timezone.localdate(),
            description="x",
        )
    assert LicenceCondition.objects.count() == 1
    assert not Breach.objects.exists()


# --- Signals and escalation -----------------------------------------------------------------


def _raise(
    cast: Cast,
    severity: str,
    category: str = Category.RISK,
    actor: str = "case_manager",
) -> Signal:
    return services.signal_raise(
        actor=cast.actors[actor],
        case_id=cast.case.pk,
        severity=severity,
        category=category,
        description=SECRET,
    )


@pytest.mark.parametrize("severity", [Severity.HIGH, Severity.URGENT])
def test_a_high_signal_escalates_to_the_coordinator_and_the_escalation_organisations(
    escalating: Cast, severity: str, django_capture_on_commit_callbacks
) -> None:
    cast = escalating
    # Another police officer, not on K's team: the police are named for
    # escalation, but the policy does not let this one read K.
    UserFactory(username="police_other", organisation=cast.orgs["police"], email="p@example.org")
    with django_capture_on_commit_callbacks(execute=True):
        signal = _raise(cast, severity)
    signal.refresh_from_db()
    assert signal.escalated and signal.status == SignalStatus.OPEN
    alerted = set(
        SignalAlert.objects.filter(signal=signal).values_list("user__username", flat=True)
    )
    assert alerted == {"coordinator", "police_on_team"}
    assert {u.username for u in services.signal_recipients(signal)} == alerted
    # One mail each, with the reference and the severity and nothing else of the case.
    assert sorted(m.to[0] for m in mail.outbox) == sorted(
        [cast.coordinator.email, cast.police_on_team.email]
    )
    for message in mail.outbox:
        assert len(message.to) == 1
        assert cast.case.reference in message.subject
        text = message.subject + message.body
        assert str(Severity(severity).label) in text
        assert SECRET not in text
        assert "Sentinelia" not in text and "Identitas" not in text
        assert "risk" not in text.lower()
    [event] = _events(signal, "create")
    assert event.detail["escalated"] is True
    assert sorted(event.detail["alerted"]) == sorted([cast.coordinator.pk, cast.police_on_team.pk])


@pytest.mark.parametrize("severity", [Severity.LOW, Severity.MEDIUM])
def test_low_and_medium_signals_do_not_escalate(
    escalating: Cast, severity: str, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        signal = _raise(escalating, severity)
    signal.refresh_from_db()
    assert not signal.escalated
    assert not SignalAlert.objects.exists()
    assert mail.outbox == []
    assert selectors.open_alerts_count(actor=escalating.coordinator) == 0


def test_escalation_only_reaches_who_may_read_the_category(cast: Cast) -> None:
    name_for_escalation(cast, "police", "ngo")
    # Social: the police do not read it, the NGO does (and is on the team).
    social = _raise(cast, Severity.URGENT, Category.SOCIAL)
    assert set(
        SignalAlert.objects.filter(signal=social).values_list("user__username", flat=True)
    ) == {"coordinator", "ngo_mentor"}
    # Intelligence, raised by the police: only the police read it; the one
    # who raised it is not alerted, and the coordinator may not read it.
    intel = _raise(cast, Severity.HIGH, Category.INTELLIGENCE, actor="police_on_team")
    assert not SignalAlert.objects.filter(signal=intel).exists()


def test_without_escalation_organisations_only_the_coordinator_is_alerted(cast: Cast) -> None:
    signal = _raise(cast, Severity.HIGH)
    assert list(SignalAlert.objects.filter(signal=signal).values_list("user_id", flat=True)) == [
        cast.coordinator.pk
    ]


def test_acknowledgement_clears_the_signal_for_everyone(escalating: Cast) -> None:
    cast = escalating
    signal = _raise(cast, Severity.HIGH, Category.JUSTICE)
    for user in (cast.coordinator, cast.police_on_team):
        assert [s.pk for s in selectors.signals_owed(actor=user)] == [signal.pk]
        assert selectors.open_alerts_count(actor=user) == 1
    assert selectors.signals_owed(actor=cast.case_manager) == []

    with pytest.raises(ValidationError):
        services.signal_acknowledge(
            actor=cast.police_on_team, signal_id=signal.pk, version=1, note=" "
        )
    # The police read justice without writing it, but they were alerted: they may acknowledge.
    services.signal_acknowledge(
        actor=cast.police_on_team, signal_id=signal.pk, version=1, note="Patrol informed"
    )
    signal.refresh_from_db()
    assert (signal.status, signal.acknowledged_by_id, signal.acknowledgement_note) == (
        SignalStatus.ACKNOWLEDGED,
        cast.police_on_team.pk,
        "Patrol informed",
    )
    assert not SignalAlert.objects.filter(signal=signal, closed_at__isnull=True).exists()
    for user in (cast.coordinator, cast.police_on_team):
        assert selectors.signals_owed(actor=user) == []
        assert selectors.open_alerts_count(actor=user) == 0
    [event] = _events(signal, "update")
    assert event.detail["alerts_closed"] == 2 and event.detail["as_recipient"] is True
    assert "Patrol" not in str(event.detail)


def test_a_stale_acknowledgement_is_refused(escalating: Cast) -> None:
    cast = escalating
    signal = _raise(cast, Severity.URGENT)
    services.signal_acknowledge(actor=cast.coordinator, signal_id=signal.pk, version=1, note="Seen")
    with pytest.raises(StaleVersion):
        services.signal_acknowledge(
            actor=cast.police_on_team, signal_id=signal.pk, version=1, note="Also seen"
        )
    signal.refresh_from_db()
    assert (signal.acknowledged_by_id, signal.version) == (cast.coordinator.pk, 2)


def test_who_may_acknowledge(escalating: Cast) -> None:
    cast = escalating
    signal = _raise(cast, Severity.HIGH, Category.SOCIAL, actor="coordinator")
    # The NGO reads social but does not write it and was not alerted: refused.
    # Off the team: 404.
    with pytest.raises(WriteForbidden):
        services.signal_acknowledge(actor=cast.ngo_mentor, signal_id=signal.pk, version=1, note="x")
    with pytest.raises(Http404):
        services.signal_acknowledge(
            actor=cast.police_off_team, signal_id=signal.pk, version=1, note="x"
        )
    # Not alerted but writes social: the case manager may.
    services.signal_acknowledge(
        actor=cast.case_manager, signal_id=signal.pk, version=1, note="On it"
    )
    signal.refresh_from_db()
    assert signal.acknowledged_by_id == cast.case_manager.pk
    assert not SignalAlert.objects.filter(closed_at__isnull=True).exists()


def test_closing_a_signal_needs_the_category_and_closes_the_alerts(escalating: Cast) -> None:
    cast = escalating
    signal = _raise(cast, Severity.HIGH, Category.JUSTICE)
    with pytest.raises(WriteForbidden):  # alerted, reads justice, does not write it
        services.signal_close(actor=cast.police_on_team, signal_id=signal.pk, version=1)
    services.signal_close(actor=cast.case_manager, signal_id=signal.pk, version=1)
    signal.refresh_from_db()
    assert (signal.status, signal.closed_by_id) == (SignalStatus.CLOSED, cast.case_manager.pk)
    assert selectors.open_alerts_count(actor=cast.coordinator) == 0


def test_a_signal_in_a_category_not_writable_is_refused(escalating: Cast) -> None:
    with pytest.raises(WriteForbidden):
        _raise(escalating, Severity.URGENT, Category.HEALTH)  # probation only reads health
    assert not Signal.objects.exists() and not SignalAlert.objects.exists()


def test_alerts_follow_the_policy_when_access_ends(escalating: Cast) -> None:
    """An alert does not outlive the recipient's access to the case."""
    cast = escalating
    signal = _raise(cast, Severity.HIGH)
    from prepare.access.grants import case_grants_rebuild
    from prepare.cases.models import CaseTeamMember

    CaseTeamMember.objects.filter(case=cast.case, user=cast.police_on_team).delete()
    case_grants_rebuild(cast.case)
    assert SignalAlert.objects.filter(signal=signal, user=cast.police_on_team).exists()
    assert selectors.signals_owed(actor=cast.police_on_team) == []
    assert selectors.open_alerts_count(actor=cast.police_on_team) == 0
