"""Search (issue 9, item 8): found through the policy, in the same SQL; what an
actor may not read never shows, as a result, a count or a snippet; the index
follows every write; one audit event per search; bad input never a 500."""

from __future__ import annotations

import datetime
import json

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from prepare.access.grants import case_grants_rebuild
from prepare.accounts.models import User
from prepare.accounts.services import api_token_create
from prepare.audit.models import Event, EventAction
from prepare.audit.services import audit_record
from prepare.cases.models import Case, CaseNote, CaseStatus, CaseTeamMember, NoteKind, Person
from prepare.cases.retention.erasure import case_anonymise, case_erase
from prepare.cases.services import note_create, note_update
from prepare.search import sql
from prepare.search.models import SearchEntry
from prepare.search.selectors import search
from prepare.search.text import parse_query
from tests.access.test_caseload import bulk_cases
from tests.cast import Cast, sentinel, verified_client
from tests.oracle import ACTORS, CATEGORIES, access, users_of
from tests.routes_table import leaks

pytestmark = pytest.mark.django_db


def fresh(user: User) -> User:
    return User.objects.get(pk=user.pk)


def found(actor: User, text: str) -> list[str]:
    page = search(actor=fresh(actor), query=parse_query(text))
    return [r.case.reference for r in page.results]


def api_client(user: User) -> Client:
    _, raw = api_token_create(actor=user, name="search")
    return Client(headers={"Authorization": f"Bearer {raw}"})


def fts_rows(text: str) -> int:
    """Rows of the full-text index itself (not the entry table) matching ``text``."""
    query = parse_query(text)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"SELECT COUNT(*) FROM {sql.ENTRY_TABLE} WHERE {sql.DOCUMENT} @@ "
                "to_tsquery('simple', %s)",
                [query.postgresql_tsquery],
            )
            return int(cursor.fetchone()[0])
        total = 0
        for table in (sql.FTS_WHO, sql.FTS_TEXT):
            cursor.execute(
                f"SELECT COUNT(*) FROM {table} WHERE {table} MATCH %s",
                [query.sqlite_match],
            )
            total += int(cursor.fetchone()[0])
        return total


# --- What each actor may find ---------------------------------------------------------


@pytest.mark.parametrize("actor", ACTORS)
def test_a_category_sentinel_shows_only_to_who_reads_the_category(cast: Cast, actor: str) -> None:
    """For every category: searching its sentinel's words finds K's note of that
    category exactly when the oracle says the actor reads it; no response (page
    or API) ever shows another category's sentinel or, without identity, the name."""
    user = users_of(cast)[actor]
    a = access(cast, user, cast.case)
    page_client = verified_client(user)
    api = api_client(user)
    for category in CATEGORIES:
        words = f"sentinel {category}"
        html = page_client.get("/search/", {"q": words})
        # The matching words are marked: scan the text without the marks.
        body = html.content.decode().replace("<mark>", "").replace("</mark>", "")
        assert html.status_code == 200, (actor, category)
        assert leaks(body, a.read) == [], (actor, category)
        assert (sentinel(category) in body) is (category in a.read), (actor, category)
        assert (cast.case.reference in body) is (category in a.read), (actor, category)
        answer = api.get("/api/v1/search/", {"q": words})
        assert answer.status_code == 200
        text = answer.content.decode()
        assert leaks(text, a.read) == [], (actor, category)
        assert (sentinel(category) in text) is (category in a.read), (actor, category)
        snippets = [r["snippet"] for r in answer.json()["results"] if r["snippet"]]
        assert all(s["category"] in a.read for s in snippets)


@pytest.mark.parametrize("actor", ACTORS)
def test_a_hidden_case_is_in_no_result_and_no_count(cast: Cast, actor: str) -> None:
    user = users_of(cast)[actor]
    a = access(cast, user, cast.case)
    other = access(cast, user, cast.other_case)
    for reference in (cast.case.reference, cast.other_case.reference):
        page = search(actor=fresh(user), query=parse_query(reference))
        shown = [r.case.reference for r in page.results]
        sees = (a if reference == cast.case.reference else other).sees
        assert shown == ([reference] if sees else []), (actor, reference)
        assert page.total == len(shown), (actor, reference)
    # Terms common to both cases' references: each is counted only where seen.
    page = search(actor=fresh(user), query=parse_query("2026 0001"))
    assert page.total == int(a.sees) + int(other.sees), actor


