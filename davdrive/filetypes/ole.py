"""OLE2 compound files (.doc, .xls, .ppt): the kind comes from the root's own streams.

The FAT is read through the header's 109 entries and the DIFAT chain, the
directory through the FAT; only stream entries that are children of the root
entry count (an Excel file embedding a Word object is an Excel file). A root
storage holding VBA macros (``Macros``, ``_VBA_PROJECT_CUR``) is refused, and
so is a packaged file (an ``\x01Ole10Native`` stream) embedded anywhere.
Every chain and tree walk is bounded, so loops and sectors outside the file
refuse the file quickly.
"""

from __future__ import annotations

import struct

from davdrive.filetypes.kinds import Unsafe
from davdrive.filetypes.source import Buffer

MAGIC = bytes.fromhex("d0cf11e0a1b11ae1")
STREAMS = {"WordDocument": "doc", "Workbook": "xls", "Book": "xls",
           "PowerPoint Document": "ppt"}
MACRO_STORAGES = {"macros": "Word", "_vba_project_cur": "Excel", "vba": "Office"}
PACKAGE = "\x01Ole10Native"  # an embedded object wrapping any file, programs included
MAX_DIRECTORY_SECTORS = 4096
MAX_FAT_SECTORS = 1 << 20
ENDOFCHAIN = 0xFFFFFFFE
NOSTREAM = 0xFFFFFFFF
STORAGE, STREAM = 1, 2
WHAT = "an OLE2 compound file"


def _broken(why: str) -> Unsafe:
    return Unsafe(WHAT, f"its structure is broken ({why})")


def _sector(buf: Buffer, number: int, size: int) -> bytes:
    start = (number + 1) * size
    if number >= ENDOFCHAIN - 1 or start + size > len(buf):
        raise _broken(f"sector {number} lies outside the file")
    return bytes(buf[start:start + size])


def _fat_sectors(buf: Buffer, header: bytes, size: int) -> list[int]:
    """The FAT's sector numbers: the header's 109, then the DIFAT chain's."""
    found = [s for s in struct.unpack_from("<109I", header, 76) if s < ENDOFCHAIN]
    current, seen = struct.unpack_from("<I", header, 68)[0], set[int]()
    per_sector = size // 4 - 1
    while current < ENDOFCHAIN:
        if current in seen or len(found) > MAX_FAT_SECTORS:
            raise _broken("the DIFAT chain loops")
        seen.add(current)
        entries = struct.unpack(f"<{size // 4}I", _sector(buf, current, size))
        found.extend(s for s in entries[:per_sector] if s < ENDOFCHAIN)
        current = entries[per_sector]
    return found


def _directory(buf: Buffer) -> list[tuple[str, int, int, int, int]]:
    """Every directory entry: (name, type, left, right, child)."""
    if len(buf) < 512:
        raise _broken("shorter than its header")
    header = bytes(buf[:512])
    shift = struct.unpack_from("<H", header, 30)[0]
    if shift not in (9, 12):
        raise _broken("unknown sector size")
    size = 1 << shift
    fat_sectors = _fat_sectors(buf, header, size)
    current, seen = struct.unpack_from("<I", header, 48)[0], set[int]()
    entries = []
    while current < ENDOFCHAIN:
        if current in seen or len(seen) >= MAX_DIRECTORY_SECTORS:
            raise _broken("the directory chain loops")
        seen.add(current)
        data = _sector(buf, current, size)
        for offset in range(0, size, 128):
            length, kind = struct.unpack_from("<HB", data, offset + 64)
            left, right, child = struct.unpack_from("<III", data, offset + 68)
            name = data[offset:offset + max(0, min(length, 64) - 2)].decode("utf-16-le",
                                                                             "replace")
            entries.append((name, kind, left, right, child))
        per_fat = size // 4
        if current // per_fat >= len(fat_sectors):
            raise _broken("the directory chain leaves the FAT")
        fat = _sector(buf, fat_sectors[current // per_fat], size)
        current = struct.unpack_from("<I", fat, (current % per_fat) * 4)[0]
    return entries


def _root_children(entries: list[tuple[str, int, int, int, int]]) -> list[tuple[str, int]]:
    """(name, type) of the entries in the root entry's tree of children."""
    if not entries:
        raise _broken("no root entry")
    found, seen, todo = [], set(), [entries[0][4]]
    while todo:
        index = todo.pop()
        if index == NOSTREAM:
            continue
        if index in seen or index >= len(entries):
            raise _broken("the directory tree is malformed")
        seen.add(index)
        name, kind, left, right, _child = entries[index]
        found.append((name, kind))
        todo += [left, right]
    return found


def check(buf: Buffer) -> str:
    """``"doc"``, ``"xls"`` or ``"ppt"`` for an Office compound file without macros."""
    try:
        entries = _directory(buf)
        children = _root_children(entries)
    except struct.error:
        raise _broken("truncated") from None
    if any(kind == STREAM and name == PACKAGE for name, kind, *_ in entries):
        raise Unsafe(WHAT, f"it embeds a packaged file ({PACKAGE[1:]} object)")
    for name, kind in children:
        if kind == STORAGE and name.casefold() in MACRO_STORAGES:
            raise Unsafe(f"a {MACRO_STORAGES[name.casefold()]} document",
                         f"it holds VBA macros ({name})")
    kinds = {STREAMS[name] for name, kind in children if kind == STREAM and name in STREAMS}
    if len(kinds) != 1:
        raise Unsafe("an OLE2 compound file that is not a Word, Excel or PowerPoint file"
                     if not kinds else "an OLE2 compound file of several kinds at once")
    return kinds.pop()
