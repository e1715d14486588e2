"""The OpenAPI schema and the interactive documentation."""

from __future__ import annotations

import re

import pytest
import yaml
from django.core.management import call_command
from django.test import Client, override_settings
from django.urls import URLPattern, get_resolver

from prepare.access.routes import RoutePolicy
from prepare.accounts.backends import BACKEND
from prepare.api import urls as api_urls
from tests.api.conftest import schema_of_api
from tests.cast import verified_client
from tests.factories import UserFactory

EXTERNAL_URL = re.compile(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}", re.IGNORECASE)

# The answers of a change under optimistic locking.
LOCKED = {"200", "400", "401", "403", "404", "409", "412", "428"}

# Every operation of v1, with the error answers its description must list.
OPERATIONS = {
    ("/api/v1/cases/", "get"): {"200", "400", "401"},
    ("/api/v1/cases/{case_id}/", "get"): {"200", "401", "404"},
    ("/api/v1/cases/{case_id}/team/", "get"): {"200", "401", "404"},
    ("/api/v1/cases/{case_id}/team/", "post"): {"201", "400", "401", "403", "404"},
    ("/api/v1/cases/{case_id}/team/{member_id}/", "delete"): {"204", "401", "403", "404"},
    ("/api/v1/cases/{case_id}/notes/", "get"): {"200", "400", "401", "404"},
    ("/api/v1/cases/{case_id}/notes/", "post"): {"201", "400", "401", "403", "404"},
    ("/api/v1/cases/{case_id}/notes/{note_id}/", "get"): {"200", "401", "404"},
    ("/api/v1/cases/{case_id}/notes/{note_id}/versions/", "get"): {"200", "401", "404"},
    ("/api/v1/cases/{case_id}/notes/{note_id}/", "put"): {
        "200",
        "400",
        "401",
        "403",
        "404",
        "409",
        "412",
        "428",
    },
    ("/api/v1/cases/{case_id}/notes/{note_id}/", "patch"): {
        "200",
        "400",
        "401",
        "403",
        "404",
        "409",
        "412",
        "428",
    },
    ("/api/v1/me/", "get"): {"200", "401"},
    # Accounts (prepare/accounts/staff_api.py).
    ("/api/v1/organisations/{organisation_id}/accounts/", "get"): {"200", "400", "401", "404"},
    ("/api/v1/organisations/{organisation_id}/accounts/", "post"): {
        "201",
        "400",
        "401",
        "403",
        "404",
    },
    ("/api/v1/accounts/{account_id}/", "get"): {"200", "401", "404"},
    ("/api/v1/accounts/{account_id}/", "patch"): {"200", "400", "401", "403", "404"},
    ("/api/v1/accounts/{account_id}/resend-invitation/", "post"): {
        "200",
        "400",
        "401",
        "403",
        "404",
    },
    ("/api/v1/accounts/{account_id}/deactivate/", "post"): {"200", "400", "401", "403", "404"},
    ("/api/v1/accounts/{account_id}/reactivate/", "post"): {"200", "400", "401", "403", "404"},
    ("/api/v1/search/", "get"): {"200", "400", "401"},
    # Single sign-on settings (prepare/accounts/sso/api.py), the administrator's.
    ("/api/v1/identity-providers/", "get"): {"200", "401", "403"},
    ("/api/v1/identity-providers/", "post"): {"201", "400", "401", "403", "404"},
    ("/api/v1/identity-providers/{provider_id}/", "get"): {"200", "401", "403", "404"},
    ("/api/v1/identity-providers/{provider_id}/", "patch"): {
        "200",
        "400",
        "401",
        "403",
        "404",
        "409",
        "412",
        "428",
    },
    # Release planning (prepare/plans/api/checklists.py).
    ("/api/v1/cases/{case_id}/checklist/", "get"): {"200", "401", "404"},
    ("/api/v1/cases/{case_id}/checklist/", "post"): {"201", "400", "401", "403", "404"},
    ("/api/v1/cases/{case_id}/checklist/owners/", "get"): {"200", "401", "403", "404"},
    ("/api/v1/cases/{case_id}/checklist/owners/", "post"): {"201", "400", "401", "403", "404"},
    ("/api/v1/checklist-items/{item_id}/", "patch"): {
        "200",
        "400",
        "401",
        "403",
        "404",
        "409",
        "412",
        "428",
    },
    ("/api/v1/release-board/", "get"): {"200", "400", "401", "404"},
    # Monitoring (prepare/monitoring/api.py).
    ("/api/v1/cases/{case_id}/contacts/", "get"): {"200", "401", "404"},
    ("/api/v1/cases/{case_id}/contacts/", "post"): {"201", "400", "401", "403", "404"},
    ("/api/v1/contacts/{contact_id}/", "get"): {"200", "401", "404"},
    ("/api/v1/contacts/{contact_id}/", "patch"): {
        "200",
        "400",
        "401",
        "403",
        "404",
        "409",
        "412",
        "428",
    },
    ("/api/v1/cases/{case_id}/licence-conditions/", "get"): {"200", "401", "404"},
    ("/api/v1/cases/{case_id}/licence-conditions/", "post"): {"201", "400", "401", "403", "404"},
    ("/api/v1/licence-conditions/{condition_id}/breaches/", "post"): {
        "201",
        "400",
        "401",
        "403",
        "404",
    },
    ("/api/v1/cases/{case_id}/signals/", "get"): {"200", "401", "404"},
    ("/api/v1/cases/{case_id}/signals/", "post"): {"201", "400", "401", "403", "404"},
    ("/api/v1/signals/{signal_id}/acknowledge/", "post"): {
        "200",
        "400",
        "401",
        "403",
        "404",
        "409",
        "412",
        "428",
    },
    # Lifecycle (prepare/cases/lifecycle/api/lifecycle.py).
    ("/api/v1/referrals/", "post"): {"201", "400", "401", "403", "409"},
    ("/api/v1/cases/{case_id}/transitions/", "get"): {"200", "401", "404"},
    ("/api/v1/cases/{case_id}/transitions/", "post"): {
        "201",
        "400",
        "401",
        "403",
        "404",
        "409",
        "412",
        "422",
        "428",
    },
    ("/api/v1/cases/{case_id}/key-dates/", "get"): {"200", "401", "404"},
    ("/api/v1/cases/{case_id}/key-dates/", "put"): {
        "200",
        "400",
        "401",
        "403",
        "404",
        "409",
        "428",
    },
    ("/api/v1/cases/{case_id}/key-dates/{key_date_id}/", "get"): {"200", "401", "404"},
    ("/api/v1/cases/{case_id}/key-dates/{key_date_id}/", "put"): {
        "200",
        "400",
        "401",
        "403",
        "404",
        "409",
        "412",
        "428",
    },
    # Transfers (prepare/cases/transfer/api.py).
    ("/api/v1/cases/{case_id}/transfers/", "post"): {"201", "400", "401", "403", "404"},
    ("/api/v1/transfers/", "get"): {"200", "400", "401"},
    ("/api/v1/transfers/{transfer_id}/", "get"): {"200", "401", "404"},
    ("/api/v1/transfers/{transfer_id}/accept/", "post"): {
        "200",
        "400",
        "401",
        "403",
        "404",
        "409",
    },
    ("/api/v1/transfers/{transfer_id}/decline/", "post"): {
        "200",
        "400",
        "401",
        "403",
        "404",
        "409",
    },
    ("/api/v1/transfers/{transfer_id}/withdraw/", "post"): {
        "200",
        "400",
        "401",
        "403",
        "404",
        "409",
    },
    # The partnership's release-checklist template (prepare/plans/api/templates.py).
    ("/api/v1/partnerships/{partnership_id}/checklist-template/", "get"): {
        "200",
        "401",
        "403",
        "404",
    },
    ("/api/v1/partnerships/{partnership_id}/checklist-template/items/", "post"): {
        "201",
        "400",
        "401",
        "403",
        "404",
    },
    (
        "/api/v1/partnerships/{partnership_id}/checklist-template/items/{template_item_id}/",
        "patch",
    ): {
        "200",
        "400",
        "401",
        "403",
        "404",
        "409",
        "412",
        "428",
    },
    (
        "/api/v1/partnerships/{partnership_id}/checklist-template/items/{template_item_id}/",
        "delete",
    ): {
        "204",
        "400",
        "401",
        "403",
        "404",
        "409",
        "412",
        "428",
    },
    # Triage (prepare/cases/lifecycle/api/triage.py).
    ("/api/v1/triage/", "get"): {"200", "401", "403", "404"},
    ("/api/v1/cases/{case_id}/triage/", "get"): {"200", "401", "403", "404"},
    ("/api/v1/cases/{case_id}/triage/", "post"): {
        "201",
        "400",
        "401",
        "403",
        "404",
        "409",
        "412",
        "422",
        "428",
    },
    # Notifications (prepare/notifications/api.py).
    ("/api/v1/notifications/", "get"): {"200", "400", "401", "404"},
    ("/api/v1/notifications/count/", "get"): {"200", "401"},
    ("/api/v1/notifications/{notification_id}/read/", "post"): {"200", "400", "401", "404"},
    ("/api/v1/notifications/read-all/", "post"): {"200", "400", "401"},
    # My tasks, the timeline and legal holds (prepare/plans/api/tasks.py,
    # prepare/cases/timeline/api.py, prepare/cases/retention/api.py).
    ("/api/v1/my-tasks/", "get"): {"200", "400", "401", "404"},
    ("/api/v1/cases/{case_id}/timeline/", "get"): {"200", "401", "404"},
    ("/api/v1/cases/{case_id}/legal-holds/", "get"): {"200", "401", "404"},
    ("/api/v1/cases/{case_id}/legal-holds/", "post"): {"201", "400", "401", "403", "404"},
    ("/api/v1/cases/{case_id}/legal-holds/{hold_id}/release/", "post"): {
        "200",
        "400",
        "401",
        "403",
        "404",
        "422",
    },
    # The sharing agreement and four eyes on what widens access
    # (prepare/partnerships/access_changes/api.py).
    ("/api/v1/partnerships/{partnership_id}/agreements/{agreement_id}/", "get"): {
        "200",
        "401",
        "403",
        "404",
    },
    ("/api/v1/partnerships/{partnership_id}/agreements/{agreement_id}/changes/", "post"): {
        "200",
        "400",
        "401",
        "403",
        "404",
        "409",
        "422",
        "428",
    },
    ("/api/v1/partnerships/{partnership_id}/access-changes/", "get"): {"200", "401", "403", "404"},
    ("/api/v1/access-changes/{access_change_id}/", "get"): {"200", "401", "403", "404"},
    ("/api/v1/access-changes/{access_change_id}/approve/", "post"): {
        "200",
        "400",
        "401",
        "403",
        "404",
        "409",
        "422",
    },
    ("/api/v1/access-changes/{access_change_id}/reject/", "post"): {
        "200",
        "400",
        "401",
        "403",
        "404",
    },
    ("/api/v1/access-changes/{access_change_id}/withdraw/", "post"): {
        "200",
        "400",
        "401",
        "403",
        "404",
    },
    # Documents (prepare/documents/api.py).
    ("/api/v1/cases/{case_id}/documents/", "get"): {"200", "401", "404"},
    ("/api/v1/cases/{case_id}/documents/", "post"): {"201", "400", "401", "403", "404", "413"},
    ("/api/v1/documents/{document_id}/", "delete"): {
        "204",
        "401",
        "403",
        "404",
        "409",
        "412",
        "428",
    },
    ("/api/v1/documents/{document_id}/download/", "get"): {"200", "401", "404"},
    ("/api/v1/documents/{document_id}/file/", "put"): {
        "200",
        "400",
        "401",
        "403",
        "404",
        "409",
        "412",
        "413",
        "428",
    },
    ("/api/v1/documents/{document_id}/versions/", "get"): {"200", "401", "404"},
    ("/api/v1/documents/{document_id}/versions/{version_id}/download/", "get"): {
        "200",
        "401",
        "404",
    },
    ("/api/v1/users/{user_id}/sessions/end/", "post"): {"200", "400", "401", "403", "404"},
    # Administration (prepare/administration/api.py): the administrator's only.
    ("/api/v1/imports/preview/", "post"): {"200", "400", "401", "403"},
    ("/api/v1/imports/", "post"): {"201", "400", "401", "403", "422"},
    ("/api/v1/organisations/", "get"): {"200", "400", "401", "403", "404"},
    ("/api/v1/organisations/", "post"): {"201", "400", "401", "403"},
    ("/api/v1/organisations/{organisation_id}/", "get"): {"200", "401", "403", "404"},
    ("/api/v1/organisations/{organisation_id}/", "patch"): {
        "200",
        "400",
        "401",
        "403",
        "404",
        "409",
        "412",
        "428",
    },
    ("/api/v1/partnerships/", "get"): {"200", "400", "401", "403", "404"},
    ("/api/v1/partnerships/", "post"): {"201", "400", "401", "403"},
    ("/api/v1/partnerships/{partnership_id}/", "get"): {"200", "401", "403", "404"},
    ("/api/v1/partnerships/{partnership_id}/", "patch"): {
        "200",
        "400",
        "401",
        "403",
        "404",
        "409",
        "412",
        "428",
    },
    ("/api/v1/partnerships/{partnership_id}/coordinators/", "post"): {
        "201",
        "400",
        "401",
        "403",
        "404",
    },
    ("/api/v1/partnerships/{partnership_id}/coordinator-accounts/", "post"): {
        "201",
        "400",
        "401",
        "403",
        "404",
    },
    # A partnership's members (prepare/partnerships/api.py).
    ("/api/v1/partnerships/{partnership_id}/memberships/", "get"): {"200", "401", "404"},
    ("/api/v1/partnerships/{partnership_id}/memberships/", "post"): {
        "201",
        "400",
        "401",
        "403",
        "404",
    },
    ("/api/v1/memberships/{membership_id}/end/", "post"): {"200", "400", "401", "403", "404"},
    # Structured assessments (prepare/assessments/api.py).
    ("/api/v1/instruments/", "get"): {"200", "400", "401", "403", "404"},
    ("/api/v1/instrument-versions/{instrument_version_id}/", "get"): {"200", "401", "403", "404"},
    ("/api/v1/instrument-versions/{instrument_version_id}/export/", "get"): {
        "200",
        "400",
        "401",
        "403",
        "404",
    },
    ("/api/v1/cases/{case_id}/assessments/", "get"): {"200", "400", "401", "404"},
    ("/api/v1/cases/{case_id}/assessments/", "post"): {"201", "400", "401", "403", "404"},
    ("/api/v1/assessments/{assessment_id}/", "get"): {"200", "401", "404"},
    ("/api/v1/assessments/{assessment_id}/", "patch"): LOCKED,
    ("/api/v1/assessments/{assessment_id}/", "delete"): {"204", *LOCKED - {"200"}},
    ("/api/v1/assessments/{assessment_id}/complete/", "post"): LOCKED,
    ("/api/v1/assessments/{assessment_id}/countersign/", "post"): LOCKED,
    ("/api/v1/assessments/{assessment_id}/correct/", "post"): {
        "200",
        "201",
        "400",
        "401",
        "403",
        "404",
    },
    ("/api/v1/assessments/{assessment_id}/compare/{other_id}/", "get"): {"200", "401", "404"},
}


