"""LG-01 and LG-04 over every route that shows case data.

LG-01: each route whose policy is CASE, PARTNERSHIP, AUDITOR or API and that
answers GET is either in ``READS`` (it shows case data: a GET by an actor who
may read it writes, in that request, at least one complete audit event, and
one naming the case when the page is about one case) or in ``EXEMPT`` (it
holds no case data, with the reason; checked: nothing of the case in its
answer). The list comes from the resolver and each route's ``Allow`` header,
so a new case-reading route fails here until it is classified.

LG-04: if the audit event cannot be written, each of those reads, and each
write those policies allow (``WRITES``, also checked against the resolver),
answers 5xx, shows no case data and leaves the database as it was.

The requests run inside the test's transaction: the request's transaction
(AuditedTransactionMiddleware) is then a savepoint, and a failure rolls that
savepoint back.
``test_the_rollback_check_sees_a_request_that_is_not_rolled_back`` proves
that this set-up does observe a write that is not undone (with
that middleware off, the same fault leaves the event behind), so that the
"nothing committed" assertions below can fail. The requests with real
transactions are in ``tests/audit/test_fail_closed.py``.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connections
from django.test import Client
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from prepare.access.models import BreakGlassAccess, CaseGrant
from prepare.access.routes import RoutePolicy
from prepare.accounts.models import ApiToken, IdentityProvider, Organisation, User
from prepare.accounts.services import api_token_create
from prepare.accounts.sso.sealing import seal
from prepare.assessments.assessing import assessment_start
from prepare.assessments.models import Instrument, InstrumentVersion
from prepare.audit import chain
from prepare.audit.models import CaseAccessIndex, ChainHead, Event
from prepare.cases.models import (
    Case,
    CaseNote,
    CaseStatus,
    CaseTeamMember,
    ErasureRequest,
    LegalHold,
    Transfer,
    TransferGrace,
)
from prepare.notifications.models import Notification
from prepare.partnerships.models import (
    AccessChangeRequest,
    CategoryGrant,
    Membership,
    Partnership,
    SharingAgreement,
)
from prepare.partnerships.services import agreement_digest
from prepare.plans.models import ChecklistItem, ChecklistTemplateItem
from prepare.plans.services import default_template
from tests.assessments import matrix as assessments
from tests.assessments import over_time_matrix as over_time
from tests.assessments import support as assessment_support
from tests.cases import lifecycle_matrix as lifecycle
from tests.cast import current_code, sentinel, verified_client
from tests.documents import support as documents
from tests.monitoring import support as monitoring
from tests.partnerships.html import form_values
from tests.plans.support import plant_checklist, set_release
from tests.routes_table import (
    CATEGORIES,
    RouteInfo,
    Scene,
    allowed_methods,
    built_once,
    leaks,
    routes,
    url_for,
)


@pytest.fixture(scope="module")
def built(django_db_setup: None, django_db_blocker: Any) -> Iterator[Scene]:
    with built_once(django_db_blocker) as scene:
        yield scene


@pytest.fixture
def scene(built: Scene, db: None) -> Scene:
    return built


AUDITED_POLICIES = {
    RoutePolicy.CASE,
    RoutePolicy.PARTNERSHIP,
    RoutePolicy.AUDITOR,
    RoutePolicy.ADMINISTRATION,
    RoutePolicy.API,
}
ROUTES = {r.name: r for r in routes() if r.policy in AUDITED_POLICIES}
REQUIRED_FIELDS = (
    "actor_id",
    "actor_username",
    "organisation_id",
    "role",
    "action",
    "occurred_at",
    "request_id",
    "source_ip",
    "outcome",
)

# --- The classification ------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """One request to a route, as one actor."""

    actor: str
    method: str = "GET"
    query: str = ""
    # The payload, or a function of the scene that builds it.
    data: dict[str, Any] | Callable[[Scene], dict[str, Any]] | None = None
    htmx: bool = False
    api: bool = False  # with a personal token, as an integration would
    case_scoped: bool = True  # about the cast's case K: its event must name K
    params: tuple[tuple[str, int | str], ...] = ()  # overrides for url_for (notes: a category)
    # What a read needs in the scene before its URL can name it (a write's
    # ``data`` function plants what it needs).
    plant: Callable[[Scene], None] | None = None
    if_match: bool = False  # an API change that names the version it read
    version: int = 1  # the version If-Match names


@dataclass(frozen=True)
class Upload:
    """A file in a payload, sent multipart; a fresh one for every request."""

    name: str
    content: bytes


def _assessments_planted(scene: Scene) -> None:
    over_time.plant(scene.cast)


# Routes that show case data, and who may read each.
READS: dict[str, list[Request]] = {
    # Lists of what is due (K has no release, review or task of the case
    # manager's in the scene: the events name no case, checked in tests/home).
    "home:home": [Request("case_manager", case_scoped=False)],
    "cases:caseload": [Request("case_manager"), Request("police_on_team", htmx=True)],
    "cases:case": [
        Request("case_manager"),
        Request("ngo_mentor", htmx=True),
        Request("police_glass"),  # through emergency access
    ],
    # The scene's notes are the municipality's (its coordinator wrote them): only
    # its people edit them; the others reply, and read earlier versions.
    "cases:note_edit": [
        Request("coordinator"),
        Request("coordinator", params=(("note_pk", "risk"),)),
    ],
    "cases:note_reply": [
        Request("case_manager"),
        Request("police_on_team", params=(("note_pk", "risk"),)),
    ],
    "cases:note_history": [
        Request("case_manager"),
        Request("police_on_team", htmx=True, params=(("note_pk", "risk"),)),
    ],
    "v1_case_note_versions": [Request("case_manager", api=True)],
    "cases:team": [Request("coordinator"), Request("case_manager")],
    "audit:case_access_log": [Request("coordinator")],
    # Release planning. K has no release date in the scene: the board and the
    # tasks list no case there (their events are checked in tests/plans).
    "plans:case_checklist": [Request("case_manager"), Request("ngo_mentor", htmx=True)],
    "plans:release_board": [
        Request("coordinator", case_scoped=False),
        Request("case_manager", query="days=30", htmx=True, case_scoped=False),
    ],
    "plans:my_tasks": [Request("case_manager", case_scoped=False)],
    "v1_case_checklist": [Request("case_manager", api=True)],
    # The owners of K's items who cannot see K (none planted in the scene).
    "plans:checklist_owners": [Request("coordinator")],
    "v1_checklist_owners": [Request("coordinator", api=True)],
    "v1_release_board": [Request("coordinator", api=True, case_scoped=False)],
    "cases:retention_section": [Request("coordinator"), Request("ngo_mentor", htmx=True)],
    # The DPO's legal holds: references of held cases (none held in the scene).
    "cases:legal_holds": [Request("auditor", case_scoped=False)],
    # The DPO's erasure requests: references of the cases asked for (none here).
    "cases:erasure_requests": [Request("auditor", case_scoped=False)],
    # The DPO's emergency accesses to review: the scene's two on K, by reference.
    "cases:break_glass_reviews": [Request("auditor")],
    # The log shows who touched which case (ids, never content).
    "audit:search": [
        Request("auditor", case_scoped=False),
        Request("auditor", query="case={case}", case_scoped=False),
    ],
    "v1_cases": [Request("case_manager", api=True), Request("observer")],
    "v1_case": [Request("case_manager", api=True)],
    "v1_case_team": [Request("case_manager", api=True)],
    "v1_case_notes": [Request("police_on_team", api=True), Request("case_manager")],
    "v1_case_note": [Request("case_manager", api=True)],
    # Transfers: the section of K's page; the scene's open transfer of K3 (not K).
    "cases:transfer_section": [Request("coordinator"), Request("case_manager", htmx=True)],
    "cases:transfer_inbox": [
        Request("outsider", case_scoped=False),
        Request("coordinator", case_scoped=False),
    ],
    "cases:transfer_decide": [Request("outsider", case_scoped=False)],
    "v1_transfers": [Request("outsider", api=True, case_scoped=False)],
    "v1_transfer": [
        Request("outsider", api=True, case_scoped=False),
        Request("coordinator", api=True, case_scoped=False),
    ],
    # Monitoring: the case's section; the user's alerts (none in the scene).
    "monitoring:case_monitoring": [Request("case_manager"), Request("police_on_team", htmx=True)],
    "monitoring:alerts": [Request("coordinator", case_scoped=False)],
    # K's first contact (identity) and its earlier versions.
    "monitoring:contact_correct": [
        Request("case_manager", plant=lambda scene: monitoring.plant_monitoring(scene.cast))
    ],
    "v1_contact": [
        Request(
            "case_manager", api=True, plant=lambda scene: monitoring.plant_monitoring(scene.cast)
        )
    ],
    "v1_case_contacts": [Request("case_manager", api=True)],
    "v1_case_licence_conditions": [Request("police_on_team", api=True)],
    "v1_case_signals": [Request("case_manager", api=True)],
    # The lifecycle: K's status and history, its key dates (a sentence start is
    # planted in the scene), the triage queue (nothing of K: it is active) and
    # the triage page of K.
    "cases:lifecycle_section": [Request("case_manager"), Request("ngo_mentor", htmx=True)],
    "cases:timeline": [Request("case_manager"), Request("ngo_mentor")],
    "cases:key_dates": [Request("case_manager"), Request("police_on_team", htmx=True)],
    "cases:triage_queue": [Request("coordinator", case_scoped=False)],
    "cases:triage_decide": [Request("coordinator")],
    "v1_case_transitions": [Request("case_manager", api=True), Request("observer")],
    "v1_case_key_dates": [Request("police_on_team", api=True)],
    "v1_case_key_date": [Request("case_manager", api=True)],
    # Triage through the API: the queue (nothing of K: it is active) and K's
    # triage view; the case manager's notifications (the scene's reminder names K).
    "v1_triage_queue": [Request("coordinator", api=True, case_scoped=False)],
    "v1_case_triage": [Request("coordinator", api=True)],
    "v1_notifications": [Request("case_manager", api=True)],
    # Casework through the API: the case manager's tasks (K owes nothing in the
    # scene), K's timeline, K's legal holds as the coordinator and as the NGO.
    "v1_my_tasks": [Request("case_manager", api=True, case_scoped=False)],
    "v1_case_timeline": [Request("case_manager", api=True), Request("ngo_mentor", api=True)],
    "v1_case_legal_holds": [Request("coordinator", api=True), Request("ngo_mentor", api=True)],
    # Documents: K's list, its justice document, the PDF summary (an export).
    "documents:case_documents": [Request("case_manager"), Request("ngo_mentor", htmx=True)],
    "documents:download": [Request("case_manager")],
    "documents:case_summary": [Request("case_manager"), Request("ngo_mentor")],
    "v1_case_documents": [Request("case_manager", api=True)],
    "v1_document_download": [Request("police_on_team", api=True)],
    # Their earlier files (each K document was replaced once in the cast).
    "documents:version_download": [Request("case_manager")],
    "v1_document_versions": [Request("case_manager", api=True)],
    "v1_document_version_download": [Request("police_on_team", api=True)],
    # Search: the sentinels' common word finds K (one search event naming it).
    "search:search": [
        Request("case_manager", query="q=sentinel"),
        Request("ngo_mentor", query="q=sentinel", htmx=True),
    ],
    "v1_search": [Request("police_on_team", query="q=sentinel", api=True)],
    # Assessments over time: two risk and two social assessments planted on K.
    # The choice of two (a list), two compared (the list and each read), the
    # risk instrument's trajectory, the PDF of K's first risk assessment (an export).
    "assessments:compare": [
        Request("case_manager", plant=_assessments_planted),
        Request(
            "ngo_mentor",
            query="a={social_a}&b={social_b}",
            plant=_assessments_planted,
        ),
    ],
    "assessments:trajectory": [Request("police_on_team", plant=_assessments_planted)],
    "assessments:pdf": [Request("case_manager", plant=_assessments_planted)],
    # Assessments: K's list; the start page (it names the case); K's completed
    # risk assessment and its risk draft (the draft page to probation, read-only
    # to the police), as ``tests.assessments.matrix`` plants them.
    "assessments:list": [Request("case_manager"), Request("ngo_mentor")],
    "assessments:start": [Request("case_manager")],
    "assessments:assessment": [Request("case_manager"), Request("police_on_team")],
    "assessments:edit": [Request("case_manager"), Request("police_on_team")],
    # Assessments: K's list; its latest (probation's needs assessment, which the
    # NGO reads too) and its comparison with the police's risk assessment.
    "v1_case_assessments": [
        Request("case_manager", api=True),
        Request("police_on_team", api=True),
    ],
    "v1_assessment": [Request("case_manager", api=True), Request("ngo_mentor", api=True)],
    "v1_assessment_compare": [Request("case_manager", api=True)],
}


# Routes that answer GET without any case data. Reviewed: adding one needs a reason.
EXEMPT: dict[str, str] = {
    "cases:break_glass": "the emergency-access request form, identical for every id",
    "partnerships:list": "the partnerships the organisation belongs to: names and member counts",
    "partnerships:detail": "members and the sharing agreement of a partnership, no case",
    "partnerships:agreement_create": "a form for a new agreement version",
    "partnerships:agreement_edit": "the agreement grid: which organisation reads or writes what",
    "partnerships:retention": "the partnership's retention rule: years, then erase or anonymise",
    "partnerships:closure": "whether a single coordinator may approve their own closure",
    # Four eyes on what widens access: organisations, categories and dates, never a case.
    "partnerships:access_changes": "the changes of access waiting for approval, no case",
    "partnerships:access_change": "one change of the agreement: who gains which category",
    "v1_agreement": "the agreement grid: which organisation reads or writes what",
    "v1_access_changes": "the changes of access waiting for approval, no case",
    "v1_access_change": "one change of the agreement: who gains which category",
    "v1_me": "the caller's own account and grants",
    "schema": "the OpenAPI description of the API, no data",
    "api_docs": "the page that shows the OpenAPI description",
    # Single sign-on settings (the administrator's): organisations and their
    # identity providers, never a person or a case.
    "accounts:identity_providers": "organisations and their identity providers",
    "accounts:identity_provider_create": "the form for a new identity provider",
    "accounts:identity_provider_edit": "one identity provider's settings, without its secret",
    "v1_identity_providers": "organisations' identity providers, without their secrets",
    "v1_identity_provider": "one identity provider's settings, without its secret",
    "v1_notifications_count": "the caller's number of unread notifications",
    # The partnership's release-checklist template: what new checklists start
    # from (titles, categories, owners, due days), never a case.
    "partnerships:checklist_template": "the template's items, owners and due days",
    "partnerships:checklist_template_item_add": "the empty form for a new template item",
    "partnerships:checklist_template_item": "the form of one template item",
    "partnerships:checklist_template_item_remove": "the confirmation to remove a template item",
    "v1_checklist_template": "the template's items, owners and due days",
    "cases:referral_create": "the empty referral form: the user's partnerships and members",
    "v1_organisation_accounts": "an organisation's accounts: names, roles, states, no case",
    "v1_account": "one account: name, role, state, no case",
    # A partnership's settings and members, and the administration: organisations,
    # partnerships, accounts and dates, never a case.
    "partnerships:settings": "links to the partnership's settings, with their values",
    "partnerships:members": "the member organisations and their dates",
    "partnerships:membership_end": "the form to end one membership",
    "v1_partnership_memberships": "the member organisations and their dates",
    "administration:home": "what the installation still lacks: partnership names",
    "administration:organisations": "organisations with counts of accounts and partnerships",
    "administration:organisation_create": "the empty organisation form",
    "administration:organisation": "one organisation's form",
    "administration:partnerships": "partnerships with member counts and what they lack",
    "administration:partnership_create": "the empty partnership form",
    "administration:partnership": "a partnership's coordinators and members",
    "administration:partnership_edit": "a partnership's name and time zone",
    "administration:coordinator_appoint": "accounts of the coordinating organisation",
    "administration:import": "the import form; its preview: organisations and accounts to create",
    # Instruments are the installation's, not a case's: of assessments, only
    # their number per version. Their files (downloads) are audited as exports.
    "administration:instruments": "instruments, their versions and how many assessments use each",
    "administration:instrument_load": "the form to load instrument files",
    "administration:instrument_version": "one instrument version's texts, read only",
    "administration:instrument_yaml": "one instrument version as a YAML file",
    "administration:instrument_xlsx": "one instrument version as a workbook",
    "administration:instrument_fhir": "one instrument version as a FHIR Questionnaire",
    "v1_organisations": "every organisation",
    "v1_organisation": "one organisation",
    "v1_partnerships": "every partnership with what it lacks",
    "v1_partnership": "one partnership with its coordinators",
    # Instruments are not case data: the items, scales and texts of a form.
    "v1_instruments": "the loaded instruments: identifiers, titles and versions, no case",
    "v1_instrument_version": "an instrument's items, scales and texts, no case",
    "v1_instrument_version_export": "an instrument as a file: items, scales, texts, no case",
}

# Every write these policies allow, so that each one is shown to fail closed too.


def _never_enrolled(scene: Scene) -> dict[str, Any]:
    """The case manager's account as if invited and never set up."""
    User.objects.filter(pk=scene.cast.case_manager.pk).update(is_active=False, password="!x")
    return {}


