"""The access policy at the data level, as a matrix generated from data.

For every actor, category and action (read, write), in every membership state, an
oracle written here from first principles (the cast's team, the cast's
AGREEMENT table, what each role may do) says what the actor may see, and the
test compares it with what the policy's querysets answer:

- ``CaseNote.objects.visible_to(user, action)``: the note of that category;
- ``Case.objects.visible_to(user, action)`` and ``get_case_or_404``;
- ``caseload_grants(user)``: the case in the caseload index;
- ``grants_for(user).categories(partnership, action)``: the category.

The oracle does not call the policy: it is a second, independent reading of
the rules in PRODUCT.md and ``prepare/access/policy.py``'s docstring.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.http import Http404
from django.utils import timezone

from prepare.access.categories import Action, Category
from prepare.access.errors import WriteForbidden
from prepare.access.grants import case_grants_rebuild, case_grants_touch
from prepare.access.models import BreakGlassAccess
from prepare.access.policy import caseload_grants, get_case_or_404, grants_for
from prepare.accounts.models import Organisation, User
from prepare.audit.models import Event, EventAction
from prepare.cases.models import Case, CaseNote, CaseStatus, CaseTeamMember
from prepare.cases.services import break_glass_open, note_create
from prepare.partnerships.models import Membership
from tests.cast import AGREEMENT, Cast
from tests.factories import UserFactory

R, W = Action.READ.value, Action.WRITE.value
ACTIONS = (R, W)
CATEGORIES = tuple(Category.values)

# --- The oracle -------------------------------------------------------------------

# Roles, written out rather than imported: observers read but never write;
# trainers, analysts, auditors and administrators never see case content.
READING_ROLES = {"coordinator", "case_manager", "practitioner", "observer"}
WRITING_ROLES = {"coordinator", "case_manager", "practitioner"}

# actor -> (organisation key in the cast, role). The cast's eight, plus one
# actor for each role the cast lacks and a non-coordinator of the
# coordinating organisation.
ACTORS: dict[str, tuple[str, str]] = {
    "coordinator": ("municipality", "coordinator"),
    "case_manager": ("probation", "case_manager"),
    "police_on_team": ("police", "practitioner"),
    "police_off_team": ("police", "practitioner"),
    "ngo_mentor": ("ngo", "practitioner"),
    "auditor": ("municipality", "auditor"),
    "trainer": ("municipality", "trainer"),
    "outsider": ("elsewhere", "coordinator"),
    "observer": ("probation", "observer"),
    "analyst": ("police", "analyst"),
    "administrator": ("municipality", "administrator"),
    "municipal_practitioner": ("municipality", "practitioner"),
}
EXTRA_ACTORS = {k: v for k, v in ACTORS.items() if k not in Cast.__dataclass_fields__}

CELLS_PER_STATE = len(ACTORS) * len(CATEGORIES) * len(ACTIONS)


@dataclass
class World:
    """What is true about one case, in the terms a coordinator would use."""

    coordinating: str
    members: set[str]
    agreement: dict[str, dict[str, str]]
    agreement_in_force: bool = True
    team_orgs: set[str] = field(default_factory=set)  # organisation-wide entries running
    named: set[str] = field(default_factory=set)  # actors named on the team, entry running
    closed: bool = False
    disabled: set[str] = field(default_factory=set)
    inactive_orgs: set[str] = field(default_factory=set)
    glass: set[str] = field(default_factory=set)  # live break-glass access


def cast_world() -> World:
    """tests/cast.py: the municipality coordinates; probation and the NGO are on
    K's team as organisations, and one police officer by name."""
    return World(
        coordinating="municipality",
        members={"municipality", "probation", "police", "ngo"},
        agreement=AGREEMENT,
        team_orgs={"probation", "ngo"},
        named={"police_on_team"},
    )


def other_world() -> World:
    """The other partnership: Elsewhere coordinates and may write everything."""
    return World(
        coordinating="elsewhere",
        members={"elsewhere"},
        agreement={"elsewhere": {c: W for c in CATEGORIES}},
    )


def expected_categories(actor: str, action: str, w: World) -> set[str]:
    org, role = ACTORS[actor]
    if actor in w.disabled or org in w.inactive_orgs:
        return set()
    if role not in READING_ROLES or (action == W and role not in WRITING_ROLES):
        return set()
    if org not in w.members and org != w.coordinating:
        return set()
    if not w.agreement_in_force:
        return set()
    return {c for c, access in w.agreement.get(org, {}).items() if action == R or access == W}


