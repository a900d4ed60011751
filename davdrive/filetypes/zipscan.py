"""ZIP packages read defensively: names, real inflated sizes, nested archives.

Nothing is extracted and nothing is trusted from the archive's declarations:
each entry is inflated as a stream in small chunks and its real size counted
against a per-entry cap, a total cap and a compression-ratio cap; its size
and CRC must then match the declared ones. Entry names must be relative,
plain and unique once normalised (``normal_name``); entries must not overlap;
an entry starting with an archive's or a compound file's magic is refused.
Only the parts ``keep`` selects are held in memory, one at a time, up to
``MAX_KEPT``.
"""

from __future__ import annotations

import re
import struct
import unicodedata
import zipfile
import zlib
from collections.abc import Callable, Iterator
from typing import BinaryIO

from davdrive.filetypes.kinds import Unsafe

MAX_ENTRIES = 10_000
MAX_ENTRY_SIZE = 64 * 1024 * 1024
MAX_TOTAL = 128 * 1024 * 1024
MAX_RATIO = 100
RATIO_GRACE = 1024 * 1024
MAX_KEPT = 4 * 1024 * 1024
CHUNK = 64 * 1024
LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")
NESTED = (
    (b"PK\x03\x04", "a ZIP archive"), (b"PK\x05\x06", "a ZIP archive"),
    (b"PK\x07\x08", "a ZIP archive"), (bytes.fromhex("d0cf11e0a1b11ae1"), "an OLE2 object"),
    (b"Rar!\x1a\x07", "a RAR archive"), (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"MSCF", "a cabinet archive"),
)
DRIVE = re.compile(r"^[A-Za-z]:")
WHAT = "a ZIP package"


def normal_name(name: str) -> str:
    """The key two names share when an extractor or Office would treat them as one."""
    parts = unicodedata.normalize("NFKC", name).replace("\\", "/").casefold().split("/")
    return "/".join(p.strip().rstrip(". ") for p in parts)


def name_problem(name: str) -> str | None:
    """Why an entry name is unsafe to extract (zip-slip and the like), or None."""
    if any(ord(c) < 32 or c == "\x7f" for c in name):
        return "a control character"
    if "\\" in name:
        return "a backslash"
    if name.startswith("/"):
        return "an absolute path"
    if DRIVE.match(name):
        return "a drive letter"
    parts = name.rstrip("/").split("/")
    if any(p.strip() in ("..", ".") for p in parts):
        return "a '..' or '.' step"
    if any(not p for p in parts):
        return "an empty folder name"
    return None


def entries(stream: BinaryIO) -> list[zipfile.ZipInfo]:
    """The central directory's entries, refused unless every one is plainly readable."""
    try:
        stream.seek(0)
        with zipfile.ZipFile(stream) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, struct.error,
            NotImplementedError, RuntimeError):
        raise Unsafe(WHAT, "it is not a readable ZIP archive") from None
    if len(infos) > MAX_ENTRIES:
        raise Unsafe(WHAT, f"it has more than {MAX_ENTRIES} entries")
    size = stream.seek(0, 2)
    seen: set[str] = set()
    declared = 0
    for info in infos:
        problem = name_problem(info.filename)
        if problem:
            raise Unsafe(WHAT, f"the entry name {info.filename!r} has {problem}")
        key = normal_name(info.filename)
        if key in seen:
            raise Unsafe(WHAT, f"the entry name {info.filename!r} appears twice")
        seen.add(key)
        if info.header_offset < 0 or info.header_offset + LOCAL_HEADER.size > size:
            raise Unsafe(WHAT, f"the entry {info.filename!r} lies outside the file")
        if info.flag_bits & 1:
            raise Unsafe(WHAT, f"the entry {info.filename!r} is encrypted")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise Unsafe(WHAT, f"the entry {info.filename!r} uses an unusual compression")
        declared += info.file_size
        _check_size(info, info.file_size, declared)
    return infos


