"""The administrator's instruments (issue 11, item 3): the list with every
version, loading YAML and workbook files through the page with every located
problem and nothing stored on any, a version's read-only preview in the
reader's language, and its files (YAML, workbook, FHIR). Only the
administrator; uploads, refusals and downloads audited."""

from __future__ import annotations

import copy
import io
import json
from collections.abc import Callable
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils.html import escape
from openpyxl import load_workbook

from prepare.accounts.models import User
from prepare.administration.instruments import MAX_FILES
from prepare.assessments.files import check_bytes, to_yaml
from prepare.assessments.models import Instrument, InstrumentVersion
from prepare.assessments.validation import content_hash
from prepare.assessments.workbook import write_workbook
from prepare.audit.models import Event, EventAction, Outcome
from tests.assessments.support import NEEDS, RISK, completed_assessment, example
from tests.cast import Cast, verified_client
from tests.routes_table import leaks

LOAD = "administration:instrument_load"


def yaml_upload(content: dict[str, Any], name: str = "risk.yaml") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, to_yaml(content).encode())


def workbook_upload(
    content: dict[str, Any],
    name: str = "needs.xlsx",
    change: Callable[[Any], None] | None = None,
) -> SimpleUploadedFile:
    data = write_workbook(content)
    if change is not None:
        book = load_workbook(io.BytesIO(data))
        change(book)
        out = io.BytesIO()
        book.save(out)
        data = out.getvalue()
    return SimpleUploadedFile(name, data)


def cell(sheet: str, row: int, column: str, value: Any) -> Callable[[Any], None]:
    def change(book: Any) -> None:
        ws = book[sheet]
        header = [c.value for c in ws[1]]
        ws.cell(row=row, column=header.index(column) + 1).value = value

    return change


def load(client: Client, *files: SimpleUploadedFile) -> Any:
    return client.post(reverse(LOAD), {"file": list(files)})


def stored() -> tuple[int, int]:
    return Instrument.objects.count(), InstrumentVersion.objects.count()


def last_event() -> int:
    return Event.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def events_since(pk: int) -> list[Event]:
    return list(Event.objects.filter(pk__gt=pk).order_by("pk"))


def messages_of(response: Any) -> list[str]:
    return [str(m) for m in response.context["messages"]]


# --- Loading --------------------------------------------------------------------------


def test_the_administrator_loads_yaml_and_a_workbook_and_sees_what_was_created(
    cast: Cast, admin: User
) -> None:
    client = verified_client(admin)
    before = last_event()

    response = load(client, yaml_upload(example(RISK)), workbook_upload(example(NEEDS)))

    assert response.status_code == 302
    assert response["Location"] == reverse("administration:instruments")
    page = client.get(response["Location"])
    [message] = messages_of(page)
    assert message == (
        "Loaded: example-extremism-risk version 1.0 (risk.yaml), "
        "example-resettlement-needs version 1.0 (needs.xlsx)."
    )
    assert stored() == (2, 2)
    # The workbook loads to the very content of the YAML example.
    needs = InstrumentVersion.objects.get(instrument__identifier="example-resettlement-needs")
    assert (needs.content, needs.loaded_by) == (example(NEEDS), admin)
    assert needs.content_hash == content_hash(example(NEEDS))
    created = [e for e in events_since(before) if e.action == EventAction.CREATE]
    assert [(e.actor_id, e.outcome, e.detail["identifier"]) for e in created] == [
        (admin.pk, Outcome.SUCCESS, "example-extremism-risk"),
        (admin.pk, Outcome.SUCCESS, "example-resettlement-needs"),
    ]
    body = page.content.decode()
    assert "Extremism risk and protective factors" in body
    assert needs.content_hash[:12] in body


