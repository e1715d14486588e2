"""The access matrix over the web routes of case data (AC-02, AC-03, AC-04).

Every case-scoped route of the web UI (every route whose view carries
``RoutePolicy.CASE``, the coordinator's access log included) is described in
``TABLE`` below: which methods it answers and which requests to send. Each
request is sent as each actor of the cast, plus an observer and two police
officers with running and expired emergency access (``build_scene``), and
the expected status is computed by the oracle in ``tests.routes_table.access``
from the data, not from the policy code:

- invisible case or record -> 404, visible but not allowed -> 403, a form
  with errors -> 422, a stale version -> 409, no version -> 428, allowed ->
  200 (a page or an HTMX partial) or 302 (after a write);
- a write that is refused persists nothing (every table a write could touch
  is compared before and after); an accepted one made its change and
  logged it under the request's id; an answer that shows anything of the
  case was logged, in that request, as a read naming it (LG-01);
- no response shows the sentinel of a category the actor may not read, the
  person's name without identity, or the reference of a case the actor does
  not reach; a page that may show a category does show its sentinel.

A CASE route missing from ``TABLE``, or answering a method ``TABLE`` does not
list, fails ``test_the_table_describes_every_case_route``. The break-glass
route has its own rows: its form answers the same for any id.

The scene is built once per module (``tests.routes_table.built_once``) and
each cell runs in a savepoint of it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from prepare.access.models import BreakGlassAccess, CaseGrant
from prepare.access.routes import RoutePolicy
from prepare.accounts.services import api_token_create
from prepare.audit.models import Event
from prepare.cases.models import Case, CaseNote, CaseTeamMember
from prepare.partnerships.models import CategoryGrant
from tests.cast import sentinel, verified_client
from tests.routes_table import (
    ACTORS,
    AGREEMENTS,
    CATEGORIES,
    IDENTITY_MARKERS,
    Access,
    Scene,
    allowed_methods,
    built_once,
    leaks,
    routes,
    url_for,
)

# --- The scene, once per module ------------------------------------------------------


@pytest.fixture(scope="module")
def built(django_db_setup: None, django_db_blocker: Any) -> Iterator[Scene]:
    with built_once(django_db_blocker) as scene:
        yield scene


@pytest.fixture
def scene(built: Scene, db: None) -> Scene:
    return built


# --- The table ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    """One request to send to a route: method, what to send, in which category."""

    route: str
    method: str
    variant: str
    category: str | None = None
    htmx: bool = False

    def __str__(self) -> str:
        parts = [self.route.replace(":", "."), self.method, self.variant]
        if self.category:
            parts.append(self.category)
        if self.htmx:
            parts.append("htmx")
        return "-".join(parts)


def _probes(route: str, *rows: tuple[Any, ...]) -> tuple[Probe, ...]:
    return tuple(Probe(route, *row) for row in rows)


def _per_category(route: str, method: str, variant: str, htmx: bool = False) -> list[Probe]:
    return [Probe(route, method, variant, c, htmx) for c in CATEGORIES]


# Route name -> (the methods it answers, the requests sent to it). Variants:
# "K" / "other" / "missing": the cast's case, the other partnership's case, an
# id that does not exist; "valid" / "invalid": a payload that the form accepts
# or refuses; "stale" / "no_version": an edit based on a wrong or no version;
# "foreign": a note or team entry of K addressed under K2's id.
TABLE: dict[str, tuple[frozenset[str], tuple[Probe, ...]]] = {
    "cases:caseload": (
        frozenset({"GET"}),
        _probes("cases:caseload", ("GET", "list"), ("GET", "list", None, True)),
    ),
    "cases:case": (
        frozenset({"GET"}),
        _probes(
            "cases:case",
            ("GET", "K"),
            ("GET", "K", None, True),
            ("GET", "other"),
            ("GET", "missing"),
        ),
    ),
    "cases:note_create": (
        frozenset({"POST"}),
        (
            Probe("cases:note_create", "GET", "K"),
            *_per_category("cases:note_create", "POST", "valid"),
            *_per_category("cases:note_create", "POST", "valid", htmx=True),
            Probe("cases:note_create", "POST", "invalid", "risk"),
            Probe("cases:note_create", "POST", "invalid", "risk", True),
        ),
    ),
    "cases:note_edit": (
        frozenset({"GET", "POST"}),
        (
            *_per_category("cases:note_edit", "GET", "K"),
            *_per_category("cases:note_edit", "POST", "valid"),
            Probe("cases:note_edit", "GET", "foreign", "risk"),
            Probe("cases:note_edit", "POST", "foreign", "risk"),
            Probe("cases:note_edit", "POST", "invalid", "risk"),
            Probe("cases:note_edit", "POST", "stale", "risk"),
            Probe("cases:note_edit", "POST", "no_version", "risk"),
        ),
    ),
    "cases:team": (
        frozenset({"GET", "POST"}),
        _probes("cases:team", ("GET", "K"), ("POST", "valid"), ("POST", "invalid")),
    ),
    "cases:team_remove": (
        frozenset({"POST"}),
        _probes("cases:team_remove", ("GET", "K"), ("POST", "valid"), ("POST", "foreign")),
    ),
    "cases:break_glass": (
        frozenset({"GET", "POST"}),
        _probes(
            "cases:break_glass",
            ("GET", "K"),
            ("GET", "other"),
            ("GET", "missing"),
            ("POST", "valid"),
            ("POST", "invalid"),
        ),
    ),
    "audit:case_access_log": (
        frozenset({"GET"}),
        _probes("audit:case_access_log", ("GET", "K"), ("GET", "K", None, True)),
    ),
}
PROBES = [p for _, probes in TABLE.values() for p in probes]
CELLS = len(PROBES) * len(ACTORS)

MISSING_PK = 987_654
NOTE_TEXT = "MATRIX-NEW-NOTE-TEXT"
EDITED_TEXT = "MATRIX-EDITED-NOTE-TEXT"
JUSTIFICATION = "Imminent threat reported by the night shift, team unreachable"
WRITE_EVENTS = {
    "cases:note_create": "create",
    "cases:note_edit": "update",
    "cases:team": "team_change",
    "cases:team_remove": "team_change",
    "cases:break_glass": "break_glass",
}


def _target(scene: Scene, probe: Probe) -> int:
    return {
        "other": scene.cast.other_case.pk,
        "missing": MISSING_PK,
        "foreign": scene.k2.pk,
    }.get(probe.variant, scene.case.pk)


def _ngo_member(scene: Scene) -> CaseTeamMember:
    return CaseTeamMember.objects.get(case=scene.case, organisation=scene.cast.orgs["ngo"])


def request_of(scene: Scene, probe: Probe) -> tuple[str, dict[str, str]]:
    """The URL and the form data of one probe."""
    pk = _target(scene, probe)
    note = scene.cast.notes[probe.category] if probe.category else None
    match probe.route:
        case "cases:caseload":
            return reverse(probe.route), {}
        case "cases:note_create":
            data = {"category": probe.category or "", "kind": "assessment", "text": NOTE_TEXT}
            if probe.variant == "invalid":
                data["text"] = ""
            return reverse(probe.route, args=[pk]), data
        case "cases:note_edit":
            assert note is not None
            data = {"kind": "assessment", "text": EDITED_TEXT, "version": "1"}
            if probe.variant == "invalid":
                data["text"] = ""
            elif probe.variant == "stale":
                data["version"] = "7"
            elif probe.variant == "no_version":
                del data["version"]
            return reverse(probe.route, args=[pk, note.pk]), data
        case "cases:team":
            data = {
                "organisation": str(scene.cast.orgs["municipality"].pk),
                "purpose": "Housing support",
            }
            if probe.variant == "invalid":
                data["purpose"] = ""
            return reverse(probe.route, args=[pk]), data
        case "cases:team_remove":
            return reverse(probe.route, args=[pk, _ngo_member(scene).pk]), {}
        case "cases:break_glass":
            text = JUSTIFICATION if probe.variant == "valid" else "Too short"
            return reverse(probe.route, args=[pk]), {"justification": text}
        case _:
            return reverse(probe.route, args=[pk]), {}


def expected(probe: Probe, a: Access, other: Access) -> int:
    """The status the oracle's access calls for."""
    ok = 200 if probe.method == "GET" or probe.htmx else 302
    methods = TABLE[probe.route][0]
    if probe.method not in methods:
        return 405  # before any lookup: the same for every actor and id
    if probe.route == "cases:caseload":
        return 200
    if probe.route == "cases:break_glass":
        # The form is the same for any id. Without a valid justification
        # access is refused (AC-07) before the id is looked at; with one, a
        # case the actor may not open is as absent as any other.
        if probe.method == "GET":
            return 200
        if probe.variant == "invalid":
            return 403
        return 302 if a.break_glass else 404
    if probe.variant == "other":
        return 200 if other.sees else 404
    if probe.variant in ("missing", "foreign") or not a.sees:
        return 404  # a record is reached only under its own case's id
    category = probe.category
    allowed: bool
    match probe.route:
        case "cases:case":
            return 200
        case "audit:case_access_log":
            return 200 if a.access_log else 403
        case "cases:note_create":
            allowed = category in a.write
        case "cases:note_edit":
            if category not in a.read:
                return 404
            allowed = category in a.write
        case "cases:team" | "cases:team_remove":
            allowed = a.edit_team
        case _:
            raise AssertionError(f"no expectation for {probe}")
    if not allowed:
        return 403
    failure = {"invalid": 422, "stale": 409, "no_version": 428}.get(probe.variant)
    return failure or ok