def _check_size(info: zipfile.ZipInfo, size: int, total: int) -> None:
    name = info.filename
    if size > MAX_ENTRY_SIZE:
        raise Unsafe(WHAT, f"the entry {name!r} inflates to more than "
                     f"{MAX_ENTRY_SIZE // 2**20} MiB")
    if total > MAX_TOTAL:
        raise Unsafe(WHAT, f"its entries inflate to more than {MAX_TOTAL // 2**20} MiB")
    if size > RATIO_GRACE and size > MAX_RATIO * max(info.compress_size, 1):
        raise Unsafe(WHAT, f"the entry {name!r} is compressed more than {MAX_RATIO} to 1 "
                     "(a zip bomb)")


def _data_start(stream: BinaryIO, info: zipfile.ZipInfo) -> int:
    stream.seek(info.header_offset)
    raw = stream.read(LOCAL_HEADER.size)
    if len(raw) < LOCAL_HEADER.size or raw[:4] != b"PK\x03\x04":
        raise Unsafe(WHAT, f"the entry {info.filename!r} has no local header")
    fields = LOCAL_HEADER.unpack(raw)
    name = stream.read(fields[10])
    encoding = "utf-8" if info.flag_bits & 0x800 else "cp437"
    if name.decode(encoding, "replace") != info.orig_filename:
        raise Unsafe(WHAT, f"the entry {info.filename!r} has two different names")
    return info.header_offset + LOCAL_HEADER.size + fields[10] + fields[11]


def _raw_chunks(stream: BinaryIO, start: int, length: int) -> Iterator[bytes]:
    stream.seek(start)
    while length > 0:
        chunk = stream.read(min(CHUNK, length))
        if not chunk:
            raise Unsafe(WHAT, "it is cut short")
        length -= len(chunk)
        yield chunk


def _inflate(stream: BinaryIO, info: zipfile.ZipInfo, start: int) -> Iterator[bytes]:
    raw = _raw_chunks(stream, start, info.compress_size)
    if info.compress_type == zipfile.ZIP_STORED:
        yield from raw
        return
    inflater = zlib.decompressobj(-15)
    try:
        for chunk in raw:
            data = inflater.decompress(chunk, CHUNK)
            while data:
                yield data
                data = inflater.decompress(inflater.unconsumed_tail, CHUNK)
        while not inflater.eof and (data := inflater.decompress(b"", CHUNK)):
            yield data
    except zlib.error:
        raise Unsafe(WHAT, f"the entry {info.filename!r} does not inflate") from None
    if not inflater.eof:
        raise Unsafe(WHAT, f"the entry {info.filename!r} is cut short")


def scan(stream: BinaryIO, infos: list[zipfile.ZipInfo], keep: Callable[[str], bool],
         inspect: Callable[[str, bytes], None]) -> None:
    """Inflates every entry under the caps, handing each part ``keep`` selects to
    ``inspect`` (normalised name, content) as soon as it is read, one at a time."""
    spans = sorted(((_data_start(stream, i), i) for i in infos), key=lambda s: s[0])
    for (start, info), (_, following) in zip(spans, spans[1:], strict=False):
        if start + info.compress_size > following.header_offset:
            raise Unsafe(WHAT, f"the entry {info.filename!r} overlaps another (a zip bomb)")
    total = 0
    for start, info in spans:
        key = normal_name(info.filename)
        held = bytearray() if keep(key) else None
        size, crc, head = 0, 0, b""
        for data in _inflate(stream, info, start):
            size += len(data)
            total += len(data)
            if size > info.file_size:
                raise Unsafe(WHAT, f"the entry {info.filename!r} inflates past its declared "
                             f"{info.file_size} bytes (a zip bomb)")
            _check_size(info, size, total)
            crc = zlib.crc32(data, crc)
            if len(head) < 8:
                head += data[:8 - len(head)]
                _refuse_nested(info.filename, head)
            if held is not None:
                if len(held) + len(data) > MAX_KEPT:
                    raise Unsafe(WHAT, f"the part {info.filename!r} is too large to check")
                held += data
        if size != info.file_size or crc != info.CRC:
            raise Unsafe(WHAT, f"the entry {info.filename!r} is corrupt (size or CRC)")
        if held is not None:
            inspect(key, bytes(held))
            del held


def _refuse_nested(name: str, head: bytes) -> None:
    for magic, what in NESTED:
        if head.startswith(magic):
            raise Unsafe(WHAT, f"the entry {name!r} is {what} (nested archives are refused)")
