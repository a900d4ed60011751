"""The S3 blob store against moto's real S3 server over HTTP (tests/s3.py).

Rules (davdrive/blob_backend.py, davdrive/blob_s3*.py): an upload streams to a
temporary key, is verified, then copied to its content key; an aborted or
failed upload leaves no object and no multipart upload; what a killed
process left is collected; reads stream and seek (Range); memory stays at one
part per upload.
"""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from davdrive.blob_backend import BlobBackend
from davdrive.blob_s3 import S3Store
from davdrive.blob_s3_client import NotVerified
from davdrive.blob_s3_writer import S3Writer
from davdrive.errors import ChangedMeanwhile, TooLarge
from tests.s3 import bucket_keys, make_store, multipart_uploads

MiB = 1024 * 1024
ROOT = Path(__file__).resolve().parents[2]
PART = 5 * MiB


@pytest.fixture
def store(moto_endpoint: str, s3_bucket: str, tmp_path: Path) -> S3Store:
    return make_store(moto_endpoint, s3_bucket, tmp_path)


def content_keys(store: S3Store) -> list[str]:
    return [k for k in bucket_keys(store) if not k.startswith(store.keys.temp_prefix)]


def temp_keys(store: S3Store) -> list[str]:
    return [k for k in bucket_keys(store) if k.startswith(store.keys.temp_prefix)]


def test_the_s3_store_is_a_blob_backend(store: S3Store) -> None:
    backend: BlobBackend = store  # mypy checks the protocol; this checks the flags
    assert backend.local is False and backend.free_bytes() is None
    with pytest.raises(NotImplementedError):
        backend.path("0" * 64)


def test_written_content_is_verified_then_placed_under_its_sha256(store: S3Store) -> None:
    data = os.urandom(300_000)
    writer = store.writer()
    writer.write(data[:100_000])
    writer.write(data[100_000:])
    info = writer.finish()
    digest = hashlib.sha256(data).hexdigest()
    assert (info.sha256, info.size) == (digest, len(data))
    assert content_keys(store) == [f"blobs/{digest[:2]}/{digest[2:4]}/{digest}"]
    assert len(temp_keys(store)) == 1, "the finished writer keeps its temp object until settled"
    writer.settle(False, lambda _: True)
    assert temp_keys(store) == [] and multipart_uploads(store) == []
    assert store.exists(digest) and store.verify(digest) and store.size(digest) == len(data)
    assert list(store.digests()) == [digest]
    assert 0 <= store.age_seconds(digest) < 60
    with store.open(digest) as stream:
        assert stream.read() == data


def test_a_file_larger_than_a_part_goes_up_in_parts(store: S3Store) -> None:
    data = os.urandom(2 * PART + 12345)
    writer = store.writer()
    for start in range(0, len(data), MiB):
        writer.write(data[start:start + MiB])
    assert multipart_uploads(store) == [writer.key], "two full parts sent before finish"
    info = writer.finish()
    writer.settle(False, lambda _: True)
    assert multipart_uploads(store) == [] and temp_keys(store) == []
    assert store.verify(info.sha256)
    with store.open(info.sha256) as stream:
        assert hashlib.sha256(stream.read()).hexdigest() == hashlib.sha256(data).hexdigest()


def test_an_exact_multiple_of_the_part_size_completes(store: S3Store) -> None:
    data = os.urandom(PART)
    info = store.put_bytes(data)
    assert store.verify(info.sha256) and store.size(info.sha256) == PART


_MEMORY_PROBE = """
import os, sys, tracemalloc
from pathlib import Path
from tests.s3 import make_store
store = make_store(sys.argv[1], sys.argv[2], Path(sys.argv[3]))
block = os.urandom(1 << 20)
writer = store.writer()
tracemalloc.start()
for _ in range(40):
    writer.write(block)
info = writer.finish()
peak = tracemalloc.get_traced_memory()[1]
writer.settle(False, lambda _: True)
assert store.verify(info.sha256) and info.size == 40 << 20
print(peak)
"""


