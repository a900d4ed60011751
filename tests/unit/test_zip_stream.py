"""The streamed zip writer (``davdrive.zip_stream``): contents are read only when their
turn comes, entries are stored with data descriptors and UTF-8 names, and ZIP64 is
used when, and only when, the archive needs it."""

from __future__ import annotations

import io
import struct
import zipfile
from collections.abc import Callable
from typing import BinaryIO

from davdrive.zip_stream import CHUNK, ZipMember, dos_time, zip_chunks

ZIP64_END = b"PK\x06\x06"  # the ZIP64 end of central directory record


class Recorder:
    """Contents that note when they are opened and how much of them is read."""

    def __init__(self) -> None:
        self.opened: list[str] = []
        self.read = 0

    def content(self, name: str, data: bytes) -> Callable[[], BinaryIO]:
        recorder = self

        class Content(io.BytesIO):
            def read(self, size: int | None = -1) -> bytes:
                block = super().read(size)
                recorder.read += len(block)
                return block

        def open_it() -> BinaryIO:
            self.opened.append(name)
            return Content(data)

        return open_it


def _archive(members: list[ZipMember]) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(b"".join(zip_chunks(members))))


def test_the_first_chunk_comes_before_the_contents_are_read() -> None:
    rec = Recorder()
    first, second = b"a" * (3 * CHUNK), b"b" * 10
    chunks = zip_chunks([
        ZipMember("first.bin", 0, len(first), rec.content("first", first)),
        ZipMember("second.bin", 0, len(second), rec.content("second", second)),
    ])
    head = next(chunks)
    assert head.startswith(b"PK\x03\x04")
    assert rec.opened == ["first"] and rec.read == CHUNK  # one block, not the archive
    rest = b"".join(chunks)
    assert rec.opened == ["first", "second"] and rec.read == len(first) + len(second)
    archive = zipfile.ZipFile(io.BytesIO(head + rest))
    assert archive.read("first.bin") == first and archive.read("second.bin") == second


def test_entries_are_stored_with_data_descriptors_and_utf8_names() -> None:
    data = "cr\u00e8me".encode()
    archive = _archive([
        ZipMember("Caf\u00e9/", 0),
        ZipMember("Caf\u00e9/menu.txt", 0, len(data), lambda: io.BytesIO(data)),
        ZipMember("plain.txt", 0, 0, lambda: io.BytesIO(b"")),
    ])
    folder, menu, plain = archive.infolist()
    assert folder.is_dir() and folder.filename == "Caf\u00e9/"
    assert menu.filename == "Caf\u00e9/menu.txt" and archive.read(menu) == data
    assert menu.flag_bits & 0x800 and folder.flag_bits & 0x800  # UTF-8 names
    assert not plain.flag_bits & 0x800  # plain ASCII needs no flag
    assert menu.flag_bits & 0x08  # sizes and CRC follow the data
    assert {i.compress_type for i in archive.infolist()} == {zipfile.ZIP_STORED}
    assert archive.testzip() is None


def test_times_are_recorded_in_dos_form_and_exactly_in_utc() -> None:
    mtime = 1_767_225_600  # 2026-01-01 00:00:00 UTC
    archive = _archive([ZipMember("a.txt", mtime, 1, lambda: io.BytesIO(b"a"))])
    info = archive.getinfo("a.txt")
    assert info.date_time == dos_time(mtime)
    tag, size, flags, seconds = struct.unpack("<HHBi", info.extra[:9])
    assert (tag, size, flags, seconds) == (0x5455, 5, 1, mtime)
    assert dos_time(0) == (1980, 1, 1, 0, 0, 0)  # zip cannot say earlier
    assert dos_time(2**40) == (2107, 12, 31, 23, 59, 58)


def test_a_small_archive_has_no_zip64_records() -> None:
    data = b"x" * 1000
    raw = b"".join(zip_chunks([ZipMember("x", 0, len(data), lambda: io.BytesIO(data))]))
    assert ZIP64_END not in raw
    _, extra_length = struct.unpack("<HH", raw[26:30])
    assert extra_length == 9  # the time field alone: no ZIP64 extra field
    assert struct.unpack("<II", raw[18:26]) == (0, 0)  # sizes follow the data


def test_more_than_65535_entries_use_zip64() -> None:
    count = 65_536 + 10
    raw = b"".join(zip_chunks(ZipMember(f"{n}/", 0) for n in range(count)))
    assert ZIP64_END in raw
    assert len(zipfile.ZipFile(io.BytesIO(raw)).infolist()) == count


class _Zeros(io.RawIOBase):
    def __init__(self, size: int) -> None:
        self.left = size

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        n = self.left if size is None or size < 0 else min(self.left, size)
        self.left -= n
        return bytes(n)


class _Sparse(io.RawIOBase):
    """The archive as streamed, with the zeros of its one entry not kept in memory."""

    def __init__(self, head: bytes, zeros: int, tail: bytes) -> None:
        self.parts = (head, zeros, tail)
        self.size = len(head) + zeros + len(tail)
        self.pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        self.pos = {0: 0, 1: self.pos, 2: self.size}[whence] + offset
        return self.pos

    def tell(self) -> int:
        return self.pos

    def read(self, size: int | None = -1) -> bytes:
        head, zeros, tail = self.parts
        end = self.size if size is None or size < 0 else min(self.size, self.pos + size)
        out = bytearray()
        while self.pos < end:
            if self.pos < len(head):
                piece = head[self.pos:end]
            elif self.pos < len(head) + zeros:
                piece = bytes(min(end, len(head) + zeros) - self.pos)
            else:
                start = self.pos - len(head) - zeros
                piece = tail[start:start + end - self.pos]
            out += piece
            self.pos += len(piece)
        return bytes(out)


def test_an_entry_of_4_gib_or_more_uses_zip64() -> None:
    size = 4 * 1024**3 + 1
    chunks = zip_chunks([ZipMember("big.bin", 0, size, lambda: _Zeros(size))])
    first = next(chunks)
    name_length, extra_length = struct.unpack("<HH", first[26:30])
    header = first[:30 + name_length + extra_length]
    assert b"\x01\x00\x10\x00" in header[30 + name_length:]  # the ZIP64 extra field
    streamed, tail = len(first), b""
    for chunk in chunks:
        streamed += len(chunk)
        tail = (tail + chunk)[-4096:]
    zeros = streamed - len(header) - len(tail)
    with zipfile.ZipFile(_Sparse(header, zeros, tail)) as archive:
        (info,) = archive.infolist()
    assert (info.filename, info.file_size, info.compress_size) == ("big.bin", size, size)
    assert ZIP64_END in tail
