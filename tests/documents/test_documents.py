"""Documents: upload, download, replace, delete, through the pages and the API;
the type check, the size limit, the policy (404 for an ungranted category),
the audit, erasure (no file left in the storage) and pinned query counts."""

from __future__ import annotations

import datetime
import json
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from prepare.accounts.services import api_token_create
from prepare.audit.models import Event, EventAction
from prepare.cases.models import Case, CaseStatus
from prepare.cases.retention.erasure import case_anonymise, case_erase
from prepare.documents.models import Document, DocumentVersion
from prepare.documents.services import document_replace, document_upload
from tests.cast import ALL, Cast, document_sentinel, sentinel
from tests.documents.support import (
    docx_bytes,
    jpeg_bytes,
    odt_bytes,
    pdf_bytes,
    plant_earlier_files,
    png_bytes,
    stored_names,
)
from tests.oracle import AGREEMENTS

pytestmark = pytest.mark.django_db

SECRET = "SENTINELMETADATA7f3a"


# The organisation of the cast's actors the download tests walk.
ORGANISATION_OF = {
    "coordinator": "municipality",
    "case_manager": "probation",
    "police_on_team": "police",
    "ngo_mentor": "ngo",
}


def _reads(org: str) -> set[str]:
    return set(AGREEMENTS["TST"][org])


def _upload(
    client: Any,
    case: Case,
    *,
    content: bytes,
    name: str,
    category: str = "justice",
    title: str = "Licence",
    **extra: str,
) -> Any:
    return client.post(
        reverse("documents:case_documents", args=[case.pk]),
        {
            "document-category": category,
            "document-title": title,
            "document-description": "",
            "document-record": "",
            **{f"document-{k}": v for k, v in extra.items()},
            "document-file": SimpleUploadedFile(
                name, content, content_type="application/octet-stream"
            ),
        },
    )


def _api(user: Any) -> Any:
    from django.test import Client

    _, raw = api_token_create(actor=user, name="documents")
    return Client(headers={"Authorization": f"Bearer {raw}"})


def _streamed(response: Any) -> bytes:
    return b"".join(response.streaming_content)


# --- Upload ------------------------------------------------------------------------------


def test_a_pdf_sent_under_another_name_is_kept_as_a_pdf_without_metadata(
    cast: Cast, as_user: Any
) -> None:
    before = stored_names()
    response = _upload(
        as_user(cast.case_manager),
        cast.case,
        content=pdf_bytes(author=SECRET, xmp=SECRET),
        name="../../Licence Ayoub.exe",
        title="Licence conditions",
    )

    assert response.status_code == 302
    assert response["Location"].endswith("#documents")
    document = Document.objects.get(case=cast.case, title="Licence conditions")
    assert (document.content_type, document.filename) == ("application/pdf", "Licence Ayoub.pdf")
    assert document.organisation_id == cast.orgs["probation"].pk
    (new,) = stored_names() - before
    assert new == document.storage_name and new.startswith(f"c{cast.case.pk}/")
    assert "Ayoub" not in new  # nothing of the person in the storage
    event = Event.objects.get(action=EventAction.CREATE, object_id=str(document.pk))
    assert (event.case_id, event.category, event.detail["type"]) == (
        cast.case.pk,
        "justice",
        "application/pdf",
    )
    assert "Licence" not in json.dumps(event.detail)  # ids and digests, never titles

    download = as_user(cast.case_manager).get(
        reverse("documents:download", args=[cast.case.pk, document.pk])
    )
    body = _streamed(download)
    assert SECRET.encode() not in body and body.startswith(b"%PDF-")


@pytest.mark.parametrize(
    ("content", "name"),
    [
        (b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + b"\x00" * 200, "licence.pdf"),  # an .exe
        (b"<!doctype html><html><script>alert(1)</script></html>", "photo.png"),
        (b"%PDF-1.4 but nothing else", "report.pdf"),
    ],
)
def test_a_disguised_file_is_refused_and_nothing_is_kept(
    cast: Cast, as_user: Any, content: bytes, name: str
) -> None:
    before_files, before_rows = stored_names(), Document.objects.count()

    response = _upload(as_user(cast.case_manager), cast.case, content=content, name=name)

    assert response.status_code == 422
    body = response.content.decode()
    assert "cannot be attached" in body or "cannot be read" in body
    assert 'value="Licence"' in body  # what was typed is kept
    assert (stored_names(), Document.objects.count()) == (before_files, before_rows)


