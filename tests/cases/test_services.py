"""The case services: each one transaction, one audit event, and the grant
index kept in step (LG-02, LG-03, LG-07, AC-04)."""

from __future__ import annotations

import datetime
import json

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.http import Http404

from prepare.access.errors import WriteForbidden
from prepare.access.models import CaseGrant
from prepare.access.policy import get_case_or_404
from prepare.accounts.models import Role, User
from prepare.audit.chain import verify
from prepare.audit.models import Event, EventAction
from prepare.cases.models import Case, CaseNote, CaseTeamMember, Person
from prepare.cases.selectors import case_detail, caseload
from prepare.cases.services import (
    break_glass_open,
    case_create,
    note_create,
    note_update,
    team_member_add,
    team_member_remove,
)
from tests.cast import ALL, Cast, current_code, sentinel
from tests.factories import PersonFactory, UserFactory


def row_json(event: Event) -> str:
    """Every stored column of the event, as text."""
    return json.dumps(
        {f.attname: getattr(event, f.attname) for f in Event._meta.concrete_fields}, default=str
    )


def fresh(user: User) -> User:
    return User.objects.get(pk=user.pk)


def sees(user: User, case: Case) -> bool:
    return Case.objects.visible_to(fresh(user)).filter(pk=case.pk).exists()


def snapshot() -> tuple[int, int, int, int, int]:
    return (
        Case.objects.count(),
        CaseNote.objects.count(),
        CaseTeamMember.objects.count(),
        CaseGrant.objects.count(),
        Event.objects.count(),
    )


# --- case_create -------------------------------------------------------------------

SOME_DAY = datetime.datetime(2031, 5, 1, 9, 0, tzinfo=datetime.UTC)


def test_case_create_numbers_indexes_and_audits(cast: Cast) -> None:
    with time_machine.travel(SOME_DAY, tick=False):
        case = case_create(
            actor=cast.case_manager, partnership=cast.partnership, person=PersonFactory.build()
        )
    assert case.reference == "TST-2031-0001"
    grants = {
        g.organisation_id: (g.coordination, g.whole_organisation, g.named_users)
        for g in CaseGrant.objects.filter(case=case)
    }
    assert grants == {
        cast.orgs["municipality"].pk: (True, False, False),
        cast.orgs["probation"].pk: (False, True, False),
    }
    event = Event.objects.get(action=EventAction.CREATE)
    assert (event.case_id, event.object_type, event.object_id, event.category) == (
        case.pk,
        "cases.case",
        str(case.pk),
        "identity",
    )
    assert event.actor_id == cast.case_manager.pk
    assert sees(cast.case_manager, case) and sees(cast.coordinator, case)
    assert not sees(cast.ngo_mentor, case) and not sees(cast.outsider, case)


def test_references_are_never_handed_out_twice(cast: Cast) -> None:
    def create() -> Case:
        return case_create(
            actor=cast.coordinator, partnership=cast.partnership, person=PersonFactory.build()
        )

    with time_machine.travel(SOME_DAY, tick=False):
        first, second, third = create(), create(), create()
        assert [c.reference for c in (first, second, third)] == [
            "TST-2031-0001",
            "TST-2031-0002",
            "TST-2031-0003",
        ]
        # A case of the year erased: counting would hand out 0003 again.
        Case.objects.filter(pk=second.pk).delete()
        assert create().reference == "TST-2031-0004"
        hand_typed = case_create(
            actor=cast.coordinator,
            partnership=cast.partnership,
            person=PersonFactory.build(),
            reference="TST-2031-0010",
        )
        assert hand_typed.reference == "TST-2031-0010"
        assert create().reference == "TST-2031-0011"
    with time_machine.travel(SOME_DAY + datetime.timedelta(days=365), tick=False):
        assert create().reference == "TST-2032-0001"


def test_reference_numbers_past_four_digits(cast: Cast) -> None:
    with time_machine.travel(SOME_DAY, tick=False):
        Case.objects.create(
            person=PersonFactory(), partnership=cast.partnership, reference="TST-2031-9999"
        )
        Case.objects.create(
            person=PersonFactory(), partnership=cast.partnership, reference="TST-2031-10000"
        )
        case = case_create(
            actor=cast.coordinator, partnership=cast.partnership, person=PersonFactory.build()
        )
    assert case.reference == "TST-2031-10001"


