"""Keeping the case grant index in step with cases, teams and partnerships.

Called by the services that change those, inside their transaction.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING

from prepare.access.models import CaseGrant

if TYPE_CHECKING:
    from prepare.cases.models import Case


def case_grants_rebuild(case: Case) -> None:
    """Recompute the grant rows of one case from its partnership and team."""
    from prepare.cases.models import CaseTeamMember, KeyDate, KeyDateKind

    rows: dict[int, CaseGrant] = {}
    release_on = (
        KeyDate.objects.of_case(case)
        .filter(kind=KeyDateKind.EXPECTED_RELEASE)
        .values_list("date", flat=True)
        .first()
    )

    def row(org_id: int) -> CaseGrant:
        if org_id not in rows:
            rows[org_id] = CaseGrant(
                case_id=case.pk,
                organisation_id=org_id,
                partnership_id=case.partnership_id,
                status=case.status,
                sort_key=case.updated_at,
                release_on=release_on,
                reference=case.reference,
            )
        return rows[org_id]

    row(case.partnership.coordinating_organisation_id).coordination = True
    org_wide_ends: dict[int, list] = {}
    for member in CaseTeamMember.objects.filter(case_id=case.pk).only(
        "organisation_id", "user_id", "ends_on"
    ):
        grant = row(member.organisation_id)
        if member.user_id is None:
            grant.whole_organisation = True
            org_wide_ends.setdefault(member.organisation_id, []).append(member.ends_on)
        else:
            grant.named_users = True
    for org_id, ends in org_wide_ends.items():
        rows[org_id].ends_on = None if None in ends else max(ends)
    CaseGrant.objects.filter(case_id=case.pk).delete()
    CaseGrant.objects.bulk_create(rows.values())


def case_grants_touch(case: Case) -> None:
    """Copy the case's sort keys and status to its grant rows."""
    CaseGrant.objects.filter(case_id=case.pk).update(
        sort_key=case.updated_at,
        status=case.status,
        partnership_id=case.partnership_id,
        reference=case.reference,
    )


def case_grants_release(case: Case, release_on: datetime.date | None) -> None:
    """Copy the case's expected release date to its grant rows."""
    CaseGrant.objects.filter(case_id=case.pk).update(release_on=release_on)