def expected_reach(actor: str, w: World) -> bool:
    """On the team (or coordinating), break-glass aside."""
    org, role = ACTORS[actor]
    if role == "coordinator" and org == w.coordinating:
        return True  # the coordinator keeps a closed case
    return not w.closed and (org in w.team_orgs or actor in w.named)


def expected_case(actor: str, action: str, w: World) -> bool:
    # Need to know: an actor who may not read (write) any category of the
    # case does not learn that it exists.
    if not expected_categories(actor, action, w):
        return False
    if expected_reach(actor, w):
        return True
    return action == R and actor in w.glass


# --- Membership states --------------------------------------------------------------


@dataclass
class Scene:
    cast: Cast
    users: dict[str, User]
    world: World
    other: World


State = Callable[[Scene], AbstractContextManager[None]]


def _yesterday() -> datetime.date:
    return timezone.localdate() - datetime.timedelta(days=1)


def _tomorrow() -> datetime.date:
    return timezone.localdate() + datetime.timedelta(days=1)


@contextmanager
def baseline(s: Scene) -> Iterator[None]:
    yield


@contextmanager
def membership_revoked(s: Scene) -> Iterator[None]:
    Membership.objects.filter(
        partnership=s.cast.partnership, organisation=s.cast.orgs["probation"]
    ).update(ends_on=_yesterday())
    s.world.members.discard("probation")
    yield


@contextmanager
def membership_not_started(s: Scene) -> Iterator[None]:
    Membership.objects.filter(
        partnership=s.cast.partnership, organisation=s.cast.orgs["ngo"]
    ).update(starts_on=_tomorrow())
    s.world.members.discard("ngo")
    yield


@contextmanager
def agreement_expired(s: Scene) -> Iterator[None]:
    agreement = s.cast.agreement
    agreement.valid_from = timezone.localdate() - datetime.timedelta(days=30)
    agreement.valid_until = _yesterday()
    agreement.save()
    s.world.agreement_in_force = False
    yield


@contextmanager
def agreement_not_yet_valid(s: Scene) -> Iterator[None]:
    s.cast.agreement.valid_from = _tomorrow()
    s.cast.agreement.save()
    s.world.agreement_in_force = False
    yield


@contextmanager
def team_entry_ended(s: Scene) -> Iterator[None]:
    CaseTeamMember.objects.filter(
        case=s.cast.case, organisation=s.cast.orgs["ngo"], user__isnull=True
    ).update(ends_on=_yesterday())
    case_grants_rebuild(s.cast.case)
    s.world.team_orgs.discard("ngo")
    yield


@contextmanager
def named_entry_ended(s: Scene) -> Iterator[None]:
    CaseTeamMember.objects.filter(case=s.cast.case, user=s.users["police_on_team"]).update(
        ends_on=_yesterday()
    )
    case_grants_rebuild(s.cast.case)
    s.world.named.discard("police_on_team")
    yield


@contextmanager
def police_organisation_added(s: Scene) -> Iterator[None]:
    CaseTeamMember.objects.create(
        case=s.cast.case, organisation=s.cast.orgs["police"], purpose="Whole force"
    )
    case_grants_rebuild(s.cast.case)
    s.world.team_orgs.add("police")
    yield


@contextmanager
def coordinating_organisation_on_team(s: Scene) -> Iterator[None]:
    CaseTeamMember.objects.create(
        case=s.cast.case, organisation=s.cast.orgs["municipality"], purpose="Housing"
    )
    case_grants_rebuild(s.cast.case)
    s.world.team_orgs.add("municipality")
    yield


@contextmanager
def case_closed(s: Scene) -> Iterator[None]:
    Case.objects.filter(pk=s.cast.case.pk).update(status=CaseStatus.CLOSED)
    s.cast.case.refresh_from_db()
    case_grants_touch(s.cast.case)
    s.world.closed = True
    yield


@contextmanager
def users_disabled(s: Scene) -> Iterator[None]:
    names = ("coordinator", "case_manager", "ngo_mentor", "outsider")
    User.objects.filter(pk__in=[s.users[n].pk for n in names]).update(is_active=False)
    s.world.disabled.update(names)
    s.other.disabled.update(names)
    yield


@contextmanager
def organisation_deactivated(s: Scene) -> Iterator[None]:
    Organisation.objects.filter(pk=s.cast.orgs["ngo"].pk).update(is_active=False)
    s.world.inactive_orgs.add("ngo")
    yield


@contextmanager
def break_glass(s: Scene) -> Iterator[None]:
    for name in ("police_off_team", "municipal_practitioner"):
        break_glass_open(
            actor=s.users[name],
            case_id=s.cast.case.pk,
            justification="Imminent threat reported by the night shift",
        )
        s.world.glass.add(name)
    yield


