"""Bulk import of organisations and accounts (issue 10, items 4 and 5): a preview
that writes nothing, every row's error named by its row and column, a proposal
with a fresh code that waits for a second approver, all or nothing when
approved, enrolment e-mails only after the commit, and nothing added when the
same file is imported twice. Acted by the administrator and the cast's
data-protection officer, through the pages and the API."""

from __future__ import annotations

import datetime
import io
import json
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from openpyxl import Workbook

from prepare.accounts.models import Invitation, Organisation, Role, User
from prepare.accounts.services import api_token_create
from prepare.administration import imports
from prepare.audit.models import Event, EventAction, Outcome
from prepare.notifications.models import Notification
from prepare.partnerships.access_changes.kinds import Import
from prepare.partnerships.models import AccessChangeRequest, AccessChangeStatus
from tests.cast import Cast, current_code, verified_client, wrong_code
from tests.factories import UserFactory

T0 = datetime.datetime(2026, 12, 7, 10, 0, tzinfo=datetime.UTC)
STEP = datetime.timedelta(seconds=60)  # a new window of the one-time codes

ORGANISATIONS_CSV = (
    "name,type,country,city,languages\n"
    "Reclassering Noord,probation,NL,Noordstad,nl\n"
    'Gemeente Noordstad,local_authority,nl,Noordstad,"nl, en"\n'
)
# Semicolons, a byte-order mark, and an account of an organisation already there.
ACCOUNTS_CSV = (
    "\ufeffemail;first_name;last_name;organisation;role;language;manages_accounts\n"
    "a.jansen@example.org;Anna;Jansen;Reclassering Noord;case_manager;nl;yes\n"
    "p.devries@example.org;Pieter;de Vries;reclassering noord;Practitioner;;\n"
    "m.bakker@example.org;Marieke;Bakker;Probation Testdam;observer;en;no\n"
)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


def upload(name: str, text: str | bytes) -> SimpleUploadedFile:
    data = text.encode("utf-8") if isinstance(text, str) else text
    return SimpleUploadedFile(name, data)


def workbook(**sheets: list[list[Any]]) -> SimpleUploadedFile:
    book = Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return SimpleUploadedFile("region.xlsx", out.getvalue())


def good_files() -> list[SimpleUploadedFile]:
    return [upload("organisations.csv", ORGANISATIONS_CSV), upload("accounts.csv", ACCOUNTS_CSV)]


def state() -> tuple[int, int, int]:
    return Organisation.objects.count(), User.objects.count(), Invitation.objects.count()


def preview(client: Client, files: list[SimpleUploadedFile]) -> Any:
    return client.post(reverse("administration:import"), {"file": files})


def propose(client: Client, response: Any, code: str) -> Any:
    token = response.context["preview"].token
    assert token
    return client.post(reverse("administration:import_propose"), {"preview": token, "code": code})


def decide(client: Client, request: AccessChangeRequest, code: str) -> Any:
    return client.post(
        reverse("partnerships:access_change", args=[request.pk]),
        {"action": "approve", "approve-code": code},
    )


def proposed(cast: Cast, admin: User) -> AccessChangeRequest:
    client = verified_client(admin)
    response = propose(client, preview(client, good_files()), current_code(admin))
    assert response.status_code == 302, response.content.decode()[:2000]
    return AccessChangeRequest.objects.get(kind="import")


# --- The preview ------------------------------------------------------------------------


