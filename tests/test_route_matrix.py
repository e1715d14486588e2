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

Every API operation is described in ``API_TABLE`` (a new one fails
``test_the_api_table_describes_every_operation``): for each operation about
the case K or one of its records, each actor who does not see K gets 404 for
every method and changes nothing, and each actor who sees K never gets 404
on K's own lists and pages (``test_api_cell``).

The scene is built once per module (``tests.routes_table.built_once``) and
each cell runs in a savepoint of it.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from prepare.access.models import GRANT_FACTS, BreakGlassAccess, CaseGrant
from prepare.access.routes import RoutePolicy
from prepare.accounts.models import User
from prepare.accounts.services import api_token_create
from prepare.audit.models import Event
from prepare.cases.models import (
    Case,
    CaseNote,
    CaseNoteVersion,
    CaseTeamMember,
    LegalHold,
    Transfer,
)
from prepare.partnerships.models import CategoryGrant
from prepare.plans.models import ChecklistItem
from tests.assessments import matrix as assessments
from tests.assessments import over_time_matrix as over_time
from tests.assessments import support as assessment_support
from tests.cases import lifecycle_matrix as lifecycle
from tests.cast import current_code, sentinel, verified_client
from tests.documents import support as documents
from tests.monitoring import support as monitoring
from tests.oracle import ACTORS, AGREEMENTS, CATEGORIES, Access, edits_note
from tests.plans.support import plant_checklist, set_release
from tests.routes_table import (
    IDENTITY_MARKERS,
    RouteInfo,
    Scene,
    access_change_id_of,
    allowed_methods,
    body_of,
    built_once,
    instrument_version_id_of,
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
    # The home page: "today" (lists through the policy) or, by role, a redirect.
    "home:home": (
        frozenset({"GET"}),
        _probes("home:home", ("GET", "list"), ("POST", "list")),
    ),
    "cases:caseload": (
        frozenset({"GET"}),
        _probes("cases:caseload", ("GET", "list"), ("GET", "list", None, True)),
    ),
    # Search: the sentinels' common word finds K's notes and the person's name.
    "search:search": (
        frozenset({"GET"}),
        _probes("search:search", ("GET", "list"), ("GET", "list", None, True)),
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
    # A reply answers the note of the probe's category, in that same category.
    "cases:note_reply": (
        frozenset({"GET", "POST"}),
        (
            *_per_category("cases:note_reply", "GET", "K"),
            *_per_category("cases:note_reply", "POST", "valid"),
            Probe("cases:note_reply", "GET", "foreign", "risk"),
            Probe("cases:note_reply", "POST", "foreign", "risk"),
            Probe("cases:note_reply", "POST", "invalid", "risk"),
        ),
    ),
    # Each note has an earlier version planted, its text the category's sentinel.
    "cases:note_history": (
        frozenset({"GET"}),
        (
            *_per_category("cases:note_history", "GET", "K"),
            Probe("cases:note_history", "GET", "K", "risk", True),
            Probe("cases:note_history", "GET", "foreign", "risk"),
            Probe("cases:note_history", "POST", "K", "risk"),
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
    # Release planning: K's checklist holds one item per category, titled with
    # the category's sentinel (``tests.plans.support.plant_checklist``).
    "plans:case_checklist": (
        frozenset({"GET"}),
        _probes(
            "plans:case_checklist",
            ("GET", "K"),
            ("GET", "K", None, True),
            ("GET", "other"),
            ("GET", "missing"),
            ("POST", "K"),
        ),
    ),
    "plans:checklist_start": (
        frozenset({"POST"}),
        _probes(
            "plans:checklist_start",
            ("GET", "K"),
            ("POST", "valid"),
            ("POST", "valid", None, True),
            ("POST", "invalid"),  # no expected release date
        ),
    ),
    "plans:checklist_item_add": (
        frozenset({"POST"}),
        (
            Probe("plans:checklist_item_add", "GET", "K"),
            *_per_category("plans:checklist_item_add", "POST", "valid"),
            Probe("plans:checklist_item_add", "POST", "invalid", "risk"),
        ),
    ),
    "plans:checklist_item": (
        frozenset({"POST"}),
        (
            Probe("plans:checklist_item", "GET", "K", "justice"),
            *_per_category("plans:checklist_item", "POST", "valid"),
            Probe("plans:checklist_item", "POST", "valid", "justice", True),
            Probe("plans:checklist_item", "POST", "foreign", "risk"),
            Probe("plans:checklist_item", "POST", "invalid", "risk"),
            Probe("plans:checklist_item", "POST", "stale", "risk"),
            Probe("plans:checklist_item", "POST", "no_version", "risk"),
        ),
    ),
    # K's checklist owed by the police, of whom only one officer is on K's team:
    # the coordinator is shown the police and adds them (``_plans_request``).
    "plans:checklist_owners": (
        frozenset({"GET", "POST"}),
        _probes(
            "plans:checklist_owners",
            ("GET", "K"),
            ("GET", "other"),
            ("GET", "missing"),
            ("POST", "valid"),
            ("POST", "invalid"),
        ),
    ),
    "plans:release_board": (
        frozenset({"GET"}),
        _probes(
            "plans:release_board", ("GET", "list"), ("GET", "list", None, True), ("POST", "list")
        ),
    ),
    "plans:my_tasks": (
        frozenset({"GET"}),
        _probes("plans:my_tasks", ("GET", "list"), ("POST", "list")),
    ),
    # Transfers: "transfer" is the scene's open transfer of K3 to the other
    # partnership (see ``_transfer_expected``).
    "cases:transfer_section": (
        frozenset({"GET", "POST"}),
        _probes(
            "cases:transfer_section",
            ("GET", "K"),
            ("GET", "K", None, True),
            ("GET", "other"),
            ("GET", "missing"),
            ("POST", "valid"),
            ("POST", "invalid"),
        ),
    ),
    "cases:transfer_inbox": (
        frozenset({"GET"}),
        _probes("cases:transfer_inbox", ("GET", "list"), ("POST", "list")),
    ),
    "cases:transfer_decide": (
        frozenset({"GET", "POST"}),
        _probes(
            "cases:transfer_decide",
            ("GET", "transfer"),
            ("GET", "missing"),
            ("POST", "valid"),
            ("POST", "invalid"),
        ),
    ),
    "cases:transfer_withdraw": (
        frozenset({"POST"}),
        _probes("cases:transfer_withdraw", ("GET", "transfer"), ("POST", "valid")),
    ),
    "cases:retention_section": (
        frozenset({"GET"}),
        _probes(
            "cases:retention_section",
            ("GET", "K"),
            ("GET", "K", None, True),
            ("GET", "other"),
            ("GET", "missing"),
        ),
    ),
    "cases:legal_hold_place": (
        frozenset({"POST"}),
        _probes(
            "cases:legal_hold_place",
            ("GET", "K"),
            ("POST", "valid"),
            ("POST", "valid", None, True),
            ("POST", "invalid"),
        ),
    ),
    # Erasure needs a closed case and a fresh one-time code (tests/cases/
    # test_erasure.py walks it through); here who reaches the form at all.
    "cases:erasure": (
        frozenset({"POST"}),
        _probes(
            "cases:erasure",
            ("GET", "K"),
            ("POST", "invalid"),
            ("POST", "invalid", None, True),
        ),
    ),
    "cases:legal_hold_release": (
        frozenset({"POST"}),
        _probes("cases:legal_hold_release", ("GET", "K"), ("POST", "valid"), ("POST", "foreign")),
    ),
    # Monitoring: K's monitoring is planted for these probes (a contact per
    # category, a justice condition with a breach, a high justice signal that
    # alerts every user; see ``tests.monitoring.support``).
    "monitoring:case_monitoring": (
        frozenset({"GET"}),
        _probes(
            "monitoring:case_monitoring",
            ("GET", "K"),
            ("GET", "K", None, True),
            ("GET", "other"),
            ("GET", "missing"),
            ("POST", "K"),
        ),
    ),
    "monitoring:alerts": (
        frozenset({"GET"}),
        _probes("monitoring:alerts", ("GET", "list"), ("POST", "list")),
    ),
    "monitoring:contact_create": (
        frozenset({"POST"}),
        (
            Probe("monitoring:contact_create", "GET", "K"),
            *_per_category("monitoring:contact_create", "POST", "valid"),
            Probe("monitoring:contact_create", "POST", "valid", "risk", True),
            Probe("monitoring:contact_create", "POST", "invalid", "risk", True),
        ),
    ),
    # A contact of K in each category: its page (history, and the correction
    # form to who may write it) and its correction.
    "monitoring:contact_correct": (
        frozenset({"GET", "POST"}),
        (
            *_per_category("monitoring:contact_correct", "GET", "K"),
            *_per_category("monitoring:contact_correct", "POST", "valid"),
            Probe("monitoring:contact_correct", "POST", "invalid", "risk"),
            Probe("monitoring:contact_correct", "POST", "stale", "risk"),
            Probe("monitoring:contact_correct", "POST", "no_version", "risk"),
        ),
    ),
    "monitoring:condition_create": (
        frozenset({"POST"}),
        _probes(
            "monitoring:condition_create", ("GET", "K"), ("POST", "valid"), ("POST", "invalid")
        ),
    ),
    "monitoring:condition_end": (
        frozenset({"POST"}),
        _probes(
            "monitoring:condition_end",
            ("GET", "K"),
            ("POST", "valid"),
            ("POST", "foreign"),
            ("POST", "stale"),
            ("POST", "no_version"),
        ),
    ),
    "monitoring:breach_create": (
        frozenset({"POST"}),
        _probes("monitoring:breach_create", ("GET", "K"), ("POST", "valid"), ("POST", "invalid")),
    ),
    "monitoring:signal_create": (
        frozenset({"POST"}),
        (
            Probe("monitoring:signal_create", "GET", "K"),
            *_per_category("monitoring:signal_create", "POST", "valid"),
            Probe("monitoring:signal_create", "POST", "valid", "risk", True),
            Probe("monitoring:signal_create", "POST", "invalid", "risk"),
        ),
    ),
    "monitoring:signal_acknowledge": (
        frozenset({"POST"}),
        _probes(
            "monitoring:signal_acknowledge",
            ("GET", "K"),
            ("POST", "valid"),
            ("POST", "valid", None, True),
            ("POST", "foreign"),
            ("POST", "invalid"),
            ("POST", "stale"),
            ("POST", "no_version"),
        ),
    ),
    "monitoring:signal_close": (
        frozenset({"POST"}),
        _probes(
            "monitoring:signal_close",
            ("GET", "K"),
            ("POST", "valid"),
            ("POST", "foreign"),
            ("POST", "stale"),
            ("POST", "no_version"),
        ),
    ),
    # The case lifecycle (``tests.cases.lifecycle_matrix``): K is active
    # (pre-release), so a triage decision on it is refused.
    "cases:referral_create": (
        frozenset({"GET", "POST"}),
        _probes(
            "cases:referral_create",
            ("GET", "form"),
            ("POST", "valid"),
            ("POST", "invalid"),
            ("POST", "duplicate"),
        ),
    ),
    "cases:triage_queue": (
        frozenset({"GET"}),
        _probes("cases:triage_queue", ("GET", "list"), ("POST", "list")),
    ),
    "cases:triage_decide": (
        frozenset({"GET", "POST"}),
        _probes(
            "cases:triage_decide",
            ("GET", "K"),
            ("GET", "other"),
            ("GET", "missing"),
            ("POST", "valid"),
            ("POST", "invalid"),
            ("POST", "stale"),
        ),
    ),
    "cases:timeline": (
        frozenset({"GET"}),
        _probes(
            "cases:timeline",
            ("GET", "K"),
            ("GET", "other"),
            ("GET", "missing"),
            ("POST", "K"),
        ),
    ),
    "cases:lifecycle_section": (
        frozenset({"GET"}),
        _probes(
            "cases:lifecycle_section",
            ("GET", "K"),
            ("GET", "K", None, True),
            ("GET", "other"),
            ("GET", "missing"),
            ("POST", "K"),
        ),
    ),
    "cases:transition": (
        frozenset({"POST"}),
        _probes(
            "cases:transition",
            ("GET", "K"),
            ("POST", "valid"),
            ("POST", "invalid"),
            ("POST", "refused"),
            ("POST", "stale"),
            ("POST", "no_version"),
            ("POST", "missing"),
        ),
    ),
    "cases:key_dates": (
        frozenset({"GET", "POST"}),
        _probes(
            "cases:key_dates",
            ("GET", "K"),
            ("GET", "K", None, True),
            ("GET", "other"),
            ("GET", "missing"),
            ("POST", "valid"),
            ("POST", "invalid"),
            ("POST", "stale"),
            ("POST", "no_version"),
        ),
    ),
    # Documents: K holds one per category, titled and filled with the category's
    # sentinel, attached by the municipality (``tests.documents.support``).
    "documents:case_documents": (
        frozenset({"GET", "POST"}),
        (
            Probe("documents:case_documents", "GET", "K"),
            Probe("documents:case_documents", "GET", "K", None, True),
            Probe("documents:case_documents", "GET", "other"),
            Probe("documents:case_documents", "GET", "missing"),
            *_per_category("documents:case_documents", "POST", "valid"),
            Probe("documents:case_documents", "POST", "invalid", "risk"),
        ),
    ),
    "documents:download": (
        frozenset({"GET"}),
        (
            *_per_category("documents:download", "GET", "K"),
            Probe("documents:download", "GET", "foreign", "justice"),
            Probe("documents:download", "POST", "K", "justice"),
        ),
    ),
    "documents:version_download": (
        frozenset({"GET"}),
        (
            *_per_category("documents:version_download", "GET", "K"),
            Probe("documents:version_download", "GET", "foreign", "justice"),
            Probe("documents:version_download", "POST", "K", "justice"),
        ),
    ),
    "documents:replace": (
        frozenset({"POST"}),
        (
            Probe("documents:replace", "GET", "K", "justice"),
            *_per_category("documents:replace", "POST", "valid"),
            Probe("documents:replace", "POST", "foreign", "justice"),
            Probe("documents:replace", "POST", "invalid", "justice"),
            Probe("documents:replace", "POST", "stale", "justice"),
            Probe("documents:replace", "POST", "no_version", "justice"),
        ),
    ),
    "documents:delete": (
        frozenset({"POST"}),
        (
            Probe("documents:delete", "GET", "K", "justice"),
            *_per_category("documents:delete", "POST", "valid"),
            Probe("documents:delete", "POST", "foreign", "justice"),
            Probe("documents:delete", "POST", "stale", "justice"),
            Probe("documents:delete", "POST", "no_version", "justice"),
        ),
    ),
    "documents:case_summary": (
        frozenset({"GET"}),
        _probes(
            "documents:case_summary",
            ("GET", "K"),
            ("GET", "other"),
            ("GET", "missing"),
            ("POST", "K"),
        ),
    ),
    # Assessments over time: K holds two completed risk and two completed social
    # assessments, their evidence the category's sentinel (tests/assessments/over_time_matrix).
    "assessments:compare": (
        frozenset({"GET"}),
        (
            Probe("assessments:compare", "GET", "K"),
            Probe("assessments:compare", "GET", "K", "risk"),
            Probe("assessments:compare", "GET", "K", "social"),
            Probe("assessments:compare", "GET", "invalid"),
            Probe("assessments:compare", "GET", "mixed"),
            Probe("assessments:compare", "GET", "foreign", "social"),
            Probe("assessments:compare", "GET", "other"),
            Probe("assessments:compare", "GET", "missing"),
            Probe("assessments:compare", "POST", "K"),
        ),
    ),
    "assessments:trajectory": (
        frozenset({"GET"}),
        (
            Probe("assessments:trajectory", "GET", "K", "risk"),
            Probe("assessments:trajectory", "GET", "K", "social"),
            Probe("assessments:trajectory", "GET", "unknown"),
            Probe("assessments:trajectory", "GET", "missing", "risk"),
            Probe("assessments:trajectory", "POST", "K", "risk"),
        ),
    ),
    "assessments:pdf": (
        frozenset({"GET"}),
        (
            Probe("assessments:pdf", "GET", "K", "risk"),
            Probe("assessments:pdf", "GET", "K", "social"),
            Probe("assessments:pdf", "GET", "foreign", "risk"),
            Probe("assessments:pdf", "POST", "K", "social"),
        ),
    ),
    # Assessments: K holds, in risk and in social, a completed assessment and a
    # draft by probation, their evidence the category's sentinel
    # (``tests.assessments.matrix``); everyone is trained.
    "assessments:list": (
        frozenset({"GET"}),
        _probes(
            "assessments:list",
            ("GET", "K"),
            ("GET", "other"),
            ("GET", "missing"),
            ("POST", "K"),
        ),
    ),
    "assessments:start": (
        frozenset({"GET", "POST"}),
        _probes(
            "assessments:start",
            ("GET", "K"),
            ("GET", "missing"),
            ("POST", "valid", "risk"),
            ("POST", "valid", "social"),
            ("POST", "invalid", "risk"),
        ),
    ),
    "assessments:assessment": (
        frozenset({"GET"}),
        _probes(
            "assessments:assessment",
            ("GET", "K", "risk"),
            ("GET", "K", "social"),
            ("GET", "foreign", "risk"),
            ("POST", "K", "risk"),
        ),
    ),
    "assessments:edit": (
        frozenset({"GET", "POST"}),
        _probes(
            "assessments:edit",
            ("GET", "K", "risk"),
            ("GET", "K", "social"),
            ("GET", "foreign", "risk"),
            ("POST", "valid", "risk"),
            ("POST", "valid", "social"),
            ("POST", "locked", "risk"),
            ("POST", "foreign", "risk"),
            ("POST", "invalid", "risk"),
            ("POST", "stale", "risk"),
            ("POST", "no_version", "risk"),
        ),
    ),
    "assessments:autosave": (
        frozenset({"POST"}),
        _probes(
            "assessments:autosave",
            ("GET", "K", "risk"),
            ("POST", "valid", "risk"),
            ("POST", "valid", "social"),
            ("POST", "locked", "risk"),
            ("POST", "invalid", "risk"),
            ("POST", "stale", "risk"),
            ("POST", "no_version", "risk"),
        ),
    ),
    "assessments:countersign": (
        frozenset({"POST"}),
        _probes(
            "assessments:countersign",
            ("GET", "K", "risk"),
            ("POST", "valid", "risk"),
            ("POST", "valid", "social"),
            ("POST", "foreign", "risk"),
            ("POST", "invalid", "risk"),
            ("POST", "stale", "risk"),
            ("POST", "no_version", "risk"),
        ),
    ),
    "assessments:correct": (
        frozenset({"POST"}),
        _probes(
            "assessments:correct",
            ("GET", "K", "risk"),
            ("POST", "valid", "risk"),
            ("POST", "valid", "social"),
        ),
    ),
    "assessments:discard": (
        frozenset({"POST"}),
        _probes(
            "assessments:discard",
            ("GET", "K", "risk"),
            ("POST", "valid", "risk"),
            ("POST", "valid", "social"),
            ("POST", "invalid", "risk"),
            ("POST", "stale", "risk"),
        ),
    ),
}
PROBES = [p for _, probes in TABLE.values() for p in probes]
CELLS = len(PROBES) * len(ACTORS)

MISSING_PK = 987_654
NOTE_TEXT = "MATRIX-NEW-NOTE-TEXT"
EDITED_TEXT = "MATRIX-EDITED-NOTE-TEXT"
REPLY_TEXT = "MATRIX-REPLY-TEXT"
EARLIER = "MATRIX-EARLIER-VERSION"


def plant_earlier_version(note: CaseNote) -> CaseNoteVersion:
    """An earlier version of the note, its text the note's category's sentinel."""
    return CaseNoteVersion.objects.create(
        note=note,
        case_id=note.case_id,
        category=note.category,
        version=1,
        kind=note.kind,
        text=f"{sentinel(note.category)} {EARLIER}",
        written_by_id=note.created_by_id,
        written_at=note.created_at,
        replaced_by_id=note.created_by_id,
    )


HOLD_REASON = "MATRIX-HOLD-REASON"
JUSTIFICATION = "Imminent threat reported by the night shift, team unreachable"
WRITE_EVENTS = {
    "cases:note_create": "create",
    "cases:note_reply": "create",
    "cases:note_edit": "update",
    "cases:team": "team_change",
    "cases:team_remove": "team_change",
    "cases:break_glass": "break_glass",
    "plans:checklist_start": "create",
    "plans:checklist_item_add": "create",
    "plans:checklist_item": "update",
    "plans:checklist_owners": "team_change",
    "cases:legal_hold_place": "create",
    "cases:legal_hold_release": "update",
    "cases:transfer_section": "transfer",
    "cases:transfer_decide": "transfer",
    "cases:transfer_withdraw": "transfer",
}
TRANSFER_SUMMARY = "MATRIX-HANDOVER-SUMMARY"
WRITE_EVENTS.update(monitoring.WRITE_EVENTS)
WRITE_EVENTS.update(documents.WRITE_EVENTS)
WRITE_EVENTS.update(lifecycle.WRITE_EVENTS)
WRITE_EVENTS.update(assessments.WRITE_EVENTS)


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
        case "cases:caseload" | "home:home":
            return reverse(probe.route), {}
        case "search:search":
            return reverse(probe.route) + "?q=sentinel", {}
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
        case "cases:note_reply":
            assert note is not None
            data = {"category": probe.category or "", "kind": "assessment", "text": REPLY_TEXT}
            if probe.variant == "invalid":
                data["text"] = ""
            return reverse(probe.route, args=[pk, note.pk]), data
        case "cases:note_history":
            assert note is not None
            plant_earlier_version(note)
            return reverse(probe.route, args=[pk, note.pk]), {}
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
        case route if route.startswith("plans:"):
            return _plans_request(scene, probe, pk)
        case "cases:transfer_section":
            data = {
                "to_partnership": str(scene.cast.other_partnership.pk),
                "summary_category": "social",
                "handover_summary": TRANSFER_SUMMARY,
                "categories": ["social", "justice"],
            }
            if probe.variant == "invalid":
                data["handover_summary"] = ""
            return reverse(probe.route, args=[pk]), data
        case "cases:transfer_inbox":
            return reverse(probe.route), {}
        case "cases:transfer_decide" | "cases:transfer_withdraw":
            assert scene.transfer is not None
            transfer_pk = MISSING_PK if probe.variant == "missing" else scene.transfer.pk
            data = {"decision": "decline", "reason": "No housing found here"}
            if probe.variant == "invalid":
                data["reason"] = ""
            return reverse(probe.route, args=[transfer_pk]), data
        case "cases:legal_hold_place":
            data = {"reason": HOLD_REASON, "until": "2040-01-01"}
            if probe.variant == "invalid":
                data = {"reason": "", "until": ""}
            return reverse(probe.route, args=[pk]), data
        case "cases:erasure":
            return reverse(probe.route, args=[pk]), {
                "op": "request",
                "erasure-reason": "",
                "erasure-code": "000000",
            }
        case "cases:legal_hold_release":
            # A hold of K, sent under K's id (or, "foreign", under K2's).
            hold = LegalHold.objects.create(
                case=scene.case,
                reason=HOLD_REASON,
                until=datetime.date(2040, 1, 1),
                placed_by=scene.cast.coordinator,
            )
            return reverse(probe.route, args=[pk]), {"hold": str(hold.pk), "confirm": "on"}
        case route if route.startswith("monitoring:"):
            return monitoring.matrix_request(scene.cast, probe, pk)
        case route if route.startswith("documents:"):
            return documents.matrix_request(scene.cast, probe, pk)
        case route if route in lifecycle.ROUTES:
            return lifecycle.matrix_request(scene.cast, probe, pk)
        case route if route in over_time.ROUTES:
            return over_time.matrix_request(scene.cast, probe, pk)
        case route if route in assessments.ROUTES:
            return assessments.matrix_request(scene.cast, probe, pk)
        case _:
            return reverse(probe.route, args=[pk]), {}


ITEM_TITLE = "MATRIX-NEW-CHECKLIST-ITEM"
OWNER_PURPOSE = "MATRIX-RELEASE-PLANNING"


def _plans_request(scene: Scene, probe: Probe, pk: int) -> tuple[str, dict[str, str]]:
    """Release planning: K's checklist planted (owed by probation), except for a start."""
    k, cast = scene.case, scene.cast
    if probe.route == "plans:checklist_start":
        if probe.variant != "invalid":
            set_release(k, cast.coordinator)
        return reverse(probe.route, args=[pk]), {}
    if probe.route == "plans:checklist_owners":
        police = cast.orgs["police"]
        plant_checklist(k, cast.coordinator, owner=police)
        data = {"organisation": str(police.pk), f"purpose-{police.pk}": OWNER_PURPOSE}
        if probe.variant == "invalid":
            data[f"purpose-{police.pk}"] = ""
        return reverse(probe.route, args=[pk]), data
    items = plant_checklist(k, cast.coordinator, owner=cast.orgs["probation"])
    if probe.route in ("plans:release_board", "plans:my_tasks"):
        return reverse(probe.route), {}
    if probe.route == "plans:checklist_item_add":
        data = {"title": ITEM_TITLE, "category": probe.category or "", "due_on": "2040-01-01"}
        if probe.variant == "invalid":
            data["title"] = ""
        return reverse(probe.route, args=[pk]), data
    if probe.route == "plans:checklist_item":
        item = items[probe.category or "justice"]
        data = {"op": "complete", "note": "MATRIX-DONE", "version": "1"}
        if probe.variant == "invalid":
            data = {"op": "not_applicable", "note": "", "version": "1"}
        elif probe.variant == "stale":
            data["version"] = "7"
        elif probe.variant == "no_version":
            del data["version"]
        return reverse(probe.route, args=[pk, item.pk]), data
    return reverse(probe.route, args=[pk]), {}


def expected(probe: Probe, a: Access, other: Access) -> int:
    """The status the oracle's access calls for."""
    ok = 200 if probe.method == "GET" or probe.htmx else 302
    methods = TABLE[probe.route][0]
    if probe.method not in methods:
        return 405  # before any lookup: the same for every actor and id
    if probe.route in ("plans:release_board", "plans:my_tasks"):
        return 200  # lists: each shows what the actor may see (``assert_shows``)
    if probe.route in (
        "cases:caseload",
        "cases:transfer_inbox",
        "monitoring:alerts",
        "search:search",
    ):
        return 200
    if probe.route == "home:home":
        return 200  # or, by role, a redirect (``home_expected``)
    if probe.route in ("cases:transfer_decide", "cases:transfer_withdraw"):
        return _transfer_expected(probe, a, other, ok)
    if probe.route in lifecycle.ROUTES:
        return lifecycle.matrix_expected(probe, a, other, ok)
    if probe.route == "cases:break_glass":
        # The form is the same for any id. Without a valid justification and
        # code access is refused (AC-07) before the id is looked at; with them,
        # a case the actor may not reach is as absent as any other, and one
        # a rule refuses (observer, closed case, daily cap) is 403.
        if probe.method == "GET":
            return 200
        if probe.variant == "invalid":
            return 403
        if not a.glass_reach:
            return 404
        return 302 if a.break_glass else 403
    if probe.variant == "other":
        return 200 if other.sees else 404
    if probe.variant in ("missing", "foreign") or not a.sees:
        return 404  # a record is reached only under its own case's id
    category = probe.category
    allowed: bool
    match probe.route:
        case "cases:case" | "cases:timeline":
            return 200
        case "audit:case_access_log":
            return 200 if a.access_log else 403
        case "cases:note_create":
            allowed = category in a.write
        case "cases:note_edit":
            if category not in a.read:
                return 404
            allowed = edits_note(a, category)  # the author's organisation only
        case "cases:note_reply":
            if category not in a.read:
                return 404  # the note answered
            allowed = bool(a.write) if probe.method == "GET" else category in a.write
        case "cases:note_history":
            return 200 if category in a.read else 404
        case "cases:team" | "cases:team_remove":
            allowed = a.edit_team
        case "plans:case_checklist":
            return 200
        case "plans:checklist_start":
            allowed = "justice" in a.write  # the plan hangs on the release date
        case "plans:checklist_item_add":
            allowed = category in a.write
        case "plans:checklist_item":
            if category not in a.read:
                return 404
            allowed = category in a.write
        case "plans:checklist_owners":
            # The coordinator of K's partnership, who may write on K.
            allowed = a.access_log and bool(a.write)
        case "cases:transfer_section":
            if probe.method == "GET":
                return 200
            # Proposed by the coordinator of the case's partnership only.
            allowed = a.access_log
        case "cases:retention_section":
            return 200
        case "cases:legal_hold_place" | "cases:legal_hold_release" | "cases:erasure":
            allowed = a.access_log  # the coordinator of K's partnership
        case route if route.startswith("monitoring:"):
            verdict = monitoring.matrix_allowed(probe, a.read, a.write)
            if not isinstance(verdict, bool):
                return verdict
            allowed = verdict
        case route if route.startswith("documents:"):
            verdict = documents.matrix_allowed(probe, a)
            if not isinstance(verdict, bool):
                return verdict
            allowed = verdict
        case route if route in over_time.ROUTES:
            return over_time.matrix_allowed(probe, a)
        case route if route in assessments.ROUTES:
            verdict = assessments.matrix_allowed(probe, a)
            if not isinstance(verdict, bool):
                return verdict
            allowed = verdict
        case _:
            raise AssertionError(f"no expectation for {probe}")
    if not allowed:
        return 403
    failure = {"invalid": 422, "stale": 409, "no_version": 428}.get(probe.variant)
    return failure or ok


def _transfer_expected(probe: Probe, a: Access, other: Access, ok: int) -> int:
    """The scene's transfer goes from K's partnership to the other case's: its
    sender coordinates K's (``a.access_log``), its receiver the other case's
    (``other.access_log``). Nobody else learns that it exists."""
    sender, receiver = a.access_log, other.access_log
    if probe.variant == "missing" or not (sender or receiver):
        return 404
    allowed = sender if probe.route == "cases:transfer_withdraw" else receiver
    if not allowed:
        return 403
    if probe.method == "GET":
        return 200
    return 422 if probe.variant == "invalid" else ok


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
        "note_versions": sorted(
            CaseNoteVersion.objects.values_list("pk", "note_id", "category", "version", "text")
        ),
        "glass": sorted(BreakGlassAccess.objects.values_list("pk", "user_id", "case_id")),
        "checklist": sorted(
            ChecklistItem.objects.values_list(
                "pk", "case_id", "title", "status", "due_on", "version", "owner_organisation_id"
            )
        ),
        "holds": sorted(
            LegalHold.objects.values_list("pk", "case_id", "reason", "until", "released_by_id")
        ),
        "cases": sorted(Case.objects.values_list("pk", "status", "version", "updated_at")),
        "grants": sorted(CaseGrant.objects.values_list("case_id", *GRANT_FACTS)),
        # A refused request is recorded (action or outcome ``denied``), and
        # exports (a download, the PDF summary) are reads: logged, but no change.
        "logged_writes": Event.objects.exclude(
            action__in=["view", "list", "search", "denied", "export"]
        )
        .exclude(outcome="denied")
        .count(),
        "monitoring": monitoring.monitoring_state(),
        "documents": documents.documents_state(),
        "lifecycle": lifecycle.lifecycle_state(),
        "assessments": assessments.assessments_state(),
        "transfers": sorted(
            Transfer.objects.values_list("pk", "case_id", "status", "to_partnership_id")
        ),
        "assessments_api": assessment_support.assessments_state(),
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
        case "cases:note_reply":
            assert probe.category is not None
            replies = CaseNote.objects.filter(case=scene.case, text=REPLY_TEXT)
            assert list(replies.values_list("category", "created_by_id", "reply_to_id")) == [
                (probe.category, user_pk, scene.cast.notes[probe.category].pk)
            ]
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
        case "plans:checklist_start":
            created = ChecklistItem.objects.filter(case=scene.case, created_by_id=user_pk)
            assert created.count() == 12
        case "plans:checklist_item_add":
            added = ChecklistItem.objects.filter(case=scene.case, title=ITEM_TITLE)
            assert list(added.values_list("category", "created_by_id")) == [
                (probe.category, user_pk)
            ]
        case "plans:checklist_item":
            item = ChecklistItem.objects.get(case=scene.case, category=probe.category)
            assert (item.status, item.version, item.completed_by_id) == ("done", 2, user_pk)
        case "plans:checklist_owners":
            added = CaseTeamMember.objects.filter(
                case=scene.case, organisation=scene.cast.orgs["police"], user__isnull=True
            )
            assert list(added.values_list("purpose", "added_by_id")) == [(OWNER_PURPOSE, user_pk)]
        case "cases:transfer_section":
            proposed = Transfer.objects.filter(case=scene.case, status="proposed")
            assert list(
                proposed.values_list("to_partnership_id", "proposed_by_id", "categories")
            ) == [(scene.cast.other_partnership.pk, user_pk, ["justice", "social"])]
        case "cases:transfer_decide" | "cases:transfer_withdraw":
            assert scene.transfer is not None
            transfer = Transfer.objects.get(pk=scene.transfer.pk)
            status = "declined" if probe.route == "cases:transfer_decide" else "withdrawn"
            assert (transfer.status, transfer.decided_by_id) == (status, user_pk)
        case "cases:legal_hold_place":
            assert LegalHold.objects.filter(
                case=scene.case, reason=HOLD_REASON, released_at__isnull=True, placed_by_id=user_pk
            ).exists()
        case "cases:legal_hold_release":
            assert LegalHold.objects.filter(case=scene.case, released_by_id=user_pk).exists()
        case route if route.startswith("monitoring:"):
            monitoring.matrix_effect(scene.cast, probe, user_pk)
        case route if route.startswith("documents:"):
            documents.matrix_effect(scene.cast, probe, user_pk)
        case route if route in lifecycle.ROUTES:
            lifecycle.matrix_effect(scene.cast, probe, user_pk)
        case route if route in assessments.ROUTES:
            assessments.matrix_effect(scene.cast, probe, user_pk)
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
        case "search:search":
            # Found wherever the actor sees K (emergency access included), by a
            # note of a readable category or, with identity, by the name.
            assert (k.reference in body) is a.sees
            shown = body.replace("<mark>", "").replace("</mark>", "")
            assert ("Sentinelia" in shown) is (a.sees and "identity" in a.read)
        case "cases:case" if probe.variant == "K":
            assert [c for c in CATEGORIES if (sentinel(c) in body) != (c in a.read)] == []
            assert all((m in body) is ("identity" in a.read) for m in IDENTITY_MARKERS)
        case "cases:note_edit" if probe.method == "GET":
            assert probe.category is not None
            assert sentinel(probe.category) in body
        case "cases:note_create" if probe.htmx:
            assert NOTE_TEXT in body
        case "cases:note_reply" if probe.method == "GET":
            assert probe.category is not None
            assert sentinel(probe.category) in body
        case "cases:note_history":
            assert probe.category is not None
            assert EARLIER in body and sentinel(probe.category) in body
        case "audit:case_access_log":
            assert k.reference in body
        case "plans:case_checklist" if probe.variant == "K":
            assert [c for c in CATEGORIES if (sentinel(c) in body) != (c in a.read)] == []
        case "plans:checklist_owners" if probe.variant == "K" and probe.method == "GET":
            # The police's items the coordinator reads, each titled with its sentinel.
            assert [c for c in CATEGORIES if (sentinel(c) in body) != (c in a.read)] == []
            assert "Police Testdam" in body
        case "plans:release_board":
            # K is listed where the actor reaches it and reads its release date.
            listed = a.reaches and "justice" in a.read
            assert (k.reference in body) is listed
            assert ("Sentinelia" in body) is (listed and "identity" in a.read)
        case "plans:my_tasks":
            # K's items are owed by probation: its people see all they may read, others none.
            shown = {c for c in CATEGORIES if sentinel(c) in body}
            assert shown in (set(), set(a.read) if a.reaches else set())
        case "cases:retention_section" if probe.variant == "K":
            assert 'id="retention"' in body
            # Holds' reasons are the coordinator's (the scene has none on K).
            assert ("Place a legal hold" in body) is a.access_log
        case "cases:transfer_section" if probe.variant == "K":
            assert ("Propose a transfer" in body) is a.access_log
        case "cases:transfer_decide":
            assert "Moves to Elsewhere next month." in body
        case route if route.startswith("monitoring:"):
            monitoring.matrix_shows(scene.cast, probe, a.read, body)
        case route if route.startswith("documents:"):
            documents.matrix_shows(scene.cast, probe, a.read, body)
        case route if route in lifecycle.ROUTES:
            lifecycle.matrix_shows(scene.cast, probe, a, body)
        case route if route in over_time.ROUTES:
            over_time.matrix_shows(scene.cast, probe, a.read, body)
        case route if route in assessments.ROUTES:
            assessments.matrix_shows(scene.cast, probe, a.read, body)


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
    want = home_expected(user, expected(probe, a, other), probe)
    url, data = request_of(scene, probe)
    if probe.route == "cases:break_glass" and probe.method == "POST":
        data = {**data, "code": current_code(user)}  # each cell rolls its use back
    client = verified_client(user)
    before = snapshot()

    response = _send(client, probe, url, data)

    assert response.status_code == want, f"{actor} {probe}: {response.status_code} != {want}"
    body = body_of(response)
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
    assert logged.count() == lifecycle.WRITE_COUNTS.get(probe.route, 1)
    if probe.route == "cases:break_glass":
        _after_break_glass(scene, client, a)


def home_expected(user: Any, want: int, probe: Probe) -> int:
    """The data-protection officer lands on the audit log and the administrator
    on administration: "/" redirects them (stated here again, not imported)."""
    if probe.route == "home:home" and want == 200 and user.role in ("auditor", "administrator"):
        return 302
    return want


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
    # 400: ids that are not numbers (the comparison of two assessments).
    assert set(outcomes) == {200, 302, 400, 403, 404, 405, 409, 422, 428}
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
        reverse("partnerships:retention", args=[cast.partnership.pk]),
        reverse("partnerships:closure", args=[cast.partnership.pk]),
        reverse("partnerships:access_changes", args=[cast.partnership.pk]),
        reverse("partnerships:access_changes", args=[cast.other_partnership.pk]),
        reverse("partnerships:access_change", args=[access_change_id_of(cast.partnership)]),
        reverse("partnerships:checklist_template", args=[cast.partnership.pk]),
        reverse("partnerships:checklist_template_item_add", args=[cast.partnership.pk]),
        reverse("partnerships:checklist_template", args=[cast.other_partnership.pk]),
        reverse("partnerships:settings", args=[cast.partnership.pk]),
        reverse("partnerships:members", args=[cast.partnership.pk]),
        reverse("partnerships:members", args=[cast.other_partnership.pk]),
        *[
            reverse(r.name)
            for r in routes()
            if r.name.startswith("administration:") and "<" not in r.pattern
        ],
        reverse("administration:partnership", args=[cast.partnership.pk]),
        reverse("administration:coordinator_appoint", args=[cast.partnership.pk]),
        reverse("administration:organisation", args=[cast.orgs["elsewhere"].pk]),
        reverse("administration:instrument_version", args=[instrument_version_id_of()]),
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
    # The police edit their own note (only the author's organisation may).
    note = CaseNote.objects.get(case=k, created_by=scene.user("police_on_team"))
    edited = police.post(
        reverse("cases:note_edit", args=[k.pk, note.pk]),
        {"kind": "fact", "text": sentinel("intelligence") + " (checked)", "version": "1"},
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
        reverse("cases:break_glass", args=[k.pk]),
        {"justification": JUSTIFICATION, "code": current_code(scene.user("police_off_team"))},
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
        elif "<int:assessment_id>" in route.pattern:
            # Each of K's assessments (risk and needs, their sentinels in the evidence).
            found += [
                (route.name, url_for(scene, route, assessment_id=pk))
                for pk in assessment_support.planted_assessment_ids(scene.case)
            ]
        elif route.name == "v1_search":
            # The sentinels' common word: every readable note of K, and the name.
            found.append((route.name, url_for(scene, route) + "?q=sentinel"))
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
        body = body_of(response)
        found = leaks(body, a.read, reference=hidden)
        if name == "v1_search":
            assert (scene.case.reference in body) is a.sees, actor
        assert found == [], f"{actor} GET {url} ({name}) shows {found}"
        _assert_logged_if_shown(scene, response, body)
        scanned += 1
    assert scanned >= 5 + len(CATEGORIES)  # list, case, team, notes, me, each note


# --- The API's status matrix ----------------------------------------------------------------

# Every operation of the API, by route: its methods, and what its URL names.
# "case": the case K itself; "record": one record of K; "other": not about K
# (the caller's own items, the partnership's template, a transfer of another
# case), whose per-actor answers are pinned in the module named.
SSO_ADMIN_TESTS = "tests/accounts/test_sso_admin.py"
API_TABLE: dict[str, tuple[frozenset[str], str]] = {
    "v1_cases": (frozenset({"GET"}), "other: tests/api/test_matrix.py"),
    "v1_case": (frozenset({"GET"}), "case"),
    "v1_case_team": (frozenset({"GET", "POST"}), "case"),
    "v1_case_team_member": (frozenset({"DELETE"}), "record"),
    "v1_case_notes": (frozenset({"GET", "POST"}), "case"),
    "v1_case_note": (frozenset({"GET", "PATCH", "PUT"}), "record"),
    "v1_case_note_versions": (frozenset({"GET"}), "record"),
    "v1_me": (frozenset({"GET"}), "other: tests/api/test_matrix.py"),
    "v1_case_checklist": (frozenset({"GET", "POST"}), "case"),
    "v1_checklist_owners": (frozenset({"GET", "POST"}), "case"),
    "v1_checklist_item": (frozenset({"PATCH"}), "record"),
    "v1_release_board": (frozenset({"GET"}), "other: tests/api/test_plans.py"),
    "v1_my_tasks": (frozenset({"GET"}), "other: tests/api/test_casework_api.py"),
    "v1_checklist_template": (
        frozenset({"GET"}),
        "other: tests/api/test_checklist_templates_api.py",
    ),
    "v1_checklist_template_items": (
        frozenset({"POST"}),
        "other: tests/api/test_checklist_templates_api.py",
    ),
    "v1_checklist_template_item": (
        frozenset({"DELETE", "PATCH"}),
        "other: tests/api/test_checklist_templates_api.py",
    ),
    "v1_case_transfers": (frozenset({"POST"}), "case"),
    "v1_transfers": (frozenset({"GET"}), "other: tests/api/test_transfers.py"),
    "v1_transfer": (frozenset({"GET"}), "other: tests/api/test_transfers.py"),
    "v1_transfer_accept": (frozenset({"POST"}), "other: tests/api/test_transfers.py"),
    "v1_transfer_decline": (frozenset({"POST"}), "other: tests/api/test_transfers.py"),
    "v1_transfer_withdraw": (frozenset({"POST"}), "other: tests/api/test_transfers.py"),
    "v1_referrals": (frozenset({"POST"}), "other: tests/api/test_lifecycle_api.py"),
    "v1_case_transitions": (frozenset({"GET", "POST"}), "case"),
    "v1_case_key_dates": (frozenset({"GET", "PUT"}), "case"),
    "v1_case_key_date": (frozenset({"GET", "PUT"}), "record"),
    "v1_triage_queue": (frozenset({"GET"}), "other: tests/api/test_triage_api.py"),
    "v1_case_triage": (frozenset({"GET", "POST"}), "case"),
    "v1_case_contacts": (frozenset({"GET", "POST"}), "case"),
    "v1_contact": (frozenset({"GET", "PATCH"}), "record"),
    "v1_case_licence_conditions": (frozenset({"GET", "POST"}), "case"),
    "v1_licence_condition_breaches": (frozenset({"POST"}), "record"),
    "v1_case_signals": (frozenset({"GET", "POST"}), "case"),
    "v1_signal_acknowledge": (frozenset({"POST"}), "record"),
    "v1_notifications": (frozenset({"GET"}), "other: tests/api/test_notifications_api.py"),
    "v1_notifications_count": (frozenset({"GET"}), "other: tests/api/test_notifications_api.py"),
    "v1_notifications_read_all": (
        frozenset({"POST"}),
        "other: tests/api/test_notifications_api.py",
    ),
    "v1_notification_read": (frozenset({"POST"}), "other: tests/api/test_notifications_api.py"),
    "v1_case_timeline": (frozenset({"GET"}), "case"),
    "v1_case_legal_holds": (frozenset({"GET", "POST"}), "case"),
    "v1_case_legal_hold_release": (frozenset({"POST"}), "record"),
    "v1_case_documents": (frozenset({"GET", "POST"}), "case"),
    "v1_document": (frozenset({"DELETE"}), "record"),
    "v1_document_download": (frozenset({"GET"}), "record"),
    "v1_document_file": (frozenset({"PUT"}), "record"),
    "v1_document_versions": (frozenset({"GET"}), "record"),
    "v1_document_version_download": (frozenset({"GET"}), "record"),
    "v1_search": (frozenset({"GET"}), "other: tests/search/test_search.py"),
    "v1_agreement": (frozenset({"GET"}), "other: tests/partnerships/test_access_changes.py"),
    "v1_agreement_changes": (
        frozenset({"POST"}),
        "other: tests/partnerships/test_access_changes.py",
    ),
    "v1_access_changes": (frozenset({"GET"}), "other: tests/partnerships/test_access_changes.py"),
    "v1_access_change": (frozenset({"GET"}), "other: tests/partnerships/test_access_changes.py"),
    "v1_access_change_approve": (
        frozenset({"POST"}),
        "other: tests/partnerships/test_access_changes.py",
    ),
    "v1_access_change_reject": (
        frozenset({"POST"}),
        "other: tests/partnerships/test_access_changes.py",
    ),
    "v1_access_change_withdraw": (
        frozenset({"POST"}),
        "other: tests/partnerships/test_access_changes.py",
    ),
    "v1_organisation_accounts": (frozenset({"GET", "POST"}), "other: tests/accounts/test_staff.py"),
    "v1_account": (frozenset({"GET", "PATCH"}), "other: tests/accounts/test_staff.py"),
    "v1_account_resend": (frozenset({"POST"}), "other: tests/accounts/test_staff.py"),
    "v1_account_deactivate": (frozenset({"POST"}), "other: tests/accounts/test_staff.py"),
    "v1_account_reactivate": (frozenset({"POST"}), "other: tests/accounts/test_staff.py"),
    "v1_user_sessions_end": (frozenset({"POST"}), "other: tests/accounts/test_credentials.py"),
    # Instruments are not case data: who reads them is pinned in the module named.
    "v1_instruments": (frozenset({"GET"}), "other: tests/assessments/test_api.py"),
    "v1_instrument_version": (frozenset({"GET"}), "other: tests/assessments/test_api.py"),
    "v1_instrument_version_export": (frozenset({"GET"}), "other: tests/assessments/test_api.py"),
    "v1_case_assessments": (frozenset({"GET", "POST"}), "case"),
    "v1_assessment": (frozenset({"DELETE", "GET", "PATCH"}), "record"),
    "v1_assessment_complete": (frozenset({"POST"}), "record"),
    "v1_assessment_countersign": (frozenset({"POST"}), "record"),
    "v1_assessment_correct": (frozenset({"POST"}), "record"),
    "v1_assessment_compare": (frozenset({"GET"}), "record"),
    # The schema and its documentation: no case data, for signed-in readers.
    "schema": (frozenset({"GET"}), "other: tests/api/test_schema.py"),
    "api_docs": (frozenset({"GET"}), "other: tests/api/test_schema.py"),
    "v1_identity_providers": (
        frozenset({"GET", "POST"}),
        "other: tests/accounts/test_sso_admin.py",
    ),
    "v1_identity_provider": (
        frozenset({"GET", "PATCH"}),
        "other: tests/accounts/test_sso_admin.py",
    ),
    "v1_imports_preview": (frozenset({"POST"}), "other: tests/administration/test_import.py"),
    "v1_imports": (frozenset({"POST"}), "other: tests/administration/test_import.py"),
    **{
        name: (methods, "other: tests/administration/test_policy.py")
        for name, methods in (
            ("v1_organisations", frozenset({"GET", "POST"})),
            ("v1_organisation", frozenset({"GET", "PATCH"})),
            ("v1_partnerships", frozenset({"GET", "POST"})),
            ("v1_partnership", frozenset({"GET", "PATCH"})),
            ("v1_partnership_coordinators", frozenset({"POST"})),
            ("v1_partnership_coordinator_accounts", frozenset({"POST"})),
            ("v1_partnership_memberships", frozenset({"GET", "POST"})),
            ("v1_membership_end", frozenset({"POST"})),
        )
    },
}
API_CELLS = [
    (name, method)
    for name, (methods, about) in API_TABLE.items()
    if about in ("case", "record")
    for method in sorted(methods)
]


def _api_route(name: str) -> RouteInfo:
    return next(r for r in routes() if r.policy == RoutePolicy.API and r.name == name)


def _api_client(user: User) -> Client:
    _, raw = api_token_create(actor=user, name="matrix")
    return Client(headers={"Authorization": f"Bearer {raw}"})


def test_the_api_table_describes_every_operation(scene: Scene) -> None:
    """A new API operation, or a new method on one, cannot escape the status matrix."""
    client = _api_client(scene.user("coordinator"))
    found = {
        r.name: allowed_methods(client, url_for(scene, r))
        for r in routes()
        if r.policy == RoutePolicy.API
    }
    assert found == {name: methods for name, (methods, _) in API_TABLE.items()}, (
        "describe these operations in API_TABLE"
    )


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize(("route", "method"), API_CELLS, ids=lambda v: str(v))
def test_api_cell(scene: Scene, route: str, method: str, actor: str) -> None:
    """About K or a record of K: who does not see K gets 404 for every method and
    changes nothing; who sees K never gets 404 on K's own lists and pages."""
    a = scene.access(actor, scene.case)
    client = _api_client(scene.user(actor))
    url = url_for(scene, _api_route(route))
    before = snapshot()
    response = client.generic(method, url, "{}", content_type="application/json")
    status = response.status_code
    if not a.sees:
        assert status == 404, (actor, method, url, status)
    elif method == "GET" and API_TABLE[route][1] == "case":
        assert status in (200, 403), (actor, method, url, status)
    else:
        assert status < 500, (actor, method, url, status)
    if method == "GET" or status >= 400:
        after = snapshot()
        after["logged_writes"] = before["logged_writes"] = 0
        assert after == before, (actor, method, url, status)