@pytest.fixture
def schema(db) -> dict:
    return yaml.safe_load(schema_of_api())


def test_schema_generates_without_warnings(tmp_path):
    target = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    assert "/api/v1/cases/{case_id}/notes/{note_id}/" in target.read_text()


def test_every_operation_is_described(schema):
    described = {
        (path, method)
        for path, item in schema["paths"].items()
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    }
    assert described == set(OPERATIONS)
    for (path, method), codes in OPERATIONS.items():
        operation = schema["paths"][path][method]
        assert codes <= set(operation["responses"]), (path, method)
        assert {"bearerAuth": []} in operation["security"]
        ok = next(c for c in operation["responses"] if c.startswith("2"))
        if ok != "204":
            assert "content" in operation["responses"][ok], (path, method)
        if method in {"post", "put", "patch"}:
            assert "requestBody" in operation, (path, method)


def test_documents_are_uploaded_as_multipart_and_downloaded_as_files(schema):
    upload = schema["paths"]["/api/v1/cases/{case_id}/documents/"]["post"]["requestBody"]
    assert set(upload["content"]) == {"multipart/form-data"}
    body = upload["content"]["multipart/form-data"]["schema"]["$ref"].rsplit("/", 1)[-1]
    fields = schema["components"]["schemas"][body]["properties"]
    assert fields["file"] == {**fields["file"], "type": "string", "format": "binary"}
    types = {
        "application/pdf",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.oasis.opendocument.text",
        "image/png",
        "image/jpeg",
        "text/plain",
    }
    for path in (
        "/api/v1/documents/{document_id}/download/",
        "/api/v1/documents/{document_id}/versions/{version_id}/download/",
    ):
        assert set(schema["paths"][path]["get"]["responses"]["200"]["content"]) == types
    replace = schema["paths"]["/api/v1/documents/{document_id}/file/"]["put"]
    assert set(replace["requestBody"]["content"]) == {"multipart/form-data"}
    assert replace["operationId"] == "document_file_replace"
    enum = schema["components"]["schemas"]["DocumentFileTypeEnum"]["enum"]
    assert set(enum) == types