def test_identity_is_searched_only_with_the_identity_grant(cast: Cast) -> None:
    """The NGO sees K but not who the person is: name, date of birth and
    identifier find nothing for it; the reference still finds the case."""
    person = cast.case.person
    Person.objects.filter(pk=person.pk).update(identifier="P-778899")
    day = person.birth_date.strftime("%d/%m/%Y")
    for query in ("Sentinelia", "identitas", day, "778899"):
        assert found(cast.ngo_mentor, query) == [], query
        assert found(cast.case_manager, query) == [cast.case.reference], query
        assert found(cast.police_on_team, query) == [cast.case.reference], query
    assert found(cast.ngo_mentor, cast.case.reference) == [cast.case.reference]
    page = search(actor=fresh(cast.case_manager), query=parse_query("778899"))
    assert [m.kind for m in page.results[0].matches] == ["identifier"]
    page = search(actor=fresh(cast.case_manager), query=parse_query(day))
    assert [m.kind for m in page.results[0].matches] == ["birth_date"]


def _case_of(cast: Cast, given: str, family: str, reference: str) -> Case:
    case = Case.objects.create(
        person=Person.objects.create(
            given_name=given,
            family_name=family,
            birth_date=datetime.date(1998, 5, 4),
            data_subject_category="convicted",
        ),
        partnership=cast.partnership,
        reference=reference,
        status=CaseStatus.COMMUNITY,
    )
    for org in ("probation", "ngo"):
        CaseTeamMember.objects.create(case=case, organisation=cast.orgs[org], purpose="Support")
    case_grants_rebuild(case)
    return case


def test_names_match_in_part_whatever_the_case_and_the_accents(cast: Cast) -> None:
    ayoub = _case_of(cast, "Ayoub", "Öztürk", "TST-2026-0042")
    _case_of(cast, "Yasmina", "Ayad", "TST-2026-0043")
    for query in ("ayo", "Ayoub", "AYOUB", "Ozturk", "öztü", "oztu", "ayoub ozt", "04/05/1998"):
        assert ayoub.reference in found(cast.case_manager, query), query
    assert found(cast.case_manager, "ayou") == [ayoub.reference]
    assert sorted(found(cast.case_manager, "ay")) == ["TST-2026-0042", "TST-2026-0043"]
    # Words of records, the same way, with the matching word marked.
    note_create(
        actor=cast.case_manager,
        case_id=ayoub.pk,
        category="social",
        kind=NoteKind.FACT,
        text="Réinsertion à Málaga: a flat near the Calle Larios from March.",
    )
    page = search(actor=fresh(cast.case_manager), query=parse_query("reinsertion MALAGA"))
    assert [r.case.pk for r in page.results] == [ayoub.pk]
    snippet = page.results[0].snippet
    assert snippet is not None
    assert [p for p, marked in snippet.parts if marked] == ["Réinsertion", "Málaga"]
    # The exit NGO reads social notes but not identity: the note, not the name.
    assert found(cast.ngo_mentor, "malaga") == [ayoub.reference]
    assert found(cast.ngo_mentor, "ayoub") == []


# --- The index follows the writes ----------------------------------------------------------


def test_the_index_follows_edits(cast: Cast) -> None:
    note = note_create(
        actor=cast.case_manager,
        case_id=cast.case.pk,
        category="justice",
        kind=NoteKind.FACT,
        text="Reported at the station on Tuesday.",
    )
    assert found(cast.case_manager, "tuesday") == [cast.case.reference]
    note_update(
        actor=cast.case_manager,
        note_id=note.pk,
        version=note.version,
        kind=NoteKind.FACT,
        text="Reported at the station on Wednesday.",
    )
    assert found(cast.case_manager, "tuesday") == []
    assert fts_rows("tuesday") == 0
    assert found(cast.case_manager, "wednesday") == [cast.case.reference]
    # A change of name reaches the index too.
    Person.objects.filter(pk=cast.case.person_id).update(family_name="Nouvelnom")
    assert found(cast.case_manager, "identitas") == []
    assert found(cast.case_manager, "nouvelnom") == [cast.case.reference]
    # A deleted record leaves nothing behind.
    CaseNote.objects.filter(pk=note.pk).delete()
    assert found(cast.case_manager, "wednesday") == []
    assert fts_rows("wednesday") == 0