def test_a_case_opened_in_the_coordinating_organisation_stays_visible(cast: Cast) -> None:
    """A practitioner of the municipality who is not its coordinator."""
    practitioner = UserFactory(organisation=cast.orgs["municipality"], role=Role.PRACTITIONER)
    case = case_create(actor=practitioner, partnership=cast.partnership, person=PersonFactory())
    assert sees(practitioner, case)
    assert CaseTeamMember.objects.filter(
        case=case, organisation=cast.orgs["municipality"], user=None
    ).exists()
    # The coordinator needs no team entry: coordination reaches every case.
    other = case_create(
        actor=cast.coordinator, partnership=cast.partnership, person=PersonFactory()
    )
    assert not CaseTeamMember.objects.filter(case=other).exists()
    assert sees(cast.coordinator, other) and not sees(practitioner, other)


@pytest.mark.parametrize("actor", ["ngo_mentor", "police_on_team", "outsider", "auditor"])
def test_case_create_without_the_identity_write_grant_persists_nothing(
    cast: Cast, actor: str
) -> None:
    before = snapshot()
    persons = Person.objects.count()
    with pytest.raises(WriteForbidden):
        case_create(
            actor=cast.actors[actor], partnership=cast.partnership, person=PersonFactory.build()
        )
    assert snapshot() == before
    assert Person.objects.count() == persons


# --- note_create ------------------------------------------------------------------


def test_note_create_persists_and_audits_without_the_text(cast: Cast) -> None:
    before = Case.objects.get(pk=cast.case.pk).updated_at
    note = note_create(
        actor=cast.ngo_mentor,
        case_id=cast.case.pk,
        category="interventions",
        kind="assessment",
        text="Attends every mentoring session",
    )
    note.refresh_from_db()
    assert (note.text, note.category, note.kind, note.created_by_id, note.version) == (
        "Attends every mentoring session",
        "interventions",
        "assessment",
        cast.ngo_mentor.pk,
        1,
    )
    event = Event.objects.get(action=EventAction.CREATE, object_id=str(note.pk))
    assert (event.case_id, event.category, event.object_type) == (
        cast.case.pk,
        "interventions",
        "cases.casenote",
    )
    assert "mentoring" not in row_json(event)
    assert Case.objects.get(pk=cast.case.pk).updated_at > before
    assert CaseGrant.objects.filter(case=cast.case).values("sort_key").distinct().count() == 1


@pytest.mark.parametrize(
    ("actor", "category"),
    [
        ("ngo_mentor", "risk"),  # not granted at all
        ("ngo_mentor", "social"),  # granted for reading only
        ("case_manager", "health"),  # granted for reading only
        ("police_on_team", "justice"),  # granted for reading only
        ("coordinator", "intelligence"),  # not granted to the municipality
        ("case_manager", "no-such-category"),
    ],
)
def test_note_in_a_category_not_writable_is_forbidden(
    cast: Cast, actor: str, category: str
) -> None:
    before = snapshot()
    with pytest.raises(WriteForbidden):
        note_create(
            actor=cast.actors[actor], case_id=cast.case.pk, category=category, kind="fact", text="x"
        )
    assert snapshot() == before


def test_an_observer_never_writes(cast: Cast) -> None:
    observer = UserFactory(organisation=cast.orgs["probation"], role=Role.OBSERVER)
    assert get_case_or_404(observer, cast.case.pk) == cast.case  # on the team: reads
    before = snapshot()
    with pytest.raises(WriteForbidden):
        note_create(actor=observer, case_id=cast.case.pk, category="justice", kind="fact", text="x")
    assert snapshot() == before


@pytest.mark.parametrize("actor", ["police_off_team", "outsider", "trainer"])
def test_note_on_a_case_not_shared_is_404(cast: Cast, actor: str) -> None:
    before = snapshot()
    with pytest.raises(Http404):
        note_create(
            actor=cast.actors[actor], case_id=cast.case.pk, category="risk", kind="fact", text="x"
        )
    assert snapshot() == before


