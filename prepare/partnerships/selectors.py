"""Reads of partnerships, for their members only."""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Count, Q
from django.utils import timezone

from prepare.access.abilities import may_manage_memberships
from prepare.access.categories import Category
from prepare.access.errors import NotVisible, WriteForbidden
from prepare.access.policy import (
    coordinates,
    is_access_change_approver,
    member_partnership_ids,
    parse_pk,
    partnership_for_memberships,
)
from prepare.accounts.models import Organisation, OrganisationType, User
from prepare.partnerships.models import (
    AccessChangeRequest,
    AccessChangeStatus,
    CategoryGrant,
    Membership,
    Partnership,
    SharingAgreement,
)
from prepare.partnerships.services import (
    NO_ACCESS,
    agreement_digest,
    current_agreement,
)


@dataclass(frozen=True)
class PartnershipRow:
    partnership: Partnership
    member_count: int
    coordinated_by_me: bool


def partnership_list(*, actor: User) -> list[PartnershipRow]:
    """The partnerships the actor's organisation belongs to: one query."""
    if not member_partnership_ids(actor):
        return []
    today = timezone.localdate()
    current = Q(memberships__starts_on__lte=today) & (
        Q(memberships__ends_on__isnull=True) | Q(memberships__ends_on__gte=today)
    )
    partnerships = (
        Partnership.objects.filter(pk__in=member_partnership_ids(actor))
        .select_related("coordinating_organisation")
        .annotate(member_count=Count("memberships", filter=current))
        .order_by("name")
    )
    return [
        PartnershipRow(
            partnership=p,
            member_count=p.member_count,
            coordinated_by_me=coordinates(actor, p.pk),
        )
        for p in partnerships
    ]


@dataclass(frozen=True)
class GridOrganisation:
    """One row of a grid."""

    id: int
    name: str
    type_label: str
    coordinating: bool
    member: bool


@dataclass(frozen=True)
class GridCell:
    organisation_id: int
    category: str
    category_label: str
    access: str  # "", "read" or "write"


@dataclass(frozen=True)
class GridRow:
    organisation: GridOrganisation
    cells: list[GridCell]


@dataclass(frozen=True)
class CategoryColumn:
    value: str
    label: str


def categories() -> list[CategoryColumn]:
    return [CategoryColumn(value=c.value, label=str(c.label)) for c in Category]


def _grid(
    organisations: list[GridOrganisation], access: dict[tuple[int, str], str]
) -> list[GridRow]:
    cols = categories()
    return [
        GridRow(
            organisation=org,
            cells=[
                GridCell(
                    organisation_id=org.id,
                    category=col.value,
                    category_label=col.label,
                    access=access.get((org.id, col.value), NO_ACCESS),
                )
                for col in cols
            ],
        )
        for org in organisations
    ]


def _type_label(value: str) -> str:
    return str(dict(OrganisationType.choices).get(value, value))


def _grid_organisations(
    partnership: Partnership,
    memberships: Iterable[Membership],
    extra: Iterable[tuple[int, str, str]],
    today: datetime.date,
) -> list[GridOrganisation]:
    """Rows: the coordinating organisation, then members by name, then any
    organisation that still holds a cell without being a member."""
    coordinating = partnership.coordinating_organisation
    rows: dict[int, GridOrganisation] = {
        coordinating.pk: GridOrganisation(
            id=coordinating.pk,
            name=coordinating.name,
            type_label=str(coordinating.get_type_display()),
            coordinating=True,
            member=True,
        )
    }
    for m in sorted(memberships, key=lambda m: m.organisation.name.casefold()):
        if m.organisation_id in rows:
            continue
        current = m.starts_on <= today and (m.ends_on is None or m.ends_on >= today)
        rows[m.organisation_id] = GridOrganisation(
            id=m.organisation_id,
            name=m.organisation.name,
            type_label=str(m.organisation.get_type_display()),
            coordinating=False,
            member=current,
        )
    for org_id, name, type_value in sorted(extra, key=lambda e: e[1].casefold()):
        if org_id not in rows:
            rows[org_id] = GridOrganisation(
                id=org_id,
                name=name,
                type_label=_type_label(type_value),
                coordinating=False,
                member=False,
            )
    return list(rows.values())


@dataclass
class AgreementView:
    agreement: SharingAgreement
    period: str  # "in_force", "upcoming" or "past"
    grid: list[GridRow]


