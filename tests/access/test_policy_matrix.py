"""The access policy at the data level, as a matrix generated from data.

For every actor, category and action (read, write), in every membership state,
the oracle (``tests.oracle``, which reads the state from the tables and the
cast's AGREEMENT table and applies the rules as written there) says what the
actor may see, and the test compares it with what the policy's querysets answer:

- ``CaseNote.objects.visible_to(user, action)``: the note of that category;
- ``Case.objects.visible_to(user, action)`` and ``get_case_or_404``;
- ``caseload_grants(user)``: the case in the caseload index;
- ``grants_for(user).categories(partnership, action)``: the category.

The oracle does not call the policy: it is a second, independent reading of
the rules in PRODUCT.md and DESIGN.md. Each state changes the tables; the
oracle reads them again.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.http import Http404
from django.utils import timezone

from prepare.access.categories import Action
from prepare.access.errors import WriteForbidden
from prepare.access.grants import case_grants_rebuild, case_grants_touch
from prepare.access.models import BreakGlassAccess
from prepare.access.policy import caseload_grants, get_case_or_404, grants_for
from prepare.accounts.models import Organisation, User
from prepare.audit.models import Event, EventAction
from prepare.cases.models import Case, CaseNote, CaseStatus, CaseTeamMember
from prepare.cases.services import break_glass_open, note_create
from prepare.partnerships.models import Membership
from tests.cast import AGREEMENT, Cast, current_code
from tests.oracle import ACTORS, CATEGORIES, Access, access, users_of

R, W = Action.READ.value, Action.WRITE.value
ACTIONS = (R, W)

CELLS_PER_STATE = len(ACTORS) * len(CATEGORIES) * len(ACTIONS)


# --- Membership states --------------------------------------------------------------


@dataclass
class Scene:
    cast: Cast
    users: dict[str, User]


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
    yield


@contextmanager
def membership_not_started(s: Scene) -> Iterator[None]:
    Membership.objects.filter(
        partnership=s.cast.partnership, organisation=s.cast.orgs["ngo"]
    ).update(starts_on=_tomorrow())
    yield


@contextmanager
def agreement_expired(s: Scene) -> Iterator[None]:
    agreement = s.cast.agreement
    agreement.valid_from = timezone.localdate() - datetime.timedelta(days=30)
    agreement.valid_until = _yesterday()
    agreement.save()
    yield


@contextmanager
def agreement_not_yet_valid(s: Scene) -> Iterator[None]:
    s.cast.agreement.valid_from = _tomorrow()
    s.cast.agreement.save()
    yield


@contextmanager
def team_entry_ended(s: Scene) -> Iterator[None]:
    CaseTeamMember.objects.filter(
        case=s.cast.case, organisation=s.cast.orgs["ngo"], user__isnull=True
    ).update(ends_on=_yesterday())
    case_grants_rebuild(s.cast.case)
    yield


@contextmanager
def named_entry_ended(s: Scene) -> Iterator[None]:
    CaseTeamMember.objects.filter(case=s.cast.case, user=s.users["police_on_team"]).update(
        ends_on=_yesterday()
    )
    case_grants_rebuild(s.cast.case)
    yield


@contextmanager
def police_organisation_added(s: Scene) -> Iterator[None]:
    CaseTeamMember.objects.create(
        case=s.cast.case, organisation=s.cast.orgs["police"], purpose="Whole force"
    )
    case_grants_rebuild(s.cast.case)
    yield


@contextmanager
def coordinating_organisation_on_team(s: Scene) -> Iterator[None]:
    CaseTeamMember.objects.create(
        case=s.cast.case, organisation=s.cast.orgs["municipality"], purpose="Housing"
    )
    case_grants_rebuild(s.cast.case)
    yield


@contextmanager
def case_closed(s: Scene) -> Iterator[None]:
    Case.objects.filter(pk=s.cast.case.pk).update(status=CaseStatus.CLOSED)
    s.cast.case.refresh_from_db()
    case_grants_touch(s.cast.case)
    yield


@contextmanager
def users_disabled(s: Scene) -> Iterator[None]:
    names = ("coordinator", "case_manager", "ngo_mentor", "outsider")
    User.objects.filter(pk__in=[s.users[n].pk for n in names]).update(is_active=False)
    yield


@contextmanager
def organisation_deactivated(s: Scene) -> Iterator[None]:
    Organisation.objects.filter(pk=s.cast.orgs["ngo"].pk).update(is_active=False)
    yield


@contextmanager
def break_glass(s: Scene) -> Iterator[None]:
    for name in ("police_off_team", "municipal_practitioner"):
        break_glass_open(
            actor=s.users[name],
            case_id=s.cast.case.pk,
            justification="Imminent threat reported by the night shift",
            code=current_code(s.users[name]),
        )
    yield


@contextmanager
def break_glass_expired(s: Scene) -> Iterator[None]:
    for name in ("police_off_team", "municipal_practitioner"):
        break_glass_open(
            actor=s.users[name],
            case_id=s.cast.case.pk,
            justification="Imminent threat reported by the night shift",
            code=current_code(s.users[name]),
        )
    with time_machine.travel(timezone.now() + datetime.timedelta(hours=24, seconds=1), tick=False):
        yield


@contextmanager
def break_glass_on_closed_case(s: Scene) -> Iterator[None]:
    # Opened while the case was open; break-glass on a closed case is refused.
    with break_glass(s), case_closed(s):
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
    return Scene(cast=cast, users=users_of(cast))


def observe(s: Scene, actor: str, case: Case) -> list[str]:
    """Every disagreement between the policy and the oracle for one actor and case."""
    problems: list[str] = []
    user = User.objects.get(pk=s.users[actor].pk)  # a fresh object: no cached grants
    want = access(s.cast, user, case)
    g = grants_for(user)
    present = set(CaseNote.objects.filter(case=case).values_list("category", flat=True))
    for action in ACTIONS:
        want_cats = want.granted_read if action == R else want.granted_write
        want_case = want.sees if action == R else bool(want.write)
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
    got_listed = caseload_grants(user).filter(case_id=case.pk).exists()
    if got_listed != want.reaches:
        problems.append(f"{actor} caseload {case.reference}: {got_listed} != {want.reaches}")
    problems.extend(_fetch_problems(user, actor, case, want))
    return problems


def _fetch_problems(user: User, actor: str, case: Case, want: Access) -> list[str]:
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
        if not want.sees:
            expected = "404"
        elif action == W and not want.write:
            expected = "403"
        else:
            expected = "ok"
        if got != expected:
            problems.append(f"{actor} get_case_or_404 {action}: {got} != {expected}")
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
            problems += observe(scene, actor, scene.cast.case)
            problems += observe(scene, actor, scene.cast.other_case)
    assert problems == []


def test_the_oracle_is_not_vacuous(scene: Scene) -> None:
    """In the baseline every kind of answer occurs: the matrix can fail both ways."""

    def of(actor: str) -> Access:
        return access(scene.cast, scene.users[actor], scene.cast.case)

    assert of("ngo_mentor").sees and not of("police_off_team").sees
    assert of("police_on_team").write == {"risk", "intelligence"}
    assert of("observer").write == frozenset() != of("observer").read
    assert of("auditor").granted_read == frozenset()
    assert of("coordinator").read == set(CATEGORIES) - {"intelligence"}
    assert of("police_off_team").granted_read and not of("police_off_team").reaches


# --- Break-glass in detail -------------------------------------------------------------


@pytest.mark.parametrize(
    "justification",
    [
        "",
        "   ",
        "because",
        "x" * 19,
        "xxxx" * 12,
        "urgent " * 8,
        "Urgent, need it now please!!!!!!! Really!!!!",
        "Need to see this case now now now now now now now",  # one word is most of it
    ],
)
def test_break_glass_needs_a_justification(cast: Cast, justification: str) -> None:
    with pytest.raises(ValidationError):
        break_glass_open(
            actor=cast.police_off_team,
            case_id=cast.case.pk,
            justification=justification,
            code=current_code(cast.police_off_team),
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
            code=current_code(officer),
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
    # One mail per overseer, each naming the case and nothing more.
    assert sorted(m.to for m in mailoutbox) == sorted(
        [[cast.coordinator.email], [cast.auditor.email]]
    )
    assert all(cast.case.reference in m.subject for m in mailoutbox)

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
            code=current_code(cast.actors[actor]),
        )
    assert not BreakGlassAccess.objects.exists()


@pytest.mark.parametrize("pk", ["²", "٣", "-1", "0", "1e3", " 1", str(2**70), True, None, ""])
def test_malformed_case_ids_are_404(cast: Cast, pk: object) -> None:
    with pytest.raises(Http404):
        get_case_or_404(cast.coordinator, pk)
