"""PDF: the header at byte 0, ``%%EOF`` at the end, and no active or embedded content.

Every name outside stream data is read with its ``#xx`` escapes decoded (PDF
allows ``/J#61vaScript`` for ``/JavaScript``), and so are the names inside
object streams (``/First``, FlateDecode or unfiltered), inflated with a size
cap. A name in ``DANGEROUS`` refuses the file, wherever it appears (even in a
comment or a string: the check errs on the side of refusing), except an
``/OpenAction`` whose value is a destination array (the page to open at). Other streams'
data (page content, images, fonts) is skipped by its ``/Length``; a stream
holding its own end marker is refused, as it could hide objects from the check.
"""

from __future__ import annotations

import re
import zlib

from davdrive.filetypes.kinds import Unsafe
from davdrive.filetypes.source import Buffer

WHAT = "a PDF document"
HEADER = re.compile(rb"%PDF-[12]\.\d[\r\n\t %]")
TRAILER = re.compile(rb"%%EOF[\x00\t\n\x0c\r ]*\Z")
WS = rb"[\x00\t\n\x0c\r ]"
NAME = re.compile(rb"/([^\x00\t\n\x0c\r /%()<>\[\]{}]*)")
ESCAPE = re.compile(rb"#([0-9A-Fa-f]{2})")
STREAM = re.compile(rb">>[\x00\t\n\x0c\r ]*stream(?:\r\n|\n|\r)")
LENGTH = re.compile(rb"/Length" + WS + rb"+(\d+)(?!\d)(?!" + WS + rb"+\d+" + WS + rb"+R)")
END = re.compile(rb"[\x00\t\n\x0c\r ]*endstream")
FILTER = re.compile(rb"/Filter[\x00\t\n\x0c\r ]*(\[[^\]]*\]|/[^\x00\t\n\x0c\r /%()<>\[\]{}]*)")
PREDICTOR = re.compile(rb"/Predictor[\x00\t\n\x0c\r ]+(\d+)")
DESTINATION = re.compile(WS + rb"*\[")
FIRST = re.compile(rb"/First[^\w]")

DANGEROUS = {
    "JavaScript": "JavaScript",
    "JS": "JavaScript",
    "OpenAction": "an action run when it opens",
    "AA": "actions run on events",
    "Launch": "an action launching a program",
    "EmbeddedFile": "an embedded file",
    "EmbeddedFiles": "embedded files",
    "FileAttachment": "an attached file",
    "GoToE": "a link into an embedded file",
    "RichMedia": "rich media (Flash, video)",
    "XFA": "an XFA form",
    "SubmitForm": "a form sending data",
    "ImportData": "a form loading data",
}
MAX_OBJECT_STREAM = 16 * 1024 * 1024
MAX_OBJECT_STREAMS_TOTAL = 64 * 1024 * 1024


def _name(raw: bytes) -> str:
    """A name's text with its ``#xx`` escapes decoded."""
    decoded = ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), raw)
    return decoded.decode("latin-1")


def _refuse_dangerous_names(buf: Buffer, start: int, end: int) -> None:
    for match in NAME.finditer(buf, start, end):
        name = _name(match.group(1))
        if name == "OpenAction" and DESTINATION.match(buf, match.end()):
            continue  # a page to open at, not an action
        if name in DANGEROUS:
            raise Unsafe(WHAT, f"it holds {DANGEROUS[name]} (/{name})")


def _decoded_names(text: bytes) -> bytes:
    """``text`` with every name's escapes decoded, so that keys can be matched."""
    return NAME.sub(lambda m: b"/" + _name(m.group(1)).encode("latin-1"), text)


def _stream_end(buf: Buffer, start: int, header: bytes) -> tuple[int, int]:
    """End of a stream's data starting at ``start``, and the offset after ``endstream``."""
    length = LENGTH.search(header)
    if length:
        end = start + int(length.group(1))
        after = END.match(buf, end) if end <= len(buf) else None
        if after:
            if buf.find(b"endstream", start, end) >= 0:
                raise Unsafe(WHAT, "a stream holds its own end marker")
            return end, after.end()
    end = buf.find(b"endstream", start)
    if end < 0:
        raise Unsafe(WHAT, "a stream has no end (the file is cut short)")
    return end, end + len(b"endstream")


def _object_stream(data: bytes, header: bytes, budget: int) -> int:
    """Refuses dangerous names inside an object stream; returns the budget left."""
    found = FILTER.search(header)
    filters = NAME.findall(found.group(1)) if found else []
    predictor = PREDICTOR.search(header)
    if [_name(f) for f in filters] == ["FlateDecode"] and not (
            predictor and int(predictor.group(1)) > 1):
        inflater = zlib.decompressobj()
        try:
            data = inflater.decompress(data, min(MAX_OBJECT_STREAM, budget) + 1)
        except zlib.error:
            raise Unsafe(WHAT, "an object stream cannot be decompressed") from None
        if len(data) > min(MAX_OBJECT_STREAM, budget):
            raise Unsafe(WHAT, "its object streams inflate to more than "
                         f"{MAX_OBJECT_STREAM // 2**20} MiB")
    elif filters:
        raise Unsafe(WHAT, "an object stream uses an encoding that cannot be checked")
    _refuse_dangerous_names(data, 0, len(data))
    return budget - len(data)


def check(buf: Buffer) -> str:
    """``"pdf"`` if ``buf`` is a PDF without active or embedded content, else raises."""
    if not HEADER.match(buf):
        raise Unsafe(WHAT, "it does not start with a PDF header such as %PDF-1.7")
    if not TRAILER.search(buf, max(0, len(buf) - 1024)):
        raise Unsafe(WHAT, "it does not end with %%EOF (cut short, or other data follows)")
    pos, budget = 0, MAX_OBJECT_STREAMS_TOTAL
    while True:
        found = STREAM.search(buf, pos)
        if found is None:
            _refuse_dangerous_names(buf, pos, len(buf))
            return "pdf"
        _refuse_dangerous_names(buf, pos, found.end())
        obj = buf.rfind(b"obj", pos, found.start())
        header = _decoded_names(bytes(buf[obj + 3 if obj >= 0 else pos:found.start() + 2]))
        end, after = _stream_end(buf, found.end(), header)
        if FIRST.search(header):
            budget = _object_stream(bytes(buf[found.end():end]), header, budget)
        pos = after