def test_a_file_past_the_limit_is_refused_while_it_arrives(
    cast: Cast, as_user: Any, settings: Any
) -> None:
    before_files, before_rows = stored_names(), Document.objects.count()
    big = b"a" * (settings.DOCUMENT_MAX_BYTES + 1)

    response = _upload(as_user(cast.case_manager), cast.case, content=big, name="notes.txt")

    assert response.status_code == 422
    assert "The file is too large: attach a file of at most" in response.content.decode()
    assert (stored_names(), Document.objects.count()) == (before_files, before_rows)


def test_the_size_limit_stops_the_upload_before_django_keeps_the_file(
    cast: Cast, settings: Any
) -> None:
    """The handler runs first: past the limit, no later handler receives a byte
    (no memory buffer, no temporary file)."""
    from django.core.files.uploadhandler import StopUpload

    from prepare.documents.uploads import SizeLimitHandler, upload_refused

    class Request:
        pass

    request = Request()
    handler = SizeLimitHandler(request)  # type: ignore[arg-type]
    handler.handle_raw_input(None, {}, settings.DOCUMENT_MAX_BYTES * 10, "b")
    with pytest.raises(StopUpload) as stopped:
        handler.new_file("file", "big.pdf", "application/pdf", 10)
    assert stopped.value.connection_reset is False  # the client still gets the answer
    assert upload_refused(request)

    chunked = SizeLimitHandler(Request())  # type: ignore[arg-type]
    chunked.handle_raw_input(None, {}, 0, "b")  # no length announced (chunked)
    chunked.new_file("file", "big.pdf", "application/pdf", None)
    assert chunked.receive_data_chunk(b"x" * settings.DOCUMENT_MAX_BYTES, 0)
    with pytest.raises(StopUpload):
        chunked.receive_data_chunk(b"x", settings.DOCUMENT_MAX_BYTES)


def test_a_category_the_uploader_may_not_write_is_refused(cast: Cast, as_user: Any) -> None:
    # The NGO writes interventions only; intelligence is the police's.
    before = Document.objects.count()
    response = _upload(
        as_user(cast.ngo_mentor), cast.case, content=b"report", name="r.txt", category="justice"
    )
    assert response.status_code == 403
    assert Document.objects.count() == before


def test_a_document_about_a_record_takes_its_category(cast: Cast) -> None:
    note = cast.notes["risk"]
    with pytest.raises(Exception) as refused:
        document_upload(
            actor=cast.case_manager,
            case_id=cast.case.pk,
            category="justice",
            title="Report",
            upload=b"report",
            filename="r.txt",
            record_kind="note",
            record_id=note.pk,
        )
    assert "record's category" in str(refused.value)
    document = document_upload(
        actor=cast.case_manager,
        case_id=cast.case.pk,
        category="risk",
        title="Report",
        upload=b"report",
        filename="r.txt",
        record_kind="note",
        record_id=note.pk,
    )
    assert document.note_id == note.pk and document.record == note


def test_a_photo_loses_its_exif_and_gps(cast: Cast, as_user: Any) -> None:
    response = _upload(
        as_user(cast.case_manager),
        cast.case,
        content=jpeg_bytes(exif_text=SECRET, gps=True),
        name="IMG_0001.JPG",
        category="social",
        title="Flat",
    )
    assert response.status_code == 302
    document = Document.objects.get(title="Flat")
    body = _streamed(
        as_user(cast.case_manager).get(
            reverse("documents:download", args=[cast.case.pk, document.pk])
        )
    )
    assert body.startswith(b"\xff\xd8\xff") and SECRET.encode() not in body
    assert b"Exif" not in body[:200]


# --- Download: only through the policy, audited ------------------------------------------


