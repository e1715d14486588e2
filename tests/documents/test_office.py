"""Word (DOCX) and OpenDocument text (ODT) files: accepted by their content,
stripped of their metadata, refused with a message when they carry macros, a
password, or an archive that is unsafe to unpack; and the earlier files a
replacement keeps, read only through the document's policy."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart
from django.urls import reverse

from prepare.audit.models import Event, EventAction
from prepare.documents.content import clean_file
from prepare.documents.models import Document, FileType
from prepare.documents.office import MAX_ENTRIES, OLE_SIGNATURE
from tests.cast import ALL, Cast, earlier_sentinel
from tests.documents.support import (
    docx_bytes,
    docx_entries,
    odt_bytes,
    odt_entries,
    plant_earlier_files,
    stored_names,
    zip_bytes,
)
from tests.documents.test_documents import ORGANISATION_OF, _api, _reads, _streamed, _upload

SECRET = "SENTINELAUTHOR9c1d"
DOCX = FileType.DOCX.value
ODT = FileType.ODT.value


def _parts(content: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


# --- Accepted and stripped ---------------------------------------------------------------


def test_a_docx_loses_its_properties_and_thumbnail_and_keeps_its_text() -> None:
    sent = docx_bytes("Licence of Ayoub", author=SECRET, comment="Check the curfew")
    assert b"docProps/core.xml" in sent

    kept = clean_file(sent)

    assert (kept.content_type, kept.extension) == (DOCX, "docx")
    parts = _parts(kept.content)
    assert not any(name.startswith("docProps/") for name in parts)
    assert b"Licence of Ayoub" in parts["word/document.xml"]
    # Comments and tracked changes are the document: kept, with their authors.
    assert b"Check the curfew" in parts["word/comments.xml"]
    assert SECRET.encode() in parts["word/document.xml"]  # the w:ins author
    # Nothing points at what is gone, so Word opens it without a repair.
    assert b"docProps" not in parts["[Content_Types].xml"]
    assert b"docProps" not in parts["_rels/.rels"]
    assert b"officeDocument" in parts["_rels/.rels"]
    assert next(iter(parts)) == "[Content_Types].xml"
    with zipfile.ZipFile(io.BytesIO(kept.content)) as archive:
        assert {i.date_time for i in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}


def test_a_document_library_customxml_item_goes_with_its_relationship() -> None:
    kept = clean_file(docx_bytes(author=SECRET, custom_item=True))

    parts = _parts(kept.content)
    assert not any(name.startswith("customXml/") for name in parts)
    assert b"customXml" not in parts["word/_rels/document.xml.rels"]
    assert b"itemProps" not in parts["[Content_Types].xml"]
    assert b"comments.xml" in parts["word/_rels/document.xml.rels"]


def test_an_odt_loses_its_metadata_and_thumbnail_and_keeps_its_text() -> None:
    sent = odt_bytes("Court order of 3 March", author=SECRET)
    assert SECRET.encode() in _parts(sent)["meta.xml"]

    kept = clean_file(sent)

    assert (kept.content_type, kept.extension) == (ODT, "odt")
    parts = _parts(kept.content)
    assert SECRET.encode() not in parts["meta.xml"]
    assert b"<office:meta" not in parts["meta.xml"] and b"document-meta" in parts["meta.xml"]
    assert not any(name.startswith("Thumbnails/") for name in parts)
    assert b"Thumbnails" not in parts["META-INF/manifest.xml"]
    assert b'full-path="content.xml"' in parts["META-INF/manifest.xml"]
    assert b"Court order of 3 March" in parts["content.xml"]
    # The mimetype stays the first entry, stored, as readers look for it.
    with zipfile.ZipFile(io.BytesIO(kept.content)) as archive:
        first = archive.infolist()[0]
    assert (first.filename, first.compress_type) == ("mimetype", zipfile.ZIP_STORED)
    assert parts["mimetype"] == b"application/vnd.oasis.opendocument.text"


# --- Refused, with a message --------------------------------------------------------------


def _docx_with(*extra: tuple[str, bytes], main_type: str = "") -> bytes:
    entries = docx_entries(author=SECRET, **({"main_type": main_type} if main_type else {}))
    return zip_bytes([*entries, *extra])


def _odt_with(*extra: tuple[str, bytes], manifest: str = "") -> bytes:
    return zip_bytes([*odt_entries(extra_manifest=manifest), *extra], stored=("mimetype",))


def _ratio_bomb() -> bytes:
    return zip_bytes([*docx_entries(), ("word/media/big.xml", b"\x00" * (5 * 1024 * 1024))])


def _many_entries() -> bytes:
    return zip_bytes([*docx_entries(), *((f"word/n{i}.xml", b"x") for i in range(MAX_ENTRIES))])


def _encrypted_entry() -> bytes:
    data = bytearray(docx_bytes())
    # Set the "encrypted" flag of every entry in the central directory.
    start = 0
    while (at := data.find(b"PK\x01\x02", start)) != -1:
        data[at + 8] |= 0x1
        start = at + 4
    return bytes(data)


MACRO_TYPE = "application/vnd.ms-word.document.macroEnabled.main+xml"
SCRIPT_MANIFEST = (
    '<manifest:file-entry manifest:full-path="Scripts/python/run.py" '
    'manifest:media-type="application/x-python"/>'
)
ENCRYPTED_MANIFEST = (
    '<manifest:file-entry manifest:full-path="secret.xml" manifest:media-type="text/xml">'
    "<manifest:encryption-data/></manifest:file-entry>"
)
EVENT_CONTENT = (
    b'<?xml version="1.0"?><office:document-content xmlns:office="urn:oasis:names:tc:'
    b'opendocument:xmlns:office:1.0" xmlns:script="urn:oasis:names:tc:opendocument:xmlns:'
    b'script:1.0"><office:body><office:text><script:event-listener/></office:text>'
    b"</office:body></office:document-content>"
)
BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
    b'<w:document xmlns:w="x">&lol2;</w:document>'
)


def _replaced(entries: list[tuple[str, bytes]], name: str, body: bytes) -> list[tuple[str, bytes]]:
    return [(n, body if n == name else b) for n, b in entries]


REFUSALS = {
    "docx with a VBA project": (_docx_with(("word/vbaProject.bin", b"\x00VBA")), "macros"),
    "docm (macro-enabled type)": (_docx_with(main_type=MACRO_TYPE), "macros"),
    "odt with Basic macros": (_odt_with(("Basic/Standard/Module1.xml", b"<m/>")), "macros"),
    "odt with scripts in the manifest": (_odt_with(manifest=SCRIPT_MANIFEST), "macros"),
    "odt with an event listener": (
        zip_bytes(_replaced(odt_entries(), "content.xml", EVENT_CONTENT), stored=("mimetype",)),
        "macros",
    ),
    "password-protected Word (OLE)": (OLE_SIGNATURE + b"\x00" * 504, "encrypted_or_old"),
    "encrypted odt": (_odt_with(manifest=ENCRYPTED_MANIFEST), "encrypted"),
    "encrypted zip entries": (_encrypted_entry(), "encrypted"),
    "zip bomb by ratio": (_ratio_bomb(), "unsafe_archive"),
    "zip bomb by entry count": (_many_entries(), "unsafe_archive"),
    "a .. name": (_docx_with(("word/../../etc/cron.d/x", b"x")), "unsafe_archive"),
    "an absolute name": (_docx_with(("/etc/passwd", b"x")), "unsafe_archive"),
    "a duplicate name": (_docx_with(("word/document.xml", b"<again/>")), "unsafe_archive"),
    "entities in the XML": (
        zip_bytes(_replaced(docx_entries(), "word/document.xml", BILLION_LAUGHS)),
        "unsafe_archive",
    ),
    "a zip of something else": (zip_bytes([("photos/a.txt", b"hello")]), "file_type"),
    "a docx without its main part": (
        zip_bytes([e for e in docx_entries() if e[0] != "word/document.xml"]),
        "file_type",
    ),
    "a spreadsheet (ods)": (
        zip_bytes(
            _replaced(odt_entries(), "mimetype", b"application/vnd.oasis.opendocument.spreadsheet"),
            stored=("mimetype",),
        ),
        "file_type",
    ),
}


@pytest.mark.parametrize("case", list(REFUSALS), ids=list(REFUSALS))
def test_an_unsafe_or_foreign_archive_is_refused_with_a_message(case: str) -> None:
    content, code = REFUSALS[case]
    with pytest.raises(ValidationError) as refused:
        clean_file(content)
    assert refused.value.code == code
    assert refused.value.messages[0].endswith(".")  # a sentence that says what to do


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("case", "says"),
    [
        ("docx with a VBA project", "macros"),
        ("password-protected Word (OLE)", "save it without protection as .docx or PDF"),
        ("zip bomb by ratio", "cannot be checked safely"),
        ("a .. name", "cannot be checked safely"),
        ("a zip of something else", "not a Word (.docx) or OpenDocument text (.odt)"),
    ],
)
def test_a_refused_document_is_not_kept_and_the_form_says_why(
    cast: Cast, as_user: Any, case: str, says: str
) -> None:
    writes = Event.objects.exclude(action=EventAction.VIEW)  # the page shown again is a view
    before = (stored_names(), Document.objects.count(), writes.count())

    response = _upload(
        as_user(cast.case_manager), cast.case, content=REFUSALS[case][0], name="report.docx"
    )

    assert response.status_code == 422
    assert says.lower() in response.content.decode().lower()
    assert (stored_names(), Document.objects.count(), writes.count()) == before


# --- Uploaded and downloaded as attachments -------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("make", "content_type", "filename"),
    [(docx_bytes, DOCX, "Report.docx"), (odt_bytes, ODT, "Report.odt")],
)
def test_a_document_is_attached_and_always_downloaded_as_an_attachment(
    cast: Cast, as_user: Any, make: Any, content_type: str, filename: str
) -> None:
    # The name it is sent under does not decide: the content does.
    response = _upload(
        as_user(cast.case_manager),
        cast.case,
        content=make("Housing report", author=SECRET),
        name="Report.pdf",
        title="Housing report",
    )
    assert response.status_code == 302
    document = Document.objects.get(title="Housing report")
    assert (document.content_type, document.filename) == (content_type, filename)
    event = Event.objects.get(action=EventAction.CREATE, object_id=str(document.pk))
    assert event.detail["type"] == content_type

    for client, url in (
        (
            as_user(cast.case_manager),
            reverse("documents:download", args=[cast.case.pk, document.pk]),
        ),
        (_api(cast.case_manager), reverse("v1_document_download", args=[document.pk])),
    ):
        download = client.get(url)
        assert download.status_code == 200
        assert download["Content-Type"] == content_type
        assert download["Content-Disposition"] == f'attachment; filename="{filename}"'
        assert download["X-Content-Type-Options"] == "nosniff"
        body = _streamed(download)
        parts = _parts(body)
        assert any(b"Housing report" in part for part in parts.values())
        assert SECRET.encode() not in _metadata_of(parts)


def _metadata_of(parts: dict[str, bytes]) -> bytes:
    return b"".join(
        body
        for name, body in parts.items()
        if name.startswith(("docProps/", "Thumbnails/")) or name == "meta.xml"
    )


def test_the_upload_form_offers_the_new_types(cast: Cast, as_user: Any) -> None:
    body = (
        as_user(cast.case_manager)
        .get(reverse("documents:case_documents", args=[cast.case.pk]))
        .content.decode()
    )
    assert "Word (.docx) or OpenDocument text (.odt)" in body
    assert 'accept=".pdf,.docx,.odt,' in body
    assert DOCX in body and ODT in body


pytestmark = pytest.mark.django_db


# --- Earlier files: through the policy only ---------------------------------------------


@pytest.mark.parametrize("actor", ["coordinator", "case_manager", "police_on_team", "ngo_mentor"])
def test_an_earlier_file_is_read_only_by_who_reads_its_document(
    cast: Cast, as_user: Any, actor: str
) -> None:
    user = getattr(cast, actor)
    reads = _reads(ORGANISATION_OF[actor])
    page, api = as_user(user), _api(user)
    for category, document in cast.documents.items():
        earlier = document.versions.get()
        url = reverse("documents:version_download", args=[cast.case.pk, document.pk, earlier.pk])
        api_url = reverse("v1_document_version_download", args=[document.pk, earlier.pk])
        listing = api.get(reverse("v1_document_versions", args=[document.pk]))
        if category in reads:
            response = page.get(url)
            assert response.status_code == 200, (actor, category)
            assert response["Content-Disposition"].startswith("attachment;")
            assert response["X-Content-Type-Options"] == "nosniff"
            assert _streamed(response) == earlier_sentinel(category).encode()
            assert _streamed(api.get(api_url)) == earlier_sentinel(category).encode()
            assert [r["id"] for r in listing.json()["results"]] == [earlier.pk]
        else:
            statuses = (page.get(url).status_code, api.get(api_url).status_code)
            assert (*statuses, listing.status_code) == (404, 404, 404), (actor, category)


def test_an_earlier_file_is_reached_only_under_its_own_document(cast: Cast, as_user: Any) -> None:
    """A readable document's id with another document's earlier file: 404."""
    justice, risk = cast.documents["justice"], cast.documents["risk"]
    of_risk = risk.versions.get()
    response = as_user(cast.coordinator).get(
        reverse("documents:version_download", args=[cast.case.pk, justice.pk, of_risk.pk])
    )
    assert response.status_code == 404


def test_the_download_of_an_earlier_file_is_an_audited_export(cast: Cast, as_user: Any) -> None:
    document = cast.documents["justice"]
    earlier = document.versions.get()
    before = Event.objects.count()

    response = as_user(cast.case_manager).get(
        reverse("documents:version_download", args=[cast.case.pk, document.pk, earlier.pk])
    )

    assert response["Content-Disposition"] == 'attachment; filename="justice-first.txt"'
    _streamed(response)
    (event,) = Event.objects.order_by("seq")[before:]
    assert (event.action, event.case_id, event.object_id, event.category) == (
        EventAction.EXPORT,
        cast.case.pk,
        str(document.pk),
        "justice",
    )
    assert (event.detail["export"], event.detail["earlier_file"]) == (
        "document_version",
        earlier.pk,
    )


# --- Replacement through the API: If-Match ------------------------------------------------


def _put_file(client: Any, document: Document, content: bytes, etag: str | None) -> Any:
    headers = {"If-Match": etag} if etag is not None else {}
    return client.put(
        reverse("v1_document_file", args=[document.pk]),
        encode_multipart(BOUNDARY, {"file": SimpleUploadedFile("new.odt", content)}),
        content_type=MULTIPART_CONTENT,
        headers=headers,
    )


def test_the_api_replaces_a_file_with_if_match_and_keeps_the_earlier_one(
    cast: Cast,
) -> None:
    document = cast.documents["justice"]  # version 2
    client = _api(cast.coordinator)
    before = stored_names()

    assert _put_file(client, document, odt_bytes(), None).status_code == 428
    assert _put_file(client, document, odt_bytes(), '"1"').status_code == 412
    refused = _put_file(client, document, _ratio_bomb(), '"2"')
    assert refused.status_code == 400 and "file" in refused.json()
    assert stored_names() == before and document.versions.count() == 1
    other = _put_file(_api(cast.case_manager), document, odt_bytes(), '"2"')
    assert other.status_code == 403  # probation did not attach it

    response = _put_file(client, document, odt_bytes("Signed"), '"2"')

    assert response.status_code == 200
    assert response["ETag"] == '"3"'
    assert (response.json()["content_type"], response.json()["version"]) == (ODT, 3)
    document.refresh_from_db()
    assert document.content_type == ODT and document.version == 3
    assert list(document.versions.order_by("number").values_list("number", flat=True)) == [1, 2]
    listing = client.get(reverse("v1_document_versions", args=[document.pk])).json()["results"]
    assert [(r["number"], r["replaced_by"]) for r in listing] == [
        (2, cast.coordinator.pk),
        (1, cast.coordinator.pk),
    ]
    event = Event.objects.filter(action=EventAction.UPDATE, object_id=str(document.pk)).get()
    assert event.detail["type"] == ODT and event.detail["version"] == 3


# --- Pinned query counts ---------------------------------------------------------------

# The request's transaction (2), the token with its user (1; its use was
# recorded by the request before, within the minute), grants (1), the document
# through the policy with its case (1), one page of earlier files and its
# capped count (2), the audit event (6).
API_VERSIONS_QUERIES = 13


@pytest.mark.parametrize("n", [1, 25])
def test_the_earlier_files_cost_the_same_at_any_number(
    cast: Cast, django_assert_num_queries: Any, n: int
) -> None:
    document = cast.documents["justice"]
    plant_earlier_files(document, range(2, n + 2), cast.coordinator, cast.coordinator)
    client = _api(cast.case_manager)
    client.get(reverse("v1_cases"))
    with django_assert_num_queries(API_VERSIONS_QUERIES):
        response = client.get(reverse("v1_document_versions", args=[document.pk]))
    assert response.json()["count"] == n + 1
    assert len(ALL) == len(cast.documents)
