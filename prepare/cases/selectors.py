"""Reads of case data: each takes the actor, goes through the policy and is audited."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone

from prepare.access.categories import Action, Category
from prepare.access.policy import (
    CaseAbilities,
    WriteForbidden,
    case_abilities,
    caseload_grants,
    get_case_or_404,
    grants_for,
    has_break_glass,
    parse_pk,
    visible_cases,
)
from prepare.accounts.models import CASE_READING_ROLES, Organisation, User
from prepare.audit.models import EventAction
from prepare.audit.services import audit_record
from prepare.cases.models import Case, CaseNote, CaseTeamMember
from prepare.partnerships.models import Membership, Partnership

COUNT_CAP = 1000


@dataclass
class CaseRow:
    case: Case
    show_identity: bool

    @property
    def display_name(self) -> str:
        return str(self.case.person) if self.show_identity else ""


@dataclass
class CaseloadPage:
    rows: list[CaseRow]
    page: int
    per_page: int
    has_next: bool
    total: int
    total_capped: bool

    @property
    def has_previous(self) -> bool:
        return self.page > 1


def caseload(
    *,
    actor: User,
    status: str = "",
    partnership_id: int | None = None,
    page: int = 1,
    per_page: int = 25,
    purpose: str = "",
) -> CaseloadPage:
    """One page of the cases the actor may reach, newest activity first.

    Reads the case grant index (organisation, -sort_key) for the page's ids,
    then those cases: three queries whatever the number of cases, plus the
    audit event naming the cases shown.
    """
    page = max(page, 1)
    grants = caseload_grants(actor)
    if status:
        grants = grants.filter(status=status)
    if partnership_id:
        grants = grants.filter(partnership_id=partnership_id)
    offset = (page - 1) * per_page
    ids = list(grants.values_list("case_id", flat=True)[offset : offset + per_page + 1])
    has_next = len(ids) > per_page
    ids = ids[:per_page]
    # Unordered, so the database stops after COUNT_CAP + 1 index entries
    # instead of sorting every grant row first.
    total = grants.order_by().values("case_id")[: COUNT_CAP + 1].count()
    by_id = {
        c.pk: c
        for c in visible_cases(actor).filter(pk__in=ids).select_related("person", "partnership")
    }
    g = grants_for(actor)
    rows = [
        CaseRow(case=by_id[i], show_identity=g.may(by_id[i].partnership_id, Category.IDENTITY))
        for i in ids
        if i in by_id
    ]
    audit_record(
        action=EventAction.LIST,
        actor=actor,
        case_ids=[r.case.pk for r in rows],
        category=Category.IDENTITY if any(r.show_identity for r in rows) else "",
        purpose=purpose,
        detail={"view": "caseload", "page": page, "status": status, "partnership": partnership_id},
    )
    return CaseloadPage(
        rows=rows,
        page=page,
        per_page=per_page,
        has_next=has_next,
        total=min(total, COUNT_CAP),
        total_capped=total > COUNT_CAP,
    )


@dataclass(frozen=True)
class NoteSection:
    category: str
    label: str
    notes: list[CaseNote]
    writable: bool


@dataclass
class CaseDetail:
    case: Case
    abilities: CaseAbilities
    notes_by_category: OrderedDict[str, list[CaseNote]] = field(default_factory=OrderedDict)
    team: list[CaseTeamMember] = field(default_factory=list)
    via_break_glass: bool = False

    @property
    def notes(self) -> list[CaseNote]:
        return [n for notes in self.notes_by_category.values() for n in notes]

    @property
    def sections(self) -> list[NoteSection]:
        return [
            NoteSection(
                category=category,
                label=str(Category(category).label),
                notes=notes,
                writable=category in self.abilities.write_categories,
            )
            for category, notes in self.notes_by_category.items()
        ]


def case_detail(*, actor: User, case_id: Any, purpose: str = "") -> CaseDetail:
    """The case with the notes the actor may read, grouped by category."""
    case = get_case_or_404(actor, case_id)
    abilities = case_abilities(actor, case)
    notes = list(
        CaseNote.objects.visible_to(actor, Action.READ)
        .filter(case_id=case.pk)
        .select_related("created_by__organisation", "updated_by")
        .order_by("category", "-created_at", "-pk")
    )
    grouped: OrderedDict[str, list[CaseNote]] = OrderedDict()
    for category in Category.values:
        in_cat = [n for n in notes if n.category == category]
        if in_cat or category in abilities.read_categories:
            grouped[category] = in_cat
    team = list(
        CaseTeamMember.objects.filter(case_id=case.pk).select_related("organisation", "user")
    )
    via_break_glass = has_break_glass(actor, case)
    audit_record(
        action=EventAction.VIEW,
        actor=actor,
        case=case,
        obj=case,
        category=Category.IDENTITY if abilities.see_identity else "",
        purpose=purpose,
        detail={"categories": sorted({n.category for n in notes}), "notes": [n.pk for n in notes]},
    )
    return CaseDetail(
        case=case,
        abilities=abilities,
        notes_by_category=grouped,
        team=team,
        via_break_glass=via_break_glass,
    )


def partnership_choices(*, actor: User) -> list[tuple[int, str]]:
    """The partnerships the actor works in, by name: one query, no case data."""
    ids = grants_for(actor).partnership_ids
    if not ids:
        return []
    return list(Partnership.objects.filter(pk__in=ids).order_by("name").values_list("pk", "name"))


# --- Notes ----------------------------------------------------------------------


def _writable_note(actor: User, case_id: int, note_id: int) -> CaseNote:
    """The note, if the actor reads it on this case (else 404) and may write it (else 403)."""
    if parse_pk(note_id) is None or parse_pk(case_id) is None:
        raise Http404
    note = (
        CaseNote.objects.visible_to(actor, Action.READ)
        .select_related("case", "case__partnership")
        .filter(pk=note_id, case_id=case_id)
        .first()
    )
    if note is None:
        raise Http404
    if not CaseNote.objects.visible_to(actor, Action.WRITE).filter(pk=note.pk).exists():
        raise WriteForbidden
    return note


def note_write_check(*, actor: User, case_id: int, category: str | None = None) -> None:
    """404 if the actor cannot see the case; 403 if they may not add a note to it
    (in ``category``, when given). Shows nothing, so it is not a consultation."""
    case = get_case_or_404(actor, case_id, Action.WRITE)
    writable = grants_for(actor).categories(case.partnership_id, Action.WRITE)
    if not writable or (category and category not in writable):
        raise WriteForbidden


def note_locate(*, actor: User, case_id: int, note_id: int) -> CaseNote:
    """Check that a note the actor is about to change belongs to the case.

    Nothing of the note is shown from here, so this is not a consultation;
    the change itself is audited by the service.
    """
    return _writable_note(actor, case_id, note_id)


def note_for_edit(*, actor: User, case_id: int, note_id: int, view: str = "note_edit") -> CaseNote:
    """The note, to show in its edit form: a read of the note, audited."""
    note = _writable_note(actor, case_id, note_id)
    audit_record(
        action=EventAction.VIEW,
        actor=actor,
        case=note.case,
        obj=note,
        category=note.category,
        detail={"view": view, "version": note.version},
    )
    return note


# --- Case team ------------------------------------------------------------------


def case_for_team_edit(*, actor: User, case_id: int) -> Case:
    """The case whose team the actor may change: invisible 404, not allowed 403."""
    case = get_case_or_404(actor, case_id, Action.WRITE)
    if not case_abilities(actor, case, can_write_case=True).edit_team:
        raise WriteForbidden
    return case


def case_team(*, actor: User, case: Case) -> list[CaseTeamMember]:
    """The team of a case the actor may edit, for the team page; audited."""
    team = list(
        CaseTeamMember.objects.filter(case_id=case.pk).select_related("organisation", "user")
    )
    audit_record(
        action=EventAction.VIEW,
        actor=actor,
        case=case,
        obj=case,
        detail={"view": "team", "members": [m.pk for m in team]},
    )
    return team


def team_candidates(*, case: Case) -> tuple[QuerySet[Organisation], QuerySet[User]]:
    """Organisations that may join the case team, and their active practitioners.

    The partnership's current members plus its coordinating organisation.
    Lazy querysets: each costs one query when a form renders or validates.
    """
    today = timezone.localdate()
    member_orgs = (
        Membership.objects.current(today)
        .filter(partnership_id=case.partnership_id)
        .values("organisation_id")
    )
    in_partnership = Q(pk__in=member_orgs) | Q(pk=case.partnership.coordinating_organisation_id)
    organisations = Organisation.objects.filter(in_partnership, is_active=True).order_by("name")
    users = (
        User.objects.filter(
            is_active=True,
            role__in=sorted(CASE_READING_ROLES),
            organisation__in=organisations.values("pk"),
        )
        .select_related("organisation")
        .order_by("organisation__name", "last_name", "first_name", "username")
    )
    return organisations, users


def team_member_in_case(*, actor: User, case_id: int, member_id: int) -> CaseTeamMember:
    """A team entry of this case, if the actor sees the case (else 404)."""
    if parse_pk(member_id) is None or parse_pk(case_id) is None:
        raise Http404
    member = CaseTeamMember.objects.visible_to(actor).filter(pk=member_id, case_id=case_id).first()
    if member is None:
        raise Http404
    return member


def case_is_visible(*, actor: User, case_id: int) -> bool:
    """Whether the actor still reaches the case (e.g. after leaving its team)."""
    if parse_pk(case_id) is None:
        return False
    return visible_cases(actor).filter(pk=case_id).exists()