@contextmanager
def break_glass_expired(s: Scene) -> Iterator[None]:
    for name in ("police_off_team", "municipal_practitioner"):
        break_glass_open(
            actor=s.users[name],
            case_id=s.cast.case.pk,
            justification="Imminent threat reported by the night shift",
        )
    with time_machine.travel(timezone.now() + datetime.timedelta(hours=24, seconds=1), tick=False):
        yield


@contextmanager
def break_glass_on_closed_case(s: Scene) -> Iterator[None]:
    with case_closed(s), break_glass(s):
        yield


STATES: list[State] = [
    baseline,
    membership_revoked,
    membership_not_started,
    agreement_expired,
    agreement_not_yet_valid,
    team_entry_ended,
    named_entry_ended,
    police_organisation_added,
    coordinating_organisation_on_team,
    case_closed,
    users_disabled,
    organisation_deactivated,
    break_glass,
    break_glass_expired,
    break_glass_on_closed_case,
]


# --- The matrix ----------------------------------------------------------------------


@pytest.fixture
def scene(cast: Cast) -> Scene:
    users = {name: getattr(cast, name) for name in ACTORS if name in cast.actors}
    for name, (org, role) in EXTRA_ACTORS.items():
        users[name] = UserFactory(username=name, organisation=cast.orgs[org], role=role, totp=False)
    for name, (org, role) in ACTORS.items():
        assert (users[name].organisation_id, users[name].role) == (cast.orgs[org].pk, role)
    # The oracle's picture of K's team is the cast's.
    team = {(m.organisation_id, m.user_id) for m in CaseTeamMember.objects.filter(case=cast.case)}
    world = cast_world()
    assert team == {(cast.orgs[o].pk, None) for o in world.team_orgs} | {
        (users[a].organisation_id, users[a].pk) for a in world.named
    }
    return Scene(cast=cast, users=users, world=world, other=other_world())


def observe(s: Scene, actor: str, case: Case, w: World) -> list[str]:
    """Every disagreement between the policy and the oracle for one actor and case."""
    problems: list[str] = []
    user = User.objects.get(pk=s.users[actor].pk)  # a fresh object: no cached grants
    g = grants_for(user)
    present = set(CaseNote.objects.filter(case=case).values_list("category", flat=True))
    for action in ACTIONS:
        want_cats = expected_categories(actor, action, w)
        want_case = expected_case(actor, action, w)
        got_case = Case.objects.visible_to(user, action).filter(pk=case.pk).exists()
        got_notes = set(
            CaseNote.objects.visible_to(user, action)
            .filter(case=case)
            .values_list("category", flat=True)
        )
        got_cats = set(g.categories(case.partnership_id, action))
        if got_case != want_case:
            problems.append(f"{actor} {action} case {case.reference}: {got_case} != {want_case}")
        for category in CATEGORIES:
            want_note = want_case and category in want_cats
            if category in present and (category in got_notes) != want_note:
                problems.append(f"{actor} {action} note {category}: {not want_note} != {want_note}")
            if (category in got_cats) != (category in want_cats):
                problems.append(f"{actor} {action} grant {category}: {category in got_cats}")
    want_listed = expected_categories(actor, R, w) != set() and expected_reach(actor, w)
    got_listed = caseload_grants(user).filter(case_id=case.pk).exists()
    if got_listed != want_listed:
        problems.append(f"{actor} caseload {case.reference}: {got_listed} != {want_listed}")
    problems.extend(_fetch_problems(user, actor, case, w))
    return problems


def _fetch_problems(user: User, actor: str, case: Case, w: World) -> list[str]:
    """``get_case_or_404``: invisible 404; visible but not writable 403."""
    problems = []
    for action in ACTIONS:
        try:
            get_case_or_404(user, case.pk, action)
            got = "ok"
        except Http404:
            got = "404"
        except WriteForbidden:
            got = "403"
        if not expected_case(actor, R, w):
            want = "404"
        elif action == W and not expected_case(actor, W, w):
            want = "403"
        else:
            want = "ok"
        if got != want:
            problems.append(f"{actor} get_case_or_404 {action}: {got} != {want}")
    return problems


# The ids carry the scorecard figure: cells in this state, of cells in all states.
TOTAL_CELLS = CELLS_PER_STATE * len(STATES)