@pytest.mark.parametrize("actor", ["coordinator", "case_manager", "police_on_team", "ngo_mentor"])
def test_a_document_of_an_ungranted_category_answers_404(
    cast: Cast, as_user: Any, actor: str
) -> None:
    user = getattr(cast, actor)
    reads = _reads(ORGANISATION_OF[actor])
    page, api = as_user(user), _api(user)
    for category, document in cast.documents.items():
        url = reverse("documents:download", args=[cast.case.pk, document.pk])
        api_url = reverse("v1_document_download", args=[document.pk])
        response = page.get(url)
        if category in reads:
            assert response.status_code == 200, (actor, category)
            assert _streamed(response) == document_sentinel(category).encode()
            answer = api.get(api_url)
            assert answer.status_code == 200
            assert _streamed(answer) == document_sentinel(category).encode()
        else:
            answer = api.get(api_url)
            assert (response.status_code, answer.status_code) == (404, 404), (actor, category)
            assert sentinel(category) not in response.content.decode()
    # The list shows exactly the readable ones.
    listed = page.get(reverse("documents:case_documents", args=[cast.case.pk])).content.decode()
    assert {c for c in ALL if document_sentinel(c) in listed} == reads


def test_a_document_is_reached_only_under_its_own_case(cast: Cast, as_user: Any) -> None:
    document = cast.documents["justice"]
    other = Case.objects.create(
        person=cast.case.person, partnership=cast.partnership, reference="TST-2026-0099"
    )
    from prepare.access.grants import case_grants_rebuild

    case_grants_rebuild(other)
    response = as_user(cast.coordinator).get(
        reverse("documents:download", args=[other.pk, document.pk])
    )
    assert response.status_code == 404


def test_the_download_is_an_audited_attachment_that_nothing_caches(
    cast: Cast, as_user: Any
) -> None:
    document = cast.documents["justice"]
    before = Event.objects.count()

    response = as_user(cast.case_manager).get(
        reverse("documents:download", args=[cast.case.pk, document.pk])
    )

    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain"
    assert response["Content-Disposition"] == 'attachment; filename="justice.txt"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in response["Cache-Control"]
    assert "sandbox" in response["Content-Security-Policy"]
    _streamed(response)
    (event,) = Event.objects.order_by("seq")[before:]
    assert (event.action, event.case_id, event.object_id, event.category) == (
        EventAction.EXPORT,
        cast.case.pk,
        str(document.pk),
        "justice",
    )
    assert event.actor_id == cast.case_manager.pk
    assert event.detail["export"] == "document"


# --- Replace and delete ------------------------------------------------------------------


def test_the_attaching_organisation_replaces_the_file_and_the_old_one_is_kept(
    cast: Cast, as_user: Any, django_capture_on_commit_callbacks: Any
) -> None:
    document = cast.documents["justice"]  # attached by the municipality, at version 2
    old_name, old_sha = document.storage_name, document.sha256
    url = reverse("documents:replace", args=[cast.case.pk, document.pk])
    # Probation writes justice but did not attach it: it attaches its own.
    refused = as_user(cast.case_manager).post(
        url, {"version": "2", "file": SimpleUploadedFile("n.txt", b"new")}
    )
    assert refused.status_code == 403
    stale = as_user(cast.coordinator).post(
        url, {"version": "1", "file": SimpleUploadedFile("n.txt", b"new")}
    )
    assert stale.status_code == 409
    assert document.versions.count() == 1 and old_name in stored_names()

    with django_capture_on_commit_callbacks(execute=True):
        done = as_user(cast.coordinator).post(
            url, {"version": "2", "file": SimpleUploadedFile("signed.pdf", pdf_bytes())}
        )

    assert done.status_code == 302
    document.refresh_from_db()
    assert (document.version, document.content_type, document.filename) == (
        3,
        "application/pdf",
        "signed.pdf",
    )
    earlier = document.versions.get(number=2)
    assert (earlier.storage_name, earlier.sha256, earlier.content_type) == (
        old_name,
        old_sha,
        "text/plain",
    )
    assert (earlier.attached_by_id, earlier.replaced_by_id) == (
        cast.coordinator.pk,
        cast.coordinator.pk,
    )
    assert earlier.replaced_at == document.updated_at
    assert {old_name, document.storage_name} <= stored_names()
    event = Event.objects.get(action=EventAction.UPDATE, object_id=str(document.pk))
    assert event.detail["fields"] == ["file"] and event.detail["replaced_sha256"] == old_sha
    assert event.detail["earlier_file"] == earlier.pk

    # The history shows on the page, newest first, with who replaced each file and when.
    page = as_user(cast.coordinator).get(reverse("documents:case_documents", args=[cast.case.pk]))
    body = page.content.decode()
    assert "2 earlier files" in body
    assert body.index(f"document-{document.pk}-file-2") < body.index(
        f"document-{document.pk}-file-1"
    )
    assert (
        reverse("documents:version_download", args=[cast.case.pk, document.pk, earlier.pk]) in body
    )
    # ... and the earlier file is downloaded as it was.
    download = as_user(cast.case_manager).get(
        reverse("documents:version_download", args=[cast.case.pk, document.pk, earlier.pk])
    )
    assert _streamed(download) == document_sentinel("justice").encode()