def test_the_preview_lists_what_would_be_created_and_writes_nothing(
    cast: Cast, admin: User, django_assert_num_queries: Any
) -> None:
    client = verified_client(admin)
    before, events = (
        state(),
        Event.objects.order_by("-pk").values_list("pk", flat=True).first() or 0,
    )
    files = good_files()
    # The request's savepoint and the session, user and device; the organisations
    # and the accounts the files name (two, whatever their number); the audit
    # event (linked to the chain at once in tests); the navigation's count; the
    # session's registration (savepoint, update).
    with django_assert_num_queries(18):
        response = preview(client, files)
    assert response.status_code == 200
    page = response.context["preview"]
    assert page.errors == []
    assert page.plan.counts() == {"organisations": 2, "accounts": 3, "skipped": 0}
    body = response.content.decode()
    assert "a.jansen@example.org" in body and "Gemeente Noordstad" in body
    assert state() == before
    # Only the preview's own event: who checked which file, and what it would do.
    event = Event.objects.get(pk__gt=events)
    assert (event.action, event.object_type) == (EventAction.VIEW, "administration.import")
    assert event.detail["organisations"] == 2 and len(event.detail["sha256"]) == 2
    assert AccessChangeRequest.objects.count() == 0
    # The semicolon file's normalised rows: role label, case of the organisation.
    accounts = {p.values["email"]: p.values for p in page.plan.accounts}
    assert accounts["p.devries@example.org"]["role"] == Role.PRACTITIONER
    assert accounts["a.jansen@example.org"]["manages_accounts"] is True
    orgs = {p.values["name"]: p.values for p in page.plan.organisations}
    assert orgs["Gemeente Noordstad"]["languages"] == ["en", "nl"]
    assert orgs["Gemeente Noordstad"]["country"] == "NL"


def _errors(response: Any) -> set[tuple[str, int, str]]:
    return {(e.sheet, e.row, e.column) for e in response.context["preview"].errors}


def test_a_bad_row_in_a_csv_is_named_by_row_and_column_and_nothing_can_be_proposed(
    cast: Cast, admin: User
) -> None:
    client = verified_client(admin)
    bad = (
        "email,first_name,last_name,organisation,role\n"
        "good@example.org,Good,Row,Probation Testdam,practitioner\n"
        "not-an-address,Bad,Email,Probation Testdam,practitioner\n"
        "x@example.org,Unknown,Org,Nowhere Services,practitioner\n"
        "y@example.org,Unknown,Role,Probation Testdam,wizard\n"
        "case_manager@example.org,Exists,Differently,Probation Testdam,observer\n"
        "good@example.org,Twice,In file,Probation Testdam,practitioner\n"
    )
    before = state()
    response = preview(client, [upload("accounts.csv", bad)])
    assert response.status_code == 422
    assert _errors(response) == {
        ("accounts", 3, "email"),
        ("accounts", 4, "organisation"),
        ("accounts", 5, "role"),
        ("accounts", 6, "role"),
        ("accounts", 7, "email"),
    }
    assert response.context["preview"].token == ""
    assert response.context["propose"] is None
    body = response.content.decode()
    assert "Nowhere Services" in body and "Propose the import" not in body
    assert state() == before


def test_a_bad_row_in_an_xlsx_is_named_by_sheet_row_and_column(cast: Cast, admin: User) -> None:
    client = verified_client(admin)
    files = [
        workbook(
            Organisations=[
                ["Name", "Type", "Country", "City", "Languages"],
                ["Reclassering Noord", "probation", "NL", "Noordstad", "nl"],
                ["Broken", "spaceship", "Netherlands", "", "xx"],
                [None, None, None, None, None],
                ["City of Testdam", "police", "", "", ""],
            ],
            accounts=[
                ["email", "organisation", "role", "colour"],
                ["a@example.org", "Reclassering Noord", "case_manager", "blue"],
                ["b@example.org", "", "case_manager", ""],
                ["c@example.org", "Probation Testdam", "administrator", ""],
            ],
        )
    ]
    before = state()
    response = preview(client, files)
    assert response.status_code == 422
    assert _errors(response) == {
        ("organisations", 3, "type"),
        ("organisations", 3, "country"),
        ("organisations", 3, "languages"),
        # An organisation there with another type: an error, never an overwrite.
        ("organisations", 5, "type"),
        ("accounts", 1, "colour"),
        ("accounts", 3, "organisation"),
        ("accounts", 4, "role"),
    }
    assert "region.xlsx, Organisations" in response.content.decode()
    assert state() == before


