"""What a file is, decided from its content, and the file again without its
metadata.

The name a file was sent under and the type the browser announced are not
trusted: a file is a PDF if it starts like one and pypdf reads it, an image if
it starts like a PNG or a JPEG and Pillow decodes it, a Word or OpenDocument
text document if it is a ZIP archive holding one (``office.py``: checked for
macros, encryption and zip bombs, and rebuilt), plain text if it is
UTF-8 without control characters and does not look like a web page. Anything
else is refused with a message that says what may be attached.

What is kept is a new file: images are decoded and encoded again (EXIF, GPS,
comments, colour profiles and thumbnails stay behind; the EXIF orientation is
applied first so the picture still stands upright); a PDF is rebuilt from its
pages without the document information dictionary, the XMP metadata, the
document-level scripts, attachments and open actions, or the pages' own
metadata and actions.
"""

from __future__ import annotations

import io
import re
import warnings
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

from prepare.documents import office
from prepare.documents.models import FileType

# A decoded image this large (in pixels) is refused: a small file can unpack to
# gigabytes of memory (a decompression bomb).
MAX_PIXELS = 40_000_000
# A PDF with more pages than this is refused rather than rebuilt.
MAX_PDF_PAGES = 2_000

EXTENSIONS = {
    FileType.PDF: "pdf",
    FileType.PNG: "png",
    FileType.JPEG: "jpg",
    FileType.TEXT: "txt",
    FileType.DOCX: "docx",
    FileType.ODT: "odt",
}

# What the file chooser offers first; the content decides what is accepted.
ACCEPT = ",".join((".pdf", ".docx", ".odt", ".png", ".jpg", ".jpeg", ".txt", *FileType.values))

# What the WHATWG sniffing rules would take for a web page, at the start of a text.
_HTML_START = re.compile(
    rb"^\s*<(?:!doctype\s+html|html|head|body|script|iframe|svg|\?xml|!--|"
    rb"title|style|div|a\s|img|table|p>|h1|br|b>|font)",
    re.IGNORECASE,
)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True)
class CleanFile:
    content: bytes
    content_type: str

    @property
    def extension(self) -> str:
        return EXTENSIONS[FileType(self.content_type)]


def refused_type() -> ValidationError:
    return ValidationError(
        _(
            "This type of file cannot be attached. Attach a PDF document, a Word (.docx) "
            "or OpenDocument text (.odt) document, a PNG or JPEG image, or a plain-text file."
        ),
        code="file_type",
    )


def clean_file(data: bytes) -> CleanFile:
    """The file as PREPARE keeps it, or ``ValidationError`` saying why not."""
    if not data:
        raise ValidationError(_("The file is empty."), code="empty")
    if data.startswith(b"%PDF-"):
        return CleanFile(_clean_pdf(data), FileType.PDF)
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return CleanFile(_clean_image(data, "PNG"), FileType.PNG)
    if data.startswith(b"\xff\xd8\xff"):
        return CleanFile(_clean_image(data, "JPEG"), FileType.JPEG)
    if data.startswith(office.ZIP_SIGNATURE):
        content, content_type = office.clean_package(data)
        return CleanFile(content, content_type)
    if data.startswith(office.OLE_SIGNATURE):
        raise office.ole_refused()
    return CleanFile(_clean_text(data), FileType.TEXT)


def _unreadable(kind: str) -> ValidationError:
    return ValidationError(
        _("The file looks like a %(kind)s but cannot be read. Save it again and attach it.")
        % {"kind": kind},
        code="unreadable",
    )


# --- Images ---------------------------------------------------------------------------


def _clean_image(data: bytes, expected: str) -> bytes:
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data), formats=[expected]) as image:
                if image.width * image.height > MAX_PIXELS:
                    raise ValidationError(
                        _("The image is too large (more than 40 million pixels)."),
                        code="too_many_pixels",
                    )
                image.load()
                upright = ImageOps.exif_transpose(image) or image
                return _encode(upright, expected)
        except (
            UnidentifiedImageError,
            Image.DecompressionBombError,
            Image.DecompressionBombWarning,
            OSError,
            SyntaxError,
            ValueError,
        ) as exc:
            raise _unreadable(_("PNG image") if expected == "PNG" else _("JPEG image")) from exc


def _encode(image: Image.Image, fmt: str) -> bytes:
    """The pixels only, in a new image: no info dictionary, EXIF, XMP or ICC profile."""
    if fmt == "JPEG":
        mode = "L" if image.mode in ("1", "L") else "RGB"
    else:
        mode = image.mode if image.mode in ("1", "L", "LA", "RGB", "RGBA", "I;16") else "RGBA"
    pixels = image.convert(mode) if image.mode != mode else image
    bare = Image.frombytes(pixels.mode, pixels.size, pixels.tobytes())
    out = io.BytesIO()
    if fmt == "JPEG":
        bare.save(out, format="JPEG", quality=90, optimize=True)
    else:
        bare.save(out, format="PNG", optimize=True)
    return out.getvalue()


# --- PDF ------------------------------------------------------------------------------

# Keys of a page that carry metadata or actions rather than what it shows.
_PAGE_KEYS_DROPPED = ("/Metadata", "/PieceInfo", "/AA", "/Thumb")


def _clean_pdf(data: bytes) -> bytes:
    from pypdf import PdfReader, PdfWriter
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            raise ValidationError(
                _(
                    "The PDF is protected by a password. Save it without protection "
                    "and attach it again."
                ),
                code="encrypted",
            )
        if len(reader.pages) > MAX_PDF_PAGES:
            raise ValidationError(
                _("The PDF has too many pages (more than 2,000)."), code="too_many_pages"
            )
        writer = PdfWriter()
        for page in reader.pages:
            added = writer.add_page(page)
            for key in _PAGE_KEYS_DROPPED:
                if key in added:
                    del added[key]
            for annotation in added.get("/Annots", None) or []:
                target = annotation.get_object()
                for key in ("/A", "/AA"):
                    action = target.get(key)
                    if action is not None and _is_script(action):
                        del target[key]
        writer.metadata = None
        out = io.BytesIO()
        writer.write(out)
    except ValidationError:
        raise
    except (PyPdfError, OSError, ValueError, KeyError, TypeError, RecursionError) as exc:
        raise _unreadable(_("PDF document")) from exc
    return out.getvalue()


def _is_script(action: object) -> bool:
    from pypdf.generic import DictionaryObject

    target = action.get_object() if hasattr(action, "get_object") else action
    if not isinstance(target, DictionaryObject):
        return True  # an additional-actions dictionary: none are kept
    return target.get("/S") in ("/JavaScript", "/Launch", "/SubmitForm", "/ImportData")


# --- Text -----------------------------------------------------------------------------


def _clean_text(data: bytes) -> bytes:
    body = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise refused_type() from exc
    if _CONTROL.search(text):
        raise refused_type()
    if _HTML_START.search(body[:1024]):
        raise ValidationError(
            _("This file is a web page (HTML), which cannot be attached. Save it as a PDF."),
            code="html",
        )
    return body
