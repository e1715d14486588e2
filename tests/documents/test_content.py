"""The type check by content and the removal of metadata (DP-06)."""

from __future__ import annotations

import io

import pytest
from django.core.exceptions import ValidationError
from PIL import Image
from pypdf import PdfReader

from prepare.documents.content import clean_file
from prepare.documents.models import FileType
from tests.documents.support import jpeg_bytes, pdf_bytes, png_bytes

SECRET = "SENTINELMETADATA7f3a"


def test_exif_and_gps_are_gone_from_a_jpeg() -> None:
    sent = jpeg_bytes(exif_text=SECRET, gps=True)
    with Image.open(io.BytesIO(sent)) as original:  # the test file does carry them
        assert original.getexif()[0x010F] == SECRET
        assert original.getexif().get_ifd(0x8825)
    assert SECRET.encode() in sent

    kept = clean_file(sent)

    assert kept.content_type == FileType.JPEG
    assert SECRET.encode() not in kept.content
    with Image.open(io.BytesIO(kept.content)) as image:
        assert len(image.getexif()) == 0
        assert "exif" not in image.info and "comment" not in image.info
        assert image.size == (32, 24)
        assert image.getpixel((5, 5))[0] > 150  # still the red picture


def test_text_chunks_are_gone_from_a_png() -> None:
    sent = png_bytes(text=SECRET)
    assert SECRET.encode() in sent

    kept = clean_file(sent)

    assert kept.content_type == FileType.PNG
    assert SECRET.encode() not in kept.content
    with Image.open(io.BytesIO(kept.content)) as image:
        assert image.text == {}  # type: ignore[attr-defined]
        assert image.getpixel((3, 3)) == (0, 128, 0, 255)


def test_info_dictionary_and_xmp_are_gone_from_a_pdf() -> None:
    sent = pdf_bytes(author=SECRET, xmp=SECRET)
    reader = PdfReader(io.BytesIO(sent))
    assert reader.metadata is not None and reader.metadata.author == SECRET
    assert reader.xmp_metadata is not None

    kept = clean_file(sent)

    assert kept.content_type == FileType.PDF
    assert SECRET.encode() not in kept.content
    cleaned = PdfReader(io.BytesIO(kept.content))
    assert not cleaned.metadata  # no Info dictionary at all
    assert cleaned.xmp_metadata is None
    assert "/Metadata" not in cleaned.trailer["/Root"]
    assert len(cleaned.pages) == 1


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 64, "file_type"),
        (b"<!DOCTYPE html><html><script>alert(1)</script></html>", "html"),
        (b"  <html><body><img src=x onerror=alert(1)></body></html>", "html"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'><script>1</script></svg>", "html"),
        (b"PK\x03\x04" + b"\x00" * 40, "unreadable"),  # a broken zip
        (b"%PDF-1.7\nnot really a pdf", "unreadable"),
        (b"\x89PNG\r\n\x1a\n" + b"broken", "unreadable"),
        (b"\xff\xd8\xff\xe0" + b"broken", "unreadable"),
        (b"caf\xe9 latin-1 text", "file_type"),
        (b"", "empty"),
    ],
)
def test_a_file_that_is_not_what_it_says_is_refused(content: bytes, why: str) -> None:
    with pytest.raises(ValidationError) as refused:
        clean_file(content)
    assert refused.value.code == why
    assert refused.value.messages[0]  # a sentence that says what to do


def test_plain_text_is_kept_as_it_is() -> None:
    kept = clean_file("Rapport de suivi — été 2026\nLigne 2\n".encode())
    assert kept.content_type == FileType.TEXT
    assert kept.content.decode() == "Rapport de suivi — été 2026\nLigne 2\n"


def test_an_image_too_large_to_decode_is_refused() -> None:
    """A decompression bomb: a small file that would unpack to gigabytes."""
    image = Image.new("1", (8_000, 6_000))
    out = io.BytesIO()
    image.save(out, format="PNG")
    assert len(out.getvalue()) < 100_000
    with pytest.raises(ValidationError) as refused:
        clean_file(out.getvalue())
    assert refused.value.code == "too_many_pixels"