@pytest.mark.parametrize(
    "state", STATES, ids=[f"{s.__name__}-{CELLS_PER_STATE}of{TOTAL_CELLS}cells" for s in STATES]
)
def test_policy_matrix(scene: Scene, state: State) -> None:
    with state(scene):
        problems = []
        for actor in ACTORS:
            problems += observe(scene, actor, scene.cast.case, scene.world)
            problems += observe(scene, actor, scene.cast.other_case, scene.other)
    assert problems == []


def test_the_oracle_is_not_vacuous(scene: Scene) -> None:
    """In the baseline every kind of answer occurs: the matrix can fail both ways."""
    w = scene.world
    assert expected_case("ngo_mentor", R, w) and not expected_case("police_off_team", R, w)
    assert expected_categories("police_on_team", W, w) == {"risk", "intelligence"}
    assert expected_categories("observer", W, w) == set() != expected_categories("observer", R, w)
    assert expected_categories("auditor", R, w) == set()
    assert expected_categories("coordinator", R, w) == set(CATEGORIES) - {"intelligence"}


# --- Break-glass in detail -------------------------------------------------------------


@pytest.mark.parametrize("justification", ["", "   ", "because", "x" * 19])
def test_break_glass_needs_a_justification(cast: Cast, justification: str) -> None:
    with pytest.raises(ValidationError):
        break_glass_open(
            actor=cast.police_off_team, case_id=cast.case.pk, justification=justification
        )
    assert not BreakGlassAccess.objects.exists()
    assert not Event.objects.filter(action=EventAction.BREAK_GLASS).exists()
    assert not Case.objects.visible_to(cast.police_off_team).filter(pk=cast.case.pk).exists()


def test_break_glass_reads_only_alerts_and_expires(
    cast: Cast, mailoutbox, django_capture_on_commit_callbacks
) -> None:
    officer = cast.police_off_team
    with django_capture_on_commit_callbacks(execute=True):
        access = break_glass_open(
            actor=officer,
            case_id=cast.case.pk,
            justification="Threat to a family member reported tonight",
        )
    officer = User.objects.get(pk=officer.pk)
    assert get_case_or_404(officer, cast.case.pk) == cast.case
    # Read only: police may write risk notes on cases they are teamed on, not here.
    with pytest.raises(WriteForbidden):
        get_case_or_404(officer, cast.case.pk, W)
    with pytest.raises(WriteForbidden):
        note_create(
            actor=officer, case_id=cast.case.pk, category="risk", kind="fact", text="new threat"
        )
    assert CaseNote.objects.filter(case=cast.case).count() == len(CATEGORIES)
    readable = set(
        CaseNote.objects.visible_to(officer).filter(case=cast.case).values_list("category", flat=1)
    )
    assert readable == set(AGREEMENT["police"])
    # Not in the caseload: break-glass opens one case, it does not join the team.
    assert not caseload_grants(officer).filter(case_id=cast.case.pk).exists()

    event = Event.objects.get(action=EventAction.BREAK_GLASS)
    assert (event.actor_id, event.case_id, event.object_id) == (
        officer.pk,
        cast.case.pk,
        str(access.pk),
    )
    assert event.purpose.startswith("Threat to a family member")
    assert len(mailoutbox) == 1
    assert set(mailoutbox[0].to) == {cast.coordinator.email, cast.auditor.email}
    assert cast.case.reference in mailoutbox[0].subject

    just_before = access.expires_at - datetime.timedelta(seconds=1)
    with time_machine.travel(just_before, tick=False):
        assert get_case_or_404(User.objects.get(pk=officer.pk), cast.case.pk) == cast.case
    lifetime = access.expires_at - access.created_at
    assert abs(lifetime - datetime.timedelta(hours=24)) < datetime.timedelta(seconds=1)
    with time_machine.travel(access.expires_at, tick=False), pytest.raises(Http404):
        get_case_or_404(User.objects.get(pk=officer.pk), cast.case.pk)


@pytest.mark.parametrize("actor", ["outsider", "trainer", "auditor"])
def test_break_glass_stays_inside_the_policy(cast: Cast, actor: str) -> None:
    """Only someone who could work on the partnership's cases may break the glass."""
    with pytest.raises(Http404):
        break_glass_open(
            actor=cast.actors[actor],
            case_id=cast.case.pk,
            justification="Imminent threat reported by the night shift",
        )
    assert not BreakGlassAccess.objects.exists()


@pytest.mark.parametrize("pk", ["²", "٣", "-1", "0", "1e3", " 1", str(2**70), True, None, ""])
def test_malformed_case_ids_are_404(cast: Cast, pk: object) -> None:
    with pytest.raises(Http404):
        get_case_or_404(cast.coordinator, pk)