# --- State -------------------------------------------------------------------------------


def snapshot() -> dict[str, Any]:
    """Every table a write on a case can touch, and the logged writes."""
    return {
        "notes": sorted(
            CaseNote.objects.values_list(
                "pk", "case_id", "category", "kind", "text", "version", "updated_by_id"
            )
        ),
        "team": sorted(
            CaseTeamMember.objects.values_list(
                "pk", "case_id", "organisation_id", "user_id", "purpose", "ends_on"
            )
        ),
        "glass": sorted(BreakGlassAccess.objects.values_list("pk", "user_id", "case_id")),
        "cases": sorted(Case.objects.values_list("pk", "status", "version", "updated_at")),
        "grants": sorted(
            CaseGrant.objects.values_list(
                "case_id",
                "organisation_id",
                "status",
                "sort_key",
                "coordination",
                "whole_organisation",
                "named_users",
                "ends_on",
            )
        ),
        "logged_writes": Event.objects.exclude(action__in=["view", "list", "search"]).count(),
    }


def assert_effect(scene: Scene, probe: Probe, user_pk: int) -> None:
    """The change an accepted write must have made."""
    match probe.route:
        case "cases:note_create":
            notes = CaseNote.objects.filter(case=scene.case, text=NOTE_TEXT)
            assert list(notes.values_list("category", "created_by_id")) == [
                (probe.category, user_pk)
            ]
        case "cases:note_edit":
            assert probe.category is not None
            note = CaseNote.objects.get(pk=scene.cast.notes[probe.category].pk)
            assert (note.text, note.version, note.updated_by_id) == (EDITED_TEXT, 2, user_pk)
        case "cases:team":
            assert CaseTeamMember.objects.filter(
                case=scene.case, organisation=scene.cast.orgs["municipality"], user__isnull=True
            ).exists()
        case "cases:team_remove":
            assert not CaseTeamMember.objects.filter(
                case=scene.case, organisation=scene.cast.orgs["ngo"]
            ).exists()
        case "cases:break_glass":
            assert BreakGlassAccess.objects.filter(user_id=user_pk, case=scene.case).exists()
        case _:
            raise AssertionError(f"{probe} is not a write")