def test_an_upload_holds_one_part_in_memory_whatever_its_size(
    moto_endpoint: str, s3_bucket: str, tmp_path: Path
) -> None:
    """40 MiB in 1 MiB blocks (8 parts of 5 MiB), in a process of its own (moto keeps
    what it receives in this one): the writer's allocations peak below three parts,
    not at the file's size."""
    probe = subprocess.run(
        [sys.executable, "-c", _MEMORY_PROBE, moto_endpoint, s3_bucket, str(tmp_path)],
        capture_output=True, text=True, timeout=120, check=False, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert probe.returncode == 0, probe.stderr
    peak = int(probe.stdout.split()[-1])
    assert peak < 3 * PART, f"peak {peak / MiB:.1f} MiB for a 40 MiB upload"


def test_reads_seek_anywhere_as_a_range_does(store: S3Store) -> None:
    data = bytes(range(256)) * 40_000  # 10,240,000 bytes
    info = store.put_bytes(data)
    with store.open(info.sha256) as stream:
        assert stream.read(10) == data[:10]
        stream.seek(5_000_000)
        assert stream.read(1000) == data[5_000_000:5_001_000]
        stream.seek(-100, io.SEEK_END)
        assert stream.read() == data[-100:]
        assert stream.read(10) == b""
        stream.seek(3)
        assert stream.tell() == 3
        buffer = bytearray(7)
        assert stream.readinto(buffer) == 7 and bytes(buffer) == data[3:10]
        stream.seek(len(data) + 10)
        assert stream.read(5) == b""


def test_a_missing_blob_cannot_be_opened_and_delete_removes_one(store: S3Store) -> None:
    info = store.put_bytes(b"to be removed" * 10_000)
    store.delete(info.sha256)
    assert not store.exists(info.sha256)
    with pytest.raises(FileNotFoundError):
        store.open(info.sha256)
    with pytest.raises(FileNotFoundError):
        store.age_seconds(info.sha256)
    assert store.digest_of_file(info.sha256) is None
    store.delete(info.sha256)  # deleting twice is fine
    assert content_keys(store) == []


def test_an_aborted_writer_leaves_no_object_and_no_upload(store: S3Store) -> None:
    writer = store.writer()
    writer.write(os.urandom(PART + 10))  # one part sent
    assert multipart_uploads(store) == [writer.key]
    writer.abort()
    writer.abort()
    assert bucket_keys(store) == [] and multipart_uploads(store) == []


def test_a_writer_past_its_limit_is_refused_and_leaves_nothing(store: S3Store) -> None:
    writer = store.writer(max_bytes=PART + 100)
    writer.write(os.urandom(PART))
    with pytest.raises(TooLarge):
        writer.write(os.urandom(200))
    writer.abort()
    assert bucket_keys(store) == [] and multipart_uploads(store) == []


def test_what_a_killed_process_left_is_collected(store: S3Store) -> None:
    """A writer dropped mid-upload (a multipart upload begun) and one finished but
    never settled (its temp object): listed as temp items, then removed once stale."""
    begun = store.writer()
    begun.write(os.urandom(PART + 1))
    finished = store.writer()
    finished.write(b"finished, never committed")
    info = finished.finish()
    assert len(store.temp_items()) == 2
    assert store.remove_stale_temp(time.time() + 60) == [], "younger than temp_grace"
    store.temp_grace = 0
    removed = store.remove_stale_temp(time.time() + 60)
    assert len(removed) == 2
    assert multipart_uploads(store) == [] and temp_keys(store) == []
    assert store.exists(info.sha256), "only temporary items go; the blob is the GC's"


def test_young_temp_items_of_other_uploads_stay(store: S3Store) -> None:
    store.temp_grace = 0
    writer = store.writer()
    writer.write(os.urandom(PART + 1))
    assert store.remove_stale_temp(time.time() - 3600) == []
    assert multipart_uploads(store) == [writer.key]
    writer.abort()


class _Damaging(S3Writer):
    """Sends one byte changed in every body: what a faulty link or store would keep."""

    def _send(self, data: bytearray) -> bytes:
        damaged = bytearray(data)
        damaged[len(damaged) // 2] ^= 0xFF
        return bytes(damaged)


@pytest.mark.parametrize("size", [1000, PART + 1000], ids=["one-put", "multipart"])
def test_stored_bytes_that_differ_from_those_hashed_are_refused(
    store: S3Store, size: int
) -> None:
    writer = _Damaging(store, None)
    writer.write(os.urandom(size))
    with pytest.raises(NotVerified):
        writer.finish()
    assert bucket_keys(store) == [] and multipart_uploads(store) == []


def test_read_back_verification_accepts_good_and_refuses_damaged_bytes(
    moto_endpoint: str, s3_bucket: str, tmp_path: Path
) -> None:
    store = make_store(moto_endpoint, s3_bucket, tmp_path, read_back=True)
    good = store.put_bytes(os.urandom(PART + 5))
    assert store.verify(good.sha256)
    writer = _Damaging(store, None)
    writer.write(b"y" * 5000)
    with pytest.raises(NotVerified):
        writer.finish()
    assert content_keys(store) == [store.keys.blob(good.sha256)]
    assert temp_keys(store) == [] and multipart_uploads(store) == []


def test_a_blob_collected_before_the_commit_is_put_back_from_the_temp_object(
    store: S3Store,
) -> None:
    writer = store.writer()
    writer.write(b"raced by a collection" * 1000)
    info = writer.finish()
    store.delete(info.sha256)  # what a garbage collection in another process may do
    writer.ensure_placed()
    assert store.verify(info.sha256)
    writer.settle(False, lambda _: True)
    assert temp_keys(store) == []


def test_ensure_placed_without_the_temp_object_asks_for_a_retry(store: S3Store) -> None:
    writer = store.writer()
    writer.write(b"gone twice" * 1000)
    info = writer.finish()
    store.delete(info.sha256)
    store.delete_key(writer.key)
    with pytest.raises(ChangedMeanwhile):
        writer.ensure_placed()
    writer.settle(True, lambda _: False)


def test_small_content_never_reaches_the_bucket(store: S3Store) -> None:
    writer = store.writer()
    writer.write(b"small")
    assert writer.take_small(65536) is not None
    big = store.writer()
    big.write(b"x" * 70_000)
    assert big.take_small(65536) is None
    big.abort()
    assert bucket_keys(store) == [] and multipart_uploads(store) == []


def test_small_content_past_a_part_is_read_back(store: S3Store) -> None:
    data = os.urandom(PART + 7)
    writer = store.writer()
    writer.write(data)
    taken = writer.take_small(2 * PART)
    assert taken is not None and taken[1] == data
    assert taken[0].sha256 == hashlib.sha256(data).hexdigest()
    assert bucket_keys(store) == [] and multipart_uploads(store) == []


def test_a_failed_commit_leaves_the_blob_to_check_repair(store: S3Store) -> None:
    """Settling after a failed commit deletes the temp object but not the blob: another
    process may be committing the same content (davdrive/blob_s3.py)."""
    writer = store.writer()
    writer.write(b"refused commit" * 1000)
    info = writer.finish()
    writer.settle(True, lambda _: False)
    assert temp_keys(store) == [] and store.exists(info.sha256)


def test_a_large_blob_is_copied_into_place_in_parts(store: S3Store) -> None:
    store.copy_limit, store.copy_part = PART, PART  # as past S3's 5 GiB copy limit
    data = os.urandom(2 * PART + 3)
    info = store.put_bytes(data)
    assert store.verify(info.sha256) and multipart_uploads(store) == []


def test_digests_list_only_content_keys(store: S3Store) -> None:
    first, second = store.put_bytes(b"one" * 30_000), store.put_bytes(b"two" * 30_000)
    store.client.put_object(Bucket=store.bucket, Key="blobs/stray.txt", Body=b"x")
    store.client.put_object(Bucket=store.bucket, Key="elsewhere/" + "a" * 64, Body=b"x")
    pending = store.writer()
    pending.write(b"pending")
    pending.finish()  # a temp object stays until settled
    assert sorted(store.digests()) == sorted({first.sha256, second.sha256, pending.sha256 or ""})
    pending.settle(False, lambda _: True)