def _deactivated(scene: Scene) -> dict[str, Any]:
    User.objects.filter(pk=scene.cast.case_manager.pk).update(is_active=False)
    return {}


def _municipality(scene: Scene) -> int:
    return scene.cast.orgs["municipality"].pk


def _new_agreement(scene: Scene) -> dict[str, Any]:
    start = timezone.localdate() + datetime.timedelta(days=30)
    return {
        "title": "Covenant, second version",
        "legal_basis": "covenant",
        "legal_reference": "Art. 1",
        "valid_from": start.isoformat(),
        "copy_grid": "on",
    }


def _grid_change(scene: Scene) -> dict[str, Any]:
    """The agreement grid as the edit page submits it, with one cell changed."""
    url = url_for(scene, ROUTES["partnerships:agreement_edit"])
    page = verified_client(scene.users["coordinator"]).get(url)
    assert page.status_code == 200
    values = form_values(page.content.decode(), action=url)
    values[f"cell-{scene.cast.orgs['ngo'].pk}-health"] = "read"
    values["code"] = current_code(scene.users["coordinator"])  # it widens access
    return values


def _narrowing_api(scene: Scene) -> dict[str, Any]:
    """An edit of the agreement through the API that only narrows (applies at once)."""
    return {
        "cells": [
            {
                "organisation": scene.cast.orgs["police"].pk,
                "category": "intelligence",
                "access": "read",
            }
        ],
        "digest": agreement_digest(scene.cast.agreement),
    }


