"""Reads of case data: each takes the actor, goes through the policy and is audited."""

from __future__ import annotations

import datetime
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Case as SqlCase
from django.db.models import CharField, Count, Exists, F, OuterRef, Q, QuerySet, Value, When
from django.utils import timezone

from prepare.access.abilities import CaseAbilities, case_abilities, may_edit_note
from prepare.access.categories import Action, Category
from prepare.access.errors import NotVisible, WriteForbidden
from prepare.access.models import BreakGlassAccess
from prepare.access.policy import (
    CASELOAD_ORDERS,
    case_practitioners,
    caseload_grants,
    caseload_window,
    category_q,
    get_case_or_404,
    has_break_glass,
    is_data_protection_officer,
    is_granted,
    member_partnership_ids,
    member_partnerships,
    parse_pk,
    record_for,
    require,
    reviewable_break_glass,
    visible_cases,
)
from prepare.access.policy import note_for_edit as policy_note_for_edit
from prepare.accounts.models import Organisation, User
from prepare.audit.models import EventAction
from prepare.audit.services import audit_record
from prepare.cases.models import Case, CaseNote, CaseNoteVersion, CaseTeamMember
from prepare.partnerships.models import Membership, Partnership

COUNT_CAP = 1000


@dataclass(frozen=True)
class NextDate:
    kind: str
    label: str
    date: datetime.date
    days_left: int


@dataclass
class CaseRow:
    case: Case
    show_identity: bool
    # What is next, each only where the actor reads its category.
    next_date: NextDate | None = None
    overdue: int = 0
    signals: dict[str, int] = field(default_factory=dict)  # open signals by severity

    @property
    def display_name(self) -> str:
        return str(self.case.person) if self.show_identity else ""

    @property
    def open_signals(self) -> int:
        return sum(self.signals.values())

    @property
    def signal_counts(self) -> list[tuple[str, str, int]]:
        """(severity, its label, how many open), most severe first."""
        from prepare.monitoring.models import Severity

        order = [Severity.URGENT, Severity.HIGH, Severity.MEDIUM, Severity.LOW]
        return [(s.value, str(s.label), self.signals[s.value]) for s in order if s in self.signals]


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


CASELOAD_SORTS = ("activity", "reference", "release")
RELEASE_WINDOWS = (30, 90, 180)


def caseload_conditions(actor: User, *, overdue: bool, signals: bool) -> tuple[Q, ...]:
    """The "has overdue items" and "has open signals" filters, on grant rows: an
    ``Exists`` of the case's records that the actor may read (``category_q``)."""
    from prepare.monitoring.models import Signal, SignalStatus
    from prepare.plans.models import ChecklistItem, ItemStatus

    today = timezone.localdate()
    out: list[Q] = []
    if overdue:
        items = ChecklistItem.objects.filter(
            category_q(actor), case_id=OuterRef("case_id"), status=ItemStatus.OPEN
        ).filter(due_on__lt=today)
        out.append(Q(Exists(items)))
    if signals:
        open_signals = Signal.objects.filter(
            category_q(actor), case_id=OuterRef("case_id"), status=SignalStatus.OPEN
        )
        out.append(Q(Exists(open_signals)))
    return tuple(out)


