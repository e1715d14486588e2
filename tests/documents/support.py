"""Documents test helpers on top of the cast (also used by the route tables)."""

from __future__ import annotations

import io
from typing import Any

from django.core.files.storage import storages
from PIL import Image

from prepare.documents.models import Document
from tests.cast import document_sentinel

MISSING = 987_654


def stored_names() -> set[str]:
    """Every file in the documents storage, walked folder by folder."""
    storage = storages["documents"]
    found: set[str] = set()

    def walk(folder: str) -> None:
        dirs, files = storage.listdir(folder)
        for name in files:
            found.add(f"{folder}/{name}" if folder else name)
        for sub in dirs:
            walk(f"{folder}/{sub}" if folder else sub)

    try:
        walk("")
    except FileNotFoundError:
        return set()
    return found


def pdf_bytes(text: str = "Licence", *, author: str = "", xmp: str = "") -> bytes:
    """A one-page PDF (made with pypdf), its metadata carrying ``author`` and ``xmp``."""
    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, NameObject

    writer = PdfWriter()
    writer.add_blank_page(200, 200)
    if author:
        writer.add_metadata({"/Author": author, "/Title": author, "/Creator": author})
    if xmp:
        stream = DecodedStreamObject()
        stream.set_data(
            (
                '<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?>'
                '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
                'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
                f'<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/">'
                f"<dc:creator>{xmp}</dc:creator></rdf:Description></rdf:RDF></x:xmpmeta>"
                '<?xpacket end="w"?>'
            ).encode()
        )
        stream[NameObject("/Type")] = NameObject("/Metadata")
        stream[NameObject("/Subtype")] = NameObject("/XML")
        writer._root_object[NameObject("/Metadata")] = writer._add_object(stream)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def jpeg_bytes(*, exif_text: str = "", gps: bool = False) -> bytes:
    """A small JPEG whose EXIF holds ``exif_text`` (as the camera's make and the
    description) and, with ``gps``, a position."""
    image = Image.new("RGB", (32, 24), (200, 30, 30))
    exif = Image.Exif()
    if exif_text:
        exif[0x010F] = exif_text  # Make
        exif[0x010E] = exif_text  # ImageDescription
    if gps:
        exif[0x8825] = {1: "N", 2: (51.0, 55.0, 12.0), 3: "E", 4: (4.0, 28.0, 48.0)}
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif.tobytes(), comment=exif_text.encode() or None)
    return out.getvalue()


def png_bytes(*, text: str = "") -> bytes:
    from PIL.PngImagePlugin import PngInfo

    image = Image.new("RGBA", (16, 16), (0, 128, 0, 255))
    info = PngInfo()
    if text:
        info.add_text("Author", text)
        info.add_itxt("Description", text)
    out = io.BytesIO()
    image.save(out, format="PNG", pnginfo=info)
    return out.getvalue()


def document_ids(case: Any) -> dict[str, int]:
    """K's justice document for URLs (or an id that exists nowhere)."""
    pk = (
        Document.objects.filter(case=case, category="justice")
        .order_by("pk")
        .values_list("pk", flat=True)
        .first()
    )
    return {"document_pk": pk or MISSING, "document_id": pk or MISSING}


# --- The route matrix's rows for the document pages (tests/test_route_matrix.py) -----------

MATRIX_TITLE = "MATRIX-NEW-DOCUMENT"
MATRIX_FILE = b"MATRIX-NEW-FILE"
WRITE_EVENTS = {
    "documents:case_documents": "create",
    "documents:replace": "update",
    "documents:delete": "delete",
}
# K's documents were all attached by the municipality (tests/cast.py).
ATTACHED_BY = "municipality"


def _document_of(case: Any, category: str) -> Document:
    return Document.objects.get(case=case, category=category)


def matrix_request(cast: Any, probe: Any, pk: int) -> tuple[str, dict[str, Any]]:
    """The URL and form data of a probe of a documents route."""
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.urls import reverse

    route, variant = probe.route, probe.variant
    if route in ("documents:case_documents", "documents:case_summary"):
        data: dict[str, Any] = {}
        if route == "documents:case_documents" and probe.method == "POST":
            data = {
                "document-category": probe.category or "",
                "document-title": "" if variant == "invalid" else MATRIX_TITLE,
                "document-description": "",
                "document-record": "",
                "document-file": SimpleUploadedFile("new.txt", MATRIX_FILE),
            }
        return reverse(route, args=[pk]), data
    document = _document_of(cast.case, probe.category or "justice")
    url = reverse(route, args=[pk, document.pk])
    if route == "documents:download":
        return url, {}
    data = {"version": "7" if variant == "stale" else "1"}
    if variant == "no_version":
        del data["version"]
    if route == "documents:replace" and variant != "invalid":
        data["file"] = SimpleUploadedFile("new.txt", MATRIX_FILE)
    return url, data


def matrix_allowed(probe: Any, a: Any) -> bool | int:
    """Whether the actor may make the probe's change (or the status to answer at
    once), from the oracle's access to K: a document is read with its category;
    it is replaced or deleted by the organisation that attached it or by the
    partnership's coordinator, with its category's write grant."""
    category = probe.category
    match probe.route:
        case "documents:case_documents" | "documents:case_summary" if probe.method == "GET":
            return 200
        case "documents:case_documents":
            return category in a.write
        case "documents:download":
            return 200 if category in a.read else 404
        case "documents:replace" | "documents:delete":
            if category not in a.read:
                return 404
            return category in a.write and (a.organisation == ATTACHED_BY or a.access_log)
    raise AssertionError(f"no expectation for {probe}")


def matrix_effect(cast: Any, probe: Any, user_pk: int) -> None:
    """The change an accepted document write must have made."""
    match probe.route:
        case "documents:case_documents":
            made = Document.objects.filter(case=cast.case, title=MATRIX_TITLE)
            assert list(made.values_list("category", "created_by_id")) == [
                (probe.category, user_pk)
            ]
            assert made.get().storage_name in stored_names()
        case "documents:replace":
            document = _document_of(cast.case, probe.category)
            assert (document.version, document.updated_by_id) == (2, user_pk)
            assert document.sha256 == __import__("hashlib").sha256(MATRIX_FILE).hexdigest()
        case "documents:delete":
            assert not Document.objects.filter(case=cast.case, category=probe.category).exists()
        case _:
            raise AssertionError(f"{probe} is not a write")


def matrix_shows(cast: Any, probe: Any, read: frozenset[str], body: str) -> None:
    """A documents page that may show data does show it."""
    from tests.cast import ALL, sentinel

    match probe.route:
        case "documents:case_documents" | "documents:case_summary" if probe.variant == "K":
            assert [c for c in ALL if (sentinel(c) in body) != (c in read)] == []
        case "documents:download":
            assert body == document_sentinel(probe.category)


def documents_state() -> dict[str, Any]:
    """Every document row and stored file a write could touch."""
    return {
        "rows": sorted(
            Document.objects.values_list(
                "pk", "case_id", "category", "title", "version", "storage_name", "sha256"
            )
        ),
        "files": sorted(stored_names()),
    }