def assert_shows(scene: Scene, probe: Probe, a: Access, body: str) -> None:
    """A page that may show data does show it (else the leak scan proves nothing)."""
    k = scene.case
    match probe.route:
        case "cases:caseload":
            # Listed where on the team (emergency access does not list it).
            assert (k.reference in body) is a.reaches
            assert ("Sentinelia" in body) is (a.reaches and "identity" in a.read)
        case "cases:case" if probe.variant == "K":
            assert [c for c in CATEGORIES if (sentinel(c) in body) != (c in a.read)] == []
            assert all((m in body) is ("identity" in a.read) for m in IDENTITY_MARKERS)
        case "cases:note_edit" if probe.method == "GET":
            assert probe.category is not None
            assert sentinel(probe.category) in body
        case "cases:note_create" if probe.htmx:
            assert NOTE_TEXT in body
        case "audit:case_access_log":
            assert k.reference in body


# --- The cells ---------------------------------------------------------------------------


def _send(client: Client, probe: Probe, url: str, data: dict[str, str]) -> Any:
    headers = {"HX-Request": "true"} if probe.htmx else {}
    if probe.method == "GET":
        return client.get(url, headers=headers)
    return client.post(url, data, headers=headers)


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize("probe", PROBES, ids=str)
def test_cell(scene: Scene, probe: Probe, actor: str) -> None:
    user = scene.user(actor)
    a = scene.access(actor, scene.case)
    other = scene.access(actor, scene.cast.other_case)
    hidden = [
        case.reference
        for case in (scene.case, scene.cast.other_case, scene.k2)
        if not scene.access(actor, case).sees
    ]
    want = expected(probe, a, other)
    url, data = request_of(scene, probe)
    client = verified_client(user)
    before = snapshot()

    response = _send(client, probe, url, data)

    assert response.status_code == want, f"{actor} {probe}: {response.status_code} != {want}"
    body = response.content.decode()
    found = leaks(body, a.read) + [ref for ref in hidden if ref in body]
    assert found == [], f"{actor} {probe} shows {found}"
    if want == 200:
        assert_shows(scene, probe, a, body)
    _assert_logged_if_shown(scene, response, body)

    wrote = probe.method == "POST" and want in (200, 302)
    if not wrote:
        assert snapshot() == before, f"{actor} {probe} changed data"
        return
    assert_effect(scene, probe, user.pk)
    logged = Event.objects.filter(
        request_id=response["X-Request-ID"], action=WRITE_EVENTS[probe.route], actor_id=user.pk
    )
    assert logged.count() == 1
    if probe.route == "cases:break_glass":
        _after_break_glass(scene, client, a)