def _hold_to_release(scene: Scene) -> dict[str, Any]:
    hold = LegalHold.objects.create(
        case=scene.case,
        reason="Court order",
        until=datetime.date(2040, 1, 1),
        placed_by=scene.cast.coordinator,
    )
    return {"hold": hold.pk, "confirm": "on"}


def _hold_to_release_api(scene: Scene) -> dict[str, Any]:
    """Plants the hold that ``url_for`` then names (K's latest); nothing to send."""
    _hold_to_release(scene)
    return {}


def _closed_for_erasure(
    actor: str, prefix_fields: dict[str, str]
) -> Callable[[Scene], dict[str, Any]]:
    """K closed, and a request for its erasure with ``actor``'s current code."""

    def build(scene: Scene) -> dict[str, Any]:
        k = scene.case
        Case.objects.filter(pk=k.pk).update(status=CaseStatus.CLOSED, closed_on=k.created_at)
        CaseGrant.objects.filter(case_id=k.pk).update(status=CaseStatus.CLOSED)
        return {
            "op": "request",
            "erasure-reason": "Request for erasure",
            "erasure-code": current_code(scene.users[actor]),
            **prefix_fields,
        }

    return build


def _release_set(scene: Scene, payload: dict[str, Any] | None = None) -> dict[str, Any]:
    set_release(scene.case, scene.cast.coordinator)
    return dict(payload or {})


def _checklist_planted(payload: dict[str, Any]) -> Callable[[Scene], dict[str, Any]]:
    """K's checklist planted (its first item, identity, is what ``url_for`` names)."""

    def build(scene: Scene) -> dict[str, Any]:
        plant_checklist(scene.case, scene.cast.coordinator)
        return dict(payload)

    return build


