"""Documents test helpers on top of the cast (also used by the route tables)."""

from __future__ import annotations

import io
from typing import Any

from django.core.files.storage import storages
from PIL import Image

from prepare.documents.models import Document, DocumentVersion
from tests.cast import document_sentinel, earlier_sentinel

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
    version = (
        DocumentVersion.objects.filter(document_id=pk).order_by("pk").values_list("pk", flat=True)
        if pk
        else None
    )
    earlier = (version.first() if version is not None else None) or MISSING
    return {
        "document_pk": pk or MISSING,
        "document_id": pk or MISSING,
        "version_pk": earlier,
        "version_id": earlier,
    }


def plant_earlier_files(
    document: Document, numbers: Any, attached_by: Any, replaced_by: Any
) -> None:
    """Earlier files numbered ``numbers`` for ``document``, as rows only (no file
    in the storage): for pages that list them."""
    DocumentVersion.objects.bulk_create(
        DocumentVersion(
            document=document,
            number=number,
            storage_name=f"c{document.case_id}/earlier-{document.pk}-{number}.txt",
            filename=f"{document.filename.rsplit('.', 1)[0]}-{number}.txt",
            content_type="text/plain",
            size=1,
            sha256="0" * 64,
            attached_by=attached_by,
            attached_at=document.created_at,
            replaced_by=replaced_by,
            replaced_at=document.created_at,
        )
        for number in numbers
    )


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
    if route == "documents:version_download":
        earlier = document.versions.get()
        return reverse(route, args=[pk, document.pk, earlier.pk]), {}
    url = reverse(route, args=[pk, document.pk])
    if route == "documents:download":
        return url, {}
    # K's documents are at version 2: their file was replaced once (tests/cast.py).
    data = {"version": "7" if variant == "stale" else "2"}
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
        case "documents:download" | "documents:version_download":
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
            assert (document.version, document.updated_by_id) == (3, user_pk)
            assert document.sha256 == __import__("hashlib").sha256(MATRIX_FILE).hexdigest()
            # The file it replaced is kept, after the cast's earlier one.
            latest = document.versions.order_by("-number").first()
            assert latest is not None and (latest.number, latest.replaced_by_id) == (2, user_pk)
            assert latest.storage_name in stored_names()
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
        case "documents:version_download":
            assert body == earlier_sentinel(probe.category)


def documents_state() -> dict[str, Any]:
    """Every document row and stored file a write could touch."""
    return {
        "rows": sorted(
            Document.objects.values_list(
                "pk", "case_id", "category", "title", "version", "storage_name", "sha256"
            )
        ),
        "earlier": sorted(DocumentVersion.objects.values_list("pk", "document_id", "storage_name")),
        "files": sorted(stored_names()),
    }


# --- Word and OpenDocument files, built here with zipfile -------------------------------

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
OFFICE_RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
DOCX_MAIN = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"


def zip_bytes(entries: Any, *, stored: tuple[str, ...] = ()) -> bytes:
    """A ZIP archive of ``(name, body)`` entries, as they come (a name twice too)."""
    import warnings
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive, warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "Duplicate name": on purpose
        for name, body in entries:
            method = zipfile.ZIP_STORED if name in stored else zipfile.ZIP_DEFLATED
            archive.writestr(name, body, compress_type=method)
    return out.getvalue()


