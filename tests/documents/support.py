"""Documents test helpers on top of the cast (also used by the route tables)."""

from __future__ import annotations

import io
from typing import Any

from django.core.files.storage import storages
from PIL import Image

from prepare.documents.models import Document
from tests.cast import document_sentinel  # noqa: F401  (re-exported)

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