def test_loading_the_same_content_again_changes_nothing_and_says_so(
    cast: Cast, admin: User
) -> None:
    client = verified_client(admin)
    assert load(client, yaml_upload(example(NEEDS), "needs.yaml")).status_code == 302
    client.get(reverse("administration:instruments"))  # the first message read
    before = last_event()

    # The workbook of the same instrument is the same content: already there.
    response = load(client, workbook_upload(example(NEEDS)))

    assert response.status_code == 302
    page = client.get(response["Location"])
    assert messages_of(page) == [
        "Already loaded with the same content, nothing changed: "
        "example-resettlement-needs version 1.0 (needs.xlsx)."
    ]
    assert stored() == (1, 1)
    assert [e for e in events_since(before) if e.action == EventAction.CREATE] == []


def test_an_invalid_workbook_shows_each_located_problem_and_nothing_is_stored(
    cast: Cast, admin: User
) -> None:
    client = verified_client(admin)
    before = last_event()
    broken = workbook_upload(
        example(NEEDS),
        change=lambda book: (
            cell("items", 14, "scale", "hi-lo")(book),
            cell("items", 6, "id", "housing-place")(book),
        ),
    )

    # A valid file in the same upload is not loaded either.
    response = load(client, yaml_upload(example(RISK)), broken)

    assert response.status_code == 422
    assert stored() == (0, 0)
    problems = response.context["problems"]
    assert 'needs.xlsx: sheet items, row 14, column scale: unknown scale "hi-lo"' in problems
    assert 'needs.xlsx: sheet items, row 6, column id: "housing-place" is used twice' in problems
    body = response.content.decode()
    assert "problems: nothing was loaded" in body
    assert "sheet items, row 14, column scale: unknown scale &quot;hi-lo&quot;" in body
    assert 'class="error-summary"' in body
    # The refusal is audited: who, which files (by digest), how many problems;
    # no version was created.
    events = events_since(before)
    assert [e.action for e in events] == [EventAction.CREATE]
    [refused] = events
    assert (refused.actor_id, refused.outcome) == (admin.pk, Outcome.FAILURE)
    assert refused.object_type == "assessments.instrumentversion"
    assert refused.detail["files"] == ["risk.yaml", "needs.xlsx"]
    assert refused.detail["problems"] == len(problems)
    assert len(refused.detail["sha256"]) == 2


def test_a_changed_content_under_a_loaded_version_is_refused(cast: Cast, admin: User) -> None:
    client = verified_client(admin)
    assert load(client, yaml_upload(example(RISK))).status_code == 302
    original = InstrumentVersion.objects.get()
    changed = example(RISK)
    changed["title"]["en"] = "Another title"

    response = load(client, yaml_upload(changed, "changed.yaml"))

    assert response.status_code == 422
    assert response.context["problems"] == [
        'changed.yaml: version: version "1.0" of "example-extremism-risk" is loaded already '
        "with a different content; give the changed instrument a new version"
    ]
    again = InstrumentVersion.objects.get()
    assert (again.pk, again.content, again.content_hash) == (
        original.pk,
        original.content,
        original.content_hash,
    )


def test_files_that_are_not_instruments_are_refused_with_the_others_checked(
    cast: Cast, admin: User, settings: Any
) -> None:
    client = verified_client(admin)
    bad = example(RISK)
    bad["items"][12]["scale"] = "hi-lo"

    response = load(
        client,
        SimpleUploadedFile("notes.txt", b"hello"),
        yaml_upload(bad, "bad.yaml"),
        yaml_upload(example(NEEDS), "needs.yaml"),
    )

    assert response.status_code == 422
    assert response.context["problems"] == [
        "notes.txt: not an instrument file: give a YAML file (.yaml, .yml) or a workbook (.xlsx)",
        'bad.yaml: items[12].scale: unknown scale "hi-lo"',
    ]
    assert stored() == (0, 0)