@pytest.mark.parametrize("how", ["erase", "anonymise"])
def test_an_erased_case_leaves_nothing_in_the_index(cast: Cast, how: str) -> None:
    case = cast.case
    assert SearchEntry.objects.filter(case=case).count() >= len(CATEGORIES) + 2
    assert fts_rows("sentinel") > 0
    Case.objects.filter(pk=case.pk).update(status=CaseStatus.CLOSED)
    if how == "erase":
        case_erase(case_id=case.pk)
    else:
        case_anonymise(case_id=case.pk)
    assert not SearchEntry.objects.filter(case_id=case.pk).exists()
    for words in ("sentinel", "identitas", "tst 2026 0001"):
        assert fts_rows(words) == 0, words
        assert found(cast.coordinator, words) == [], words


# --- Cost, audit, input ----------------------------------------------------------------------


def test_the_query_count_is_the_same_at_10_and_500_cases(cast: Cast) -> None:
    audit_record(action=EventAction.LOGIN, actor=cast.case_manager)  # the chain exists
    bulk_cases(cast, 9)
    actor = fresh(cast.case_manager)
    with CaptureQueriesContext(connection) as small:
        page = search(actor=actor, query=parse_query("bulk case"))
    assert (page.total, len(page.results), page.has_next) == (9, 9, False)
    bulk_cases(cast, 491, start=9)
    actor = fresh(cast.case_manager)
    with CaptureQueriesContext(connection) as large:
        page = search(actor=actor, query=parse_query("bulk case"))
    assert (page.total, len(page.results), page.has_next) == (500, 20, True)
    assert len(small.captured_queries) == len(large.captured_queries)
    # The ids come from one capped query per group of the index, filtered by
    # the policy in the same statement (no post-filter in Python).
    ids = [q["sql"] for q in large.captured_queries if "search_searchentry" in q["sql"]]
    assert len(ids) == 3  # who, text, the page's rows
    assert all("access_casegrant" in q for q in ids)
    assert all("LIMIT 1001" in q for q in ids[:2])


def test_one_search_event_names_the_cases_shown_not_the_query(cast: Cast) -> None:
    client = verified_client(cast.case_manager)
    response = client.get("/search/", {"q": "Sentinelia"})
    assert response.status_code == 200
    event = Event.objects.get(request_id=response["X-Request-ID"], action=EventAction.SEARCH)
    assert event.case_ids == [cast.case.pk]
    assert event.actor_id == cast.case_manager.pk
    assert event.category == "identity"
    assert "sentinelia" not in json.dumps(event.detail).lower()
    assert event.detail["by"] == "terms"
    # The form alone is not a search.
    response = client.get("/search/")
    assert response.status_code == 200
    assert not Event.objects.filter(request_id=response["X-Request-ID"]).exists()


BAD_INPUT = [
    "",
    "   ",
    "x" * 1000,
    '"',
    "*",
    "NEAR(",
    "OR",
    "sentinel OR identitas",
    '"sentinel" NEAR("identitas")',
    "sentinel*",
    "' OR 1=1 --",
    "'; DROP TABLE cases_case; --",
    "a",
    "!!!",
    "\\",
    "%_%",
    "😀 emoji",
    "31/02/2020",
    "Sentinelia\u0000",
]


@pytest.mark.parametrize("text", BAD_INPUT)
def test_bad_input_answers_a_clear_4xx_or_an_empty_result_never_a_500(
    cast: Cast, text: str
) -> None:
    page = verified_client(cast.case_manager).get("/search/", {"q": text})
    assert page.status_code in (200, 422), page.status_code
    if page.status_code == 422:
        assert 'class="field__error' in page.content.decode() or "error" in page.content.decode()
    api = api_client(cast.case_manager).get("/api/v1/search/", {"q": text})
    assert api.status_code in (200, 400), api.status_code
    if api.status_code == 400:
        assert api.json()["q"]
    assert Case.objects.filter(pk=cast.case.pk).exists()


def test_the_header_box_is_on_every_page_of_a_case_reader(cast: Cast) -> None:
    assert 'id="site-search-q"' in verified_client(cast.case_manager).get("/").content.decode()
    body = verified_client(cast.auditor).get("/audit/").content.decode()
    assert 'id="site-search-q"' not in body