def test_deleting_a_document_removes_its_file_after_commit(
    cast: Cast, as_user: Any, django_capture_on_commit_callbacks: Any
) -> None:
    document = cast.documents["risk"]
    earlier = set(document.versions.values_list("storage_name", flat=True))
    assert len(earlier) == 1 and earlier <= stored_names()
    url = reverse("documents:delete", args=[cast.case.pk, document.pk])
    assert as_user(cast.coordinator).post(url, {}).status_code == 428
    assert as_user(cast.coordinator).post(url, {"version": "3"}).status_code == 409
    assert Document.objects.filter(pk=document.pk).exists()

    with django_capture_on_commit_callbacks(execute=True):
        response = as_user(cast.coordinator).post(url, {"version": "2"})

    assert response.status_code == 302
    assert not Document.objects.filter(pk=document.pk).exists()
    assert not DocumentVersion.objects.filter(document_id=document.pk).exists()
    assert not ({document.storage_name} | earlier) & stored_names()
    assert Event.objects.filter(action=EventAction.DELETE, object_id=str(document.pk)).exists()


# --- Erasure: no file left -------------------------------------------------------------


def _close(case: Case) -> None:
    Case.objects.filter(pk=case.pk).update(
        status=CaseStatus.CLOSED, closed_on=timezone.localdate() - datetime.timedelta(days=1)
    )


@pytest.mark.parametrize("how", ["erase", "anonymise"])
def test_after_erasure_no_file_of_the_case_remains_in_the_storage(
    cast: Cast, how: str, django_capture_on_commit_callbacks: Any, tmp_path: Any
) -> None:
    storages = {
        "documents": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path)},
        }
    }
    from django.conf import settings

    with override_settings(STORAGES={**settings.STORAGES, **storages}):
        # A file of every type, one of them replaced twice (its earlier files kept).
        uploads = [
            ("licence.pdf", pdf_bytes()),
            ("report.docx", docx_bytes(author=SECRET)),
            ("order.odt", odt_bytes(author=SECRET)),
            ("photo.jpg", jpeg_bytes()),
            ("plan.png", png_bytes()),
        ]
        made = [
            document_upload(
                actor=cast.case_manager,
                case_id=cast.case.pk,
                category="justice",
                title=name,
                upload=content,
                filename=name,
            )
            for name, content in uploads
        ]
        for version, (name, content) in enumerate(uploads[1:3], start=1):
            document_replace(
                actor=cast.case_manager,
                document_id=made[0].pk,
                version=version,
                upload=content,
                filename=name,
            )
        assert DocumentVersion.objects.filter(document=made[0]).count() == 2
        other = document_upload(
            actor=cast.outsider,
            case_id=cast.other_case.pk,
            category="justice",
            title="Elsewhere",
            upload=b"kept",
            filename="kept.txt",
        )
        on_disk = {str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()}
        # The cast's files are in the tests' own storage: these are the new ones.
        assert len([n for n in on_disk if n.startswith(f"c{cast.case.pk}/")]) == 7
        _close(cast.case)

        with django_capture_on_commit_callbacks(execute=True):
            if how == "erase":
                case_erase(case_id=cast.case.pk)
            else:
                case_anonymise(case_id=cast.case.pk)

        left = {str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()}
        assert left == {other.storage_name}  # the other case's file only
        assert not Document.objects.filter(case_id=cast.case.pk).exists()
        assert not DocumentVersion.objects.filter(document__case_id=cast.case.pk).exists()
        tomb = Event.objects.filter(action=EventAction.ERASE, case_id=cast.case.pk).latest("seq")
        # The cast's documents (each with one earlier file), and the ones above.
        assert tomb.detail["files"] == 2 * len(ALL) + len(uploads) + 2
        assert tomb.detail["removed"]["documents.document"] == len(ALL) + len(uploads)
        assert tomb.detail["removed"]["documents.documentversion"] == len(ALL) + 2