@pytest.mark.parametrize(
    ("name", "content", "says"),
    [
        ("accounts.csv", "email,role\n".encode("utf-16"), "not a CSV or XLSX"),
        (
            "accounts.csv",
            "email,organisation,role\nzoë@example.org,Ö,x\n".encode("latin-1"),
            "UTF-8",
        ),
        ("region.xlsx", b"PK\x03\x04 this is no workbook", "not a readable XLSX"),
        ("region.xlsx", b"just text", "not a readable XLSX"),
        ("notes.csv", b"colour,size\nblue,3\n", "names neither"),
        ("empty.csv", b"", "header row"),
    ],
)
def test_a_file_that_cannot_be_read_is_refused_with_a_message(
    cast: Cast, admin: User, name: str, content: bytes, says: str
) -> None:
    client = verified_client(admin)
    response = preview(client, [upload(name, content)])
    assert response.status_code == 400
    assert says in response.content.decode()
    assert response.context["preview"] is None


def test_a_file_too_large_or_too_long_is_refused(cast: Cast, admin: User, settings: Any) -> None:
    client = verified_client(admin)
    settings.IMPORT_MAX_BYTES = 200
    response = preview(client, [upload("accounts.csv", ACCOUNTS_CSV * 3)])
    assert response.status_code == 400
    assert "larger than an import may be" in response.content.decode()
    settings.IMPORT_MAX_BYTES = 10_000
    settings.IMPORT_MAX_ROWS = 2
    response = preview(client, good_files())
    assert response.status_code == 400
    assert "more rows than an import may hold" in response.content.decode()
    three = [upload("a.csv", ACCOUNTS_CSV), upload("b.csv", ACCOUNTS_CSV), upload("c.csv", "")]
    settings.IMPORT_MAX_ROWS = 100
    assert preview(client, three).status_code == 400
    assert (
        preview(client, [upload("a.csv", ACCOUNTS_CSV), upload("b.csv", ACCOUNTS_CSV)]).status_code
        == 400
    )


# --- Four eyes ------------------------------------------------------------------------


def test_proposed_it_waits_for_a_second_approver_and_creates_nothing(
    cast: Cast, admin: User
) -> None:
    before = state()
    request = proposed(cast, admin)
    assert request.status == AccessChangeStatus.PENDING
    assert request.partnership is None
    assert len(request.payload["organisations"]) == 2
    assert len(request.payload["accounts"]) == 3
    assert state() == before
    event = Event.objects.get(action=EventAction.PERMISSION_CHANGE, detail__step="proposed")
    assert event.detail["kind"] == "import" and event.detail["accounts"] == 3
    # The DPO is told; the proposer is not.
    notified = set(
        Notification.objects.filter(dedupe_key=f"access-change:{request.pk}").values_list(
            "user__username", flat=True
        )
    )
    assert "auditor" in notified and admin.username not in notified
    # The proposer may not approve their own import.
    client = verified_client(admin)
    response = decide(client, request, current_code(admin))
    assert response.status_code == 403
    request.refresh_from_db()
    assert request.status == AccessChangeStatus.PENDING
    assert state() == before


def test_a_wrong_code_proposes_nothing(cast: Cast, admin: User) -> None:
    client = verified_client(admin)
    response = propose(client, preview(client, good_files()), wrong_code(admin))
    assert response.status_code == 422
    assert "The code is wrong" in response.content.decode()
    assert AccessChangeRequest.objects.count() == 0
    assert Event.objects.filter(outcome=Outcome.DENIED, detail__refused="step_up").exists()


