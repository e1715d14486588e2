"""THE test oracle: what an actor may do on a case, worked out from the data.

Every access matrix (the web routes, the API, the policy's querysets) asks
this module, and nothing here calls ``prepare.access`` or imports the role
sets the code uses: the rules are written out again from PRODUCT.md and
DESIGN.md, and the facts are read from the tables (memberships, the
agreement's validity, the case team, break-glass rows, the case's status)
and from the cast's agreement table. A bug in the policy shows as a mismatch.

- Only coordinators, case managers, practitioners and observers work on
  cases; observers never write; trainers, analysts, auditors and
  administrators never see case content.
- An active user of an active organisation reads (writes) the categories the
  agreement in force today grants the organisation, if the organisation is a
  current member of the case's partnership or coordinates it.
- The user reaches the case if their organisation is on its team (entry
  running), they are named on it (entry running), or they coordinate its
  partnership; the team's reach ends when the case is closed, in follow-up or
  archived (the coordinator keeps it); and only if they may read some category
  of it (need to know: a case nothing of which is shared does not exist for
  them).
- The team is changed by coordinators and case managers who may write; the
  access log is the coordinator's.
- Emergency access: any case of a partnership whose agreement grants the
  organisation something; until it expires, it shows the case with what the
  agreement grants, read only, and does not put it in the caseload.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q
from django.utils import timezone

from prepare.access.categories import Action, Category
from prepare.access.models import BreakGlassAccess
from prepare.accounts.models import Organisation, User
from prepare.cases.models import Case, CaseTeamMember
from prepare.partnerships.models import Membership, SharingAgreement
from tests.cast import AGREEMENT, Cast
from tests.factories import UserFactory

R, W = Action.READ.value, Action.WRITE.value
CATEGORIES: tuple[str, ...] = tuple(Category.values)

READING_ROLES = {"coordinator", "case_manager", "practitioner", "observer"}
WRITING_ROLES = {"coordinator", "case_manager", "practitioner"}
TEAM_ENDS_IN = {"closed", "follow_up", "archived"}

# Every actor of the matrices: (organisation key in the cast, role). The cast's
# eight first, then one actor for each role the cast lacks, a practitioner of
# the coordinating organisation, and two police officers off K's team (the
# route matrix gives them running and expired emergency access).
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
    "police_glass": ("police", "practitioner"),
    "police_glass_expired": ("police", "practitioner"),
}
CAST_ACTORS: tuple[str, ...] = tuple(a for a in ACTORS if a in Cast.__dataclass_fields__)

# The agreement of each partnership of the cast, by partnership code: the
# cast's AGREEMENT table, and the other partnership's (Elsewhere may write all).
AGREEMENTS: dict[str, dict[str, dict[str, str]]] = {
    "TST": AGREEMENT,
    "ELS": {"elsewhere": dict.fromkeys(CATEGORIES, W)},
}


def users_of(cast: Cast) -> dict[str, User]:
    """Every actor: the cast's own, and a new user for each one it lacks."""
    users = dict(cast.actors)
    for name, (org, role) in ACTORS.items():
        if name not in users:
            users[name] = UserFactory(username=name, organisation=cast.orgs[org], role=role)
        assert (users[name].organisation_id, users[name].role) == (cast.orgs[org].pk, role)
    return users


@dataclass(frozen=True)
class Access:
    reaches: bool  # on the case's team, or coordinating: in the caseload, may write
    sees: bool  # sees the case at all: reaches it, or through running emergency access
    read: frozenset[str]  # what the user reads of the case
    write: frozenset[str]  # what the user writes on the case
    edit_team: bool
    access_log: bool
    break_glass: bool  # may open emergency access to it
    granted_read: frozenset[str]  # what the agreement grants, case team aside
    granted_write: frozenset[str]
    organisation: str | None = None  # the actor's organisation, as the cast names it

    @property
    def glass_read(self) -> frozenset[str]:
        """What emergency access would show."""
        return self.granted_read


def _org_key(cast: Cast, organisation_id: int | None) -> str | None:
    return next((k for k, org in cast.orgs.items() if org.pk == organisation_id), None)


def _agreement_in_force(partnership_id: int) -> bool:
    today = timezone.localdate()
    return (
        SharingAgreement.objects.filter(partnership_id=partnership_id, valid_from__lte=today)
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gte=today))
        .exists()
    )


def access(cast: Cast, user: User, case: Case) -> Access:
    """What ``user`` may do on ``case``, from the data and the rules, not the policy."""
    today = timezone.localdate()
    user = User.objects.get(pk=user.pk)
    case = Case.objects.select_related("partnership").get(pk=case.pk)
    partnership = case.partnership
    org = _org_key(cast, user.organisation_id)
    coordinating = user.organisation_id == partnership.coordinating_organisation_id
    member = coordinating or (
        Membership.objects.filter(partnership=partnership, organisation_id=user.organisation_id)
        .filter(starts_on__lte=today)
        .filter(Q(ends_on__isnull=True) | Q(ends_on__gte=today))
        .exists()
    )
    org_active = Organisation.objects.filter(pk=user.organisation_id, is_active=True).exists()
    cells: dict[str, str] = {}
    if (
        user.is_active
        and org_active
        and user.role in READING_ROLES
        and member
        and org is not None
        and _agreement_in_force(partnership.pk)
    ):
        cells = AGREEMENTS[partnership.code].get(org, {})
    granted_read = frozenset(cells)
    granted_write = (
        frozenset(c for c, a in cells.items() if a == W)
        if user.role in WRITING_ROLES
        else frozenset()
    )
    coordinates = user.role == "coordinator" and coordinating
    running = CaseTeamMember.objects.filter(case=case).filter(
        Q(ends_on__isnull=True) | Q(ends_on__gte=today)
    )
    on_team = coordinates or (
        case.status not in TEAM_ENDS_IN
        and (
            running.filter(organisation_id=user.organisation_id, user__isnull=True).exists()
            or running.filter(user=user).exists()
        )
    )
    reaches = on_team and bool(granted_read)
    glass = BreakGlassAccess.objects.filter(
        user=user, case=case, expires_at__gt=timezone.now()
    ).exists()
    sees = reaches or (glass and bool(granted_read))
    write = granted_write if reaches else frozenset()
    return Access(
        reaches=reaches,
        sees=sees,
        read=granted_read if sees else frozenset(),
        write=write,
        edit_team=bool(write) and (coordinates or user.role == "case_manager"),
        access_log=reaches and coordinates,
        break_glass=bool(granted_read),
        granted_read=granted_read,
        granted_write=granted_write,
        organisation=org,
    )