def test_note_with_an_invalid_kind_persists_nothing(cast: Cast) -> None:
    before = snapshot()
    with pytest.raises(ValidationError):
        note_create(
            actor=cast.case_manager,
            case_id=cast.case.pk,
            category="justice",
            kind="rumour",
            text="x",
        )
    assert snapshot() == before


# --- The case team ---------------------------------------------------------------------


def test_team_member_add_opens_the_case_to_the_organisation(cast: Cast) -> None:
    assert not sees(cast.police_off_team, cast.case)
    member = team_member_add(
        actor=cast.case_manager,
        case_id=cast.case.pk,
        organisation=cast.orgs["police"],
        purpose="Risk assessment before release",
    )
    assert sees(cast.police_off_team, cast.case)
    grant = CaseGrant.objects.get(case=cast.case, organisation=cast.orgs["police"])
    assert (grant.whole_organisation, grant.named_users) == (True, True)
    event = Event.objects.get(action=EventAction.TEAM_CHANGE)
    assert event.detail["change"] == "added"
    assert event.detail["recipient_organisation"] == cast.orgs["police"].pk
    assert (event.object_id, event.case_id, event.actor_id) == (
        str(member.pk),
        cast.case.pk,
        cast.case_manager.pk,
    )

    team_member_remove(actor=cast.coordinator, member_id=member.pk)
    assert not sees(cast.police_off_team, cast.case)
    assert sees(cast.police_on_team, cast.case)  # still named on the team
    removed = Event.objects.filter(action=EventAction.TEAM_CHANGE).order_by("-seq").first()
    assert removed is not None
    assert removed.detail["change"] == "removed"
    assert removed.detail["recipient_organisation"] == cast.orgs["police"].pk
    assert not CaseTeamMember.objects.filter(pk=member.pk).exists()
    assert verify() is None


def test_removing_the_organisation_ends_its_access(cast: Cast) -> None:
    ngo_entry = CaseTeamMember.objects.get(case=cast.case, organisation=cast.orgs["ngo"])
    assert sees(cast.ngo_mentor, cast.case)
    team_member_remove(actor=cast.case_manager, member_id=ngo_entry.pk)
    assert not sees(cast.ngo_mentor, cast.case)
    assert not CaseGrant.objects.filter(case=cast.case, organisation=cast.orgs["ngo"]).exists()


def test_a_named_practitioner_gets_the_case_alone(cast: Cast) -> None:
    colleague = UserFactory(organisation=cast.orgs["ngo"], role=Role.PRACTITIONER)
    ngo_entry = CaseTeamMember.objects.get(case=cast.case, organisation=cast.orgs["ngo"])
    team_member_remove(actor=cast.coordinator, member_id=ngo_entry.pk)
    team_member_add(
        actor=cast.coordinator,
        case_id=cast.case.pk,
        organisation=cast.orgs["ngo"],
        user=cast.ngo_mentor,
        purpose="Mentor",
    )
    assert sees(cast.ngo_mentor, cast.case)
    assert not sees(colleague, cast.case)
    event = Event.objects.filter(action=EventAction.TEAM_CHANGE).order_by("-seq").first()
    assert event is not None
    assert event.detail["recipient_user"] == cast.ngo_mentor.pk


def test_team_member_add_refuses_a_non_member_organisation(cast: Cast) -> None:
    before = snapshot()
    with pytest.raises(ValidationError):
        team_member_add(
            actor=cast.coordinator,
            case_id=cast.case.pk,
            organisation=cast.orgs["elsewhere"],
            purpose="Curiosity",
        )
    assert snapshot() == before
    assert not sees(cast.outsider, cast.case)


def test_team_member_add_refuses_a_practitioner_of_another_organisation(cast: Cast) -> None:
    before = snapshot()
    with pytest.raises(ValidationError):
        team_member_add(
            actor=cast.coordinator,
            case_id=cast.case.pk,
            organisation=cast.orgs["ngo"],
            user=cast.police_off_team,
            purpose="Mentor",
        )
    assert snapshot() == before