def test_approved_by_the_dpo_everything_is_created_and_mailed_after_commit(
    cast: Cast, admin: User, django_capture_on_commit_callbacks: Any, frozen: Any
) -> None:
    request = proposed(cast, admin)
    dpo = verified_client(cast.auditor)
    before = state()
    assert decide(dpo, request, wrong_code(cast.auditor)).status_code == 422
    assert state() == before
    frozen.shift(STEP)  # past the throttle of the wrong code
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = decide(dpo, request, current_code(cast.auditor))
        assert response.status_code == 302
        assert mail.outbox == []  # not before the commit
    for callback in callbacks:
        callback()
    request.refresh_from_db()
    assert request.status == AccessChangeStatus.APPROVED
    assert request.decided_by == cast.auditor
    assert state() == (before[0] + 2, before[1] + 3, before[2] + 3)
    jansen = User.objects.get(email="a.jansen@example.org")
    assert jansen.organisation.name == "Reclassering Noord"
    assert (jansen.role, jansen.manages_accounts, jansen.language) == ("case_manager", True, "nl")
    assert not jansen.is_active and not jansen.has_usable_password()
    assert jansen.invitations.get().invited_by == admin
    assert User.objects.get(email="m.bakker@example.org").organisation == cast.orgs["probation"]
    assert sorted(m.to[0] for m in mail.outbox) == [
        "a.jansen@example.org",
        "m.bakker@example.org",
        "p.devries@example.org",
    ]
    # Every creation is an event naming the request; and the approval.
    created = Event.objects.filter(action=EventAction.CREATE, detail__access_change=request.pk)
    assert created.filter(object_type="accounts.organisation").count() == 2
    assert created.filter(object_type="accounts.user").count() == 3
    assert set(created.values_list("actor_username", flat=True)) == {"auditor"}
    assert Event.objects.filter(detail__step="approved", detail__access_change=request.pk).exists()

    # The same files again: nothing to create, nothing can be proposed.
    client = verified_client(admin)
    response = preview(client, good_files())
    assert response.status_code == 200
    page = response.context["preview"]
    assert page.errors == [] and page.token == ""
    assert page.plan.counts() == {"organisations": 0, "accounts": 0, "skipped": 5}
    assert "Nothing to import" in response.content.decode()


def test_importing_twice_adds_nothing_even_when_both_were_proposed(
    cast: Cast, admin: User, frozen: Any
) -> None:
    first = proposed(cast, admin)
    frozen.shift(STEP)
    second = proposed_again = None
    client = verified_client(admin)
    response = propose(client, preview(client, good_files()), current_code(admin))
    assert response.status_code == 302
    second = AccessChangeRequest.objects.exclude(pk=first.pk).get(kind="import")
    dpo = verified_client(cast.auditor)
    assert decide(dpo, first, current_code(cast.auditor)).status_code == 302
    frozen.shift(STEP)
    before = state()
    # The second names the same rows, which changed: stale, superseded, nothing added.
    response = decide(dpo, second, current_code(cast.auditor))
    assert response.status_code == 409
    assert "can no longer be approved" in response.content.decode()
    second.refresh_from_db()
    assert second.status == AccessChangeStatus.SUPERSEDED
    assert state() == before
    assert proposed_again is None


def test_a_stale_import_is_refused(cast: Cast, admin: User) -> None:
    request = proposed(cast, admin)
    # Meanwhile someone changes an organisation the import names.
    probation = cast.orgs["probation"]
    Organisation.objects.filter(pk=probation.pk).update(city="Elsewhere", version=2)
    before = state()
    response = decide(verified_client(cast.auditor), request, current_code(cast.auditor))
    assert response.status_code == 409
    request.refresh_from_db()
    assert request.status == AccessChangeStatus.SUPERSEDED
    assert state() == before
    assert Event.objects.filter(detail__refused="stale", detail__access_change=request.pk).exists()


def test_a_row_that_conflicts_when_applied_writes_nothing_and_mails_nobody(
    cast: Cast, admin: User, monkeypatch: Any, django_capture_on_commit_callbacks: Any
) -> None:
    request = proposed(cast, admin)
    # A race the fingerprint cannot see: the same address invited in between.
    monkeypatch.setattr(Import, "fingerprint", lambda self, request, lock: request.base)
    UserFactory(username="p.devries@example.org", email="p.devries@example.org")
    before = state()
    with django_capture_on_commit_callbacks(execute=True):
        response = decide(verified_client(cast.auditor), request, current_code(cast.auditor))
    assert response.status_code == 422
    assert "can no longer be applied" in response.content.decode()
    assert state() == before
    assert not Organisation.objects.filter(name="Reclassering Noord").exists()
    assert mail.outbox == []
    request.refresh_from_db()
    assert request.status == AccessChangeStatus.PENDING


def test_apply_runs_a_fixed_number_of_queries(
    cast: Cast, admin: User, django_assert_num_queries: Any
) -> None:
    request = proposed(cast, admin)
    request = AccessChangeRequest.objects.select_related("proposed_by").get(pk=request.pk)
    # Fixed: the plan (2), the savepoint (2), the accounts' organisations and
    # addresses (2). Per organisation: the unique name, the insert, its event
    # (5 with the chain's head: tests link each event at once). Per account: the
    # address, the organisation, the insert (3 with its savepoint), the
    # invitation, its event (5). Linear in the rows, nothing per row is read twice.
    with django_assert_num_queries(6 + 2 * 7 + 3 * 11):
        imports.import_apply(actor=cast.auditor, request=request)


