"""A drive whose blobs live in an S3 bucket (moto over HTTP): the maintenance paths.

Rules: ``davdrive check`` re-hashes every blob in the bucket and names a
damaged, missing or unreferenced one, and a stale upload; ``--repair``
removes the last two kinds; a backup copies the bucket's blobs into the
snapshot (there is no file to hard-link) and the snapshot verifies; a
restore writes the snapshot's blobs back into a bucket; the garbage
collection leaves recent blobs alone, by the object's age.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from davdrive import backup, check, snapshots, tree
from davdrive.blob_gc import collect_garbage
from davdrive.blob_s3 import S3Store
from davdrive.conflicts import ensure_blob_row
from davdrive.passwords import Passwords
from davdrive.policy import SYSTEM
from davdrive.restore import restore
from davdrive.runtime import Runtime, open_runtime
from davdrive.services import Drive
from davdrive.settings import load_settings
from tests.conftest import put_file, stored_bytes
from tests.s3 import bucket_keys, multipart_uploads, s3_overrides

BIG = os.urandom(300_000)  # a blob in the bucket (past the 64 KiB inline limit)
SMALL = b"kept in the database"


@pytest.fixture
def s3_runtime(
    tmp_path: Path, moto_endpoint: str, s3_bucket: str, fast_passwords: Passwords
) -> Iterator[Runtime]:
    settings = load_settings(None, {}, {
        "data_dir": str(tmp_path / "data"), **s3_overrides(moto_endpoint, s3_bucket),
    })
    runtime = open_runtime(settings, fast_passwords)
    yield runtime
    runtime.close()


@pytest.fixture
def filled(s3_runtime: Runtime) -> Iterator[tuple[Runtime, Session]]:
    with s3_runtime.sessions() as session:
        drive = Drive(session, s3_runtime.blobs, SYSTEM, s3_runtime.drive_options)
        put_file(drive, tree.get_root(session), "big.bin", BIG)
        put_file(drive, tree.get_root(session), "small.txt", SMALL)
        session.commit()
        yield s3_runtime, session


def store_of(runtime: Runtime) -> S3Store:
    assert isinstance(runtime.blobs, S3Store)
    return runtime.blobs


def kinds(report: check.Report) -> list[str]:
    return sorted(p.kind for p in report.problems)


def test_check_passes_on_a_sound_bucket(filled: tuple[Runtime, Session]) -> None:
    runtime, session = filled
    report = check.run_check(session, runtime.blobs)
    assert report.ok, [p.line() for p in report.problems]
    assert report.blobs_checked == 2


def test_check_names_a_damaged_and_a_missing_blob(filled: tuple[Runtime, Session]) -> None:
    runtime, session = filled
    store = store_of(runtime)
    [key] = bucket_keys(store)
    store.client.put_object(Bucket=store.bucket, Key=key, Body=b"X" + BIG[1:])
    assert kinds(check.run_check(session, store)) == ["blob_corrupt"]
    store.client.delete_object(Bucket=store.bucket, Key=key)
    assert kinds(check.run_check(session, store)) == ["blob_missing"]


def test_check_repair_removes_orphans_and_stale_uploads(
    filled: tuple[Runtime, Session],
) -> None:
    runtime, session = filled
    store = store_of(runtime)
    orphan = store.put_bytes(b"no row refers to this" * 10_000)
    left = store.writer()
    left.write(os.urandom(store.part_bytes + 1))  # a killed upload's multipart upload
    found = check.run_check(session, store, temp_age=0, orphan_age=0)
    assert kinds(found) == ["orphan_blob", "stale_temp"]
    repaired = check.run_check(session, store, repair=True, temp_age=0, orphan_age=0)
    assert repaired.ok and len(repaired.repaired) == 2
    assert not store.exists(orphan.sha256) and multipart_uploads(store) == []


def test_a_backup_copies_the_buckets_blobs_and_verifies(
    filled: tuple[Runtime, Session], tmp_path: Path,
) -> None:
    runtime, _ = filled
    result = backup.run_backup(runtime)
    assert result.complete and (result.linked, result.copied) == (0, 1)
    report = snapshots.verify(result.path)
    assert report.ok, [p.line() for p in report.problems]
    assert list(snapshots.read_manifest(result.path).blobs.values()) == [len(BIG)]


def test_a_snapshot_restores_into_a_bucket(
    filled: tuple[Runtime, Session], tmp_path: Path, moto_endpoint: str,
    fast_passwords: Passwords,
) -> None:
    runtime, _ = filled
    snapshot = backup.run_backup(runtime).path
    target_bucket = "restored-" + os.urandom(4).hex()
    store_of(runtime).client.create_bucket(Bucket=target_bucket)
    settings = load_settings(None, {}, {
        "data_dir": str(tmp_path / "restored"), **s3_overrides(moto_endpoint, target_bucket),
    })
    result = restore(snapshot, settings)
    assert result.report.ok and result.copied == 1
    restored = open_runtime(settings, fast_passwords)
    try:
        sha = [k.rsplit("/", 1)[1] for k in bucket_keys(store_of(restored))]
        assert len(sha) == 1
        assert stored_bytes(restored, sha[0], len(BIG)) == BIG
    finally:
        restored.close()


def test_the_collection_leaves_young_objects_and_removes_old_ones(
    s3_runtime: Runtime,
) -> None:
    store = store_of(s3_runtime)
    info = store.put_bytes(b"unreferenced" * 10_000)
    with s3_runtime.sessions() as session:
        ensure_blob_row(session, info)
        session.commit()
        young = collect_garbage(session, store, min_age=3600)
        session.commit()
        assert (young.blobs, young.young) == (0, 1) and store.exists(info.sha256)
        time.sleep(1.1)
        done = collect_garbage(session, store, min_age=1)
        session.commit()
    assert done.blobs == 1 and not store.exists(info.sha256)


def test_check_waits_the_s3_stores_grace_before_calling_an_upload_stale(
    s3_runtime: Runtime, tmp_path: Path
) -> None:
    """On several hosts an upload in flight on another host may leave its parts
    untouched for up to the store's grace (an hour): ``check`` by default waits that
    long, not its own 15 minutes; a local blob folder keeps the 15 minutes."""
    from davdrive.blobs import BlobStore

    store = store_of(s3_runtime)
    assert store.temp_grace == 3600
    assert check.default_temp_age(store) == 3600
    store.temp_grace = 60
    assert check.default_temp_age(store) == check.TEMP_AGE_SECONDS == 900
    assert check.default_temp_age(BlobStore(tmp_path / "blobs")) == 900