def _police_owe(scene: Scene, *, api: bool = False) -> dict[str, Any]:
    """K's checklist owed by the police, who are on K's team through one officer
    only: the coordinator adds them to the team."""
    police = scene.cast.orgs["police"]
    plant_checklist(scene.case, scene.cast.coordinator, owner=police)
    if api:
        return {"organisations": [{"organisation": police.pk, "purpose": "Release planning"}]}
    return {"organisation": police.pk, f"purpose-{police.pk}": "Release planning"}


_TEMPLATE_ITEM = {"title": "Bus pass", "category": "social", "owner": "", "offset_days": "-3"}


def _provider_planted(scene: Scene) -> None:
    """An identity provider for the police (the latest one: ``url_for`` names it)."""
    IdentityProvider.objects.get_or_create(
        organisation=scene.cast.orgs["police"],
        defaults={
            "issuer": "https://login.police.example",
            "client_id": "prepare",
            "client_secret_sealed": seal("secret"),
            "allowed_domains": ["police.example"],
        },
    )


def _provider_config(scene: Scene) -> dict[str, Any]:
    """A new provider for the NGO."""
    return {
        "organisation": scene.cast.orgs["ngo"].pk,
        "issuer": "https://login.ngo.example",
        "client_id": "prepare",
        "client_secret": "secret",
        "user_claim": "email",
        "allowed_domains": "ngo.example",
    }


def _provider_config_api(scene: Scene) -> dict[str, Any]:
    return {**_provider_config(scene), "allowed_domains": ["ngo.example"]}


def _provider_edit(scene: Scene) -> dict[str, Any]:
    return {**_provider_config(scene), "client_secret": "", "requires_sso": "on", "version": 1}


def _template_planted(payload: dict[str, Any]) -> Callable[[Scene], dict[str, Any]]:
    """The partnership's default template created (``url_for`` names its first item)."""

    def build(scene: Scene) -> dict[str, Any]:
        default_template(scene.cast.partnership)
        return dict(payload)

    return build


WRITES: dict[str, Request] = {
    "plans:checklist_start": Request("case_manager", "POST", data=_release_set),
    "plans:checklist_item_add": Request(
        "case_manager",
        "POST",
        data=_checklist_planted({"title": "X", "category": "justice", "due_on": "2040-01-01"}),
    ),
    "plans:checklist_item": Request(
        "case_manager",
        "POST",
        data=_checklist_planted({"op": "complete", "note": "", "version": "1"}),
    ),
    "v1_case_checklist": Request(
        "case_manager", "POST", api=True, data=lambda s: _release_set(s, {"start": True})
    ),
    "v1_checklist_item": Request(
        "case_manager", "PATCH", api=True, data=_checklist_planted({"action": "complete"})
    ),
    "plans:checklist_owners": Request("coordinator", "POST", data=lambda s: _police_owe(s)),
    "v1_checklist_owners": Request(
        "coordinator", "POST", api=True, data=lambda s: _police_owe(s, api=True)
    ),
    "partnerships:checklist_settings": Request(
        "coordinator", "POST", case_scoped=False, data={"autostart": "on", "current": "off"}
    ),
    "cases:legal_hold_place": Request(
        "coordinator", "POST", data={"reason": "Court order", "until": "2040-01-01"}
    ),
    "cases:legal_hold_release": Request("coordinator", "POST", data=_hold_to_release),
    "cases:legal_holds": Request(
        "auditor",
        "POST",
        data={"reference": "TST-2026-0001", "reason": "Complaint", "until": "2040-01-01"},
    ),
    "cases:erasure": Request("coordinator", "POST", data=_closed_for_erasure("coordinator", {})),
    "cases:erasure_requests": Request(
        "auditor",
        "POST",
        data=_closed_for_erasure("auditor", {"erasure-reference": "TST-2026-0001"}),
    ),
    "partnerships:retention": Request(
        "coordinator",
        "POST",
        case_scoped=False,
        data={"retention_years": "7", "retention_action": "anonymise", "current": "5:erase"},
    ),
    "partnerships:closure": Request(
        "coordinator",
        "POST",
        case_scoped=False,
        data={"self_approval": "on", "current": "four-eyes"},
    ),
    "cases:note_create": Request(
        "case_manager", "POST", data={"category": "justice", "kind": "fact", "text": "WRITE-X"}
    ),
    "cases:note_reply": Request(
        "case_manager", "POST", data={"category": "justice", "kind": "fact", "text": "WRITE-X"}
    ),
    # The scene's notes are the coordinator's (the municipality's): only its
    # people edit them.
    "cases:note_edit": Request(
        "coordinator", "POST", data={"kind": "fact", "text": "WRITE-X", "version": "1"}
    ),
    "cases:team": Request(
        "coordinator",
        "POST",
        data=lambda scene: {"organisation": _municipality(scene), "purpose": "Housing"},
    ),
    "cases:team_remove": Request("coordinator", "POST"),
    "cases:break_glass": Request(
        "police_off_team",
        "POST",
        data=lambda scene: {
            "justification": "Imminent threat reported by the night shift",
            "code": current_code(scene.users["police_off_team"]),
        },
    ),
    # The DPO marks the scene's running emergency access to K reviewed.
    "cases:break_glass_reviews": Request(
        "auditor",
        "POST",
        data=lambda scene: {
            "access": str(BreakGlassAccess.objects.filter(case=scene.case).order_by("pk")[0].pk),
            "comment": "Checked against the pages opened: justified.",
        },
    ),
    "audit:verify": Request("auditor", "POST", case_scoped=False),
    "partnerships:agreement_create": Request(
        "coordinator", "POST", case_scoped=False, data=_new_agreement
    ),
    "partnerships:agreement_edit": Request(
        "coordinator", "POST", case_scoped=False, data=_grid_change
    ),
    # The scene's pending change of the agreement, decided by the DPO.
    "partnerships:access_change": Request(
        "auditor",
        "POST",
        case_scoped=False,
        data=lambda scene: {
            "action": "approve",
            "approve-code": current_code(scene.users["auditor"]),
        },
    ),
    "v1_agreement_changes": Request(
        "coordinator", "POST", case_scoped=False, api=True, data=_narrowing_api
    ),
    "v1_access_change_approve": Request(
        "auditor",
        "POST",
        case_scoped=False,
        api=True,
        data=lambda scene: {"code": current_code(scene.users["auditor"])},
    ),
    "v1_access_change_reject": Request(
        "auditor", "POST", case_scoped=False, api=True, data={"reason": "Not in the covenant."}
    ),
    "v1_access_change_withdraw": Request(
        "coordinator", "POST", case_scoped=False, api=True, data={}
    ),
    **{
        name: Request(actor, method, case_scoped=False, api=name.startswith("v1_"), data=data)
        for name, actor, method, data in (
            ("partnerships:checklist_template_item_add", "coordinator", "POST", _TEMPLATE_ITEM),
            (
                "partnerships:checklist_template_item",
                "coordinator",
                "POST",
                _template_planted({**_TEMPLATE_ITEM, "version": "1"}),
            ),
            (
                "partnerships:checklist_template_item_move",
                "coordinator",
                "POST",
                _template_planted({"direction": "down", "version": "1"}),
            ),
            (
                "partnerships:checklist_template_item_remove",
                "coordinator",
                "POST",
                _template_planted({"version": "1"}),
            ),
            (
                "v1_checklist_template_items",
                "coordinator",
                "POST",
                {"title": "Bus pass", "category": "social", "offset_days": -3},
            ),
            (
                "v1_checklist_template_item",
                "coordinator",
                "PATCH",
                _template_planted({"title": "Housing found"}),
            ),
            # Accounts: the administrator manages the case manager's account.
            (
                "v1_organisation_accounts",
                "administrator",
                "POST",
                {
                    "email": "new@probation.example",
                    "first_name": "N",
                    "last_name": "E",
                    "role": "practitioner",
                },
            ),
            ("v1_account", "administrator", "PATCH", {"role": "observer"}),
            ("v1_account_deactivate", "administrator", "POST", {}),
            ("v1_account_resend", "administrator", "POST", _never_enrolled),
            ("v1_account_reactivate", "administrator", "POST", _deactivated),
        )
    },
    "v1_case_notes": Request(
        "case_manager", "POST", api=True, data={"category": "justice", "kind": "fact", "text": "X"}
    ),
    "v1_case_note": Request("coordinator", "PATCH", api=True, data={"text": "WRITE-X"}),
    "v1_case_team": Request(
        "coordinator",
        "POST",
        api=True,
        data=lambda scene: {"organisation": _municipality(scene), "purpose": "Housing"},
    ),
    "v1_case_team_member": Request("coordinator", "DELETE", api=True),
    "cases:transfer_section": Request("coordinator", "POST", data=lambda s: _proposal(s)),
    "cases:transfer_decide": Request(
        "outsider", "POST", case_scoped=False, data={"decision": "accept", "reason": ""}
    ),
    "cases:transfer_withdraw": Request("coordinator", "POST", case_scoped=False),
    "v1_case_transfers": Request("coordinator", "POST", api=True, data=lambda s: _proposal(s)),
    "v1_transfer_accept": Request("outsider", "POST", api=True, case_scoped=False, data={}),
    "v1_transfer_decline": Request(
        "outsider", "POST", api=True, case_scoped=False, data={"reason": "No housing here"}
    ),
    "v1_transfer_withdraw": Request("coordinator", "POST", api=True, case_scoped=False),
    **{
        name: Request(
            actor,
            method,
            api=name.startswith("v1_"),
            data=lambda s, name=name: monitoring.coverage_payload(s.cast, name),
        )
        for name, actor, method in (
            ("monitoring:contact_create", "case_manager", "POST"),
            ("monitoring:contact_correct", "case_manager", "POST"),
            ("monitoring:condition_create", "case_manager", "POST"),
            ("monitoring:condition_end", "case_manager", "POST"),
            ("monitoring:breach_create", "case_manager", "POST"),
            ("monitoring:signal_create", "case_manager", "POST"),
            ("monitoring:signal_acknowledge", "police_on_team", "POST"),  # alerted
            ("monitoring:signal_close", "case_manager", "POST"),
            ("v1_case_contacts", "case_manager", "POST"),
            ("v1_contact", "case_manager", "PATCH"),
            ("v1_case_licence_conditions", "case_manager", "POST"),
            ("v1_licence_condition_breaches", "case_manager", "POST"),
            ("v1_case_signals", "case_manager", "POST"),
            ("v1_signal_acknowledge", "police_on_team", "POST"),
        )
    },
}