@dataclass
class PartnershipDetail:
    partnership: Partnership
    memberships: list[Membership]
    agreements: list[AgreementView]
    columns: list[CategoryColumn]
    can_edit: bool
    today: datetime.date
    # A coordinator or the data-protection officer: sees the changes waiting for approval.
    reviews_access_changes: bool = False

    def by_period(self, period: str) -> list[AgreementView]:
        return [a for a in self.agreements if a.period == period]

    @property
    def in_force(self) -> list[AgreementView]:
        return self.by_period("in_force")

    @property
    def upcoming(self) -> list[AgreementView]:
        return self.by_period("upcoming")

    @property
    def past(self) -> list[AgreementView]:
        return self.by_period("past")


def _member_partnership_or_404(actor: User, partnership_id: int) -> Partnership:
    if partnership_id not in member_partnership_ids(actor):
        raise NotVisible
    partnership = (
        Partnership.objects.select_related("coordinating_organisation")
        .filter(pk=partnership_id)
        .first()
    )
    if partnership is None:
        raise NotVisible
    return partnership


def _period(agreement: SharingAgreement, today: datetime.date) -> str:
    if agreement.valid_from > today:
        return "upcoming"
    if agreement.valid_until is not None and agreement.valid_until < today:
        return "past"
    return "in_force"


def partnership_detail(*, actor: User, partnership_id: int) -> PartnershipDetail:
    """A partnership with its members and every agreement's grid: four queries."""
    partnership = _member_partnership_or_404(actor, partnership_id)
    today = timezone.localdate()
    memberships = list(
        Membership.objects.filter(partnership_id=partnership.pk)
        .select_related("organisation")
        .order_by("organisation__name")
    )
    agreements = list(
        SharingAgreement.objects.filter(partnership_id=partnership.pk).order_by(
            "-valid_from", "-pk"
        )
    )
    access: dict[int, dict[tuple[int, str], str]] = {a.pk: {} for a in agreements}
    extra: dict[int, tuple[int, str, str]] = {}
    member_ids = {m.organisation_id for m in memberships} | {
        partnership.coordinating_organisation_id
    }
    for agreement_id, org_id, category, level, org_name, org_type in CategoryGrant.objects.filter(
        agreement__partnership_id=partnership.pk
    ).values_list(
        "agreement_id",
        "organisation_id",
        "category",
        "access",
        "organisation__name",
        "organisation__type",
    ):
        access[agreement_id][(org_id, category)] = level
        if org_id not in member_ids:
            extra[org_id] = (org_id, org_name, org_type)
    organisations = _grid_organisations(partnership, memberships, extra.values(), today)
    views = [
        AgreementView(
            agreement=a, period=_period(a, today), grid=_grid(organisations, access[a.pk])
        )
        for a in agreements
    ]
    return PartnershipDetail(
        partnership=partnership,
        memberships=memberships,
        agreements=views,
        columns=categories(),
        can_edit=coordinates(actor, partnership.pk),
        today=today,
        reviews_access_changes=is_access_change_approver(actor, partnership),
    )


@dataclass
class AgreementGrid:
    partnership: Partnership
    agreement: SharingAgreement
    grid: list[GridRow]
    columns: list[CategoryColumn]
    digest: str

    @property
    def access(self) -> dict[tuple[int, str], str]:
        return {(c.organisation_id, c.category): c.access for row in self.grid for c in row.cells}


def agreement_grid(*, actor: User, partnership_id: int, agreement_id: int) -> AgreementGrid:
    """The grid of one agreement, for its coordinator to edit: four queries.

    A non-member gets 404, a member who does not coordinate 403.
    """
    partnership = _member_partnership_or_404(actor, partnership_id)
    agreement = SharingAgreement.objects.filter(pk=agreement_id, partnership=partnership).first()
    if agreement is None:
        raise NotVisible
    if not coordinates(actor, partnership.pk):
        raise WriteForbidden
    today = timezone.localdate()
    memberships = list(
        Membership.objects.filter(partnership_id=partnership.pk).select_related("organisation")
    )
    member_ids = {m.organisation_id for m in memberships} | {
        partnership.coordinating_organisation_id
    }
    access: dict[tuple[int, str], str] = {}
    extra: dict[int, tuple[int, str, str]] = {}
    for org_id, category, level, org_name, org_type in CategoryGrant.objects.filter(
        agreement=agreement
    ).values_list(
        "organisation_id", "category", "access", "organisation__name", "organisation__type"
    ):
        access[(org_id, category)] = level
        if org_id not in member_ids:
            extra[org_id] = (org_id, org_name, org_type)
    organisations = _grid_organisations(partnership, memberships, extra.values(), today)
    return AgreementGrid(
        partnership=partnership,
        agreement=agreement,
        grid=_grid(organisations, access),
        columns=categories(),
        digest=agreement_digest(agreement, access),
    )


