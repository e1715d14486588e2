"""Word (DOCX) and OpenDocument text (ODT) files: checked as ZIP containers,
refused when they carry macros, scripts or encryption or look like a zip bomb,
and rebuilt without their metadata.

Both formats are ZIP archives of XML parts. The archive is judged from its
central directory before any entry is read (how many entries, how large once
unpacked, how much each one is compressed, encrypted entries, names that are
absolute, climb out with ``..``, or occur twice); then each entry is read with
a bounded read, no more than its declared size. XML is parsed with defusedxml
and document type declarations are refused outright: no entity is ever
expanded, no external resource fetched (decision 0016).

What is stored is a new archive: the same parts, in the same order, with
fixed timestamps and no archive comment, except the parts that describe the
file rather than hold the document:

- DOCX: ``docProps/core.xml`` (author, last editor, dates), ``app.xml``
  (company, template, editing time), ``custom.xml``, the thumbnail, and the
  customXml parts that hold document-management properties; their
  relationships and content-type overrides go too, so Word opens the file
  without a repair prompt.
- ODT: ``meta.xml`` becomes an empty ``office:document-meta``; the
  ``Thumbnails/`` folder goes, and the manifest no longer lists it.

The text, comments and tracked changes are the document and stay as they are,
with the names their authors signed them with.
"""

from __future__ import annotations

import io
import posixpath
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from xml.etree.ElementTree import Element
from xml.sax.saxutils import quoteattr

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring, iterparse
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from prepare.documents.models import FileType

# An archive with more entries than this is refused: a Word document holds a
# few dozen, a few hundred with many pictures.
MAX_ENTRIES = 1_000
# What all the entries may add up to once unpacked: well above what an upload
# may weigh (DOCUMENT_MAX_BYTES), but bounded, since it is held in memory.
MAX_UNPACKED_BYTES = 100 * 1024 * 1024
# An entry larger than MIN_RATIO_CHECK once unpacked may be at most this many
# times its packed size: text XML packs 5-20 times, a zip bomb thousands.
MAX_RATIO = 100
MIN_RATIO_CHECK = 1024 * 1024

OLE_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_SIGNATURE = b"PK\x03\x04"

# Fixed for every entry of a rebuilt archive: the times the file was edited stay behind.
_EPOCH = (1980, 1, 1, 0, 0, 0)

# --- Namespaces and types -------------------------------------------------------------

_CT = "{http://schemas.openxmlformats.org/package/2006/content-types}"
_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"
DOCX_MAIN = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
# Package relationships to parts that describe the file, not the document.
_METADATA_RELATIONSHIPS = (
    "/metadata/core-properties",
    "/extended-properties",
    "/custom-properties",
    "/metadata/thumbnail",
)
_METADATA_PARTS = ("docprops/core.xml", "docprops/app.xml", "docprops/custom.xml")
# The roots of customXml items that hold a document library's properties
# (SharePoint and other document-management systems), not content.
_PROPERTY_ITEM_NAMESPACES = (
    "http://schemas.microsoft.com/office/2006/metadata/properties",
    "http://schemas.microsoft.com/office/2006/metadata/contentType",
    "http://schemas.microsoft.com/office/2006/metadata/customXsn",
    "http://schemas.microsoft.com/office/2006/metadata/longProperties",
    "http://schemas.microsoft.com/sharepoint/v3/contenttype/forms",
    "http://schemas.microsoft.com/sharepoint/events",
)

ODT_MIMETYPE = b"application/vnd.oasis.opendocument.text"
_MANIFEST = "urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"
_M = "{" + _MANIFEST + "}"
_SCRIPT = "{urn:oasis:names:tc:opendocument:xmlns:script:1.0}"
_OFFICE = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"
EMPTY_META = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    f'<office:document-meta xmlns:office="{_OFFICE}" office:version="1.3"/>'
).encode()


# --- Refusals -------------------------------------------------------------------------


def _refused(message: str, code: str) -> ValidationError:
    return ValidationError(message, code=code)


def _unsafe_archive() -> ValidationError:
    return _refused(
        _(
            "The file is a compressed archive that cannot be checked safely (too many "
            "parts, too large once unpacked, or unusual). Save the document again as "
            ".docx, .odt or PDF and attach it."
        ),
        "unsafe_archive",
    )