def whats_next(actor: User, rows: list[CaseRow]) -> None:
    """Fill each row's next key date, overdue checklist items and open signals:
    three queries for the page's cases, whatever their number, each only over
    the records the actor may read (``category_q``)."""
    from prepare.cases.models import KeyDate
    from prepare.monitoring.models import Signal, SignalStatus
    from prepare.plans.models import ChecklistItem, ItemStatus

    by_case = {row.case.pk: row for row in rows}
    if not by_case:
        return
    ids = sorted(by_case)
    today = timezone.localdate()
    dates = (
        KeyDate.objects.filter(category_q(actor), case_id__in=ids, date__gte=today)
        .order_by("case_id", "date", "kind")
        .values_list("case_id", "kind", "date")
    )
    for case_id, kind, day in dates:
        row = by_case[case_id]
        if row.next_date is None:
            label = str(KeyDate(kind=kind).get_kind_display())
            row.next_date = NextDate(kind, label, day, (day - today).days)
    overdue = (
        ChecklistItem.objects.filter(
            category_q(actor), case_id__in=ids, status=ItemStatus.OPEN, due_on__lt=today
        )
        .values("case_id")
        .annotate(n=Count("pk"))
        .values_list("case_id", "n")
    )
    for case_id, n in overdue:
        by_case[case_id].overdue = n
    signals = (
        Signal.objects.filter(category_q(actor), case_id__in=ids, status=SignalStatus.OPEN)
        .values("case_id", "severity")
        .annotate(n=Count("pk"))
        .values_list("case_id", "severity", "n")
    )
    for case_id, severity, n in signals:
        by_case[case_id].signals[severity] = n


def caseload(
    *,
    actor: User,
    status: str = "",
    partnership_id: int | None = None,
    page: int = 1,
    per_page: int = 25,
    purpose: str = "",
    sort: str = "activity",
    release_days: int | None = None,
    overdue: bool = False,
    signals: bool = False,
) -> CaseloadPage:
    """One page of the cases the actor may reach, in the order asked (newest
    activity first by default), filtered, with what is next for each.

    Reads the case grant index for the page's ids and the capped total (one
    range scan in the order's index), then those cases, then what is next for
    them (three queries for the page): a fixed number of queries whatever the
    number of cases, plus the audit event naming the cases shown.
    """
    page = max(page, 1)
    today = timezone.localdate()
    window = caseload_window(
        actor,
        offset=(page - 1) * per_page,
        limit=per_page,
        cap=COUNT_CAP,
        status=status,
        partnership_id=partnership_id,
        sort=sort if sort in CASELOAD_SORTS else "activity",
        released_between=(
            (today, today + datetime.timedelta(days=release_days)) if release_days else None
        ),
        having=caseload_conditions(actor, overdue=overdue, signals=signals),
    )
    by_id = {c.pk: c for c in window.cases.select_related("person", "partnership")}
    rows = [
        CaseRow(
            case=by_id[i],
            show_identity=is_granted(actor, by_id[i].partnership_id, Category.IDENTITY),
        )
        for i in window.ids
        if i in by_id
    ]
    whats_next(actor, rows)
    audit_record(
        action=EventAction.LIST,
        actor=actor,
        case_ids=[r.case.pk for r in rows],
        category=Category.IDENTITY if any(r.show_identity for r in rows) else "",
        purpose=purpose,
        detail={
            "view": "caseload",
            "page": page,
            "status": status,
            "partnership": partnership_id,
            "sort": sort,
            "release_days": release_days,
            "overdue": overdue,
            "signals": signals,
            # The "what is next" columns: counts and dates of readable records.
            "next": [r.case.pk for r in rows if r.next_date or r.overdue or r.signals],
        },
    )
    return CaseloadPage(
        rows=rows,
        page=page,
        per_page=per_page,
        has_next=window.has_next,
        total=window.total,
        total_capped=window.total_capped,
    )


@dataclass(frozen=True)
class NoteRow:
    """A note as the notes section shows it: whether the reader may edit it
    (its author's organisation only) and the replies to it the reader sees."""

    note: CaseNote
    editable: bool
    replies: list[NoteRow] = field(default_factory=list)


@dataclass(frozen=True)
class NoteSection:
    category: str
    label: str
    notes: list[CaseNote]
    writable: bool
    rows: list[NoteRow] = field(default_factory=list)