def test_too_many_files_or_a_file_too_large_are_refused(
    cast: Cast, admin: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = verified_client(admin)
    many = [yaml_upload(example(NEEDS), f"n{i}.yaml") for i in range(MAX_FILES + 1)]
    response = load(client, *many)
    assert response.status_code == 422
    assert "Upload at most 10 files at a time." in response.context["problems"]

    monkeypatch.setattr("prepare.administration.instruments.MAX_BYTES", 100)
    response = load(client, yaml_upload(example(NEEDS), "big.yaml"))
    assert response.status_code == 422
    assert response.context["problems"] == ["big.yaml: the file is larger than 0 MB"]

    response = client.post(reverse(LOAD), {})
    assert response.status_code == 422
    assert stored() == (0, 0)


# --- Who ------------------------------------------------------------------------------


NON_ADMINS = ("coordinator", "case_manager", "auditor", "trainer", "outsider")


@pytest.mark.parametrize("actor", NON_ADMINS)
def test_only_the_administrator_reaches_the_instruments(
    cast: Cast, admin: User, actor: str
) -> None:
    load(verified_client(admin), yaml_upload(example(RISK)))
    version = InstrumentVersion.objects.get()
    client = verified_client(cast.actors[actor])
    pages = [
        reverse("administration:instruments"),
        reverse(LOAD),
        reverse("administration:instrument_version", args=[version.pk]),
        reverse("administration:instrument_version", args=[987_654]),
        *(
            reverse(f"administration:instrument_{f}", args=[version.pk])
            for f in ("yaml", "xlsx", "fhir")
        ),
    ]
    before = last_event()
    for url in pages:
        response = client.get(url)
        # 403 everywhere, whether the version exists or not: no oracle.
        assert response.status_code == 403, (url, response.status_code)
        assert "example-extremism-risk" not in response.content.decode()
    response = load(client, yaml_upload(example(NEEDS), "needs.yaml"))
    assert response.status_code == 403
    assert stored() == (1, 1)
    assert not Event.objects.filter(pk__gt=before, action=EventAction.EXPORT).exists()
    assert Event.objects.filter(pk__gt=before, action=EventAction.DENIED).exists()


def test_the_administrator_gets_404_for_a_version_or_a_file_that_does_not_exist(
    cast: Cast, admin: User
) -> None:
    client = verified_client(admin)
    load(client, yaml_upload(example(RISK)))
    version = InstrumentVersion.objects.get()
    assert client.get(reverse("administration:instrument_version", args=[987_654])).status_code == (
        404
    )
    assert client.get(f"/administration/instruments/versions/{version.pk}/pdf/").status_code == 404
    for file_format in ("yaml", "xlsx", "fhir"):
        url = reverse(f"administration:instrument_{file_format}", args=[987_654])
        assert client.get(url).status_code == 404, url


# --- Files ----------------------------------------------------------------------------


def _download(client: Client, version: InstrumentVersion, file_format: str) -> Any:
    return client.get(reverse(f"administration:instrument_{file_format}", args=[version.pk]))


def test_each_version_downloads_as_yaml_a_workbook_and_fhir_audited(
    cast: Cast, admin: User
) -> None:
    client = verified_client(admin)
    load(client, yaml_upload(example(RISK)))
    version = InstrumentVersion.objects.get()
    before = last_event()

    yaml_answer = _download(client, version, "yaml")
    xlsx_answer = _download(client, version, "xlsx")
    fhir_answer = _download(client, version, "fhir")

    assert yaml_answer.status_code == xlsx_answer.status_code == fhir_answer.status_code == 200
    assert yaml_answer["Content-Type"] == "application/yaml; charset=utf-8"
    assert yaml_answer["Content-Disposition"] == (
        'attachment; filename="example-extremism-risk-1.0.yaml"'
    )
    assert xlsx_answer["Content-Type"] == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert xlsx_answer["Content-Disposition"] == (
        'attachment; filename="example-extremism-risk-1.0.xlsx"'
    )
    assert fhir_answer["Content-Type"] == "application/fhir+json; charset=utf-8"
    assert fhir_answer["Content-Disposition"] == (
        'attachment; filename="example-extremism-risk-1.0.fhir.json"'
    )
    for answer in (yaml_answer, xlsx_answer, fhir_answer):
        assert "no-store" in answer["Cache-Control"]
        assert answer["X-Content-Type-Options"] == "nosniff"
    # The YAML and the workbook read back to the stored content, hash and all.
    for name, answer in (("back.yaml", yaml_answer), ("back.xlsx", xlsx_answer)):
        checked = check_bytes(name, answer.content)
        assert checked.errors == []
        assert checked.content == version.content
        assert content_hash(checked.content) == version.content_hash
    questionnaire = json.loads(fhir_answer.content)
    assert questionnaire["resourceType"] == "Questionnaire"
    assert (questionnaire["url"], questionnaire["version"]) == (
        "urn:prepare:instrument:example-extremism-risk",
        "1.0",
    )
    exports = events_since(before)
    assert [(e.action, e.actor_id, e.object_id, e.detail["format"]) for e in exports] == [
        (EventAction.EXPORT, admin.pk, str(version.pk), "yaml"),
        (EventAction.EXPORT, admin.pk, str(version.pk), "xlsx"),
        (EventAction.EXPORT, admin.pk, str(version.pk), "fhir"),
    ]


# --- The list and the version's page ----------------------------------------------------


def _instruments(count: int) -> None:
    """``count`` instruments of two versions each, stored directly (the loader is
    tested above), the first loaded by no account."""
    base = example(NEEDS)
    for n in range(count):
        instrument = Instrument.objects.create(identifier=f"needs-{n:02d}", category="social")
        for version in ("1", "2"):
            content = copy.deepcopy(base)
            content.update(identifier=instrument.identifier, version=version)
            InstrumentVersion.objects.create(
                instrument=instrument,
                version=version,
                content=content,
                content_hash=content_hash(content),
            )


LIST_QUERIES = 9


@pytest.mark.parametrize("count", [2, 10])
def test_the_list_runs_the_same_queries_whatever_the_number_of_instruments(
    cast: Cast, admin: User, django_assert_num_queries: Any, count: int
) -> None:
    _instruments(count)
    client = verified_client(admin)
    url = reverse("administration:instruments")
    client.get(url)  # the session's first write out of the way
    with django_assert_num_queries(LIST_QUERIES):
        response = client.get(url)
    assert response.status_code == 200
    body = response.content.decode()
    assert body.count('scope="rowgroup"') == count
    assert body.count("Version 2") == count


def test_the_list_shows_versions_who_loaded_them_and_their_assessments(
    cast: Cast, admin: User
) -> None:
    client = verified_client(admin)
    load(client, yaml_upload(example(RISK)))
    version = InstrumentVersion.objects.get()
    completed_assessment(cast.case_manager, cast.case, version)
    completed_assessment(cast.police_on_team, cast.case, version)
    admin.first_name, admin.last_name = "Ada", "Admin"
    admin.save()

    response = client.get(reverse("administration:instruments"))

    assert response.status_code == 200
    [row] = response.context["rows"]
    [v] = row.versions
    assert (v.version, v.loaded_by, v.assessments, v.short_hash) == (
        "1.0",
        "Ada Admin",
        2,
        version.content_hash[:12],
    )
    assert row.title == "Extremism risk and protective factors (example, not a validated tool)"
    # Only their number: nothing of the case or the assessments.
    assert leaks(response.content.decode(), frozenset(), reference=cast.case.reference) == []
    assert "Seen in the interview" not in response.content.decode()


def test_the_list_finds_an_instrument_by_identifier_or_title(cast: Cast, admin: User) -> None:
    client = verified_client(admin)
    load(client, yaml_upload(example(RISK)), yaml_upload(example(NEEDS), "needs.yaml"))
    url = reverse("administration:instruments")

    def found(query: str) -> list[str]:
        rows = client.get(url, {"q": query}).context["rows"]
        return [r.instrument.identifier for r in rows]

    assert found("needs") == ["example-resettlement-needs"]
    assert found("protective factors") == ["example-extremism-risk"]
    assert found("nothing like it") == []
    assert found("") == ["example-extremism-risk", "example-resettlement-needs"]


VERSION_QUERIES = 8


def test_a_version_shows_its_items_per_domain_in_the_readers_language(
    cast: Cast, admin: User, django_assert_num_queries: Any
) -> None:
    client = verified_client(admin)
    load(client, yaml_upload(example(RISK)))
    version = InstrumentVersion.objects.get()
    admin.language = "fr"
    admin.save()
    url = reverse("administration:instrument_version", args=[version.pk])
    client.get(url)

    with django_assert_num_queries(VERSION_QUERIES):
        response = client.get(url)

    assert response.status_code == 200
    body = response.content.decode()
    risk = example(RISK)
    for domain in risk["domains"]:
        assert escape(domain["label"]["fr"]) in body
    for item in risk["items"]:
        assert escape(item["label"]["fr"]) in body
    assert escape(risk["items"][0]["label"]["en"]) not in body
    for file_format in ("yaml", "xlsx", "fhir"):
        assert reverse(f"administration:instrument_{file_format}", args=[version.pk]) in body
    # Read only: no form in the page's content.
    assert 'method="post"' not in body.split("<main", 1)[1].split("</main>", 1)[0]


def test_a_new_version_shows_what_it_maps_from(cast: Cast, admin: User) -> None:
    client = verified_client(admin)
    newer = example(RISK)
    newer["version"] = "1.1"
    newer["items"][0]["id"] = "B1a"
    newer["items"] = [i for i in newer["items"] if i["id"] != "H3"]
    newer["maps_from"] = {
        "version": "1.0",
        "items": [
            {"change": "renamed", "old": ["B1"], "new": ["B1a"]},
            {"change": "removed", "old": ["H3"]},
        ],
    }
    # The earlier version first in the same upload: the new one maps from it.
    response = load(client, yaml_upload(example(RISK)), yaml_upload(newer, "newer.yaml"))
    assert response.status_code == 302
    old = InstrumentVersion.objects.get(version="1.0")
    new = InstrumentVersion.objects.get(version="1.1")

    page = client.get(reverse("administration:instrument_version", args=[new.pk]))

    assert page.status_code == 200
    context = page.context["page"]
    assert (context.maps_from_version, context.maps_from_pk) == ("1.0", old.pk)
    risk = example(RISK)
    h3 = next(i for i in risk["items"] if i["id"] == "H3")
    assert [(m.change, m.old, m.new) for m in context.mappings] == [
        (
            "renamed",
            [("B1", risk["items"][0]["label"]["en"])],
            [("B1a", newer["items"][0]["label"]["en"])],
        ),
        ("removed", [("H3", h3["label"]["en"])], []),
    ]
    body = page.content.decode()
    assert reverse("administration:instrument_version", args=[old.pk]) in body
    assert "How it follows the earlier version" in body


def test_a_text_that_looks_like_a_formula_downloads_as_text(cast: Cast, admin: User) -> None:
    """A workbook cell never runs what an instrument's author wrote."""
    client = verified_client(admin)
    content = example(NEEDS)
    content["items"][0]["label"]["en"] = '=HYPERLINK("https://example.org","click")'
    content["title"]["en"] = "=1+1"
    load(client, yaml_upload(content, "needs.yaml"))
    version = InstrumentVersion.objects.get()

    answer = _download(client, version, "xlsx")

    book = load_workbook(io.BytesIO(answer.content))
    cells = [c for ws in book.worksheets for row in ws.iter_rows() for c in row]
    assert [c.coordinate for c in cells if c.data_type == "f"] == []
    checked = check_bytes("back.xlsx", answer.content)
    assert checked.errors == [] and checked.content == version.content
