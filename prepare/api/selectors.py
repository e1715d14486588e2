"""The API's reads of case data: each takes the actor, goes through the policy,
reads rows with ``.values()`` and writes its audit event before returning.

Lists take a ``paginate`` callable (the view's paginator) so that the event
names exactly the rows of the page that is answered.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.db.models import Case as SqlCase
from django.db.models import CharField, F, Q, QuerySet, Value, When
from django.http import Http404

from prepare.access.categories import Action, Category
from prepare.access.policy import (
    CaseAbilities,
    case_abilities,
    caseload_grants,
    get_case_or_404,
    grants_for,
    record_filter,
    visible_cases,
)
from prepare.accounts.models import Organisation, User
from prepare.audit.models import EventAction
from prepare.audit.services import audit_record
from prepare.cases.models import Case, CaseNote, CaseTeamMember

Paginate = Callable[[QuerySet[Any]], list[Any]]
Row = dict[str, Any]

CASE_FIELDS = ("id", "reference", "status", "partnership_id", "opened_on", "updated_at", "version")
NOTE_FIELDS = (
    "id",
    "case_id",
    "category",
    "kind",
    "text",
    "created_at",
    "created_by_id",
    "updated_at",
    "updated_by_id",
    "version",
)
TEAM_FIELDS = (
    "id",
    "case_id",
    "organisation_id",
    "organisation__name",
    "user_id",
    "user__username",
    "user__first_name",
    "user__last_name",
    "purpose",
    "ends_on",
    "added_at",
)


# --- Cases -----------------------------------------------------------------------


def caseload_page(
    *,
    actor: User,
    paginate: Paginate,
    status: str = "",
    partnership_id: int | None = None,
    page: int = 1,
) -> list[Row]:
    """One page of the caseload, in the order and with the rows of the web caseload.

    The page's ids come from the case grant index; the cases are then read in
    one query, with the person's name only where identity is granted (the
    other names never leave the database).
    """
    grants = caseload_grants(actor)
    if status:
        grants = grants.filter(status=status)
    if partnership_id:
        grants = grants.filter(partnership_id=partnership_id)
    ids: list[int] = paginate(grants.values_list("case_id", flat=True))
    g = grants_for(actor)
    identity = sorted(p for p in g.partnership_ids if g.may(p, Category.IDENTITY))
    cases = visible_cases(actor).filter(pk__in=ids)
    names: tuple[str, ...] = ()
    if identity:
        shown = Q(partnership_id__in=identity)
        cases = cases.annotate(
            person_given_name=SqlCase(
                When(shown, then=F("person__given_name")),
                default=Value(None),
                output_field=CharField(),
            ),
            person_family_name=SqlCase(
                When(shown, then=F("person__family_name")),
                default=Value(None),
                output_field=CharField(),
            ),
        )
        names = ("person_given_name", "person_family_name")
    by_id = {row["id"]: row for row in cases.values(*CASE_FIELDS, *names)}
    rows = []
    for case_id in ids:
        row = by_id.get(case_id)
        if row is None:
            continue
        show = g.may(row["partnership_id"], Category.IDENTITY)
        given = row.pop("person_given_name", None)
        family = row.pop("person_family_name", None)
        row["person"] = {"given_name": given, "family_name": family} if show else None
        rows.append(row)
    audit_record(
        action=EventAction.LIST,
        actor=actor,
        case_ids=[row["id"] for row in rows],
        category=Category.IDENTITY if any(row["person"] for row in rows) else "",
        detail={
            "view": "api.cases",
            "page": page,
            "status": status,
            "partnership": partnership_id,
        },
    )
    return rows


def _abilities_row(abilities: CaseAbilities) -> Row:
    order = Category.values
    return {
        "read_categories": [c for c in order if c in abilities.read_categories],
        "write_categories": [c for c in order if c in abilities.write_categories],
        "see_identity": abilities.see_identity,
        "edit_team": abilities.edit_team,
        "write": abilities.write,
    }


def case_with_abilities(*, actor: User, case_id: int) -> tuple[Case, CaseAbilities]:
    """The case and what the actor may do on it, before a write; 404 if invisible.

    Answers no case data itself, so it writes no event: the write does.
    """
    case = get_case_or_404(actor, case_id)
    return case, case_abilities(actor, case)


def case_get(*, actor: User, case_id: int) -> Row:
    """One case with the actor's abilities on it; 404 if the actor cannot see it."""
    case = get_case_or_404(actor, case_id)
    abilities = case_abilities(actor, case)
    row: Row = {name: getattr(case, name) for name in CASE_FIELDS}
    person = case.person
    row["person"] = (
        {
            "given_name": person.given_name,
            "family_name": person.family_name,
            "birth_date": person.birth_date,
            "identifier": person.identifier,
            "data_subject_category": person.data_subject_category,
        }
        if abilities.see_identity
        else None
    )
    row["abilities"] = _abilities_row(abilities)
    audit_record(
        action=EventAction.VIEW,
        actor=actor,
        case=case,
        obj=case,
        category=Category.IDENTITY if abilities.see_identity else "",
        detail={"view": "api.case"},
    )
    return row