@dataclass
class CaseDetail:
    case: Case
    abilities: CaseAbilities
    notes_by_category: OrderedDict[str, list[CaseNote]] = field(default_factory=OrderedDict)
    team: list[CaseTeamMember] = field(default_factory=list)
    via_break_glass: bool = False
    user: Any = None  # the reader, for the abilities asked per note

    @property
    def notes(self) -> list[CaseNote]:
        return [n for notes in self.notes_by_category.values() for n in notes]

    @property
    def sections(self) -> list[NoteSection]:
        """The notes by category; a reply is shown under the note it answers
        (when the reader sees that note), not in its own category's list."""
        notes = self.notes
        shown = {n.pk for n in notes}
        replies: dict[int, list[CaseNote]] = {}
        for n in notes:
            if n.reply_to_id in shown:
                replies.setdefault(n.reply_to_id, []).append(n)
        writes = self.abilities.write_categories

        def row(n: CaseNote) -> NoteRow:
            answers = sorted(replies.get(n.pk, []), key=lambda r: (r.created_at, r.pk))
            return NoteRow(
                note=n,
                editable=may_edit_note(self.user, n, write_categories=writes),
                replies=[row(r) for r in answers],
            )

        return [
            NoteSection(
                category=category,
                label=str(Category(category).label),
                notes=in_category,
                writable=category in writes,
                rows=[row(n) for n in in_category if n.reply_to_id not in shown],
            )
            for category, in_category in self.notes_by_category.items()
        ]


def case_notes_and_team(*, actor: User, case: Case, abilities: CaseAbilities) -> CaseDetail:
    """The notes the actor may read, grouped by category, the team, and whether
    the actor reaches the case only by break-glass, for a case already fetched
    through the policy: three queries; not audited here."""
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
    return CaseDetail(
        case=case,
        abilities=abilities,
        notes_by_category=grouped,
        team=team,
        via_break_glass=has_break_glass(actor, case),
        user=actor,
    )


def notes_shown(detail: CaseDetail) -> dict[str, Any]:
    notes = detail.notes
    return {"categories": sorted({n.category for n in notes}), "notes": [n.pk for n in notes]}


def case_detail(*, actor: User, case_id: Any, purpose: str = "") -> CaseDetail:
    """The case with its notes and team (``case_notes_and_team``); one view event.

    The notes section after a note is added; the case page reads more
    (``prepare.cases.page.case_page``).
    """
    case = get_case_or_404(actor, case_id)
    abilities = case_abilities(actor, case)
    detail = case_notes_and_team(actor=actor, case=case, abilities=abilities)
    audit_record(
        action=EventAction.VIEW,
        actor=actor,
        case=case,
        obj=case,
        category=Category.IDENTITY if abilities.see_identity else "",
        purpose=purpose,
        detail=notes_shown(detail),
    )
    return detail


def partnership_choices(*, actor: User) -> list[tuple[int, str]]:
    """The partnerships the actor works in, by name (read with the grants: no query)."""
    return member_partnerships(actor)


# --- Notes ----------------------------------------------------------------------


def note_locate(*, actor: User, case_id: int, note_id: int) -> CaseNote:
    """Check that a note the actor is about to change belongs to the case.

    Nothing of the note is shown from here, so this is not a consultation;
    the change itself is audited by the service.
    """
    note: CaseNote = policy_note_for_edit(actor, note_id, case_id=case_id)
    return note


def note_for_edit(*, actor: User, case_id: int, note_id: int, view: str = "note_edit") -> CaseNote:
    """The note, to show in its edit form (its author's organisation only): a
    read of the note, audited."""
    note: CaseNote = policy_note_for_edit(actor, note_id, case_id=case_id)
    audit_record(
        action=EventAction.VIEW,
        actor=actor,
        case=note.case,
        obj=note,
        category=note.category,
        detail={"view": view, "version": note.version},
    )
    return note