def _assert_logged_if_shown(scene: Scene, response: Any, body: str) -> None:
    """LG-01 on every answer: one that shows anything of K (its reference, the
    person's name, a note) was logged, in that request, as a read naming K."""
    k = scene.case
    markers = [k.reference, *IDENTITY_MARKERS, *(sentinel(c) for c in CATEGORIES)]
    shown = [m for m in markers if m in body]
    if not shown:
        return
    events = Event.objects.filter(request_id=response["X-Request-ID"])
    named = [e for e in events if e.case_id == k.pk or k.pk in (e.case_ids or [])]
    assert named, f"{response.status_code} answer shows {shown} without an audit event"


def _after_break_glass(scene: Scene, client: Client, a: Access) -> None:
    """Emergency access shows the case with what the agreement grants, no more."""
    page = client.get(reverse("cases:case", args=[scene.case.pk]))
    assert page.status_code == 200
    body = page.content.decode()
    assert leaks(body, a.glass_read) == []
    assert [c for c in CATEGORIES if (sentinel(c) in body) != (c in a.glass_read)] == []
    # The warning shows to whoever reaches the case only through the glass.
    assert ("Emergency access." in body) is (not a.reaches)


# --- The table is complete -------------------------------------------------------------


def test_the_table_describes_every_case_route(scene: Scene) -> None:
    """A new CASE route, or a new method on one, cannot escape the matrix."""
    case_routes = {r.name for r in routes() if r.policy == RoutePolicy.CASE}
    assert "audit:case_access_log" in case_routes
    assert case_routes == set(TABLE), "describe these routes in TABLE"
    client = verified_client(scene.user("coordinator"))
    for name, (methods, probes) in TABLE.items():
        url, _ = request_of(scene, probes[0])
        assert allowed_methods(client, url) == methods, name
        # Every method it answers is probed, and a method it refuses too.
        assert {p.method for p in probes} >= methods, name