def _referral(scene: Scene) -> dict[str, Any]:
    return lifecycle.referral_form(scene.cast)


def _referral_api(scene: Scene) -> dict[str, Any]:
    return {
        "partnership": scene.cast.partnership.pk,
        "referrer_type": "court",
        "person": {
            "given_name": "Api",
            "family_name": "Newperson",
            "data_subject_category": "convicted",
        },
        "reason": "Referred by the court",
        "reason_category": "risk",
    }


def _in_triage(scene: Scene) -> dict[str, Any]:
    lifecycle.put_in_triage(scene.case)
    return {"outcome": "more_information", "reasons": "Ask probation", "version": "1"}


def _in_triage_api(scene: Scene) -> dict[str, Any]:
    return {**_in_triage(scene), "version": 1}


WRITES.update(
    {
        "cases:referral_create": Request("case_manager", "POST", case_scoped=False, data=_referral),
        "cases:transition": Request(
            "case_manager",
            "POST",
            data={
                "to_status": "community",
                "reason": "Released",
                "version": "1",
                "confirm": "on",
            },
        ),
        "cases:triage_decide": Request("coordinator", "POST", data=_in_triage),
        "cases:key_dates": Request(
            "case_manager", "POST", data={"kind": "next_review", "date": "2027-01-01"}
        ),
        "v1_referrals": Request(
            "case_manager", "POST", api=True, case_scoped=False, data=_referral_api
        ),
        "v1_case_transitions": Request(
            "case_manager",
            "POST",
            api=True,
            data={"to_status": "community", "reason": "Released", "version": 1},
        ),
        "v1_case_key_dates": Request(
            "case_manager",
            "PUT",
            api=True,
            data={"dates": [{"kind": "next_review", "date": "2027-01-01"}]},
        ),
        "v1_case_key_date": Request(
            "case_manager", "PUT", api=True, data={"date": "2023-10-01", "version": 1}
        ),
        "v1_case_triage": Request("coordinator", "POST", api=True, data=_in_triage_api),
        # The scene's reminder of the case manager (its event names K in case_ids).
        "v1_notification_read": Request("case_manager", "POST", api=True, case_scoped=False),
        "v1_notifications_read_all": Request("case_manager", "POST", api=True, case_scoped=False),
        # An administrator signs the case manager out everywhere (no case).
        "v1_user_sessions_end": Request("administrator", "POST", api=True, case_scoped=False),
        "accounts:identity_provider_create": Request(
            "administrator", "POST", case_scoped=False, data=_provider_config
        ),
        "accounts:identity_provider_edit": Request(
            "administrator", "POST", case_scoped=False, plant=_provider_planted, data=_provider_edit
        ),
        "v1_identity_providers": Request(
            "administrator", "POST", api=True, case_scoped=False, data=_provider_config_api
        ),
        "v1_identity_provider": Request(
            "administrator",
            "PATCH",
            api=True,
            case_scoped=False,
            plant=_provider_planted,
            data={"requires_sso": True},
            if_match=True,
        ),
        "v1_case_legal_holds": Request(
            "coordinator", "POST", api=True, data={"reason": "Court order", "until": "2040-01-01"}
        ),
        "v1_case_legal_hold_release": Request(
            "coordinator", "POST", api=True, data=_hold_to_release_api
        ),
        # Documents: K's justice document was attached by the municipality.
        "documents:case_documents": Request(
            "case_manager",
            "POST",
            data={
                "document-category": "justice",
                "document-title": "WRITE-X",
                "document-description": "",
                "document-record": "",
                "document-file": Upload("x.txt", b"WRITE-X"),
            },
        ),
        # K's documents are at version 2: their file was replaced once (tests/cast.py).
        "documents:replace": Request(
            "coordinator", "POST", data={"version": "2", "file": Upload("x.txt", b"WRITE-X")}
        ),
        "documents:delete": Request("coordinator", "POST", data={"version": "2"}),
        "v1_case_documents": Request(
            "case_manager",
            "POST",
            api=True,
            data={"category": "justice", "title": "WRITE-X", "file": Upload("x.txt", b"X")},
        ),
        "v1_document": Request("coordinator", "DELETE", api=True, if_match=True, version=2),
        "v1_document_file": Request(
            "coordinator",
            "PUT",
            api=True,
            if_match=True,
            version=2,
            data={"file": Upload("x.txt", b"WRITE-X")},
        ),
    }
)