def note_to_answer(
    *, actor: User, case_id: int, note_id: int, view: str = "note_reply"
) -> tuple[CaseNote, CaseAbilities]:
    """The note a reply answers, shown above the reply form, and what the actor
    may write: 404 unless they read it on this case, 403 unless they may write
    some category there. Audited as a read of the note."""
    note: CaseNote = record_for(
        actor,
        CaseNote,
        note_id,
        Action.READ,
        case_id=case_id,
        related=("case", "case__partnership", "created_by__organisation"),
    )
    abilities = case_abilities(actor, note.case)
    if not abilities.write_categories:
        raise WriteForbidden
    audit_record(
        action=EventAction.VIEW,
        actor=actor,
        case=note.case,
        obj=note,
        category=note.category,
        detail={"view": view, "version": note.version},
    )
    return note, abilities


@dataclass
class NoteHistory:
    """A note and its earlier versions, as one reader may see them."""

    note: CaseNote
    versions: list[CaseNoteVersion]


def note_history(
    *, actor: User, case_id: Any, note_id: Any, view: str = "note_history"
) -> NoteHistory:
    """The rectification history of a note: 404 unless the actor reads the note;
    each earlier version only if they read the category it had (the policy's
    ``visible_to`` on the version). Oldest first; two queries and one event."""
    note: CaseNote = record_for(
        actor,
        CaseNote,
        note_id,
        Action.READ,
        case_id=case_id,
        related=("case", "case__partnership", "created_by__organisation", "updated_by"),
    )
    versions = list(
        CaseNoteVersion.objects.visible_to(actor)
        .filter(note_id=note.pk)
        .select_related("written_by__organisation", "replaced_by")
        .order_by("version", "pk")
    )
    audit_record(
        action=EventAction.VIEW,
        actor=actor,
        case=note.case,
        obj=note,
        category=note.category,
        detail={
            "view": view,
            "note": note.pk,
            "versions": [v.pk for v in versions],
            "categories": sorted({note.category, *(v.category for v in versions)}),
        },
    )
    return NoteHistory(note=note, versions=versions)


def note_version_rows(history: NoteHistory) -> list[Row]:
    return [
        {
            "id": v.pk,
            "note": v.note_id,
            "version": v.version,
            "category": v.category,
            "kind": v.kind,
            "text": v.text,
            "written_by": v.written_by_id,
            "written_at": v.written_at,
            "replaced_by": v.replaced_by_id,
            "replaced_at": v.replaced_at,
        }
        for v in history.versions
    ]


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
        case_practitioners()
        .filter(organisation__in=organisations.values("pk"))
        .select_related("organisation")
        .order_by("organisation__name", "last_name", "first_name", "username")
    )
    return organisations, users


def team_member_in_case(*, actor: User, case_id: int, member_id: int) -> CaseTeamMember:
    """A team entry of this case, if the actor sees the case (else 404)."""
    if parse_pk(member_id) is None or parse_pk(case_id) is None:
        raise NotVisible
    member = CaseTeamMember.objects.visible_to(actor).filter(pk=member_id, case_id=case_id).first()
    if member is None:
        raise NotVisible
    return member


def case_is_visible(*, actor: User, case_id: int) -> bool:
    """Whether the actor still reaches the case (e.g. after leaving its team)."""
    if parse_pk(case_id) is None:
        return False
    return visible_cases(actor).filter(pk=case_id).exists()


Paginate = Callable[[QuerySet[Any]], list[Any]]
Row = dict[str, Any]

