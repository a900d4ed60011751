"""A large upload is read and stored on two threads, and leaves the page cache once
durable (issue 12, put_large: reading, writing and hashing one after the other, and
every upload written into new page-cache memory, made a large PUT half as fast as
bare WsgiDAV's).

Rules (davdrive/blob_receive.py, davdrive/blobs.py, docs/large-files-and-workers.md):
the stored bytes and sha256 are exactly those read, for any size and block
boundary; the next block is read while the previous one is being stored; a
failing source, a size limit or a full disk ends the receive with that error,
no helper thread is left and an abort leaves no temp file; a durable blob of at
least ``WRITEBACK`` bytes is no longer in the page cache, a small one stays.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from davdrive.blob_receive import BLOCK
from davdrive.blobs import WRITEBACK, BlobStore
from davdrive.errors import DiskFull, TooLarge
from tests.conftest import unavailable
from tests.tmpfs import small_filesystem


def source(data: bytes) -> Callable[[memoryview], int]:
    """``read_into`` over ``data``: fills the view, fewer bytes only at the end."""
    pos = 0

    def read_into(view: memoryview) -> int:
        nonlocal pos
        n = min(len(view), len(data) - pos)
        view[:n] = data[pos:pos + n]
        pos += n
        return n

    return read_into


def store_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "upload-store"]


@pytest.mark.parametrize("size", [0, 1, BLOCK - 1, BLOCK, BLOCK + 1, 5 * BLOCK + 3])
def test_stored_bytes_and_digest_are_those_read(tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    store = BlobStore(tmp_path / "blobs")
    writer = store.writer()
    assert writer.receive(source(data), size) == size
    info = writer.finish()
    assert info.sha256 == hashlib.sha256(data).hexdigest() and info.size == size
    with store.open(info.sha256) as f:
        assert f.read() == data
    assert store_threads() == []


def test_a_source_that_ends_early_stores_what_came(tmp_path: Path) -> None:
    """The announced length is only a bound: the caller refuses a short body."""
    data = os.urandom(2 * BLOCK + 10)
    writer = BlobStore(tmp_path / "blobs").writer()
    assert writer.receive(source(data), 4 * BLOCK) == len(data)
    assert writer.size == len(data)
    assert writer.hexdigests()["sha256"] == hashlib.sha256(data).hexdigest()
    writer.abort()


def test_the_next_block_is_read_while_the_previous_one_is_stored(tmp_path: Path) -> None:
    """Each read after the second waits until the block before the previous one is in
    the temp file; with writes on the reading thread it would wait forever."""
    store = BlobStore(tmp_path / "blobs")
    writer = store.writer()
    data = os.urandom(6 * BLOCK)
    inner = source(data)
    calls = 0

    def read_into(view: memoryview) -> int:
        nonlocal calls
        calls += 1
        if calls >= 2:
            deadline = time.monotonic() + 10
            while store.temp_files()[0].stat().st_size < (calls - 1) * BLOCK:
                assert time.monotonic() < deadline, "the previous block was never stored"
                time.sleep(0.001)
        return inner(view)

    writer.receive(read_into, len(data))
    assert writer.finish().sha256 == hashlib.sha256(data).hexdigest()


def test_a_failing_source_ends_the_helper_and_an_abort_leaves_nothing(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "blobs")
    writer = store.writer()
    inner = source(os.urandom(8 * BLOCK))
    calls = 0

    def read_into(view: memoryview) -> int:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise ConnectionResetError("client went away")
        return inner(view)

    with pytest.raises(ConnectionResetError):
        writer.receive(read_into, 8 * BLOCK)
    assert store_threads() == []
    writer.abort()
    assert store.temp_files() == []


def test_the_size_limit_stops_the_receive(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "blobs")
    writer = store.writer(max_bytes=3 * BLOCK)
    with pytest.raises(TooLarge):
        writer.receive(source(os.urandom(6 * BLOCK)), 6 * BLOCK)
    assert store_threads() == []
    writer.abort()
    assert store.temp_files() == []


def test_a_full_disk_while_storing_is_diskfull_and_leaves_nothing(tmp_path: Path) -> None:
    """ENOSPC raised on the helper thread reaches the caller as DiskFull (507)."""
    with small_filesystem(tmp_path / "fs", "4m") as fs:
        store = BlobStore(fs / "blobs")
        writer = store.writer()
        with pytest.raises(DiskFull):
            writer.receive(source(os.urandom(8 * BLOCK)), 8 * BLOCK)
        assert store_threads() == []
        writer.abort()
        assert store.temp_files() == []


def cached_bytes(path: Path) -> int:
    """Bytes of ``path`` in the page cache (util-linux ``fincore``)."""
    fincore = shutil.which("fincore")
    if fincore is None:
        unavailable("no fincore command")
    out = subprocess.run([fincore, "--bytes", "--noheadings", "--output", "RES", str(path)],
                         capture_output=True, text=True, check=True, timeout=30).stdout
    return int(out.split()[0])


def _drops_clean_pages(folder: Path) -> bool:
    probe = folder / "probe"
    with open(probe, "wb") as f:
        f.write(os.urandom(BLOCK))
        f.flush()
        os.fsync(f.fileno())
        os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
    try:
        return cached_bytes(probe) < BLOCK
    finally:
        probe.unlink()


@pytest.fixture
def page_cache(tmp_path: Path) -> Iterator[Path]:
    """A folder whose file system drops clean pages on request: the tests' own, or
    one under /var/tmp when that is memory (tmpfs keeps every page)."""
    if _drops_clean_pages(tmp_path):
        yield tmp_path
        return
    folder = Path(tempfile.mkdtemp(prefix="davdrive-pagecache-", dir="/var/tmp"))
    try:
        if not _drops_clean_pages(folder):
            unavailable("no disk-backed temp folder (tmpfs keeps clean pages cached)")
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_a_large_durable_blob_leaves_the_page_cache_and_a_small_one_stays(
    page_cache: Path,
) -> None:
    store = BlobStore(page_cache / "blobs")
    large = os.urandom(2 * WRITEBACK + 5)
    writer = store.writer()
    writer.receive(source(large), len(large))
    path = store.path(writer.finish().sha256)
    assert cached_bytes(path) < BLOCK  # at most a few pages not yet clean when dropped
    with store.open(path.name) as f:  # and it reads back whole (from the disk)
        assert hashlib.sha256(f.read()).hexdigest() == path.name
    small = os.urandom(BLOCK)
    info = store.put_bytes(small)
    assert cached_bytes(store.path(info.sha256)) == len(small)


def test_a_large_upload_keeps_only_its_latest_ranges_in_the_page_cache(
    page_cache: Path,
) -> None:
    """Each range handed to the writeback is dropped from the cache one step later,
    once written (here made sure of with an fdatasync): the upload recycles a few MiB
    of page cache instead of taking new memory for every MiB it receives."""
    store = BlobStore(page_cache / "blobs")
    writer = store.writer()
    writer.write(os.urandom(WRITEBACK))  # handed to the writeback
    temp = store.temp_files()[0]
    fd = os.open(temp, os.O_RDONLY)
    try:
        os.fdatasync(fd)  # that range is on the disk now: its pages are clean
    finally:
        os.close(fd)
    writer.write(os.urandom(WRITEBACK))  # the next step drops the first range
    assert cached_bytes(temp) <= WRITEBACK
    writer.abort()