def docx_entries(
    text: str = "Licence conditions",
    *,
    author: str = "",
    comment: str = "",
    main_type: str = DOCX_MAIN,
    custom_item: bool = False,
) -> list[tuple[str, bytes]]:
    """The parts of a small Word document: its text, a comment and a tracked
    insertion signed by ``author``, and document properties (core, app, custom,
    a thumbnail) and a document-library customXml item that name ``author``."""
    overrides = (
        f'<Override PartName="/word/document.xml" ContentType="{main_type}"/>'
        '<Override PartName="/docProps/core.xml" ContentType="application/'
        'vnd.openxmlformats-package.core-properties+xml"/>'
        '<Override PartName="/docProps/app.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.extended-properties+xml"/>'
        '<Override PartName="/docProps/custom.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.custom-properties+xml"/>'
        '<Override PartName="/word/comments.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.wordprocessingml.comments+xml"/>'
    )
    if custom_item:
        overrides += (
            '<Override PartName="/customXml/itemProps1.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.customXmlProperties+xml"/>'
        )
    types = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/'
        'vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Default Extension="jpeg" ContentType="image/jpeg"/>'
        f"{overrides}</Types>"
    )
    package_rels = (
        f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{RELS}">'
        f'<Relationship Id="rId1" Type="{OFFICE_RELS}/officeDocument" Target="word/document.xml"/>'
        '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/'
        'relationships/metadata/core-properties" Target="docProps/core.xml"/>'
        f'<Relationship Id="rId3" Type="{OFFICE_RELS}/extended-properties" '
        'Target="docProps/app.xml"/>'
        f'<Relationship Id="rId4" Type="{OFFICE_RELS}/custom-properties" '
        'Target="docProps/custom.xml"/>'
        '<Relationship Id="rId5" Type="http://schemas.openxmlformats.org/package/2006/'
        'relationships/metadata/thumbnail" Target="docProps/thumbnail.jpeg"/>'
        "</Relationships>"
    )
    document = (
        f'<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="{W}"><w:body>'
        f"<w:p><w:r><w:t>{text}</w:t></w:r></w:p>"
        f'<w:p><w:ins w:id="1" w:author="{author}"><w:r><w:t>inserted</w:t></w:r></w:ins>'
        '<w:commentRangeStart w:id="0"/><w:r><w:t>noted</w:t></w:r>'
        '<w:commentRangeEnd w:id="0"/></w:p></w:body></w:document>'
    )
    comments = (
        f'<?xml version="1.0" encoding="UTF-8"?><w:comments xmlns:w="{W}">'
        f'<w:comment w:id="0" w:author="{author}"><w:p><w:r><w:t>{comment}</w:t></w:r></w:p>'
        "</w:comment></w:comments>"
    )
    document_rels = (
        f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{RELS}">'
        f'<Relationship Id="rId1" Type="{OFFICE_RELS}/comments" Target="comments.xml"/>'
        + (
            f'<Relationship Id="rId9" Type="{OFFICE_RELS}/customXml" '
            'Target="../customXml/item1.xml"/>'
            if custom_item
            else ""
        )
        + "</Relationships>"
    )
    core = (
        '<?xml version="1.0" encoding="UTF-8"?><cp:coreProperties xmlns:cp="http://'
        'schemas.openxmlformats.org/package/2006/metadata/core-properties" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/">'
        f"<dc:creator>{author}</dc:creator><cp:lastModifiedBy>{author}</cp:lastModifiedBy>"
        "</cp:coreProperties>"
    )
    app = f"<Properties><Company>{author}</Company></Properties>"
    entries = [
        ("[Content_Types].xml", types.encode()),
        ("_rels/.rels", package_rels.encode()),
        ("word/document.xml", document.encode()),
        ("word/_rels/document.xml.rels", document_rels.encode()),
        ("word/comments.xml", comments.encode()),
        ("docProps/core.xml", core.encode()),
        ("docProps/app.xml", app.encode()),
        ("docProps/custom.xml", f"<Properties><p>{author}</p></Properties>".encode()),
        ("docProps/thumbnail.jpeg", jpeg_bytes(exif_text=author)),
    ]
    if custom_item:
        entries += [
            (
                "customXml/item1.xml",
                (
                    '<p:properties xmlns:p="http://schemas.microsoft.com/office/2006/'
                    f'metadata/properties"><Owner>{author}</Owner></p:properties>'
                ).encode(),
            ),
            (
                "customXml/_rels/item1.xml.rels",
                (
                    f'<Relationships xmlns="{RELS}"><Relationship Id="rId1" '
                    f'Type="{OFFICE_RELS}/customXmlProps" Target="itemProps1.xml"/>'
                    "</Relationships>"
                ).encode(),
            ),
            (
                "customXml/itemProps1.xml",
                f"<ds:datastoreItem>{author}</ds:datastoreItem>".replace("ds:", "").encode(),
            ),
        ]
    return entries


def docx_bytes(text: str = "Licence conditions", **kwargs: Any) -> bytes:
    return zip_bytes(docx_entries(text, **kwargs))


ODT_MIME = b"application/vnd.oasis.opendocument.text"
_MANIFEST_NS = "urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"


def odt_entries(
    text: str = "Licence conditions", *, author: str = "", extra_manifest: str = ""
) -> list[tuple[str, bytes]]:
    """The parts of a small OpenDocument text: its text and an annotation by
    ``author``, metadata (meta.xml) and a thumbnail naming ``author``."""
    office = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"
    content = (
        f'<?xml version="1.0" encoding="UTF-8"?><office:document-content xmlns:office="{office}" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" office:version="1.3">'
        "<office:scripts/><office:body><office:text>"
        f"<text:p>{text}</text:p><text:p><office:annotation><dc:creator>{author}</dc:creator>"
        "<text:p>a remark</text:p></office:annotation></text:p>"
        "</office:text></office:body></office:document-content>"
    )
    meta = (
        f'<?xml version="1.0" encoding="UTF-8"?><office:document-meta xmlns:office="{office}" '
        'xmlns:meta="urn:oasis:names:tc:opendocument:xmlns:meta:1.0" office:version="1.3">'
        f"<office:meta><meta:initial-creator>{author}</meta:initial-creator>"
        "</office:meta></office:document-meta>"
    )
    manifest = (
        f'<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest="{_MANIFEST_NS}" '
        'manifest:version="1.3">'
        '<manifest:file-entry manifest:full-path="/" manifest:media-type="'
        f'{ODT_MIME.decode()}"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
        '<manifest:file-entry manifest:full-path="meta.xml" manifest:media-type="text/xml"/>'
        '<manifest:file-entry manifest:full-path="Thumbnails/thumbnail.png" '
        'manifest:media-type="image/png"/>'
        f"{extra_manifest}</manifest:manifest>"
    )
    return [
        ("mimetype", ODT_MIME),
        ("content.xml", content.encode()),
        ("meta.xml", meta.encode()),
        ("Thumbnails/thumbnail.png", png_bytes(text=author)),
        ("META-INF/manifest.xml", manifest.encode()),
    ]


def odt_bytes(text: str = "Licence conditions", **kwargs: Any) -> bytes:
    return zip_bytes(odt_entries(text, **kwargs), stored=("mimetype",))
