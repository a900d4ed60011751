"""A zip archive produced as a stream of byte chunks: never a file on disk, never the
whole archive in memory.

``zip_chunks(members)`` writes each member with ``zipfile`` into a sink that cannot
seek, so every entry is followed by a data descriptor (flag bit 3) and the chunks
can be sent as soon as they are written. A member's content is opened only when
the writer reaches it and is copied ``CHUNK`` bytes at a time, so memory holds one
chunk plus the central directory's records (one per member).

Format choices:

- entries are *stored* (no compression): documents of an office (PDF, Word and
  Excel files, photos) are compressed already, deflating them again costs a server
  thread's CPU for nothing, and stored entries stream at the speed of the disk;
- ZIP64 only when needed: for an entry of 4 GiB or more, and for the central
  directory when the archive passes 4 GiB or 65,535 entries (``zipfile`` decides
  from the size announced before the entry is written);
- names are UTF-8, with flag bit 11 for every name that is not plain ASCII;
- times: the DOS date and time in the server's time zone (clamped to 1980-2107),
  and the exact modification time in UTC in an extended-timestamp field (0x5455),
  which 7-Zip, Info-ZIP and macOS use when they extract.
"""

from __future__ import annotations

import math
import struct
import time
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

CHUNK = 1024 * 1024
_FILE_MODE = 0o100644 << 16
_DIR_MODE = (0o40755 << 16) | 0x10  # the MS-DOS directory bit too
_EXTENDED_TIME = 0x5455
_DOS_FIRST = (1980, 1, 1, 0, 0, 0)
_DOS_LAST = (2107, 12, 31, 23, 59, 58)


@dataclass(frozen=True)
class ZipMember:
    """One entry: a directory (``open`` is None; ``path`` ends with "/") or a file of
    ``size`` bytes whose content ``open()`` gives when the writer reaches it."""

    path: str
    mtime: float
    size: int = 0
    open: Callable[[], BinaryIO] | None = None

    @property
    def is_dir(self) -> bool:
        return self.open is None


class _Sink:
    """A write-only stream that keeps what was written until ``take`` hands it out.
    It has no ``tell`` or ``seek``: ``zipfile`` then writes data descriptors."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        if data:
            self._parts.append(data if isinstance(data, bytes) else bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    def take(self) -> Iterator[bytes]:
        """What was written since the last call, as one chunk (nothing when empty)."""
        if self._parts:
            chunk = b"".join(self._parts)
            self._parts.clear()
            yield chunk


def zip_chunks(members: Iterable[ZipMember]) -> Iterator[bytes]:
    """The bytes of a zip archive of ``members``, in order, a chunk at a time."""
    sink = _Sink()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_STORED,
                         allowZip64=True) as archive:
        for member in members:
            info = _info(member)
            if member.open is None:
                archive.mkdir(info)
                yield from sink.take()
                continue
            with member.open() as source, archive.open(info, "w") as target:
                while block := source.read(CHUNK):
                    target.write(block)
                    yield from sink.take()
            yield from sink.take()
    yield from sink.take()  # the central directory


def _info(member: ZipMember) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(member.path, date_time=dos_time(member.mtime))
    info.compress_type = zipfile.ZIP_STORED
    info.extra = extended_time(member.mtime)
    if member.is_dir:
        info.external_attr = _DIR_MODE
        info.CRC = info.compress_size = info.file_size = 0  # written as they are
    else:
        info.external_attr = _FILE_MODE
        info.file_size = member.size  # announced: ZIP64 is chosen from it
    return info


def dos_time(mtime: float) -> tuple[int, int, int, int, int, int]:
    """The DOS date and time of ``mtime`` in the server's time zone, within the
    years zip can record (1980-2107)."""
    try:
        t = time.localtime(mtime)
    except (OverflowError, OSError, ValueError):  # far outside what a clock gives
        return _DOS_LAST if mtime > 0 else _DOS_FIRST
    moment = (t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec)
    if moment < _DOS_FIRST:
        return _DOS_FIRST
    if moment > _DOS_LAST:
        return _DOS_LAST
    return moment


def extended_time(mtime: float) -> bytes:
    """The extended-timestamp extra field (0x5455) holding ``mtime`` (UTC seconds);
    the same bytes serve the local header and the central directory."""
    seconds = min(max(int(mtime), 0), 2**31 - 1) if math.isfinite(mtime) else 0
    return struct.pack("<HHBi", _EXTENDED_TIME, 5, 1, seconds)