CASE_FIELDS = ("id", "reference", "status", "partnership_id", "opened_on", "updated_at", "version")
NOTE_FIELDS = (
    "id",
    "case_id",
    "reply_to_id",
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
    sort: str = "activity",
    release_days: int | None = None,
    overdue: bool = False,
    signals: bool = False,
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
    if release_days:
        today = timezone.localdate()
        grants = grants.filter(
            release_on__gte=today, release_on__lte=today + datetime.timedelta(days=release_days)
        )
    for condition in caseload_conditions(actor, overdue=overdue, signals=signals):
        grants = grants.filter(condition)
    if sort == "release":
        grants = grants.filter(release_on__isnull=False)
    grants = grants.order_by(*CASELOAD_ORDERS.get(sort, CASELOAD_ORDERS["activity"]))
    ids: list[int] = paginate(grants.values_list("case_id", flat=True))
    identity = sorted(
        p for p in member_partnership_ids(actor) if is_granted(actor, p, Category.IDENTITY)
    )
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
        show = is_granted(actor, row["partnership_id"], Category.IDENTITY)
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
            "sort": sort,
            "release_days": release_days,
            "overdue": overdue,
            "signals": signals,
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
        raise NotVisible
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
        raise NotVisible
    audit_record(
        action=EventAction.VIEW,
        actor=actor,
        case=case,
        obj=CaseNote(pk=note["id"], case_id=case.pk),
        category=note["category"],
        detail=_note_event_detail("api.note", [note]),
    )
    return note


def note_edit_check(*, actor: User, case_id: int, note_id: int) -> None:
    """Before a change of a note: 404 unless it is on the case and readable, 403
    unless the actor may edit it (its author's organisation, writing its
    category). Reads no content; the service checks again in its transaction."""
    case = get_case_or_404(actor, case_id)
    policy_note_for_edit(actor, note_id, case_id=case.pk)


# --- Break-glass, for the data-protection officer's review ------------------------

BREAK_GLASS_PAGE = 25


def break_glass_review_partnerships(*, actor: User) -> list[tuple[int, str]]:
    """The partnerships whose emergency accesses the DPO reviews (403 for anyone
    but a data-protection officer)."""
    require(is_data_protection_officer(actor))
    return list(
        Partnership.objects.filter(
            coordinating_organisation_id=actor.organisation_id,
            coordinating_organisation__is_active=True,
        )
        .order_by("name", "pk")
        .values_list("pk", "name")
    )


@dataclass(frozen=True)
class BreakGlassPage:
    rows: list[BreakGlassAccess]
    older_than: int | None  # id for the "older" link, if there are older uses
    newer_than: int | None  # id for the "newer" link, if there are newer uses


def break_glass_uses(
    *,
    actor: User,
    partnership_id: int | None = None,
    reviewed: str = "",
    before: int | None = None,
    after: int | None = None,
) -> BreakGlassPage:
    """One page of the emergency accesses the DPO reviews, newest first, paged by
    id (keyset: a deep page costs what the first does). Logged as a list naming
    the cases shown (by reference only on the page)."""
    require(is_data_protection_officer(actor))
    rows = reviewable_break_glass(actor).select_related(
        "user__organisation", "case__partnership", "reviewed_by"
    )
    if partnership_id is not None:
        rows = rows.filter(case__partnership_id=partnership_id)
    if reviewed == "yes":
        rows = rows.filter(reviewed_at__isnull=False)
    elif reviewed == "no":
        rows = rows.filter(reviewed_at__isnull=True)
    size = BREAK_GLASS_PAGE
    if after is not None:
        chunk = list(rows.filter(pk__gt=after).order_by("pk")[: size + 1])
        page = list(reversed(chunk[:size]))
        newer = page[0].pk if page and len(chunk) > size else None
        older = page[-1].pk if page else None
    else:
        if before is not None:
            rows = rows.filter(pk__lt=before)
        chunk = list(rows.order_by("-pk")[: size + 1])
        page = chunk[:size]
        older = page[-1].pk if len(chunk) > size else None
        newer = page[0].pk if page and before is not None else None
    audit_record(
        action=EventAction.LIST,
        actor=actor,
        case_ids=[row.case_id for row in page],
        detail={
            "view": "break_glass_reviews",
            "accesses": [row.pk for row in page],
            "filters": {"partnership": partnership_id, "reviewed": reviewed or None},
        },
    )
    return BreakGlassPage(rows=page, older_than=older, newer_than=newer)