def partnership_for_coordinator(
    *, actor: User, partnership_id: int
) -> tuple[Partnership, SharingAgreement | None]:
    """The partnership and its agreement in force today, for its coordinator.

    A non-member gets 404, a member who does not coordinate 403.
    """
    partnership = _member_partnership_or_404(actor, partnership_id)
    if not coordinates(actor, partnership.pk):
        raise WriteForbidden
    return partnership, current_agreement(partnership.pk, timezone.localdate())


def agreement_pending_change(agreement: SharingAgreement) -> AccessChangeRequest | None:
    """The change of this agreement waiting for a second approver, if any: one query."""
    return (
        AccessChangeRequest.objects.filter(
            kind="agreement",
            partnership_id=agreement.partnership_id,
            status=AccessChangeStatus.PENDING,
            payload__agreement=agreement.pk,
        )
        .order_by("-pk")
        .first()
    )


@dataclass
class MembersPage:
    partnership: Partnership
    memberships: list[Membership]
    can_manage: bool
    # Active organisations that are not members now: (id, name), for the add form.
    candidates: list[tuple[int, str]]
    today: datetime.date

    def is_current(self, membership: Membership) -> bool:
        return membership.starts_on <= self.today and (
            membership.ends_on is None or membership.ends_on >= self.today
        )

    @property
    def rows(self) -> list[tuple[Membership, bool]]:
        return [(m, self.is_current(m)) for m in self.memberships]


def members_page(*, actor: User, partnership_id: int) -> MembersPage:
    """The partnership's members, for its members to read and its coordinator
    (or the administrator) to change: at most four queries."""
    pk = partnership_for_memberships(actor, partnership_id, write=False)
    partnership = (
        Partnership.objects.select_related("coordinating_organisation").filter(pk=pk).first()
    )
    if partnership is None:
        raise NotVisible
    today = timezone.localdate()
    memberships = list(
        Membership.objects.filter(partnership=partnership)
        .select_related("organisation")
        .order_by("organisation__name")
    )
    can_manage = may_manage_memberships(actor, partnership.pk)
    candidates: list[tuple[int, str]] = []
    if can_manage:
        current = {
            m.organisation_id for m in memberships if m.ends_on is None or m.ends_on >= today
        }
        candidates = [
            (pk, name)
            for pk, name in Organisation.objects.filter(is_active=True)
            .order_by("name")
            .values_list("pk", "name")
            if pk not in current
        ]
    return MembersPage(
        partnership=partnership,
        memberships=memberships,
        can_manage=can_manage,
        candidates=candidates,
        today=today,
    )


def membership_partnership_for_write(*, actor: User, partnership_id: int) -> Partnership:
    """The partnership whose members the actor is about to change (404 outside
    it, 403 for a member who may not change members)."""
    pk = partnership_for_memberships(actor, partnership_id, write=True)
    partnership = Partnership.objects.filter(pk=pk).first()
    if partnership is None:
        raise NotVisible
    return partnership


def membership_for_write(*, actor: User, membership_id: int) -> Membership:
    """A membership the actor is about to end, by its id alone: 404 unless the
    actor may see its partnership's members, 403 unless they may change them."""
    pk = parse_pk(membership_id)
    membership = (
        Membership.objects.select_related("partnership").filter(pk=pk).first()
        if pk is not None
        else None
    )
    if membership is None:
        raise NotVisible
    partnership_for_memberships(actor, membership.partnership_id, write=True)
    return membership


def membership_for_end(*, actor: User, partnership_id: int, membership_id: int) -> Membership:
    """One membership of the partnership, for the page that ends it (404 outside
    the partnership, 403 for a member who may not change members)."""
    pk = partnership_for_memberships(actor, partnership_id, write=True)
    membership = (
        Membership.objects.select_related("organisation", "partnership")
        .filter(pk=membership_id, partnership_id=pk)
        .first()
    )
    if membership is None:
        raise NotVisible
    return membership


@dataclass
class SettingsPage:
    partnership: Partnership
    can_edit: bool
    agreement: SharingAgreement | None
    member_count: int


def settings_page(*, actor: User, partnership_id: int) -> SettingsPage:
    """Everything a coordinator sets for the partnership, in one place: three queries."""
    partnership = _member_partnership_or_404(actor, partnership_id)
    today = timezone.localdate()
    return SettingsPage(
        partnership=partnership,
        can_edit=coordinates(actor, partnership.pk),
        agreement=current_agreement(partnership.pk, today),
        member_count=Membership.objects.filter(partnership=partnership).current(today).count(),
    )
