"""Retention (DP-02): the daily job erases or anonymises cases past retention,
leaves nothing of them in any table, spares held and young cases, and leaves
the audit chain intact with a data-free tombstone.

The sentinel is planted in every text column of every row bound to the case,
in every app (the bound models are found by introspection, and a row is
made for each one that has none), and the whole database is then searched
with SQL, every column of every table, so that a table added by another app
is covered without touching this file.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterator
from typing import Any

import pytest
import time_machine
from django.apps import apps
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import connection, models, transaction
from django.http import Http404
from django.utils import timezone

from prepare.access.categories import Category
from prepare.access.errors import WriteForbidden
from prepare.access.models import BreakGlassAccess, CaseGrant
from prepare.accounts.models import Organisation, Role, User
from prepare.assessments.models import InstrumentVersion
from prepare.audit.chain import verify
from prepare.audit.models import Event, EventAction
from prepare.cases.models import (
    Case,
    CaseNote,
    CaseStatus,
    CaseTeamMember,
    CaseTransition,
    KeyDate,
    KeyDateKind,
    LegalHold,
    NoteKind,
    Person,
    Referral,
    ReferrerType,
    Transfer,
    TransferGrace,
    TransferStatus,
    TriageDecision,
    TriageOutcome,
)
from prepare.cases.retention import erasure as retention_erasure
from prepare.cases.retention import selectors as retention_selectors
from prepare.cases.retention import services as retention_services
from prepare.cases.retention.erasure import (
    Binding,
    LegalHoldActive,
    bindings_to,
    case_anonymise,
    case_erase,
)
from prepare.cases.retention.selectors import retention_digest
from prepare.cases.retention.services import (
    legal_hold_place,
    legal_hold_release,
    partnership_retention_update,
    retention_run,
)
from prepare.locking import StaleVersion, VersionRequired
from prepare.partnerships.models import Partnership, RetentionAction
from tests.assessments.support import load_examples
from tests.cast import ALL, Cast, sentinel
from tests.factories import PersonFactory, UserFactory

ERASED = "QXERASEDQ"  # planted in the case that must disappear
HELD = "QXHELDQ"  # planted in a case under a legal hold
YOUNG = "QXYOUNGQ"  # planted in a case still within retention
CLOSED_ON = datetime.date(2026, 3, 17)
YEARS = 5
DUE = datetime.date(2031, 3, 17)  # CLOSED_ON + YEARS


def at(day: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(3, 0), tzinfo=datetime.UTC)


# --- Planting ------------------------------------------------------------------------


def _text_fields(model: type[models.Model]) -> list[models.Field[Any, Any]]:
    """Columns that can hold free text: text, strings without choices, JSON."""
    found = []
    for f in model._meta.concrete_fields:
        if f.is_relation or f.primary_key:
            continue
        if isinstance(f, models.JSONField):
            found.append(f)
        elif isinstance(f, (models.CharField, models.TextField)) and not f.choices:
            if isinstance(f, models.GenericIPAddressField):
                continue
            found.append(f)
    return found


def _plain_value(f: models.Field[Any, Any], mark: str, n: int) -> Any:
    """A value for a required column, with the mark where text goes."""
    if f.choices:
        return f.choices[0][0]
    if isinstance(f, models.JSONField):
        return {"text": f"{mark}-{n}"}
    if isinstance(f, (models.CharField, models.TextField)):
        return f"{mark}-{n}"[: f.max_length or None]
    if isinstance(f, models.BooleanField):
        return False
    if isinstance(f, (models.IntegerField, models.DecimalField, models.FloatField)):
        return 1
    if isinstance(f, models.DateTimeField):
        return timezone.now()
    if isinstance(f, models.DateField):
        return timezone.localdate()
    if isinstance(f, models.UUIDField):
        import uuid

        return uuid.uuid4()
    raise AssertionError(f"no value for {f.model._meta.label}.{f.name} ({type(f).__name__})")


class Builder:
    """Makes one row of any model bound to a case, filling what it requires."""

    def __init__(self, cast: Cast, case: Case, mark: str) -> None:
        self.case = case
        self.mark = mark
        self.known: dict[type[models.Model], Any] = {
            Case: case,
            Person: case.person,
            Partnership: case.partnership,
            Organisation: cast.orgs["municipality"],
            User: cast.coordinator,
            # Reference data, not case data: an assessment's instrument stays.
            InstrumentVersion: load_examples()["needs"],
        }
        self.n = 0

    def make(self, model: type[models.Model], depth: int = 0) -> models.Model:
        assert depth < 4, f"cannot build {model._meta.label}: too deep"
        values: dict[str, Any] = {}
        for f in model._meta.concrete_fields:
            if f.primary_key or isinstance(f, models.AutoField):
                continue
            self.n += 1
            if f.is_relation:
                target = f.related_model
                assert isinstance(target, type)
                if target in self.known:
                    values[f.name] = self.known[target]
                elif not f.null:
                    values[f.name] = self.make(target, depth + 1)
                continue
            if f.name == "case_id":  # a plain id column (e.g. notifications)
                values[f.name] = self.case.pk
                continue
            if f.has_default() or f.null:
                continue  # text columns among these are marked afterwards
            values[f.name] = _plain_value(f, self.mark, self.n)
        with transaction.atomic():
            return model._base_manager.create(**values)


def plant(cast: Cast, case: Case, mark: str) -> None:
    """A row of every kind bound to ``case``, and ``mark`` in every text column."""
    user = cast.coordinator
    person = case.person
    Person.objects.filter(pk=person.pk).update(
        given_name=f"{mark}-given", family_name=f"{mark}-family", identifier=f"{mark}-id"
    )
    Case.objects.filter(pk=case.pk).update(reference=f"{mark}-{case.pk}")
    case.refresh_from_db()
    for category in ALL:
        CaseNote.objects.create(
            case=case,
            category=category,
            kind=NoteKind.FACT,
            text=f"{mark} note {category}",
            created_by=user,
            updated_by=user,
        )
    Referral.objects.create(
        case=case, referrer_type=ReferrerType.PRISON, reason=f"{mark} referral", created_by=user
    )
    TriageDecision.objects.create(
        case=case, outcome=TriageOutcome.MULTI_AGENCY, reasons=f"{mark} triage", decided_by=user
    )
    CaseTransition.objects.create(
        case=case,
        from_status=CaseStatus.CLOSING,
        to_status=CaseStatus.CLOSED,
        reason=f"{mark} closure",
        actor=user,
    )
    KeyDate.objects.create(
        case=case,
        kind=KeyDateKind.EXPECTED_RELEASE,
        date=CLOSED_ON,
        source=f"{mark} source",
        updated_by=user,
    )
    CaseTeamMember.objects.get_or_create(
        case=case,
        organisation=cast.orgs["municipality"],
        user=None,
        defaults={"purpose": f"{mark} purpose"},
    )
    BreakGlassAccess.objects.create(
        user=cast.police_off_team,
        case=case,
        justification=f"{mark} emergency",
        expires_at=timezone.now() - datetime.timedelta(hours=1),
    )
    transfer = Transfer.objects.create(
        case=case,
        from_partnership=case.partnership,
        to_partnership=cast.other_partnership
        if case.partnership_id != cast.other_partnership.pk
        else cast.partnership,
        handover_summary=f"{mark} handover",
        decision_reason=f"{mark} declined",
        status=TransferStatus.DECLINED,
        proposed_by=user,
    )
    TransferGrace.objects.create(
        transfer=transfer,
        case=case,
        organisation=cast.orgs["probation"],
        category=Category.SOCIAL,
        until=timezone.now() - datetime.timedelta(days=1),
    )
    LegalHold.objects.create(
        case=case,
        reason=f"{mark} old hold",
        until=CLOSED_ON,
        placed_by=user,
        released_by=user,
        released_at=timezone.now(),
    )
    # Every other model bound to a case or a person (other apps' records)
    # gets a row, then every text column of every bound row gets the mark.
    builder = Builder(cast, case, mark)
    bound = bindings_to(Case, plain_id="case_id") + bindings_to(Person)
    for binding in bound:
        pk = person.pk if _binds_person(binding) else case.pk
        if not binding.model._base_manager.filter(**{binding.column: pk}).exists():
            builder.make(binding.model)
    for binding in bound:
        pk = person.pk if _binds_person(binding) else case.pk
        _mark_rows(binding, pk, mark)
    case.refresh_from_db()


def _binds_person(binding: Binding) -> bool:
    f = binding.model._meta.get_field(binding.column)
    return f.is_relation and f.related_model is Person


def _mark_rows(binding: Binding, pk: int, mark: str) -> None:
    fields = _text_fields(binding.model)
    for row in binding.model._base_manager.filter(**{binding.column: pk}):
        values = {}
        for f in fields:
            if isinstance(f, models.JSONField):
                values[f.name] = {"text": f"{mark}-{row.pk}"}
            else:
                values[f.name] = f"{mark}-{f.name}-{row.pk}"[: f.max_length or None]
        if values:
            binding.model._base_manager.filter(pk=row.pk).update(**values)


# --- Searching -----------------------------------------------------------------------


def tables_holding(text: str) -> list[str]:
    """Every ``table.column`` of the database whose value contains ``text``."""
    found = []
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            for column in connection.introspection.get_table_description(cursor, table):
                cursor.execute(
                    f"SELECT COUNT(*) FROM {qn(table)} "
                    f"WHERE CAST({qn(column.name)} AS TEXT) LIKE %s",
                    [f"%{text}%"],
                )
                if cursor.fetchone()[0]:
                    found.append(f"{table}.{column.name}")
    return found


def event_text(event: Event) -> str:
    return json.dumps(
        {f.attname: getattr(event, f.attname) for f in Event._meta.concrete_fields}, default=str
    )


# --- The scene -----------------------------------------------------------------------


def close(case: Case, on: datetime.date, status: str = CaseStatus.CLOSED) -> None:
    Case.objects.filter(pk=case.pk).update(status=status, closed_on=on, outcome="reintegrated")
    CaseGrant.objects.filter(case_id=case.pk).update(status=status)
    case.refresh_from_db()


def new_case(cast: Cast, reference: str, person: Person | None = None) -> Case:
    from prepare.access.grants import case_grants_rebuild

    case = Case.objects.create(
        person=person or PersonFactory(),
        partnership=cast.partnership,
        reference=reference,
        status=CaseStatus.COMMUNITY,
    )
    case_grants_rebuild(case)
    return case


@pytest.fixture
def scene(cast: Cast) -> Iterator[dict[str, Case]]:
    """K (the cast's case) closed on CLOSED_ON; a held case closed the same day;
    a case closed a year later, still within retention at DUE."""
    Partnership.objects.filter(pk=cast.partnership.pk).update(
        retention_years=YEARS, retention_action=RetentionAction.ERASE
    )
    k = cast.case
    held = new_case(cast, "TST-2026-0100")
    young = new_case(cast, "TST-2026-0101")
    with time_machine.travel(at(CLOSED_ON), tick=False):
        plant(cast, k, ERASED)
        plant(cast, held, HELD)
        plant(cast, young, YOUNG)
        close(k, CLOSED_ON)
        close(held, CLOSED_ON)
        close(young, CLOSED_ON + datetime.timedelta(days=366))
        LegalHold.objects.create(
            case=held, reason=f"{HELD} court order", until=DUE, placed_by=cast.coordinator
        )
    yield {"k": k, "held": held, "young": young}


# --- The job -------------------------------------------------------------------------


@pytest.mark.django_db
def test_erasure_leaves_no_trace_in_any_table(cast: Cast, scene: dict[str, Case]) -> None:
    k = scene["k"]
    # Everything is planted and findable: the search can fail.
    for mark in (ERASED, HELD, YOUNG):
        assert len(tables_holding(mark)) >= 10, mark
    k_person = k.person_id
    events_before = Event.objects.count()
    notes_before = {
        name: CaseNote.objects.filter(case=scene[name]).count() for name in ("k", "held", "young")
    }

    with time_machine.travel(at(DUE), tick=False):
        report = retention_run()

    assert report.erased == [k.pk]
    assert report.held == [scene["held"].pk]
    assert (report.anonymised, report.failed) == ([], [])
    assert tables_holding(ERASED) == []
    assert not Case.objects.filter(pk=k.pk).exists()
    assert not Person.objects.filter(pk=k_person).exists()
    for binding in bindings_to(Case, plain_id="case_id"):
        assert not binding.model._base_manager.filter(**{binding.column: k.pk}).exists()
    # The held case and the young one are untouched.
    for name, mark in (("held", HELD), ("young", YOUNG)):
        case = Case.objects.get(pk=scene[name].pk)
        assert mark in case.reference
        assert len(tables_holding(mark)) >= 10
        assert CaseNote.objects.filter(case=case).count() == notes_before[name] >= len(ALL)
    # One tombstone, data-free, and the chain still verifies.
    new = list(Event.objects.filter(seq__gt=events_before).order_by("seq"))
    assert [(e.action, e.case_id, e.actor_username) for e in new] == [
        (EventAction.ERASE, k.pk, retention_selectors.SYSTEM_ACTOR)
    ]
    tomb = new[0]
    assert tomb.detail["action"] == "erase"
    assert tomb.detail["retention"] == {"partnership": cast.partnership.pk, "years": YEARS}
    # The cast's notes, the planted ones, and any a record of another kind needed.
    assert tomb.detail["removed"]["cases.casenote"] == notes_before["k"] >= len(ALL) * 2
    text = event_text(tomb)
    for secret in (ERASED, "Sentinelia", "Identitas", "TST-2026-0001", *map(sentinel, ALL)):
        assert secret not in text
    assert verify() is None
    call_command("audit", "verify")


@pytest.mark.django_db
def test_a_second_run_does_nothing(cast: Cast, scene: dict[str, Case]) -> None:
    with time_machine.travel(at(DUE), tick=False):
        first = retention_run()
        events = Event.objects.count()
        rows = {m._meta.label: m._base_manager.count() for m in apps.get_models()}
        second = retention_run()
    assert first.erased == [scene["k"].pk]
    assert (second.erased, second.anonymised, second.failed) == ([], [], [])
    assert second.held == [scene["held"].pk]
    assert Event.objects.count() == events
    assert {m._meta.label: m._base_manager.count() for m in apps.get_models()} == rows


@pytest.mark.django_db
def test_nothing_happens_the_day_before(cast: Cast, scene: dict[str, Case]) -> None:
    with time_machine.travel(at(DUE - datetime.timedelta(days=1)), tick=False):
        report = retention_run()
    assert (report.erased, report.anonymised, report.held) == ([], [], [])
    assert len(tables_holding(ERASED)) >= 10


@pytest.mark.django_db
def test_anonymisation_keeps_the_row_without_text(cast: Cast, scene: dict[str, Case]) -> None:
    Partnership.objects.filter(pk=cast.partnership.pk).update(
        retention_action=RetentionAction.ANONYMISE
    )
    k = scene["k"]
    old_person = k.person
    with time_machine.travel(at(DUE), tick=False):
        report = retention_run()
        again = retention_run()

    assert report.anonymised == [k.pk]
    assert again.anonymised == []
    assert tables_holding(ERASED) == []
    k.refresh_from_db()
    assert k.anonymised_at is not None
    assert (k.status, k.outcome) == (CaseStatus.CLOSED, "reintegrated")
    assert k.closed_on == datetime.date(2026, 3, 1)
    assert k.opened_on.day == 1
    assert k.reference == f"ANON-{k.pk}"
    person = k.person
    assert person.pk != old_person.pk
    assert (person.given_name, person.family_name, person.identifier, person.birth_date) == (
        "",
        "",
        "",
        None,
    )
    assert person.data_subject_category == old_person.data_subject_category
    assert not Person.objects.filter(pk=old_person.pk).exists()
    # Nothing bound to the case is left but the case row itself: no team, no grant.
    for binding in bindings_to(Case, plain_id="case_id"):
        assert not binding.model._base_manager.filter(**{binding.column: k.pk}).exists()
    assert not Case.objects.visible_to(User.objects.get(pk=cast.coordinator.pk)).filter(pk=k.pk)
    tomb = Event.objects.get(action=EventAction.ERASE, case_id=k.pk)
    assert tomb.detail["action"] == "anonymise"
    assert ERASED not in event_text(tomb)
    assert verify() is None


@pytest.mark.django_db
def test_holds_released_or_ended_do_not_keep_a_case(cast: Cast, scene: dict[str, Case]) -> None:
    held = scene["held"]
    hold = LegalHold.objects.get(case=held, released_at__isnull=True)
    # A hold in force until the very day still keeps it.
    with time_machine.travel(at(DUE), tick=False):
        assert retention_run().held == [held.pk]
    LegalHold.objects.filter(pk=hold.pk).update(until=DUE - datetime.timedelta(days=1))
    with time_machine.travel(at(DUE), tick=False):
        assert retention_run().erased == [held.pk]
    assert tables_holding(HELD) == []


@pytest.mark.django_db
def test_a_case_in_follow_up_is_not_retained_yet(cast: Cast, scene: dict[str, Case]) -> None:
    close(scene["k"], CLOSED_ON, status=CaseStatus.FOLLOW_UP)
    with time_machine.travel(at(DUE + datetime.timedelta(days=400)), tick=False):
        report = retention_run()
    assert scene["k"].pk not in report.erased
    assert Case.objects.filter(pk=scene["k"].pk).exists()
    assert len(tables_holding(ERASED)) >= 10


@pytest.mark.django_db
def test_an_archived_case_is_retained_like_a_closed_one(cast: Cast, scene: dict[str, Case]) -> None:
    close(scene["k"], CLOSED_ON, status=CaseStatus.ARCHIVED)
    with time_machine.travel(at(DUE), tick=False):
        assert retention_run().erased == [scene["k"].pk]


@pytest.mark.django_db
def test_a_person_with_another_case_is_kept(cast: Cast) -> None:
    first = new_case(cast, "TST-2026-0200")
    second = new_case(cast, "TST-2026-0201", person=first.person)
    close(first, CLOSED_ON)
    with time_machine.travel(at(DUE), tick=False):
        assert retention_run().erased == [first.pk]
    assert Person.objects.filter(pk=second.person_id).exists()
    assert Case.objects.filter(pk=second.pk).exists()


@pytest.mark.django_db
def test_a_failing_case_is_reported_and_the_others_are_done(
    cast: Cast, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = new_case(cast, "TST-2026-0300")
    second = new_case(cast, "TST-2026-0301")
    close(first, CLOSED_ON)
    close(second, CLOSED_ON + datetime.timedelta(days=1))
    real = retention_erasure.case_erase

    def flaky(*, case_id: int, today: datetime.date | None = None) -> dict[str, int]:
        if case_id == first.pk:
            CaseNote.objects.filter(case_id=case_id).delete()  # undone with the failure
            raise RuntimeError("disk full")
        return real(case_id=case_id, today=today)

    CaseNote.objects.create(
        case=first,
        category=Category.SOCIAL,
        kind=NoteKind.FACT,
        text="kept",
        created_by=cast.coordinator,
        updated_by=cast.coordinator,
    )
    monkeypatch.setattr(retention_services, "case_erase", flaky)
    with time_machine.travel(at(DUE + datetime.timedelta(days=1)), tick=False):
        report = retention_run()
    assert (report.erased, report.failed) == ([second.pk], [first.pk])
    assert CaseNote.objects.filter(case=first, text="kept").exists()
    assert not Case.objects.filter(pk=second.pk).exists()
    assert verify() is None


@pytest.mark.django_db
def test_erase_and_anonymise_refuse_a_held_case(cast: Cast, scene: dict[str, Case]) -> None:
    held = scene["held"]
    with time_machine.travel(at(DUE), tick=False):
        with pytest.raises(LegalHoldActive):
            case_erase(case_id=held.pk)
        with pytest.raises(LegalHoldActive):
            case_anonymise(case_id=held.pk)
    assert Case.objects.filter(pk=held.pk, anonymised_at__isnull=True).exists()


def test_the_bindings_cover_the_case_bound_tables() -> None:
    labels = {b.label for b in bindings_to(Case, plain_id="case_id")}
    assert {
        "cases.casenote",
        "cases.caseteammember",
        "cases.referral",
        "cases.triagedecision",
        "cases.casetransition",
        "cases.keydate",
        "cases.transfer",
        "cases.transfergrace",
        "cases.legalhold",
        "access.casegrant",
        "access.breakglassaccess",
    } <= labels
    assert not labels & retention_selectors.KEPT_TABLES
    if apps.is_installed("prepare.notifications"):
        assert "notifications.notification" in labels


def test_add_years_keeps_29_february_in_the_year() -> None:
    assert retention_selectors.add_years(datetime.date(2024, 2, 29), 1) == datetime.date(
        2025, 2, 28
    )
    assert retention_selectors.add_years(datetime.date(2024, 2, 29), 4) == datetime.date(
        2028, 2, 29
    )
    assert retention_selectors.retention_due_on(None, 5) is None


# --- The command ---------------------------------------------------------------------


@pytest.mark.django_db
def test_the_command_lists_and_runs(
    cast: Cast, scene: dict[str, Case], capsys: pytest.CaptureFixture[str]
) -> None:
    with time_machine.travel(at(DUE), tick=False):
        call_command("retention", "due")
        listed = capsys.readouterr().out
        call_command("retention", "run")
        ran = capsys.readouterr().out
    assert f"{scene['k'].pk}\tdue" in listed
    assert f"{scene['held'].pk}\theld" in listed
    assert "1 erased" in ran and "1 kept by a legal hold" in ran
    assert not Case.objects.filter(pk=scene["k"].pk).exists()


# --- Legal holds ---------------------------------------------------------------------

LATER = datetime.date(2040, 1, 1)


@pytest.mark.django_db
def test_the_coordinator_places_and_releases_a_hold(cast: Cast) -> None:
    hold = legal_hold_place(
        actor=cast.coordinator, case_id=cast.case.pk, reason="Inquiry 12", until=LATER
    )
    hold.refresh_from_db()
    assert (hold.case_id, hold.placed_by_id, hold.until) == (
        cast.case.pk,
        cast.coordinator.pk,
        LATER,
    )
    placed = Event.objects.get(object_type="cases.legalhold", action=EventAction.CREATE)
    assert (placed.case_id, placed.actor_id) == (cast.case.pk, cast.coordinator.pk)
    assert placed.detail == {
        "legal_hold": "place",
        "until": "2040-01-01",
        "fields": ["reason", "until"],
    }
    assert "Inquiry" not in event_text(placed)

    legal_hold_release(actor=cast.coordinator, hold_id=hold.pk, case_id=cast.case.pk)
    hold.refresh_from_db()
    assert hold.released_by_id == cast.coordinator.pk and hold.released_at is not None
    assert Event.objects.filter(
        object_type="cases.legalhold", action=EventAction.UPDATE, case_id=cast.case.pk
    ).exists()
    with pytest.raises(ValidationError):
        legal_hold_release(actor=cast.coordinator, hold_id=hold.pk)


@pytest.mark.django_db
def test_the_dpo_of_the_coordinating_organisation_places_a_hold_by_reference(cast: Cast) -> None:
    hold = legal_hold_place(
        actor=cast.auditor, reference=cast.case.reference, reason="Complaint", until=LATER
    )
    assert hold.case_id == cast.case.pk and hold.placed_by_id == cast.auditor.pk
    legal_hold_release(actor=cast.auditor, hold_id=hold.pk)
    # An auditor elsewhere does not reach the case.
    other_dpo = UserFactory(organisation=cast.orgs["elsewhere"], role=Role.AUDITOR)
    with pytest.raises(Http404):
        legal_hold_place(
            actor=other_dpo, reference=cast.case.reference, reason="Complaint", until=LATER
        )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("actor", "error"),
    [
        ("case_manager", WriteForbidden),
        ("police_on_team", WriteForbidden),
        ("police_off_team", Http404),
        ("outsider", Http404),
        ("trainer", Http404),
    ],
)
def test_others_may_not_place_a_hold(cast: Cast, actor: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        legal_hold_place(actor=cast.actors[actor], case_id=cast.case.pk, reason="Mine", until=LATER)
    hold = LegalHold.objects.create(
        case=cast.case, reason="x", until=LATER, placed_by=cast.coordinator
    )
    with pytest.raises(error):
        legal_hold_release(actor=cast.actors[actor], hold_id=hold.pk)
    assert LegalHold.objects.filter(released_at__isnull=True).count() == 1
    assert not Event.objects.filter(object_type="cases.legalhold").exists()


@pytest.mark.django_db
def test_a_hold_needs_a_reason_and_a_date_ahead(cast: Cast) -> None:
    with pytest.raises(ValidationError) as info:
        legal_hold_place(
            actor=cast.coordinator,
            case_id=cast.case.pk,
            reason="  ",
            until=timezone.localdate() - datetime.timedelta(days=1),
        )
    assert set(info.value.message_dict) == {"reason", "until"}
    assert not LegalHold.objects.exists()


@pytest.mark.django_db
def test_a_hold_is_released_only_under_its_own_case(cast: Cast) -> None:
    hold = LegalHold.objects.create(
        case=cast.case, reason="x", until=LATER, placed_by=cast.coordinator
    )
    k2 = new_case(cast, "TST-2026-0400")
    with pytest.raises(Http404):
        legal_hold_release(actor=cast.coordinator, hold_id=hold.pk, case_id=k2.pk)
    hold.refresh_from_db()
    assert hold.released_at is None


# --- The partnership's rule ----------------------------------------------------------


@pytest.mark.django_db
def test_the_coordinator_sets_the_rule(cast: Cast) -> None:
    p = cast.partnership
    changed = partnership_retention_update(
        actor=cast.coordinator,
        partnership_id=p.pk,
        retention_years=10,
        retention_action=RetentionAction.ANONYMISE,
        expected=retention_digest(p),
    )
    assert changed == ["retention_action", "retention_years"]
    p.refresh_from_db()
    assert (p.retention_years, p.retention_action) == (10, "anonymise")
    event = Event.objects.get(action=EventAction.AGREEMENT_CHANGE)
    assert event.actor_id == cast.coordinator.pk
    assert event.detail["retention"] == {
        "retention_action": {"from": "erase", "to": "anonymise"},
        "retention_years": {"from": 5, "to": 10},
    }


@pytest.mark.django_db
def test_the_rule_is_the_coordinators_and_not_overwritten(cast: Cast) -> None:
    p = cast.partnership
    digest = retention_digest(p)
    kwargs: dict[str, Any] = {
        "partnership_id": p.pk,
        "retention_years": 7,
        "retention_action": RetentionAction.ERASE,
    }
    with pytest.raises(WriteForbidden):
        partnership_retention_update(actor=cast.case_manager, expected=digest, **kwargs)
    with pytest.raises(Http404):
        partnership_retention_update(actor=cast.outsider, expected=digest, **kwargs)
    with pytest.raises(VersionRequired):
        partnership_retention_update(actor=cast.coordinator, expected="", **kwargs)
    with pytest.raises(StaleVersion):
        partnership_retention_update(actor=cast.coordinator, expected="9:erase", **kwargs)
    with pytest.raises(ValidationError):
        partnership_retention_update(
            actor=cast.coordinator, expected=digest, **{**kwargs, "retention_years": 0}
        )
    p.refresh_from_db()
    assert p.retention_years == 5
    assert not Event.objects.filter(action=EventAction.AGREEMENT_CHANGE).exists()


# --- The daily task ------------------------------------------------------------------


@pytest.mark.django_db
def test_retention_is_a_daily_task_of_the_worker(cast: Cast, scene: dict[str, Case]) -> None:
    from prepare.notifications.scheduler import discover

    periodic = discover()["retention"]
    assert periodic.interval == datetime.timedelta(days=1)
    with time_machine.travel(at(DUE), tick=False):
        result = periodic.task.call()
    assert result == {
        "erased": [scene["k"].pk],
        "anonymised": [],
        "held": [scene["held"].pk],
        "failed": [],
    }
    assert not Case.objects.filter(pk=scene["k"].pk).exists()