def test_an_erasure_that_fails_deletes_no_file(cast: Cast, monkeypatch: Any) -> None:
    """The files go after the commit: a rolled-back erasure leaves them all."""
    from prepare.cases.retention import erasure

    names = {d.storage_name for d in cast.documents.values()}
    names |= set(DocumentVersion.objects.values_list("storage_name", flat=True))
    _close(cast.case)

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("disk full")

    monkeypatch.setattr(erasure, "_erase_person_if_unused", broken)
    with pytest.raises(RuntimeError):
        case_erase(case_id=cast.case.pk)
    assert names <= stored_names()
    assert Document.objects.filter(case_id=cast.case.pk).count() == len(ALL)


# --- Pinned query counts -----------------------------------------------------------------

# Request (6), grants (1), the case and the write check (2), the documents with
# their authors and records (1), their earlier files with who attached and who
# replaced them (1), the choices of records for the form (4: notes, contacts,
# conditions, signals), the audit event (6).
DOCUMENTS_PAGE_QUERIES = 21


def _more_documents(cast: Cast, n: int) -> None:
    """``n`` more documents, each replaced ``i`` times (``i`` earlier files)."""
    for i in range(n):
        document = Document.objects.create(
            case=cast.case,
            category="justice",
            note=cast.notes["justice"] if i % 2 else None,
            title=f"extra {i}",
            organisation=cast.orgs["probation"],
            storage_name=f"c{cast.case.pk}/extra-{i}.txt",
            filename=f"extra-{i}.txt",
            content_type="text/plain",
            size=1,
            sha256="0" * 64,
            created_by=cast.case_manager,
            updated_by=cast.case_manager,
            version=i + 1,
        )
        plant_earlier_files(document, range(1, i + 1), cast.case_manager, cast.coordinator)


@pytest.mark.parametrize("n", [2, 30])
def test_the_documents_page_costs_the_same_at_any_size(
    cast: Cast, as_user: Any, django_assert_num_queries: Any, n: int
) -> None:
    _more_documents(cast, n)
    client = as_user(cast.case_manager)
    client.get(reverse("cases:caseload"))
    with django_assert_num_queries(DOCUMENTS_PAGE_QUERIES):
        response = client.get(reverse("documents:case_documents", args=[cast.case.pk]))
    assert response.status_code == 200
    body = response.content.decode()
    assert all(f">extra {i}</a>" in body for i in range(n))
    assert all(f">extra-{n - 1}-{k}.txt</a>" in body for k in range(1, n))  # every earlier file


# The request's transaction (2), the token with its user (1; its use was
# recorded by the request before, within the minute), grants (1), the case (1),
# one page of documents and its capped count (2), the audit event (stored,
# index, then sealed: check, head, seal, head: 6).
API_LIST_QUERIES = 13


@pytest.mark.parametrize("n", [2, 30])
def test_the_documents_api_list_costs_the_same_at_any_size(
    cast: Cast, django_assert_num_queries: Any, n: int
) -> None:
    _more_documents(cast, n)
    client = _api(cast.case_manager)
    client.get(reverse("v1_cases"))
    with django_assert_num_queries(API_LIST_QUERIES):
        response = client.get(reverse("v1_case_documents", args=[cast.case.pk]))
    assert response.status_code == 200
    titles = {row["title"] for row in response.json()["results"]}
    assert {f"extra {i}" for i in range(n)} <= titles


def test_the_sweep_deletes_files_no_document_names(cast: Cast, settings: Any) -> None:
    """A file stored by a write that rolled back later (or whose deletion failed)
    is removed by the daily sweep, once it is old enough; named files stay."""
    import time_machine
    from django.core.files.base import ContentFile
    from django.core.files.storage import storages

    from prepare.documents.services import SWEEP_AGE, document_files_sweep
    from prepare.notifications.scheduler import discover

    storage = storages["documents"]
    orphan = storage.save(f"c{cast.case.pk}/orphan.txt", ContentFile(b"left over"))
    named = {d.storage_name for d in cast.documents.values()}
    document_files_sweep()
    assert orphan in stored_names()  # too young: maybe a write in progress

    with time_machine.travel(timezone.now() + SWEEP_AGE + datetime.timedelta(minutes=1)):
        deleted = document_files_sweep()

    # (The in-memory storage of the tests may hold other tests' left-overs too.)
    assert deleted >= 1
    assert orphan not in stored_names() and named <= stored_names()
    assert "document_files" in discover()