def test_the_oracles_agreements_are_the_casts(scene: Scene) -> None:
    """The oracle reads the agreements from tests.routes_table.AGREEMENTS:
    they must be what the cast stored, or every cell would be judged wrong."""
    stored = {
        (g.agreement.partnership.code, g.organisation.pk, g.category, g.access)
        for g in CategoryGrant.objects.select_related("agreement__partnership", "organisation")
    }
    orgs = scene.cast.orgs
    table = {
        (code, orgs[org].pk, category, level)
        for code, rows in AGREEMENTS.items()
        for org, cells in rows.items()
        for category, level in cells.items()
    }
    assert stored == table


def test_the_matrix_exercises_every_outcome(scene: Scene) -> None:
    """The cast reaches every branch of the oracle, so the cells test something."""
    outcomes: dict[int, int] = {}
    for actor in ACTORS:
        a = scene.access(actor, scene.case)
        other = scene.access(actor, scene.cast.other_case)
        for probe in PROBES:
            want = expected(probe, a, other)
            outcomes[want] = outcomes.get(want, 0) + 1
    assert set(outcomes) == {200, 302, 403, 404, 405, 409, 422, 428}
    assert sum(outcomes.values()) == CELLS


# --- Break-glass: the form is no oracle ---------------------------------------------------

_CSRF = re.compile(r'name="csrfmiddlewaretoken" value="[^"]*"')


@pytest.mark.parametrize("actor", ACTORS)
def test_the_break_glass_form_is_the_same_for_any_id(scene: Scene, actor: str) -> None:
    client = verified_client(scene.user(actor))
    bodies = set()
    for pk in (scene.case.pk, scene.cast.other_case.pk, MISSING_PK):
        response = client.get(reverse("cases:break_glass", args=[pk]))
        assert response.status_code == 200
        body = response.content.decode().replace(f"/cases/{pk}/", "/cases/ID/")
        bodies.add(_CSRF.sub("csrf", body))
    assert len(bodies) == 1


# --- Pages without case content ------------------------------------------------------------


def _partnership_urls(scene: Scene) -> list[str]:
    cast = scene.cast
    return [
        reverse("partnerships:list"),
        reverse("partnerships:detail", args=[cast.partnership.pk]),
        reverse("partnerships:detail", args=[cast.other_partnership.pk]),
        reverse("partnerships:agreement_create", args=[cast.partnership.pk]),
        reverse("partnerships:agreement_edit", args=[cast.partnership.pk, cast.agreement.pk]),
    ]


@pytest.mark.parametrize("actor", ACTORS)
def test_partnership_pages_hold_no_case_content(scene: Scene, actor: str) -> None:
    client = verified_client(scene.user(actor))
    statuses = []
    for url in _partnership_urls(scene):
        response = client.get(url)
        statuses.append(response.status_code)
        assert response.status_code < 500, url
        found = leaks(response.content.decode(), frozenset(), reference=scene.case.reference)
        assert found == [], f"{url} shows {found}"
    assert 200 in statuses  # the list answers everyone


