"""Upload digests stay exact when large uploads are hashed on helper threads (issue 12).

Rules (docs/large-files-and-workers.md, docs/durable-writes.md): an upload computes
its sha256 (content address) and only the ownCloud checksums (sha1, md5) it was
asked for; those it computes equal hashlib's on the same bytes, whatever the size
and the block sizes the body arrives in; digests asked midway cover exactly the
bytes written so far; no helper thread outlives its writer (finished or aborted).
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import pytest

from davdrive import hashing
from davdrive.blobs import BlobStore

MiB = 1 << 20


def _expected(data: bytes) -> dict[str, str]:
    return {name: hashlib.new(name, data).hexdigest() for name in ("sha256", "sha1", "md5")}


def _helpers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "upload-hash"]


def _blocks(data: bytes, size: int) -> list[bytes]:
    return [data[i:i + size] for i in range(0, len(data), size)] or [b""]


@pytest.mark.parametrize(
    ("size", "block"),
    [(0, MiB), (1, MiB), (64 * 1024 - 1, 8192), (2 * MiB, MiB), (2 * MiB + 1, MiB),
     (9 * MiB + 7, MiB), (5 * MiB + 3, 64 * 1024), (3 * MiB, 1000)],
)
def test_stored_digests_equal_hashlib_for_every_size(
    tmp_path: Path, size: int, block: int
) -> None:
    """BlobWriter fed SIZE bytes in BLOCK-byte writes: BlobInfo's sha256/sha1/md5 and
    size equal hashlib's; the blob's file holds those bytes; no helper thread is left."""
    data = os.urandom(size)
    store = BlobStore(tmp_path / "blobs")
    writer = store.writer()
    writer.also_compute("sha1")
    writer.also_compute("md5")
    for piece in _blocks(data, block):
        writer.write(piece)
    info = writer.finish()
    expected = _expected(data)
    assert (info.sha256, info.sha1, info.md5, info.size) == (
        expected["sha256"], expected["sha1"], expected["md5"], size
    )
    assert store.path(info.sha256).read_bytes() == data
    assert _helpers() == []


def test_digests_midway_cover_the_bytes_written_so_far(tmp_path: Path) -> None:
    """hexdigests() after 6 MiB of an upload (helpers running) = hashlib of those
    6 MiB; the final digests then cover all 8 MiB."""
    data = os.urandom(8 * MiB)
    writer = BlobStore(tmp_path / "blobs").writer()
    writer.also_compute("sha1")
    writer.also_compute("md5")
    for piece in _blocks(data[:6 * MiB], MiB):
        writer.write(piece)
    assert _helpers(), "past PARALLEL_FROM the helpers hash the blocks"
    assert writer.hexdigests() == _expected(data[:6 * MiB])
    for piece in _blocks(data[6 * MiB:], MiB):
        writer.write(piece)
    info = writer.finish()
    assert info.sha1 == hashlib.sha1(data, usedforsecurity=False).hexdigest()
    assert info.md5 == hashlib.md5(data, usedforsecurity=False).hexdigest()


def test_aborted_writer_leaves_no_helper_thread(tmp_path: Path) -> None:
    """An upload aborted after 5 MiB (client gone): its helpers end with it."""
    writer = BlobStore(tmp_path / "blobs").writer()
    writer.also_compute("md5")
    for _ in range(5):
        writer.write(os.urandom(MiB))
    assert _helpers()
    writer.abort()
    assert _helpers() == []


def test_mutable_blocks_are_hashed_as_they_were_when_written() -> None:
    """A bytearray block reused by its producer after update(): the digests are
    those of the bytes at update time (the helper gets an immutable copy)."""
    hashes = hashing.ContentHashes(extra=("sha1", "md5"))
    buffer = bytearray(os.urandom(MiB))
    sent = b""
    for _ in range(6):
        hashes.update(buffer)
        sent += bytes(buffer)
        buffer[:] = os.urandom(MiB)
    try:
        assert hashes.hexdigests() == _expected(sent)
    finally:
        hashes.close()


@pytest.mark.parametrize("size", [0, 1000, 9 * MiB + 7])
def test_a_plain_upload_computes_only_its_address(tmp_path: Path, size: int) -> None:
    """An upload nobody asked checksums of (no OC-Checksum): BlobInfo has the sha256 of
    hashlib and no sha1/md5 (computed later, when first shown), with no helper thread
    even past PARALLEL_FROM."""
    data = os.urandom(size)
    writer = BlobStore(tmp_path / "blobs").writer()
    for piece in _blocks(data, MiB):
        writer.write(piece)
        assert _helpers() == []
    assert writer.hexdigests() == {"sha256": hashlib.sha256(data).hexdigest()}
    info = writer.finish()
    assert (info.sha256, info.sha1, info.md5, info.size) == (
        hashlib.sha256(data).hexdigest(), None, None, size
    )


def test_one_extra_digest_is_computed_alone(tmp_path: Path) -> None:
    """OC-Checksum: MD5 on a 5 MiB upload: the writer computes sha256 and md5 (on its
    helper), not sha1."""
    data = os.urandom(5 * MiB)
    writer = BlobStore(tmp_path / "blobs").writer()
    writer.also_compute("md5")
    for piece in _blocks(data, MiB):
        writer.write(piece)
    info = writer.finish()
    assert info.md5 == hashlib.md5(data, usedforsecurity=False).hexdigest()
    assert info.sha1 is None
    assert info.sha256 == hashlib.sha256(data).hexdigest()


def test_digests_are_chosen_before_the_first_byte(tmp_path: Path) -> None:
    """Asking for sha1 after bytes were hashed would give a digest of part of them:
    refused; an unknown algorithm is refused too."""
    writer = BlobStore(tmp_path / "blobs").writer()
    with pytest.raises(ValueError):
        writer.also_compute("sha512")
    writer.write(b"abc")
    with pytest.raises(RuntimeError):
        writer.also_compute("sha1")
    writer.abort()