def _macros() -> ValidationError:
    return _refused(
        _(
            "The document contains macros or scripts, which cannot be attached. Save it "
            "as a document without macros (.docx or .odt, not .docm) or as a PDF and "
            "attach it again."
        ),
        "macros",
    )


def _encrypted() -> ValidationError:
    return _refused(
        _(
            "The document is protected by a password. Save it without protection as "
            ".docx, .odt or PDF and attach it again."
        ),
        "encrypted",
    )


def ole_refused() -> ValidationError:
    """An OLE compound file: a password-protected Word document, or an old .doc."""
    return _refused(
        _(
            "The file is protected by a password or in an old format (such as .doc). "
            "Save it without protection as .docx or PDF and attach it again."
        ),
        "encrypted_or_old",
    )


def _not_a_document() -> ValidationError:
    return _refused(
        _(
            "This compressed file is not a Word (.docx) or OpenDocument text (.odt) "
            "document, and cannot be attached. Attach a PDF document, a Word or "
            "OpenDocument text document, a PNG or JPEG image, or a plain-text file."
        ),
        "file_type",
    )


def _unreadable() -> ValidationError:
    return _refused(_("The document cannot be read. Save it again and attach it."), "unreadable")


# --- The archive ----------------------------------------------------------------------


@dataclass
class Archive:
    """The entries of a checked archive, read in full, in their order."""

    names: list[str]
    parts: dict[str, bytes]
    first_stored: bool  # whether the first entry is stored uncompressed

    def has(self, name: str) -> bool:
        return name in self.parts


def _safe_name(name: str) -> bool:
    if not name or "\\" in name or "\x00" in name or name.startswith("/"):
        return False
    if len(name) > 1 and name[1] == ":":  # a drive letter
        return False
    return ".." not in name.split("/")


