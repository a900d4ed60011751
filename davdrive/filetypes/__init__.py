"""Allowed attachment types, decided on the parsed content (seed 000).

JPEG images, PDF, and Word, Excel and PowerPoint documents in their old
binary (OLE2 compound file) and OOXML (ZIP) forms. ``check_attachment``
parses the content with the format's module (``jpeg``, ``pdf``, ``ole``,
``ooxml``), never executes or extracts anything, keeps memory bounded
whatever the file declares, and raises ``FileTypeRefused`` with a message
naming the file, what its content is, why it is refused and what is allowed.
The name's extension must agree with the content. What is refused is listed
in docs/attachments.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

from davdrive.errors import BadRequest
from davdrive.filetypes import jpeg, ole, ooxml, pdf, zipscan
from davdrive.filetypes.describe import describe
from davdrive.filetypes.kinds import ALL_TYPES, DEFAULT_ALLOWED, FileType, Unsafe
from davdrive.filetypes.source import contents

__all__ = ["ALL_TYPES", "DEFAULT_ALLOWED", "MAX_ZIP_ENTRIES", "MAX_ZIP_UNCOMPRESSED",
           "OLE_MAGIC", "FileType", "FileTypeRefused", "check_attachment", "sniff"]

OLE_MAGIC = ole.MAGIC
MAX_ZIP_ENTRIES = zipscan.MAX_ENTRIES
MAX_ZIP_UNCOMPRESSED = zipscan.MAX_TOTAL
SAFE_CONTENT = "without active content, macros, embedded files or external links"


class FileTypeRefused(BadRequest):
    """The file's content is not an allowed attachment type."""


def _inspect(stream: BinaryIO) -> FileType:
    """The type of ``stream``'s content; raises ``Unsafe`` saying what it is and why not."""
    stream.seek(0)
    head = stream.read(8)
    if head[:4] == b"PK\x03\x04":
        return ALL_TYPES[ooxml.check(stream)]  # read entry by entry, never whole
    with contents(stream) as buf:
        if head[:3] == b"\xff\xd8\xff":
            return ALL_TYPES[jpeg.check(buf)]
        if head[:5] == b"%PDF-":
            return ALL_TYPES[pdf.check(buf)]
        if head == OLE_MAGIC:
            return ALL_TYPES[ole.check(buf)]
        raise Unsafe(describe(buf))


def sniff(stream: BinaryIO) -> FileType | None:
    """What the content of the seekable ``stream`` is, if it passes its checks (or None)."""
    try:
        return _inspect(stream)
    except Unsafe:
        return None


def _allowed_text(allowed: frozenset[str]) -> str:
    labels = sorted({ALL_TYPES[k].label for k in allowed if k in ALL_TYPES})
    return ", ".join(labels) or "nothing"


def check_attachment(
    source: Path | BinaryIO, name: str, allowed: frozenset[str] = DEFAULT_ALLOWED
) -> FileType:
    """The type of ``source`` if it is allowed, safe, and matches ``name``'s extension."""
    allowed_text = _allowed_text(allowed)
    try:
        if isinstance(source, Path):
            with source.open("rb") as stream:
                found = _inspect(stream)
        else:
            found = _inspect(source)
    except Unsafe as refused:
        if refused.reason:
            raise FileTypeRefused(
                f"{name!r} is refused: its content is {refused.what}, but {refused.reason}. "
                f"Allowed: {allowed_text}, {SAFE_CONTENT}."
            ) from None
        raise FileTypeRefused(
            f"{name!r} is not an allowed file type: its content is {refused.what}. "
            f"Allowed: {allowed_text}."
        ) from None
    if found.key not in allowed:
        raise FileTypeRefused(
            f"{name!r} is not an allowed file type: its content is a {found.label}. "
            f"Allowed: {allowed_text}."
        )
    extension = Path(name).suffix.lower()
    if extension not in found.extensions:
        raise FileTypeRefused(
            f"{name!r} holds a {found.label}: name it with {' or '.join(found.extensions)}."
        )
    return found
