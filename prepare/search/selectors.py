"""Search: cases by reference, person (name, identifier, date of birth) and the
text of their records, through the access policy in the same SQL.

A search reads, for each group of index rows (who the case is; the records'
text), the ids of at most ``COUNT_CAP + 1`` matching rows that the policy lets
the actor read, newest first, in one query each; the page's cases and the
rows it shows are then fetched by key. The cost is bounded by the cap and the
page, not by the number of cases (see benchmarks/README.md for the figures).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.db.models import Exists, OuterRef, Q

from prepare.access.categories import Category
from prepare.access.policy import case_fact_filter, is_granted, record_filter, visible_cases
from prepare.accounts.models import User
from prepare.audit.models import EventAction
from prepare.audit.services import audit_record
from prepare.cases.models import Case
from prepare.cases.selectors import COUNT_CAP
from prepare.search import sql
from prepare.search.models import WHO_KINDS, EntryKind, SearchEntry
from prepare.search.text import Query, Snippet, matching_words, snippet

PER_PAGE = 20
MAX_PAGE = COUNT_CAP // PER_PAGE + 1


def entry_filter(actor: User) -> Q:
    """The index rows the actor may read: a record's row by the policy's own
    filter for records (its category, in a case the actor sees; for a
    transfer's old team, only what it read before the move), the person's row
    as the case's identity, a case's reference wherever the actor sees the case."""
    sees_case = Exists(visible_cases(actor).filter(pk=OuterRef("case_id")))
    return (
        (Q(kind=EntryKind.REFERENCE) & Q(sees_case))
        | (Q(kind=EntryKind.PERSON) & case_fact_filter(actor))
        | (~Q(kind__in=WHO_KINDS) & record_filter(actor, model=SearchEntry))
    )


def _matching(rows: Any, query: Query, who: bool) -> Any:
    """The rows whose text matches: the query's terms go in as one parameter;
    the SQL around them is constant (the ORM has no full-text join for FTS5)."""
    if connection.vendor == "postgresql":
        return rows.extra(  # noqa: S610
            where=[
                f'"{sql.ENTRY_TABLE}"."{sql.DOCUMENT}" @@ to_tsquery('
                f"'{sql.TS_CONFIG}'::regconfig, %s)"
            ],
            params=[query.postgresql_tsquery],
        )
    fts = sql.FTS_WHO if who else sql.FTS_TEXT
    # Ordered by the FTS table's own rowid (the entry's id), which FTS5 returns
    # in order: the scan stops after the cap instead of sorting every match.
    return rows.extra(  # noqa: S610
        select={"fts_rowid": f'"{fts}".rowid'},
        tables=[fts],
        where=[f'"{fts}".rowid = "{sql.ENTRY_TABLE}"."id"', f'"{fts}" MATCH %s'],
        params=[query.sqlite_match],
        order_by=["-fts_rowid"],
    )


Hit = tuple[int, int, str, str]  # entry id, case id, kind, category


def matching_entries(actor: User, query: Query, *, who: bool, cap: int = COUNT_CAP) -> list[Hit]:
    """Up to ``cap + 1`` index rows of one group that match and that the actor
    may read, newest first: one query."""
    rows = SearchEntry.objects.filter(who=who)
    if query.birth_date is not None:
        if not who:
            return []
        rows = rows.filter(kind=EntryKind.PERSON, birth_date=query.birth_date).order_by("-id")
    else:
        rows = _matching(rows.order_by("-id"), query, who)
    rows = rows.filter(entry_filter(actor))
    return list(rows.values_list("id", "case_id", "kind", "category")[: cap + 1])


@dataclass
class Match:
    kind: str
    category: str
    label: str


@dataclass
class SearchResult:
    case: Case
    show_identity: bool
    matches: list[Match] = field(default_factory=list)
    snippet: Snippet | None = None
    snippet_category: str = ""

    @property
    def display_name(self) -> str:
        return str(self.case.person) if self.show_identity else ""


@dataclass
class SearchPage:
    query: Query
    results: list[SearchResult]
    page: int
    per_page: int
    has_next: bool
    total: int
    total_capped: bool

    @property
    def has_previous(self) -> bool:
        return self.page > 1


def _person_match(query: Query, case: Case) -> str:
    """What of the person matched: the date of birth, the identifier or the name."""
    if query.birth_date is not None:
        return "birth_date"
    person = case.person
    if person.identifier and matching_words(person.identifier, query.terms):
        name = f"{person.given_name} {person.family_name}"
        if not matching_words(name, query.terms):
            return "identifier"
    return "name"


def _labels() -> dict[str, str]:
    from django.utils.translation import gettext as _

    return {
        "reference": _("Reference"),
        "name": _("Name"),
        "identifier": _("Identifier"),
        "birth_date": _("Date of birth"),
    }


def search(*, actor: User, query: Query, page: int = 1, per_page: int = PER_PAGE) -> SearchPage:
    """One page of the cases that match, cases found by who they are first;
    one ``search`` audit event naming the cases shown (never the query's text)."""
    page = min(max(page, 1), MAX_PAGE)
    who = matching_entries(actor, query, who=True)
    text = matching_entries(actor, query, who=False) if query.terms else []
    order: list[int] = []
    best_who: dict[int, int] = {}
    best_text: dict[int, int] = {}
    for entry_id, case_id, _kind, _category in who:
        if case_id not in best_who:
            best_who[case_id] = entry_id
            order.append(case_id)
    for entry_id, case_id, _kind, _category in text:
        if case_id not in best_text:
            best_text[case_id] = entry_id
            if case_id not in best_who:
                order.append(case_id)
    capped = len(who) > COUNT_CAP or len(text) > COUNT_CAP
    offset = (page - 1) * per_page
    page_ids = order[offset : offset + per_page]
    wanted = [best_who[c] for c in page_ids if c in best_who]
    wanted += [best_text[c] for c in page_ids if c in best_text]
    # The rows shown were read through the policy above; they are read again
    # through it here, so a snippet can only come from a row that passed it.
    shown = {
        row["id"]: row
        for row in SearchEntry.objects.filter(pk__in=wanted)
        .filter(entry_filter(actor))
        .values("id", "case_id", "kind", "category", "text")
    }
    cases = {
        c.pk: c
        for c in Case.objects.filter(pk__in=page_ids).select_related("person", "partnership")
    }
    labels = _labels()
    results: list[SearchResult] = []
    for case_id in page_ids:
        case = cases.get(case_id)
        if case is None:
            continue
        result = SearchResult(
            case=case, show_identity=is_granted(actor, case.partnership_id, Category.IDENTITY)
        )
        who_row = shown.get(best_who.get(case_id, 0))
        if who_row is not None:
            if who_row["kind"] == EntryKind.REFERENCE:
                result.matches.append(Match("reference", "", labels["reference"]))
            elif result.show_identity:
                what = _person_match(query, case)
                result.matches.append(Match(what, Category.IDENTITY, labels[what]))
        text_row = shown.get(best_text.get(case_id, 0))
        if text_row is not None:
            kind = EntryKind(text_row["kind"])
            result.matches.append(
                Match(
                    kind.value,
                    text_row["category"],
                    f"{kind.label} ({Category(text_row['category']).label})",
                )
            )
            result.snippet = snippet(text_row["text"], query.terms)
            result.snippet_category = text_row["category"]
        if result.matches:
            results.append(result)
    shown_ids = sorted(shown)
    audit_record(
        action=EventAction.SEARCH,
        actor=actor,
        case_ids=[r.case.pk for r in results],
        category=Category.IDENTITY if any(r.show_identity for r in results) else "",
        detail={
            "view": "search",
            "page": page,
            "by": "birth_date" if query.birth_date else "terms",
            "terms": len(query.terms),
            "entries": shown_ids,
            "categories": sorted({shown[i]["category"] for i in shown_ids} - {""}),
            "total": min(len(order), COUNT_CAP),
        },
    )
    return SearchPage(
        query=query,
        results=results,
        page=page,
        per_page=per_page,
        has_next=len(order) > offset + per_page,
        total=min(len(order), COUNT_CAP),
        total_capped=capped or len(order) > COUNT_CAP,
    )
