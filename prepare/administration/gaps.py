"""What is still missing before the installation is usable: the "setup gaps".

A small registry: each check is a function of no argument that returns zero
or more ``Gap`` (a message and the page that fixes it) and runs a fixed
number of queries, whatever the size of the installation. Another part of
PREPARE adds its own with ``@setup_gap_check`` (e.g. invitations not yet
used); the administration home lists every gap in the order registered.
Checks read no case data: they are shown to the administrator.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import SimpleNamespace

from django.db.models import Count, Exists, F, OuterRef, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from prepare.access.policy import access_change_approvers
from prepare.accounts.models import Organisation, Role, User
from prepare.partnerships.models import Partnership, SharingAgreement


@dataclass(frozen=True)
class Gap:
    message: str
    url: str
    action: str  # the text of the link to ``url``


GapCheck = Callable[[], Iterable[Gap]]

SETUP_GAP_CHECKS: list[GapCheck] = []


def setup_gap_check(check: GapCheck) -> GapCheck:
    """Register a check (once, at import); returns it unchanged."""
    if check not in SETUP_GAP_CHECKS:
        SETUP_GAP_CHECKS.append(check)
    return check


def setup_gaps() -> list[Gap]:
    return [gap for check in SETUP_GAP_CHECKS for gap in check()]


@setup_gap_check
def no_organisation() -> Iterable[Gap]:
    """One query."""
    if not Organisation.objects.filter(is_active=True).exists():
        yield Gap(
            _("No organisation yet: every account and partnership belongs to one."),
            reverse("administration:organisation_create"),
            _("Add an organisation"),
        )


@setup_gap_check
def partnerships_incomplete() -> Iterable[Gap]:
    """No partnership yet, or partnerships that cannot work yet: no sharing
    agreement in force, no coordinator, no member besides the coordinating
    organisation. One query, whatever the number of partnerships."""
    today = timezone.localdate()
    in_force = SharingAgreement.objects.in_force(today).filter(partnership_id=OuterRef("pk"))
    coordinator = User.objects.filter(
        organisation_id=OuterRef("coordinating_organisation_id"),
        organisation__is_active=True,
        role=Role.COORDINATOR,
        is_active=True,
    )
    current = Q(memberships__starts_on__lte=today) & (
        Q(memberships__ends_on__isnull=True) | Q(memberships__ends_on__gte=today)
    )
    others = current & ~Q(memberships__organisation_id=F("coordinating_organisation_id"))
    # Who approves what widens access (decision 0020), asked of the policy for
    # the row's coordinating organisation: a second one besides any first?
    approvers = access_change_approvers(
        SimpleNamespace(coordinating_organisation_id=OuterRef("coordinating_organisation_id"))
    ).order_by("pk")
    rows = list(
        Partnership.objects.annotate(
            has_agreement=Exists(in_force),
            has_coordinator=Exists(coordinator),
            has_second_approver=Exists(approvers.values("pk")[1:2]),
            other_members=Count("memberships", filter=others),
        )
        .order_by("name")
        .values(
            "pk",
            "name",
            "has_agreement",
            "has_coordinator",
            "has_second_approver",
            "other_members",
            "coordinating_organisation_id",
            "coordinating_organisation__name",
        )
    )
    if not rows:
        yield Gap(
            _("No partnership yet: cases are worked on inside a partnership."),
            reverse("administration:partnership_create"),
            _("Create a partnership"),
        )
    for row in rows:
        page = reverse("administration:partnership", args=[row["pk"]])
        name = row["name"]
        if not row["has_coordinator"]:
            yield Gap(
                _("%(name)s has no coordinator.") % {"name": name},
                reverse("administration:coordinator_appoint", args=[row["pk"]]),
                _("Appoint its coordinator"),
            )
        elif not row["has_second_approver"]:
            yield Gap(
                _(
                    "%(name)s has one approver: what its coordinator adds to the "
                    "information-sharing agreement waits for a second one, another "
                    "coordinator or a data-protection officer (auditor) of %(organisation)s."
                )
                % {"name": name, "organisation": row["coordinating_organisation__name"]},
                reverse("accounts:staff_invite", args=[row["coordinating_organisation_id"]]),
                _("Invite a second approver"),
            )
        if row["other_members"] < 1:
            yield Gap(
                _("%(name)s has fewer than two member organisations.") % {"name": name},
                reverse("partnerships:members", args=[row["pk"]]),
                _("Add members"),
            )
        if not row["has_agreement"]:
            yield Gap(
                _(
                    "%(name)s has no information-sharing agreement in force: nobody reads "
                    "any case information. Its coordinator sets one up."
                )
                % {"name": name},
                page,
                _("See who coordinates it"),
            )


@setup_gap_check
def invitations_not_used() -> Iterable[Gap]:
    """People invited who have not set up their account yet (their link is live
    or has expired): one query."""
    from prepare.accounts.models import Invitation

    waiting = Invitation.objects.open().count()
    if waiting:
        yield Gap(
            ngettext(
                "%(count)s invited person has not set up their account yet.",
                "%(count)s invited people have not set up their account yet.",
                waiting,
            )
            % {"count": waiting},
            reverse("accounts:staff_home"),
            _("See the staff accounts (re-send a link)"),
        )