# --- Team ------------------------------------------------------------------------


def _team_rows(members: QuerySet[CaseTeamMember]) -> list[Row]:
    rows = []
    for raw in members.values(*TEAM_FIELDS):
        user = None
        if raw["user_id"] is not None:
            name = f"{raw['user__first_name']} {raw['user__last_name']}".strip()
            user = {"id": raw["user_id"], "username": raw["user__username"], "name": name}
        rows.append(
            {
                "id": raw["id"],
                "case_id": raw["case_id"],
                "organisation": {"id": raw["organisation_id"], "name": raw["organisation__name"]},
                "user": user,
                "purpose": raw["purpose"],
                "ends_on": raw["ends_on"],
                "added_at": raw["added_at"],
            }
        )
    return rows


def team_list(*, actor: User, case_id: int) -> list[Row]:
    case = get_case_or_404(actor, case_id)
    rows = _team_rows(CaseTeamMember.objects.visible_to(actor).filter(case_id=case.pk))
    audit_record(
        action=EventAction.LIST,
        actor=actor,
        case=case,
        detail={"view": "api.team", "members": [row["id"] for row in rows]},
    )
    return rows


def team_member_row(member: CaseTeamMember) -> Row:
    """The row of a member the actor has just added (its event is the addition's)."""
    return _team_rows(CaseTeamMember.objects.filter(pk=member.pk))[0]


def team_has(*, case: Case, organisation: Organisation, user: User | None) -> bool:
    """Whether this organisation (or this practitioner) is already on the team."""
    return CaseTeamMember.objects.filter(case=case, organisation=organisation, user=user).exists()


def team_member_of_case(*, actor: User, case_id: int, member_id: int) -> Case:
    """The case, if ``member_id`` is on its team and the actor sees both; else 404."""
    case = get_case_or_404(actor, case_id)
    if not CaseTeamMember.objects.visible_to(actor).filter(case_id=case.pk, pk=member_id).exists():
        raise Http404
    return case


# --- Notes -----------------------------------------------------------------------


def note_row(note: CaseNote) -> Row:
    return {name: getattr(note, name) for name in NOTE_FIELDS}


def _note_event_detail(view: str, notes: Iterable[Row]) -> dict[str, Any]:
    rows = list(notes)
    return {
        "view": view,
        "notes": [row["id"] for row in rows],
        "categories": sorted({row["category"] for row in rows}),
    }


def note_page(*, actor: User, case_id: int, paginate: Paginate, category: str = "") -> list[Row]:
    """One page of the notes of a case, only in the categories the actor may read."""
    case = get_case_or_404(actor, case_id)
    notes = CaseNote.objects.visible_to(actor, Action.READ).filter(case_id=case.pk)
    if category:
        notes = notes.filter(category=category)
    rows: list[Row] = paginate(notes.order_by("-created_at", "-pk").values(*NOTE_FIELDS))
    audit_record(
        action=EventAction.LIST,
        actor=actor,
        case=case,
        category=category,
        detail={**_note_event_detail("api.notes", rows), "filter": category},
    )
    return rows


def note_get(*, actor: User, case_id: int, note_id: int) -> Row:
    case = get_case_or_404(actor, case_id)
    note = (
        CaseNote.objects.visible_to(actor, Action.READ)
        .filter(case_id=case.pk, pk=note_id)
        .values(*NOTE_FIELDS)
        .first()
    )
    if note is None:
        raise Http404
    audit_record(
        action=EventAction.VIEW,
        actor=actor,
        case=case,
        obj=CaseNote(pk=note["id"], case_id=case.pk),
        category=note["category"],
        detail=_note_event_detail("api.note", [note]),
    )
    return note


def note_writable(*, actor: User, case_id: int, note_id: int) -> bool:
    """Whether the actor may change the note; 404 unless it is on the case and readable.

    Reads no content: it decides between 404, 403 and going on to the service
    (which checks again in its own transaction).
    """
    case = get_case_or_404(actor, case_id)
    notes = CaseNote.objects.filter(case_id=case.pk, pk=note_id)
    if not notes.filter(record_filter(actor, Action.READ)).exists():
        raise Http404
    return notes.filter(record_filter(actor, Action.WRITE)).exists()
