"""Reads of the administration pages and API: organisations, partnerships and
who coordinates them. The administrator only (``require_administrator``);
nothing here reads case data."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from prepare.access.errors import NotVisible
from prepare.access.policy import parse_pk, require_administrator
from prepare.accounts.models import Organisation, Role, User
from prepare.administration.gaps import Gap, setup_gaps
from prepare.partnerships.models import Membership, Partnership, SharingAgreement


def _current(today: datetime.date) -> Q:
    """Current memberships, through the ``memberships`` relation."""
    return Q(memberships__starts_on__lte=today) & (
        Q(memberships__ends_on__isnull=True) | Q(memberships__ends_on__gte=today)
    )


def home(*, actor: User) -> list[Gap]:
    """The setup gaps: one query per registered check."""
    require_administrator(actor)
    return setup_gaps()


# Rows of one page of the administrator's lists.
PAGE_SIZE = 50
QUERY_MAX_LENGTH = 100


def _named(query: str, *fields: str) -> Q:
    query = query.strip()[:QUERY_MAX_LENGTH]
    found = Q()
    if query:
        for name in fields:
            found |= Q(**{f"{name}__icontains": query})
    return found


def organisations(*, actor: User, query: str = "") -> QuerySet[Organisation]:
    """Every organisation (or those whose name or city contains ``query``) with
    its number of active accounts and of partnerships it is a current member
    of: one query."""
    require_administrator(actor)
    today = timezone.localdate()
    return (
        Organisation.objects.filter(_named(query, "name", "city"))
        .annotate(
            staff_count=Count("staff", filter=Q(staff__is_active=True), distinct=True),
            partnership_count=Count("memberships", filter=_current(today), distinct=True),
        )
        .order_by("name")
    )


def organisation(*, actor: User, organisation_id: Any) -> Organisation:
    require_administrator(actor)
    pk = parse_pk(organisation_id)
    found = Organisation.objects.filter(pk=pk).first() if pk is not None else None
    if found is None:
        raise NotVisible
    return found


def partnerships(*, actor: User, query: str = "") -> QuerySet[Partnership]:
    """Every partnership (or those whose name or code contains ``query``) with
    its coordinating organisation, current members, active coordinators and
    whether an agreement is in force: one query."""
    require_administrator(actor)
    today = timezone.localdate()
    coordinators = User.objects.filter(
        organisation_id=OuterRef("coordinating_organisation_id"),
        role=Role.COORDINATOR,
        is_active=True,
    )
    return (
        Partnership.objects.filter(_named(query, "name", "code"))
        .select_related("coordinating_organisation")
        .annotate(
            member_count=Count("memberships", filter=_current(today)),
            has_coordinator=Exists(coordinators),
            has_agreement=Exists(
                SharingAgreement.objects.in_force(today).filter(partnership_id=OuterRef("pk"))
            ),
        )
        .order_by("name")
    )


@dataclass
class PartnershipPage:
    partnership: Partnership
    coordinators: list[User]
    memberships: list[Membership]
    agreement: SharingAgreement | None
    today: datetime.date

    @property
    def current_members(self) -> list[Membership]:
        t = self.today
        return [
            m
            for m in self.memberships
            if m.starts_on <= t and (m.ends_on is None or m.ends_on >= t)
        ]


def partnership_by_id(partnership_id: Any) -> Partnership:
    """The partnership with its coordinating organisation, or 404. No policy:
    the callers are the administrator's."""
    pk = parse_pk(partnership_id)
    found = (
        Partnership.objects.select_related("coordinating_organisation").filter(pk=pk).first()
        if pk is not None
        else None
    )
    if found is None:
        raise NotVisible
    return found


def partnership(*, actor: User, partnership_id: Any) -> PartnershipPage:
    """One partnership for the administrator: four queries."""
    require_administrator(actor)
    found = partnership_by_id(partnership_id)
    today = timezone.localdate()
    return PartnershipPage(
        partnership=found,
        coordinators=list(_coordinators(found)),
        memberships=list(
            Membership.objects.filter(partnership=found)
            .select_related("organisation")
            .order_by("organisation__name")
        ),
        agreement=SharingAgreement.objects.filter(partnership=found)
        .in_force(today)
        .order_by("-valid_from", "-pk")
        .first(),
        today=today,
    )


def _coordinators(found: Partnership) -> QuerySet[User]:
    return User.objects.filter(
        organisation_id=found.coordinating_organisation_id, role=Role.COORDINATOR, is_active=True
    ).order_by("last_name", "first_name", "username")


def coordinator_candidates(*, actor: User, partnership: Partnership) -> list[User]:
    """Active accounts of the coordinating organisation that could be appointed
    coordinator (not coordinators already, not administrators): one query."""
    require_administrator(actor)
    return list(
        User.objects.filter(
            organisation_id=partnership.coordinating_organisation_id, is_active=True
        )
        .exclude(role__in=[Role.COORDINATOR, Role.ADMINISTRATOR])
        .order_by("last_name", "first_name", "username")
    )