def test_bearer_scheme_and_locking_are_documented(schema):
    schemes = schema["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {**schemes["bearerAuth"], "type": "http", "scheme": "bearer"}
    patch = schema["paths"]["/api/v1/cases/{case_id}/notes/{note_id}/"]["patch"]
    assert any(p["name"] == "If-Match" and p["in"] == "header" for p in patch["parameters"])
    assert "ETag" in patch["responses"]["200"]["headers"]
    listing = schema["paths"]["/api/v1/cases/"]["get"]
    names = {p["name"] for p in listing["parameters"]}
    assert {"page", "page_size", "status", "partnership"} <= names
    note_update = schema["components"]["schemas"]["PatchedNoteUpdateRequest"]["properties"]
    assert set(note_update) == {"kind", "text", "version"}


def test_every_v1_view_carries_the_api_route_policy():
    for pattern in api_urls.urlpatterns:
        assert isinstance(pattern, URLPattern)
        view = pattern.callback
        policy = getattr(view, "route_policy", None) or getattr(
            getattr(view, "cls", None), "route_policy", None
        )
        # The schema and its documentation too: signed in unless published on
        # purpose (PREPARE_PUBLIC_API_SCHEMA), decided in the API layer.
        assert policy == RoutePolicy.API, pattern
    assert get_resolver().resolve("/api/v1/me/").func.cls.route_policy == RoutePolicy.API


def test_docs_are_served_by_the_app(db):
    client = verified_client(UserFactory())
    page = client.get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assert not EXTERNAL_URL.search(html), EXTERNAL_URL.search(html)
    # No inline script or style: the CSP allows neither.
    assert "<style" not in html
    assert "style=" not in html
    scripts = re.findall(r"<script([^>]*)>", html)
    assert scripts and all("src=" in attrs for attrs in scripts)
    assert "'unsafe-inline'" not in page["Content-Security-Policy"]
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert any("drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in a for a in assets)
    for asset in assets:
        response = client.get(asset)
        assert response.status_code == 200, asset
        if asset.startswith("/api/docs/"):
            script = response.content.decode()
            assert response["Content-Type"].startswith("application/javascript")
            assert response["Cross-Origin-Resource-Policy"] == "same-origin"
            assert not EXTERNAL_URL.search(script), EXTERNAL_URL.search(script)
            assert '"validatorUrl": null' in script
            assert "/api/schema/" in script
        if response.streaming:
            # Read to the end, which closes it as a WSGI server would (closing it
            # directly would also close the test's database connection).
            b"".join(response.streaming_content)


def test_the_schema_and_docs_need_a_signed_in_reader(db, settings):
    assert settings.PUBLIC_API_SCHEMA is False
    anonymous = Client()
    schema = anonymous.get("/api/schema/")
    assert schema.status_code == 401
    assert "paths" not in schema.content.decode()
    docs = anonymous.get("/api/docs/")
    assert docs.status_code == 302
    assert docs["Location"] == "/account/sign-in/?next=%2Fapi%2Fdocs%2F"
    # A password-only session is not signed in for the API either.
    newcomer = UserFactory(totp=False)
    client = Client()
    client.force_login(newcomer, backend=BACKEND)
    assert client.get("/api/schema/").status_code == 401
    # A token is enough for a program that builds a client from the schema.
    from prepare.accounts.services import api_token_create
    from tests.factories import MembershipFactory

    reader = UserFactory()
    MembershipFactory(organisation=reader.organisation)
    _token, raw = api_token_create(actor=reader, name="generator")
    with_token = Client(headers={"Authorization": f"Bearer {raw}"})
    assert "/api/v1/me/" in with_token.get("/api/schema/").content.decode()


@override_settings(PUBLIC_API_SCHEMA=True)
def test_the_setting_publishes_the_schema_on_purpose(db):
    response = Client().get("/api/schema/")
    assert response.status_code == 200
    assert "/api/v1/me/" in response.content.decode()
    assert Client().get("/api/docs/").status_code == 200
