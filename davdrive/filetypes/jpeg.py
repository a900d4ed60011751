"""JPEG: every marker segment from SOI to EOI is walked, nothing but zero padding after.

Refused: a file whose structure does not parse, a file without a frame and a
scan, anything after EOI other than zero bytes (HTML or ZIP polyglots), and
active content (HTML, script, SVG, PHP) hidden in metadata segments (APPn,
COM). Only the segments' bytes are read: the entropy-coded scan data is
walked, not decoded.
"""

from __future__ import annotations

import re

from davdrive.filetypes.kinds import Unsafe
from davdrive.filetypes.source import Buffer

WHAT = "a JPEG image"
ACTIVE = re.compile(
    rb"<\s*(script|html|body|iframe|svg|object|embed|meta|!doctype|\?php)|javascript:",
    re.IGNORECASE,
)
SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
STANDALONE = frozenset(range(0xD0, 0xD8)) | {0x01}
METADATA = frozenset(range(0xE0, 0xF0)) | {0xFE}
MAX_SEGMENTS = 100_000
FILL = re.compile(rb"\xff+")
NOT_ZERO = re.compile(rb"[^\x00]")
SCAN_END = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")


def _broken(why: str) -> Unsafe:
    return Unsafe(WHAT, f"its structure is broken ({why})")


def _scan_end(buf: Buffer, pos: int) -> int:
    """Offset of the marker ending the entropy-coded data starting at ``pos``.

    Inside the data, 0xFF is followed by 0x00 (stuffing), a restart marker or
    more 0xFF fill bytes; any other byte after 0xFF is the next marker.
    """
    found = SCAN_END.search(buf, pos)
    if found is None:
        raise _broken("the scan data has no end")
    return found.start()


def check(buf: Buffer) -> str:
    """``"jpeg"`` if ``buf`` is a well-formed JPEG without anything hidden, else raises."""
    if buf[:2] != b"\xff\xd8":
        raise _broken("no start of image")
    pos, frame, scan = 2, False, False
    for _ in range(MAX_SEGMENTS):
        if pos + 2 > len(buf) or buf[pos] != 0xFF:
            raise _broken(f"no marker at byte {pos}")
        fill = FILL.match(buf, pos)  # a marker may be preceded by 0xFF fill bytes
        pos = fill.end() - 1 if fill else pos
        marker = buf[pos + 1] if pos + 1 < len(buf) else -1
        pos += 2
        if marker == 0xD9:
            break
        if marker in STANDALONE:
            continue
        if marker < 0 or marker in (0x00, 0xD8) or pos + 2 > len(buf):
            raise _broken(f"unexpected marker at byte {pos - 2}")
        length = int.from_bytes(buf[pos:pos + 2], "big")
        if length < 2 or pos + length > len(buf):
            raise _broken(f"a segment at byte {pos - 2} runs past the end")
        if marker in METADATA and ACTIVE.search(buf[pos + 2:pos + length]):
            raise Unsafe(WHAT, "its metadata holds HTML or script")
        frame = frame or marker in SOF
        pos += length
        if marker == 0xDA:
            if not frame:
                raise _broken("a scan before the frame header")
            scan = True
            pos = _scan_end(buf, pos)
    else:
        raise _broken("too many segments")
    if not scan:
        raise _broken("no image data")
    if NOT_ZERO.search(buf, pos):
        raise Unsafe(WHAT, f"data follows the end of the image (byte {pos} of {len(buf)})")
    return "jpeg"