def read_archive(data: bytes) -> Archive:
    """The archive's entries, once its central directory shows nothing unsafe."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
            _check_directory(entries)
            parts: dict[str, bytes] = {}
            for info in entries:
                if info.is_dir():
                    continue
                with archive.open(info) as stream:
                    body = stream.read(info.file_size + 1)
                if len(body) != info.file_size:
                    raise _unsafe_archive()
                parts[info.filename] = body
    except ValidationError:
        raise
    except Exception as exc:  # BadZipFile, zlib.error, EOFError, NotImplementedError...
        raise _unreadable() from exc
    files = [i for i in entries if not i.is_dir()]
    return Archive(
        names=[i.filename for i in files],
        parts=parts,
        first_stored=bool(files) and files[0].compress_type == zipfile.ZIP_STORED,
    )


def _check_directory(entries: list[zipfile.ZipInfo]) -> None:
    if not entries or len(entries) > MAX_ENTRIES:
        raise _unsafe_archive()
    seen: set[str] = set()
    total = 0
    for info in entries:
        name = info.filename
        if not _safe_name(name) or name.lower() in seen:
            raise _unsafe_archive()
        seen.add(name.lower())
        if info.flag_bits & 0x1:  # an encrypted entry
            raise _encrypted()
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise _unsafe_archive()
        total += info.file_size
        if total > MAX_UNPACKED_BYTES:
            raise _unsafe_archive()
        if info.file_size > MIN_RATIO_CHECK and info.file_size > MAX_RATIO * max(
            info.compress_size, 1
        ):
            raise _unsafe_archive()


def _xml(body: bytes) -> Element:
    """A parsed XML part; a document type declaration (and so any entity) is refused."""
    try:
        return fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise _unsafe_archive() from exc
    except Exception as exc:  # ParseError, and the expat errors under it
        raise _unreadable() from exc


def _scan_xml(body: bytes, refuse: Callable[[str], bool] = lambda tag: False) -> None:
    """Read a (possibly large) XML part from start to end, keeping nothing:
    it is well formed, declares no DTD, and holds no element ``refuse`` names."""
    try:
        for _event, element in iterparse(
            io.BytesIO(body), events=("start",), forbid_dtd=True, forbid_entities=True
        ):
            if refuse(element.tag):
                raise _macros()
            element.clear()
    except ValidationError:
        raise
    except DefusedXmlException as exc:
        raise _unsafe_archive() from exc
    except Exception as exc:  # ParseError, and the expat errors under it
        raise _unreadable() from exc


def _write(entries: Iterable[tuple[str, bytes]], *, stored_first: bool = False) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for index, (name, body) in enumerate(entries):
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.compress_type = (
                zipfile.ZIP_STORED if stored_first and index == 0 else zipfile.ZIP_DEFLATED
            )
            info.external_attr = 0o600 << 16
            archive.writestr(info, body)
    return out.getvalue()


def _attrs(attributes: dict[str, str]) -> str:
    return "".join(f" {name}={quoteattr(value)}" for name, value in attributes.items())


# --- DOCX -----------------------------------------------------------------------------


def is_docx(archive: Archive) -> bool:
    return archive.has("[Content_Types].xml")


def _part_of(source: str, target: str) -> str:
    """The part a relationship of ``source`` (a ``.rels`` part) points at."""
    if target.startswith("/"):
        return target.lstrip("/")
    folder = posixpath.dirname(posixpath.dirname(source))  # "word/_rels/x.rels" -> "word"
    return posixpath.normpath(posixpath.join(folder, target))


def _relationships(archive: Archive, name: str) -> list[dict[str, str]]:
    if not archive.has(name):
        return []
    root = _xml(archive.parts[name])
    return [dict(r.attrib) for r in root.iter(f"{_REL}Relationship")]


def _rels_xml(relationships: list[dict[str, str]]) -> bytes:
    body = "".join(f"<Relationship{_attrs(r)}/>" for r in relationships)
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<Relationships xmlns="{_REL[1:-1]}">{body}</Relationships>'
    ).encode()


def clean_docx(archive: Archive) -> bytes:
    types = _xml(archive.parts["[Content_Types].xml"])
    defaults = [dict(e.attrib) for e in types.iter(f"{_CT}Default")]
    overrides = [dict(e.attrib) for e in types.iter(f"{_CT}Override")]
    every_type = [e.get("ContentType", "") for e in defaults + overrides]
    if any(_macro_type(t) for t in every_type) or any(
        posixpath.basename(n).lower() in ("vbaproject.bin", "vbadata.xml") for n in archive.names
    ):
        raise _macros()
    main = {o.get("PartName", "").lstrip("/"): o.get("ContentType") for o in overrides}
    if main.get("word/document.xml") != DOCX_MAIN or not archive.has("word/document.xml"):
        raise _not_a_document()
    _scan_xml(archive.parts["word/document.xml"])

    dropped = _docx_metadata_parts(archive)
    package_rels = [
        r
        for r in _relationships(archive, "_rels/.rels")
        if not r.get("Type", "").endswith(_METADATA_RELATIONSHIPS)
        and _part_of("_rels/.rels", r.get("Target", "")) not in dropped
    ]
    document_rels_name = "word/_rels/document.xml.rels"
    document_rels = [
        r
        for r in _relationships(archive, document_rels_name)
        if r.get("TargetMode") == "External"
        or _part_of(document_rels_name, r.get("Target", "")) not in dropped
    ]
    kept_overrides = [o for o in overrides if o.get("PartName", "").lstrip("/") not in dropped]
    rewritten = {
        "[Content_Types].xml": _content_types_xml(defaults, kept_overrides),
        "_rels/.rels": _rels_xml(package_rels),
    }
    if archive.has(document_rels_name):
        rewritten[document_rels_name] = _rels_xml(document_rels)
    order = ["[Content_Types].xml"] + [n for n in archive.names if n != "[Content_Types].xml"]
    return _write(
        (name, rewritten.get(name, archive.parts[name])) for name in order if name not in dropped
    )


def _macro_type(content_type: str) -> bool:
    lowered = content_type.lower()
    return "macroenabled" in lowered or "vbaproject" in lowered or "activex" in lowered


def _docx_metadata_parts(archive: Archive) -> set[str]:
    """The parts that describe the file: document properties, the thumbnail, and
    customXml items (with their properties part) that hold a library's properties."""
    dropped = {n for n in archive.names if n.lower() in _METADATA_PARTS}
    for relationship in _relationships(archive, "_rels/.rels"):
        if relationship.get("Type", "").endswith(_METADATA_RELATIONSHIPS):
            dropped.add(_part_of("_rels/.rels", relationship.get("Target", "")))
    dropped |= {n for n in archive.names if n.lower().startswith("docprops/thumbnail")}
    for name in archive.names:
        if not (name.startswith("customXml/item") and name.endswith(".xml")):
            continue
        if name.startswith("customXml/itemProps"):
            continue
        root = _xml(archive.parts[name])
        namespace = root.tag[1:].split("}", 1)[0] if root.tag.startswith("{") else ""
        if namespace not in _PROPERTY_ITEM_NAMESPACES:
            continue
        rels_name = f"customXml/_rels/{posixpath.basename(name)}.rels"
        dropped |= {name, rels_name}
        dropped |= {
            _part_of(rels_name, r.get("Target", "")) for r in _relationships(archive, rels_name)
        }
    return {n for n in dropped if n}


