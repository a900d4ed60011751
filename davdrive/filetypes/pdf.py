"""PDF: the header at byte 0, ``%%EOF`` at the end, and no active or embedded content.

Every name outside stream data is read with its ``#xx`` escapes decoded (PDF
allows ``/J#61vaScript`` for ``/JavaScript``), and so are the names inside
object streams (``/First``, FlateDecode or unfiltered), inflated with a size
cap. A name in ``DANGEROUS`` refuses the file, wherever it appears (even in a
comment or a string: the check errs on the side of refusing), except an
``/OpenAction`` whose value is a destination array (the page to open at) or
a reference to an object that is, in every definition of it, such an array
or a plain GoTo action (``/S /GoTo`` without ``/Next``). Other streams'
data (page content, images, fonts) is skipped by its ``/Length``; a stream
holding its own end marker or an object definition (``12 0 obj``) is refused,
as a reader following the cross-reference table could load an object hidden
there.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass, field

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
FIRST = re.compile(rb"/First" + WS + rb"*(\d+)")
REFERENCE = re.compile(WS + rb"*(\d+)" + WS + rb"+\d+" + WS + rb"+R")
OBJECT = re.compile(rb"(?<!\d)(\d+)" + WS + rb"+\d+" + WS + rb"+obj")
GOTO = re.compile(rb"/S" + WS + rb"*/GoTo(?![A-Za-z])")
WHITESPACE = b"\x00\t\n\x0c\r "

MAX_OBJECT_STREAM = 16 * 1024 * 1024
MAX_OBJECT_STREAMS_TOTAL = 64 * 1024 * 1024
MAX_OBJECT_LOOK = 4096
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


def _name(raw: bytes) -> str:
    """A name's text with its ``#xx`` escapes decoded."""
    decoded = ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), raw)
    return decoded.decode("latin-1")


@dataclass
class _Walk:
    """What the walk through a file has seen so far."""

    budget: int = MAX_OBJECT_STREAMS_TOTAL
    opened: set[int] = field(default_factory=set)  # objects named by /OpenAction
    harmless: set[int] = field(default_factory=set)  # defined as a destination or GoTo
    others: set[int] = field(default_factory=set)  # defined as anything else

    def names(self, buf: Buffer, start: int, end: int) -> None:
        """Refuses a dangerous name in ``buf[start:end]``; notes objects it defines."""
        for match in NAME.finditer(buf, start, end):
            name = _name(match.group(1))
            if name == "OpenAction":
                if DESTINATION.match(buf, match.end()):
                    continue  # the page to open at, not an action
                reference = REFERENCE.match(buf, match.end())
                if reference:
                    self.opened.add(int(reference.group(1)))  # decided at the end
                    continue
            if name in DANGEROUS:
                raise Unsafe(WHAT, f"it holds {DANGEROUS[name]} (/{name})")
        for match in OBJECT.finditer(buf, start, end):
            stop = buf.find(b"endobj", match.end(), end)
            stop = min(end if stop < 0 else stop, match.end() + MAX_OBJECT_LOOK)
            self.define(int(match.group(1)), bytes(buf[match.end():stop]))

    def define(self, number: int, body: bytes) -> None:
        """Notes whether object ``number`` could be opened at harmlessly."""
        text = _decoded_names(body.lstrip(WHITESPACE)[:MAX_OBJECT_LOOK])
        harmless = text.startswith(b"[") or (
            text.startswith(b"<<") and GOTO.search(text) is not None and b"/Next" not in text)
        (self.harmless if harmless else self.others).add(number)

    def open_actions_are_harmless(self) -> None:
        """Every object an /OpenAction names is a destination or a plain GoTo."""
        if self.opened - (self.harmless - self.others):
            raise Unsafe(WHAT, f"it holds {DANGEROUS['OpenAction']} (/OpenAction)")


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
            return _not_hiding_objects(buf, start, end), after.end()
    end = buf.find(b"endstream", start)
    if end < 0:
        raise Unsafe(WHAT, "a stream has no end (the file is cut short)")
    return _not_hiding_objects(buf, start, end), end + len(b"endstream")


def _not_hiding_objects(buf: Buffer, start: int, end: int) -> int:
    """``end``, once sure that the skipped data defines no object a reader could load."""
    if OBJECT.search(buf, start, end):
        raise Unsafe(WHAT, "a stream's data holds an object definition (hidden objects)")
    return end


def _object_stream(data: bytes, header: bytes, walk: _Walk) -> None:
    """Refuses dangerous names inside an object stream, notes the objects it defines."""
    found = FILTER.search(header)
    filters = NAME.findall(found.group(1)) if found else []
    predictor = PREDICTOR.search(header)
    cap = min(MAX_OBJECT_STREAM, walk.budget)
    if [_name(f) for f in filters] == ["FlateDecode"] and not (
            predictor and int(predictor.group(1)) > 1):
        inflater = zlib.decompressobj()
        try:
            data = inflater.decompress(data, cap + 1)
        except zlib.error:
            raise Unsafe(WHAT, "an object stream cannot be decompressed "
                         "(an encrypted PDF cannot be checked)") from None
        if len(data) > cap:
            raise Unsafe(WHAT, "its object streams inflate to more than "
                         f"{MAX_OBJECT_STREAM // 2**20} MiB")
    elif filters:
        raise Unsafe(WHAT, "an object stream uses an encoding that cannot be checked")
    walk.budget -= len(data)
    walk.names(data, 0, len(data))
    first = FIRST.search(header)
    offset = int(first.group(1)) if first else 0
    index = data[:offset].split()
    if len(index) % 2 or not all(n.isdigit() for n in index):
        raise Unsafe(WHAT, "an object stream's index is unreadable")
    starts = [offset + int(n) for n in index[1::2]]
    for number, start, stop in zip(index[::2], starts, [*starts[1:], len(data)], strict=True):
        walk.define(int(number), data[start:min(max(start, stop), start + MAX_OBJECT_LOOK)])


def check(buf: Buffer) -> str:
    """``"pdf"`` if ``buf`` is a PDF without active or embedded content, else raises."""
    if not HEADER.match(buf):
        raise Unsafe(WHAT, "it does not start with a PDF header such as %PDF-1.7")
    if not TRAILER.search(buf, max(0, len(buf) - 1024)):
        raise Unsafe(WHAT, "it does not end with %%EOF (cut short, or other data follows)")
    pos, walk = 0, _Walk()
    while True:
        found = STREAM.search(buf, pos)
        if found is None:
            walk.names(buf, pos, len(buf))
            walk.open_actions_are_harmless()
            return "pdf"
        walk.names(buf, pos, found.end())
        obj = buf.rfind(b"obj", pos, found.start())
        header = _decoded_names(bytes(buf[obj + 3 if obj >= 0 else pos:found.start() + 2]))
        end, after = _stream_end(buf, found.end(), header)
        if FIRST.search(header):
            _object_stream(bytes(buf[found.end():end]), header, walk)
        pos = after
