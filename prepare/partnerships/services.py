"""Writes on partnerships: memberships and the sharing agreement grid."""

from __future__ import annotations

from collections.abc import Mapping

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from prepare.access.categories import Action, Category
from prepare.access.policy import WriteForbidden, forget_grants, grants_for
from prepare.accounts.models import User
from prepare.audit.models import EventAction
from prepare.audit.services import audit_record
from prepare.partnerships.models import CategoryGrant, Membership, SharingAgreement

NO_ACCESS = ""


@transaction.atomic
def agreement_grid_update(
    *,
    actor: User,
    agreement_id: int,
    cells: Mapping[tuple[int, str], str],
) -> list[dict[str, object]]:
    """Set cells of the grid (organisation id, category) -> "", "read" or "write".

    Only the partnership's coordinator may do this; every organisation must be
    a member (or the coordinating organisation). Returns the changes made.
    """
    agreement = (
        SharingAgreement.objects.select_for_update()
        .select_related("partnership")
        .filter(pk=agreement_id)
        .first()
    )
    g = grants_for(actor)
    if agreement is None or agreement.partnership_id not in g.partnership_ids:
        from django.http import Http404

        raise Http404
    if not g.coordinates(agreement.partnership_id):
        raise WriteForbidden
    partnership = agreement.partnership
    allowed_orgs = set(
        Membership.objects.filter(partnership=partnership).values_list("organisation_id", flat=True)
    ) | {partnership.coordinating_organisation_id}
    existing = {
        (cg.organisation_id, cg.category): cg
        for cg in CategoryGrant.objects.filter(agreement=agreement)
    }
    changes: list[dict[str, object]] = []
    for (org_id, category), access in sorted(cells.items()):
        if org_id not in allowed_orgs:
            raise ValidationError(
                _("Organisation %(id)s is not in this partnership.") % {"id": org_id}
            )
        if category not in Category.values:
            raise ValidationError(_("Unknown category: %(c)s") % {"c": category})
        if access not in (NO_ACCESS, Action.READ, Action.WRITE):
            raise ValidationError(_("Unknown access level: %(a)s") % {"a": access})
        current = existing.get((org_id, category))
        before = current.access if current else NO_ACCESS
        if before == access:
            continue
        if current is None:
            CategoryGrant.objects.create(
                agreement=agreement, organisation_id=org_id, category=category, access=access
            )
        elif access == NO_ACCESS:
            current.delete()
        else:
            current.access = access
            current.save(update_fields=["access"])
        changes.append({"organisation": org_id, "category": category, "from": before, "to": access})
    if changes:
        audit_record(
            action=EventAction.AGREEMENT_CHANGE,
            actor=actor,
            obj=agreement,
            detail={
                "partnership": partnership.pk,
                "legal_basis": agreement.legal_basis,
                "legal_reference": agreement.legal_reference,
                "changes": changes,
            },
        )
    forget_grants(actor)
    return changes