WRITES.update(
    {
        name: Request(
            actor, "POST", data=lambda s, name=name: assessments.coverage_payload(s.cast, name)
        )
        for name, actor in (
            ("assessments:start", "case_manager"),
            ("assessments:edit", "case_manager"),
            ("assessments:autosave", "case_manager"),
            ("assessments:countersign", "case_manager"),
            ("assessments:correct", "case_manager"),
            ("assessments:discard", "case_manager"),
        )
    }
)


NEEDS = "example-resettlement-needs"


def _needs_draft(payload: dict[str, Any]) -> Callable[[Scene], dict[str, Any]]:
    """A draft needs assessment of K by the case manager (K's latest assessment,
    which ``url_for`` names); with ``ratings``, every item of it rated."""

    def build(scene: Scene) -> dict[str, Any]:
        draft = assessment_start(
            actor=scene.cast.case_manager, case_id=scene.case.pk, instrument=NEEDS
        )
        if "ratings" not in payload:
            return dict(payload)
        return {**payload, "ratings": assessment_support.full_ratings(draft.instrument_version)}

    return build


WRITES.update(
    {
        "v1_case_assessments": Request(
            "case_manager", "POST", api=True, data={"instrument": NEEDS}
        ),
        "v1_assessment": Request(
            "case_manager", "PATCH", api=True, data=_needs_draft({"rationale": "WRITE-X"})
        ),
        "v1_assessment_complete": Request(
            "case_manager",
            "POST",
            api=True,
            data=_needs_draft(
                {"ratings": {}, "judgement": "low", "rationale": "WRITE-X", "version": 1}
            ),
        ),
        # Probation's needs assessment (version 2, completed), by a second assessor.
        "v1_assessment_countersign": Request("coordinator", "POST", api=True, data={"version": 2}),
        "v1_assessment_correct": Request("case_manager", "POST", api=True, data={}),
    }
)


def _proposal(scene: Scene) -> dict[str, Any]:
    """A transfer of K to the other partnership, as the form and the API take it."""
    return {
        "to_partnership": scene.cast.other_partnership.pk,
        "summary_category": "social",
        "handover_summary": "Moves to Elsewhere.",
        "categories": ["social", "justice"],
    }


# --- Helpers ---------------------------------------------------------------------------


def _client(scene: Scene, req: Request, **kwargs: Any) -> Client:
    user = scene.users[req.actor]
    if req.api:
        _, raw = api_token_create(actor=user, name="coverage")
        return Client(headers={"Authorization": f"Bearer {raw}"}, **kwargs)
    client = verified_client(user)
    client.raise_request_exception = kwargs.get("raise_request_exception", True)
    return client


def _url(scene: Scene, route: RouteInfo, req: Request) -> str:
    overrides: dict[str, int] = {}
    for name, value in req.params:
        overrides[name] = scene.cast.notes[value].pk if isinstance(value, str) else value
    url = url_for(scene, route, **overrides)
    if req.query:
        values: dict[str, int] = {"case": scene.case.pk}
        if "_a}" in req.query:
            values.update(over_time.query_values(scene.cast))  # the planted assessments
        url += "?" + req.query.format(**values)
    return url


def _payload(scene: Scene, req: Request) -> dict[str, Any]:
    if req.plant is not None:
        req.plant(scene)
    if callable(req.data):
        return req.data(scene)
    return dict(req.data or {})


_FORM = "application/x-www-form-urlencoded"


def _send(
    scene: Scene,
    client: Client,
    route: RouteInfo,
    req: Request,
    data: dict[str, Any] | None = None,
) -> Any:
    if req.plant is not None:
        req.plant(scene)
    url = _url(scene, route, req)
    headers: dict[str, str] = {"HX-Request": "true"} if req.htmx else {}
    if req.method == "GET":
        return client.get(url, headers=headers)
    if data is None:
        data = _payload(scene, req)
    if req.api and (req.method == "PATCH" or req.if_match):
        headers["If-Match"] = f'"{req.version}"'
    if any(isinstance(v, Upload) for v in data.values()):
        files = {
            k: SimpleUploadedFile(v.name, v.content) if isinstance(v, Upload) else v
            for k, v in data.items()
        }
        if req.method != "POST":
            return client.generic(
                req.method,
                url,
                encode_multipart(BOUNDARY, files),
                content_type=MULTIPART_CONTENT,
                headers=headers,
            )
        return client.post(url, files, headers=headers)  # multipart
    if req.api:
        return client.generic(
            req.method,
            url,
            data=json.dumps(data),
            content_type="application/json",
            headers=headers,
        )
    return client.generic(
        req.method, url, data=urlencode(data, doseq=True), content_type=_FORM, headers=headers
    )


def _elsewhere(scene: Scene) -> int:
    return scene.cast.orgs["elsewhere"].pk


def _today(scene: Scene) -> str:
    return timezone.localdate().isoformat()


_ORGANISATION = {"name": "Housing Testdam", "type": "housing", "country": "NL", "city": "Testdam"}
_IMPORT = b"name,type,country,city\nHousing Importdam,housing,NL,Importdam\n"


def _instrument_yaml() -> bytes:
    from prepare.assessments.files import to_yaml
    from tests.assessments.support import NEEDS, example

    # A version the scene has not loaded (it loads the examples), so that the
    # upload is a write.
    content = example(NEEDS)
    content["version"] = "0.9-coverage"
    return to_yaml(content).encode()


def _import_proposal(scene: Scene) -> dict[str, Any]:
    from prepare.administration.imports import import_preview

    admin = scene.user("administrator")
    upload = SimpleUploadedFile("o.csv", _IMPORT)
    token = import_preview(actor=admin, files=[upload]).token
    return {"preview": token, "code": current_code(admin)}