def test_the_auditor_sees_who_did_what_but_no_case_content(scene: Scene) -> None:
    """Fill the log through the UI (reads, a note, an edit, a team change,
    break-glass), then search it as the auditor every way the form allows."""
    cast = scene.cast
    k = scene.case
    police = verified_client(scene.user("police_on_team"))
    created = police.post(
        reverse("cases:note_create", args=[k.pk]),
        {"category": "intelligence", "kind": "fact", "text": sentinel("intelligence")},
    )
    assert created.status_code == 302
    note = cast.notes["risk"]
    edited = police.post(
        reverse("cases:note_edit", args=[k.pk, note.pk]),
        {"kind": "fact", "text": sentinel("risk") + " (checked)", "version": "1"},
    )
    assert edited.status_code == 302
    coordinator = verified_client(scene.user("coordinator"))
    assert coordinator.get(reverse("cases:case", args=[k.pk])).status_code == 200
    added = coordinator.post(
        reverse("cases:team", args=[k.pk]),
        {"organisation": cast.orgs["municipality"].pk, "purpose": "Housing support"},
    )
    assert added.status_code == 302
    glass = verified_client(scene.user("police_off_team")).post(
        reverse("cases:break_glass", args=[k.pk]), {"justification": JUSTIFICATION}
    )
    assert glass.status_code == 302

    auditor = verified_client(scene.user("auditor"))
    queries = [
        {},
        {"case": k.pk},
        {"actor": "police_on_team"},
        {"action": "create"},
        {"action": "update"},
        {"action": "break_glass"},
        {"organisation": cast.orgs["police"].pk},
    ]
    for query in queries:
        response = auditor.get(reverse("audit:search"), query)
        assert response.status_code == 200, query
        body = response.content.decode()
        assert leaks(body, frozenset()) == [], query
        assert "police_on_team" in body or "police_off_team" in body or not query, query
    everything = auditor.get(reverse("audit:search"), {"case": k.pk}).content.decode()
    assert "police_on_team" in everything and "police_off_team" in everything
    # The auditor never sees the case itself, whatever the log says about it.
    assert auditor.get(reverse("cases:case", args=[k.pk])).status_code == 404


# --- The API, through the same scan --------------------------------------------------------


def _api_urls(scene: Scene) -> list[tuple[str, str]]:
    """(route, URL) for every operation of the API on the cast's case, one per note.

    The routes come from the resolver (``url_for`` fails on a parameter it
    does not know), so a new operation is scanned as soon as it exists.
    """
    found = []
    for route in routes():
        if route.policy != RoutePolicy.API:
            continue
        if "<int:note_id>" in route.pattern:
            found += [
                (route.name, url_for(scene, route, note_id=note.pk))
                for note in scene.cast.notes.values()
            ]
        else:
            found.append((route.name, url_for(scene, route)))
    return found


@pytest.mark.parametrize("actor", ACTORS)
def test_api_answers_leak_nothing(scene: Scene, actor: str) -> None:
    user = scene.user(actor)
    a = scene.access(actor, scene.case)
    _, raw = api_token_create(actor=user, name="matrix")
    client = Client(headers={"Authorization": f"Bearer {raw}"})
    scanned = 0
    for name, url in _api_urls(scene):
        if "GET" not in allowed_methods(client, url):
            continue
        response = client.get(url)
        assert response.status_code in (200, 403, 404), (url, response.status_code)
        hidden = None if a.sees else scene.case.reference
        found = leaks(response.content.decode(), a.read, reference=hidden)
        assert found == [], f"{actor} GET {url} ({name}) shows {found}"
        _assert_logged_if_shown(scene, response, response.content.decode())
        scanned += 1
    assert scanned >= 5 + len(CATEGORIES)  # list, case, team, notes, me, each note