def _content_types_xml(defaults: list[dict[str, str]], overrides: list[dict[str, str]]) -> bytes:
    body = "".join(f"<Default{_attrs(d)}/>" for d in defaults)
    body += "".join(f"<Override{_attrs(o)}/>" for o in overrides)
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<Types xmlns="{_CT[1:-1]}">{body}</Types>'
    ).encode()


# --- ODT ------------------------------------------------------------------------------


def is_odf(archive: Archive) -> bool:
    return bool(archive.names) and archive.names[0] == "mimetype"


def clean_odt(archive: Archive) -> bytes:
    if archive.parts["mimetype"] != ODT_MIMETYPE or not archive.first_stored:
        raise _not_a_document()
    if any(n.startswith(("Basic/", "Scripts/")) for n in archive.names):
        raise _macros()
    manifest_name = "META-INF/manifest.xml"
    if not archive.has(manifest_name) or not archive.has("content.xml"):
        raise _not_a_document()
    manifest = _xml(archive.parts[manifest_name])
    if manifest.tag != f"{_M}manifest":
        raise _not_a_document()
    entries = list(manifest.iter(f"{_M}file-entry"))
    if any(True for _e in manifest.iter(f"{_M}encryption-data")):
        raise _encrypted()
    for entry in entries:
        path = entry.get(f"{_M}full-path", "")
        media = entry.get(f"{_M}media-type", "").lower()
        if path.startswith(("Basic/", "Scripts/")) or any(
            word in media for word in ("script", "basic", "macro")
        ):
            raise _macros()
    for part in ("content.xml", "styles.xml"):
        if archive.has(part):
            _scan_xml(archive.parts[part], refuse=_is_script_element)

    dropped = {n for n in archive.names if n.startswith("Thumbnails/")}
    kept_entries = [e for e in entries if not e.get(f"{_M}full-path", "").startswith("Thumbnails/")]
    rewritten = {manifest_name: _manifest_xml(manifest, kept_entries)}
    if archive.has("meta.xml"):
        rewritten["meta.xml"] = EMPTY_META
    return _write(
        (
            (name, rewritten.get(name, archive.parts[name]))
            for name in archive.names
            if name not in dropped
        ),
        stored_first=True,
    )


def _is_script_element(tag: str) -> bool:
    """Scripts in the document, and event listeners that would run a macro."""
    # (LibreOffice writes an empty ``office:scripts`` in every document: its
    # children are what would run.)
    return tag in (f"{_SCRIPT}event-listener", f"{{{_OFFICE}}}script")


def _manifest_xml(manifest: Element, entries: list[Element]) -> bytes:
    def attributes(element: Element) -> dict[str, str]:
        found = {}
        for name, value in element.attrib.items():
            if name.startswith(_M):
                found[f"manifest:{name[len(_M) :]}"] = value
        return found

    body = "".join(f"<manifest:file-entry{_attrs(attributes(e))}/>" for e in entries)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<manifest:manifest xmlns:manifest="{_MANIFEST}"{_attrs(attributes(manifest))}>'
        f"{body}</manifest:manifest>"
    ).encode()


# --- Entry point ----------------------------------------------------------------------


def clean_package(data: bytes) -> tuple[bytes, str]:
    """A DOCX or an ODT rebuilt without its metadata, with its type; or
    ``ValidationError`` saying why the archive cannot be attached."""
    archive = read_archive(data)
    if is_odf(archive):
        return clean_odt(archive), FileType.ODT
    if is_docx(archive):
        return clean_docx(archive), FileType.DOCX
    raise _not_a_document()