WRITES.update(
    {
        "partnerships:members": Request(
            "coordinator",
            "POST",
            case_scoped=False,
            data=lambda s: {"organisation": _elsewhere(s), "starts_on": _today(s)},
        ),
        "v1_partnership_memberships": Request(
            "coordinator",
            "POST",
            case_scoped=False,
            api=True,
            data=lambda s: {"organisation": _elsewhere(s), "starts_on": _today(s)},
        ),
        "partnerships:membership_end": Request(
            "coordinator", "POST", case_scoped=False, data=lambda s: {"ends_on": _today(s)}
        ),
        "v1_membership_end": Request(
            "administrator",
            "POST",
            case_scoped=False,
            api=True,
            data=lambda s: {"ends_on": _today(s)},
        ),
        "administration:organisation_create": Request(
            "administrator", "POST", case_scoped=False, data=_ORGANISATION
        ),
        "v1_organisations": Request(
            "administrator", "POST", case_scoped=False, api=True, data=_ORGANISATION
        ),
        "administration:organisation": Request(
            "administrator",
            "POST",
            case_scoped=False,
            data={**_ORGANISATION, "name": "City of Elsewhere", "is_active": "on", "version": "1"},
        ),
        "v1_organisation": Request(
            "administrator", "PATCH", case_scoped=False, api=True, data={"is_active": False}
        ),
        "administration:partnership_edit": Request(
            "administrator",
            "POST",
            case_scoped=False,
            data=lambda s: {"name": "Renamed", "timezone": "Europe/Paris", "version": "1"},
        ),
        "v1_partnership": Request(
            "administrator",
            "PATCH",
            case_scoped=False,
            api=True,
            data={"timezone": "Europe/Paris", "version": 1},
        ),
        "administration:partnership_create": Request(
            "administrator",
            "POST",
            case_scoped=False,
            data=lambda s: {
                "name": "Elsewhere north",
                "code": "ELN",
                "coordinating_organisation": _elsewhere(s),
                "timezone": "Europe/Paris",
            },
        ),
        "v1_partnerships": Request(
            "administrator",
            "POST",
            case_scoped=False,
            api=True,
            data=lambda s: {
                "name": "Elsewhere north",
                "code": "ELN",
                "coordinating_organisation": _elsewhere(s),
                "timezone": "Europe/Paris",
            },
        ),
        "administration:coordinator_appoint": Request(
            "administrator",
            "POST",
            case_scoped=False,
            data={"op": "create", "new-email": "c@example.org", "new-language": "en"},
        ),
        "v1_partnership_coordinator_accounts": Request(
            "administrator",
            "POST",
            case_scoped=False,
            api=True,
            data={"email": "c@example.org"},
        ),
        "v1_partnership_coordinators": Request(
            "administrator",
            "POST",
            case_scoped=False,
            api=True,
            data=lambda s: {"user": s.users["municipal_practitioner"].pk},
        ),
        # The import: its preview is logged (nothing else is written); its
        # proposal, with the administrator's fresh code, is a pending change.
        "administration:import": Request(
            "administrator", "POST", case_scoped=False, data={"file": Upload("o.csv", _IMPORT)}
        ),
        "v1_imports_preview": Request(
            "administrator",
            "POST",
            case_scoped=False,
            api=True,
            data={"file": Upload("o.csv", _IMPORT)},
        ),
        "administration:import_propose": Request(
            "administrator", "POST", case_scoped=False, data=lambda s: _import_proposal(s)
        ),
        "v1_imports": Request(
            "administrator", "POST", case_scoped=False, api=True, data=lambda s: _import_proposal(s)
        ),
        # Loading an instrument: each version created is logged.
        "administration:instrument_load": Request(
            "administrator",
            "POST",
            case_scoped=False,
            data=lambda s: {"file": Upload("needs.yaml", _instrument_yaml())},
        ),
    }
)


# --- The classification is complete ------------------------------------------------------


def _methods(scene: Scene) -> dict[str, frozenset[str]]:
    session = verified_client(scene.users["coordinator"])
    return {name: allowed_methods(session, url_for(scene, r)) for name, r in ROUTES.items()}


def test_every_case_reading_route_is_audited_or_exempt(scene: Scene) -> None:
    methods = _methods(scene)
    answers_get = {name for name, m in methods.items() if "GET" in m}
    assert set(READS) & set(EXEMPT) == set()
    unclassified = answers_get - set(READS) - set(EXEMPT)
    assert unclassified == set(), "add these routes to READS (audited) or EXEMPT (no case data)"
    assert set(READS) | set(EXEMPT) <= answers_get, "stale entries"
    writes = {name for name, m in methods.items() if m - {"GET"}}
    assert set(WRITES) == writes, "every write must be shown to fail closed"
    for name, req in WRITES.items():
        assert req.method in methods[name], name


# --- LG-01: each read writes a complete event -------------------------------------------

READ_CELLS = [(name, i) for name, reqs in READS.items() for i in range(len(reqs))]


def _new_events(after: int) -> list[Event]:
    return list(Event.objects.filter(seq__gt=after).order_by("seq"))


def _last_seq() -> int:
    head = ChainHead.objects.filter(pk=1).first()
    return head.seq if head else 0


@pytest.mark.parametrize(("name", "index"), READ_CELLS, ids=[f"{n}-{i}" for n, i in READ_CELLS])
def test_a_read_of_case_data_writes_a_complete_event(scene: Scene, name: str, index: int) -> None:
    req = READS[name][index]
    user = scene.users[req.actor]
    client = _client(scene, req)
    before = _last_seq()

    response = _send(scene, client, ROUTES[name], req)

    assert response.status_code == 200, (name, response.status_code)
    events = _new_events(before)
    assert events, f"{name}: no audit event"
    for event in events:
        missing = [f for f in REQUIRED_FIELDS if getattr(event, f) in (None, "")]
        assert missing == [], f"{name}: event #{event.seq} lacks {missing}"
        assert event.request_id == response["X-Request-ID"]
        assert (event.actor_id, event.actor_username) == (user.pk, user.username)
        assert (event.organisation_id, event.role) == (user.organisation_id, user.role)
        assert event.source_ip == "127.0.0.1"
    if req.case_scoped:
        k = scene.case.pk
        assert any(e.case_id == k or k in (e.case_ids or []) for e in events), name


@pytest.mark.parametrize("name", sorted(EXEMPT))
def test_an_exempt_route_shows_no_case_data(scene: Scene, name: str) -> None:
    """The exemptions hold: as actors who may read the whole case, nothing of it shows."""
    for actor in ("coordinator", "case_manager"):
        client = verified_client(scene.users[actor])
        response = client.get(url_for(scene, ROUTES[name]))
        assert response.status_code < 500
        found = leaks(response.content.decode(), frozenset(), reference=scene.case.reference)
        assert found == [], f"{name} as {actor} shows {found}"


# --- LG-04: no event, no answer, no change ------------------------------------------------


class AuditDown(Exception):
    """The audit store failed."""


_real_append = chain.append