# --- Who may -----------------------------------------------------------------------------


@pytest.mark.parametrize("actor", ["coordinator", "auditor", "case_manager", "outsider"])
def test_only_the_administrator_imports(cast: Cast, actor: str) -> None:
    client = verified_client(cast.actors[actor])
    assert client.get(reverse("administration:import")).status_code == 403
    assert preview(client, good_files()).status_code == 403
    response = client.post(reverse("administration:import_propose"), {"preview": "x", "code": "1"})
    assert response.status_code == 403
    api = _api(cast.actors[actor])
    response = api.post("/api/v1/imports/preview/", {"file": good_files()})
    assert response.status_code == 403
    assert AccessChangeRequest.objects.count() == 0


def test_a_forged_or_foreign_preview_is_refused(cast: Cast, admin: User) -> None:
    other = UserFactory(username="admin2", organisation=None, role=Role.ADMINISTRATOR)
    token = preview(verified_client(admin), good_files()).context["preview"].token
    client = verified_client(other)
    for value in (token, token + "x", "garbage"):
        response = client.post(
            reverse("administration:import_propose"),
            {"preview": value, "code": current_code(other)},
        )
        assert response.status_code == 422
        assert "upload the file again" in response.content.decode()
    assert AccessChangeRequest.objects.count() == 0


# --- The API ---------------------------------------------------------------------------


def _api(user: User) -> Client:
    _, raw = api_token_create(actor=user, name="t")
    return Client(headers={"Authorization": f"Bearer {raw}"})


def test_the_api_previews_proposes_and_another_approves(
    cast: Cast, admin: User, django_capture_on_commit_callbacks: Any, frozen: Any
) -> None:
    api = _api(admin)
    before = state()
    bad = api.post(
        "/api/v1/imports/preview/",
        {
            "file": [
                upload("accounts.csv", "email,organisation,role\nx@example.org,Nowhere,observer\n")
            ]
        },
    )
    assert bad.status_code == 200
    assert bad.json()["row_errors"] == [
        {
            "sheet": "accounts",
            "file": "accounts.csv",
            "row": 2,
            "column": "organisation",
            "message": bad.json()["row_errors"][0]["message"],
        }
    ]
    assert bad.json()["preview"] == ""
    assert (
        api.post("/api/v1/imports/preview/", {"file": [upload("x.xlsx", b"nope")]}).status_code
        == 400
    )
    response = api.post("/api/v1/imports/preview/", {"file": good_files()})
    assert response.status_code == 200
    body = response.json()
    assert body["counts"] == {"organisations": 2, "accounts": 3, "skipped": 0}
    assert state() == before
    wrong = api.post(
        "/api/v1/imports/",
        data=json.dumps({"preview": body["preview"], "code": wrong_code(admin)}),
        content_type="application/json",
    )
    assert wrong.status_code == 422
    frozen.shift(STEP)
    answer = api.post(
        "/api/v1/imports/",
        data=json.dumps({"preview": body["preview"], "code": current_code(admin)}),
        content_type="application/json",
    )
    assert answer.status_code == 201, answer.content
    change = answer.json()
    assert change["kind"] == "import" and change["status"] == "pending"
    assert state() == before
    dpo = _api(cast.auditor)
    detail = dpo.get(f"/api/v1/access-changes/{change['id']}/")
    assert detail.status_code == 200 and detail.json()["may_decide"] is True
    assert len(detail.json()["lines"]) == 5
    with django_capture_on_commit_callbacks(execute=True):
        approved = dpo.post(
            f"/api/v1/access-changes/{change['id']}/approve/",
            data=json.dumps({"code": current_code(cast.auditor)}),
            content_type="application/json",
        )
    assert approved.status_code == 200, approved.content
    assert state() == (before[0] + 2, before[1] + 3, before[2] + 3)
    assert len(mail.outbox) == 3