def test_team_member_add_refuses_an_end_date_in_the_past(cast: Cast) -> None:
    before = snapshot()
    with pytest.raises(ValidationError):
        team_member_add(
            actor=cast.coordinator,
            case_id=cast.case.pk,
            organisation=cast.orgs["police"],
            purpose="Risk",
            ends_on=datetime.date(2000, 1, 1),
        )
    assert snapshot() == before


def test_an_organisation_membership_that_ended_cannot_join_a_team(cast: Cast) -> None:
    from prepare.partnerships.models import Membership

    Membership.objects.filter(organisation=cast.orgs["police"]).update(
        ends_on=datetime.date(2020, 1, 1), starts_on=datetime.date(2019, 1, 1)
    )
    with pytest.raises(ValidationError):
        team_member_add(
            actor=cast.coordinator,
            case_id=cast.case.pk,
            organisation=cast.orgs["police"],
            purpose="Risk",
        )


@pytest.mark.parametrize("actor", ["ngo_mentor", "police_on_team"])
def test_practitioners_do_not_change_the_team(cast: Cast, actor: str) -> None:
    before = snapshot()
    with pytest.raises(WriteForbidden):
        team_member_add(
            actor=cast.actors[actor],
            case_id=cast.case.pk,
            organisation=cast.orgs["police"],
            purpose="Risk",
        )
    entry = CaseTeamMember.objects.get(case=cast.case, organisation=cast.orgs["probation"])
    with pytest.raises(WriteForbidden):
        team_member_remove(actor=cast.actors[actor], member_id=entry.pk)
    assert snapshot() == before


def test_the_team_of_a_case_not_shared_is_404(cast: Cast) -> None:
    entry = CaseTeamMember.objects.get(case=cast.case, organisation=cast.orgs["probation"])
    with pytest.raises(Http404):
        team_member_remove(actor=cast.police_off_team, member_id=entry.pk)
    with pytest.raises(Http404):
        team_member_add(
            actor=cast.outsider,
            case_id=cast.case.pk,
            organisation=cast.orgs["elsewhere"],
            purpose="x",
        )


# --- LG-07: the log holds no case content ----------------------------------------------------


def test_no_event_holds_case_text(cast: Cast) -> None:
    secrets = [sentinel(c) for c in ALL] + ["Sentinelia", "Identitas"]
    secrets += ["SECRET-NEW-NOTE-41", "SECRET-EDIT-42", "SECRET-PERSON-43"]

    person = PersonFactory.build(given_name="SECRET-PERSON-43", family_name="SECRET-PERSON-43")
    case = case_create(actor=cast.case_manager, partnership=cast.partnership, person=person)
    note = note_create(
        actor=cast.case_manager,
        case_id=cast.case.pk,
        category="justice",
        kind="fact",
        text="SECRET-NEW-NOTE-41",
    )
    note_update(actor=cast.case_manager, note_id=note.pk, version=1, text="SECRET-EDIT-42")
    note_update(actor=cast.coordinator, note_id=cast.notes["risk"].pk, version=1, kind="assessment")
    for name in ("coordinator", "case_manager", "police_on_team", "ngo_mentor"):
        case_detail(actor=cast.actors[name], case_id=cast.case.pk)
        caseload(actor=cast.actors[name])
    member = team_member_add(
        actor=cast.coordinator, case_id=case.pk, organisation=cast.orgs["ngo"], purpose="Mentor"
    )
    team_member_remove(actor=cast.coordinator, member_id=member.pk)
    break_glass_open(
        actor=cast.police_off_team,
        case_id=cast.case.pk,
        justification="Imminent threat reported by the night shift",
        code=current_code(cast.police_off_team),
    )
    case_detail(actor=cast.police_off_team, case_id=cast.case.pk)

    events = list(Event.objects.order_by("seq"))
    assert len(events) >= 14
    leaks = [(e.seq, s) for e in events for s in secrets if s in row_json(e)]
    assert leaks == []
    # The events name what was touched: the notes by id, the fields by name.
    updates = [e for e in events if e.action == EventAction.UPDATE]
    assert [u.detail["fields"] for u in updates] == [["text"], ["kind"]]
    views = [e for e in events if e.action == EventAction.VIEW]
    assert all(e.detail["notes"] for e in views)
    assert verify() is None
