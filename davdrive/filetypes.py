"""Allowed attachment types, decided on the content (seed 000).

JPEG images, PDF, and Word, Excel and PowerPoint documents in their old
binary (OLE2 compound file) and OOXML (ZIP) forms. ``check_attachment``
reads only what it needs (magic bytes, the compound file's directory, the
ZIP's central directory), never executes or extracts anything, and raises
``FileTypeRefused`` with a message naming the file, what it is and what is
allowed. The name's extension must agree with the content.
"""

from __future__ import annotations

import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from davdrive.errors import BadRequest


@dataclass(frozen=True)
class FileType:
    key: str
    label: str
    content_type: str
    extensions: tuple[str, ...]


_OOXML = "application/vnd.openxmlformats-officedocument."
ALL_TYPES: dict[str, FileType] = {
    t.key: t
    for t in (
        FileType("jpeg", "JPEG image", "image/jpeg", (".jpg", ".jpeg", ".jpe")),
        FileType("pdf", "PDF document", "application/pdf", (".pdf",)),
        FileType("doc", "Word document", "application/msword", (".doc",)),
        FileType("xls", "Excel workbook", "application/vnd.ms-excel", (".xls",)),
        FileType("ppt", "PowerPoint presentation", "application/vnd.ms-powerpoint", (".ppt",)),
        FileType("docx", "Word document", _OOXML + "wordprocessingml.document", (".docx",)),
        FileType("xlsx", "Excel workbook", _OOXML + "spreadsheetml.sheet", (".xlsx",)),
        FileType("pptx", "PowerPoint presentation", _OOXML + "presentationml.presentation",
                 (".pptx",)),
    )
}
DEFAULT_ALLOWED: frozenset[str] = frozenset(ALL_TYPES)

OLE_MAGIC = bytes.fromhex("d0cf11e0a1b11ae1")
OLE_STREAMS = {"WordDocument": "doc", "Workbook": "xls", "Book": "xls",
               "PowerPoint Document": "ppt"}
OOXML_PARTS = {"word/document.xml": "docx", "xl/workbook.xml": "xlsx",
               "ppt/presentation.xml": "pptx"}
MAX_ZIP_ENTRIES = 10_000
MAX_ZIP_UNCOMPRESSED = 200 * 1024 * 1024
MAX_DIRECTORY_SECTORS = 4096
ENDOFCHAIN = 0xFFFFFFFE


class FileTypeRefused(BadRequest):
    """The file's content is not an allowed attachment type."""


def _allowed_text(allowed: frozenset[str]) -> str:
    labels = sorted({ALL_TYPES[k].label for k in allowed if k in ALL_TYPES})
    return ", ".join(labels) or "nothing"


def sniff(stream: BinaryIO) -> FileType | None:
    """What the content of the seekable ``stream`` is, among ``ALL_TYPES`` (or None)."""
    stream.seek(0)
    head = stream.read(8)
    if head[:3] == b"\xff\xd8\xff":
        return ALL_TYPES["jpeg"]
    if head[:5] == b"%PDF-":
        return ALL_TYPES["pdf"] if _pdf_ends(stream) else None
    if head == OLE_MAGIC:
        key = _ole_kind(stream)
        return ALL_TYPES[key] if key else None
    if head[:4] == b"PK\x03\x04":
        key = _ooxml_kind(stream)
        return ALL_TYPES[key] if key else None
    return None


def _pdf_ends(stream: BinaryIO) -> bool:
    stream.seek(0, 2)
    size = stream.tell()
    stream.seek(max(0, size - 1024))
    return b"%%EOF" in stream.read()


def _ole_kind(stream: BinaryIO) -> str | None:
    """Kind of an OLE2 compound file from its directory's stream names, or None."""
    try:
        stream.seek(0)
        header = stream.read(512)
        if len(header) < 512:
            return None
        sector_shift = struct.unpack_from("<H", header, 30)[0]
        if sector_shift not in (9, 12):
            return None
        sector = 1 << sector_shift
        first_dir = struct.unpack_from("<I", header, 48)[0]
        fat_sectors = [s for s in struct.unpack_from("<109I", header, 76) if s < ENDOFCHAIN]
        fat: list[int] = []
        for fs in fat_sectors[:MAX_DIRECTORY_SECTORS]:
            stream.seek((fs + 1) * sector)
            data = stream.read(sector)
            if len(data) < sector:
                return None
            fat.extend(struct.unpack(f"<{sector // 4}I", data))
        seen: set[int] = set()
        current = first_dir
        while current < ENDOFCHAIN:
            if current in seen or len(seen) >= MAX_DIRECTORY_SECTORS or current >= len(fat):
                return None
            seen.add(current)
            stream.seek((current + 1) * sector)
            data = stream.read(sector)
            if len(data) < sector:
                return None
            for offset in range(0, sector, 128):
                length = struct.unpack_from("<H", data, offset + 64)[0]
                if 2 <= length <= 64:
                    name = data[offset:offset + length - 2].decode("utf-16-le", "replace")
                    if name in OLE_STREAMS:
                        return OLE_STREAMS[name]
            current = fat[current]
    except (struct.error, OSError, IndexError):
        return None
    return None


def _ooxml_kind(stream: BinaryIO) -> str | None:
    """Kind of an OOXML package, or None (macro-enabled and zip bombs included)."""
    try:
        stream.seek(0)
        with zipfile.ZipFile(stream) as archive:
            infos = archive.infolist()
            if len(infos) > MAX_ZIP_ENTRIES:
                return None
            if sum(i.file_size for i in infos) > MAX_ZIP_UNCOMPRESSED:
                return None
            names = {i.filename for i in infos}
            if "[Content_Types].xml" not in names:
                return None
            types = archive.read("[Content_Types].xml")
            if b"macroEnabled" in types or any(n.lower().endswith("vbaproject.bin")
                                               for n in names):
                return None
            for part, key in OOXML_PARTS.items():
                if part in names:
                    return key
    except (zipfile.BadZipFile, OSError, ValueError, RuntimeError, NotImplementedError,
            EOFError, KeyError, struct.error, zlib.error):
        return None
    return None


def check_attachment(
    source: Path | BinaryIO, name: str, allowed: frozenset[str] = DEFAULT_ALLOWED
) -> FileType:
    """The type of ``source`` if it is allowed and matches ``name``'s extension."""
    if isinstance(source, Path):
        with source.open("rb") as stream:
            found = sniff(stream)
    else:
        found = sniff(source)
    allowed_text = _allowed_text(allowed)
    if found is None or found.key not in allowed:
        what = f"a {found.label}" if found else "not one of the allowed types"
        raise FileTypeRefused(
            f"{name!r} is not an allowed file type: its content is {what}. "
            f"Allowed: {allowed_text}."
        )
    extension = Path(name).suffix.lower()
    if extension not in found.extensions:
        raise FileTypeRefused(
            f"{name!r} holds a {found.label}: name it with {' or '.join(found.extensions)}."
        )
    return found
