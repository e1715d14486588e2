"""Reads of case data: each takes the actor, goes through the policy and is audited."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from prepare.access.categories import Action, Category
from prepare.access.policy import (
    CaseAbilities,
    case_abilities,
    caseload_grants,
    get_case_or_404,
    grants_for,
    visible_cases,
)
from prepare.accounts.models import User
from prepare.audit.models import EventAction
from prepare.audit.services import audit_record
from prepare.cases.models import Case, CaseNote, CaseTeamMember

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
    total = grants.values("case_id")[: COUNT_CAP + 1].count()
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


@dataclass
class CaseDetail:
    case: Case
    abilities: CaseAbilities
    notes_by_category: OrderedDict[str, list[CaseNote]] = field(default_factory=OrderedDict)
    team: list[CaseTeamMember] = field(default_factory=list)

    @property
    def notes(self) -> list[CaseNote]:
        return [n for notes in self.notes_by_category.values() for n in notes]


def case_detail(*, actor: User, case_id: Any, purpose: str = "") -> CaseDetail:
    """The case with the notes the actor may read, grouped by category."""
    case = get_case_or_404(actor, case_id)
    abilities = case_abilities(actor, case)
    notes = list(
        CaseNote.objects.visible_to(actor, Action.READ)
        .filter(case_id=case.pk)
        .select_related("created_by", "updated_by")
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
    audit_record(
        action=EventAction.VIEW,
        actor=actor,
        case=case,
        obj=case,
        category=Category.IDENTITY if abilities.see_identity else "",
        purpose=purpose,
        detail={"categories": sorted({n.category for n in notes}), "notes": [n.pk for n in notes]},
    )
    return CaseDetail(case=case, abilities=abilities, notes_by_category=grouped, team=team)