def _fail_at_once(event: Event) -> Event:
    raise AuditDown


def _fail_after_writing(event: Event) -> Event:
    """The worst case: event, chain head and index are written, then it fails."""
    _real_append(event)
    raise AuditDown


FAULTS: dict[str, Callable[[Event], Event]] = {
    "at_once": _fail_at_once,
    "after_writing": _fail_after_writing,
}
SECRETS = [sentinel(c) for c in CATEGORIES] + ["Sentinelia", "Identitas"]


def state() -> dict[str, Any]:
    """Everything a served request or a write could leave behind."""
    return {
        "events": list(Event.objects.order_by("seq").values_list("seq", "hash")),
        "head": list(ChainHead.objects.values_list("seq", "hash")),
        "index": sorted(CaseAccessIndex.objects.values_list("event_id", "case_id")),
        "notes": sorted(CaseNote.objects.values_list("pk", "text", "version")),
        "cases": sorted(Case.objects.values_list("pk", "updated_at", "version")),
        "team": sorted(CaseTeamMember.objects.values_list("pk", "organisation_id", "user_id")),
        "glass": sorted(BreakGlassAccess.objects.values_list("pk", "user_id", "case_id")),
        "checklist": sorted(
            ChecklistItem.objects.values_list("pk", "case_id", "status", "due_on", "version")
        ),
        "template": sorted(
            ChecklistTemplateItem.objects.values_list("pk", "title", "position", "version")
        ),
        "transfers": sorted(Transfer.objects.values_list("pk", "case_id", "status")),
        "graces": sorted(TransferGrace.objects.values_list("case_id", "organisation_id")),
        "holds": sorted(LegalHold.objects.values_list("pk", "reason", "released_at")),
        "erasure": sorted(ErasureRequest.objects.values_list("pk", "case_id", "status")),
        "devices": sorted(TOTPDevice.objects.values_list("pk", "last_t")),
        "retention": sorted(
            Partnership.objects.values_list("pk", "retention_years", "retention_action")
        ),
        "planning_autostart": sorted(
            Partnership.objects.values_list("pk", "release_planning_autostart")
        ),
        "grants": sorted(CaseGrant.objects.values_list("case_id", "organisation_id", "sort_key")),
        "monitoring": monitoring.monitoring_state(),
        "documents": documents.documents_state(),
        "lifecycle": lifecycle.lifecycle_state(),
        "assessments": assessments.assessments_state(),
        "notifications": sorted(Notification.objects.values_list("pk", "read_at")),
        "agreements": sorted(
            SharingAgreement.objects.values_list("pk", "title", "valid_from", "valid_until")
        ),
        "providers": sorted(IdentityProvider.objects.values_list("pk", "version")),
        "cells": sorted(
            CategoryGrant.objects.values_list(
                "agreement_id", "organisation_id", "category", "access"
            )
        ),
        "access_changes": sorted(
            AccessChangeRequest.objects.values_list("pk", "status", "decided_by_id")
        ),
        "organisations": sorted(
            Organisation.objects.values_list("pk", "name", "is_active", "version")
        ),
        "partnerships": sorted(Partnership.objects.values_list("pk", "name", "code")),
        "memberships": sorted(
            Membership.objects.values_list("pk", "organisation_id", "starts_on", "ends_on")
        ),
        "users": sorted(User.objects.values_list("pk", "username", "role")),
        "tokens": sorted(ApiToken.objects.values_list("pk", "revoked_at")),
        "instruments": sorted(Instrument.objects.values_list("pk", "identifier")),
        "instrument_versions": sorted(
            InstrumentVersion.objects.values_list("pk", "version", "content_hash")
        ),
        "assessments_api": assessment_support.assessments_state(),
    }


def _assert_fails_closed(
    scene: Scene, monkeypatch: pytest.MonkeyPatch, name: str, req: Request
) -> None:
    client = _client(scene, req, raise_request_exception=False)
    # Built before the fault: building it may read pages itself.
    data = _payload(scene, req)
    for fault, replacement in FAULTS.items():
        before = state()
        monkeypatch.setattr(chain, "append", replacement)
        try:
            response = _send(scene, client, ROUTES[name], req, data)
        finally:
            monkeypatch.undo()
        assert response.status_code >= 500, (name, fault, response.status_code)
        body = response.content.decode()
        assert [s for s in SECRETS if s in body] == [], (name, fault)
        assert state() == before, (name, fault)
    assert chain.verify() is None


@pytest.mark.parametrize(("name", "index"), READ_CELLS, ids=[f"{n}-{i}" for n, i in READ_CELLS])
def test_a_read_without_its_event_is_not_served(
    scene: Scene, monkeypatch: pytest.MonkeyPatch, name: str, index: int
) -> None:
    req = READS[name][index]
    _assert_fails_closed(scene, monkeypatch, name, req)
    # The control: the same request, with the audit working, is served.
    assert _send(scene, _client(scene, req), ROUTES[name], req).status_code == 200


@pytest.mark.parametrize("name", sorted(WRITES))
def test_a_write_without_its_event_is_not_kept(
    scene: Scene, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    req = WRITES[name]
    _assert_fails_closed(scene, monkeypatch, name, req)
    # The control: with the audit working the write goes through and is logged
    # with every required field.
    before = _last_seq()
    response = _send(scene, _client(scene, req), ROUTES[name], req)
    assert response.status_code in (200, 201, 204, 302), (name, response.status_code)
    events = [e for e in _new_events(before) if e.request_id == response["X-Request-ID"]]
    assert events, name
    for event in events:
        missing = [f for f in REQUIRED_FIELDS if getattr(event, f) in (None, "")]
        assert missing == [], f"{name}: event #{event.seq} lacks {missing}"
    if req.case_scoped:
        assert any(e.case_id == scene.case.pk for e in events), name


def test_the_rollback_check_sees_a_request_that_is_not_rolled_back(
    scene: Scene, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    """The check above is not vacuous inside a test transaction.

    With AuditedTransactionMiddleware, the request's transaction (here a
    savepoint of the test's) is rolled back and the state is unchanged;
    without it, the same fault leaves the event, head and index rows behind,
    and ``state()`` sees them.
    """
    req = READS["cases:case"][0]
    route = ROUTES["cases:case"]
    client = _client(scene, req, raise_request_exception=False)
    middleware = "prepare.audit.middleware.AuditedTransactionMiddleware"
    assert middleware in settings.MIDDLEWARE
    assert connections.settings["default"]["ATOMIC_REQUESTS"] is False

    before = state()
    monkeypatch.setattr(chain, "append", _fail_after_writing)
    assert _send(scene, client, route, req).status_code == 500
    assert state() == before

    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if m != middleware]
    client = _client(scene, req, raise_request_exception=False)  # loads the new list
    assert _send(scene, client, route, req).status_code == 500
    after = state()
    assert len(after["events"]) == len(before["events"]) + 1
    assert after["head"] != before["head"]
