"""Small uploads kept in the database (issue 12: "durability for real ... small blobs kept
in the database are fine ways to win the speed back"; docs/durable-writes.md).

Rules: content of at most ``storage.inline_blob_bytes`` is stored in the commit of
its row (no blob file, no fsync of a file or folder: the commit's own fsync makes
it durable); larger content is a blob file as before; either reads back whatever
the limit is now; a refused commit leaves neither row nor file; ``davdrive check``
verifies kept content like files (hash and size) and names what is damaged.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from davdrive import blob_writer as blob_module
from davdrive import inline_blobs, tree
from davdrive.check import run_check
from davdrive.drive_base import DriveOptions
from davdrive.errors import DriveError
from davdrive.models import BlobInline, Node
from davdrive.policy import SYSTEM
from davdrive.runtime import Runtime
from davdrive.services import Drive
from tests.conftest import put_file

LIMIT = 65536


def drive_with(runtime: Runtime, session: Session, limit: int = LIMIT) -> Drive:
    options = DriveOptions(**{**runtime.drive_options.__dict__, "inline_blob_bytes": limit})
    return Drive(session, runtime.blobs, SYSTEM, options)


@pytest.fixture
def fsyncs(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Every os.fsync the blob store makes (recorded around the real call)."""
    seen: list[int] = []
    real = os.fsync

    def recording(fd: int) -> None:
        seen.append(fd)
        real(fd)

    monkeypatch.setattr(blob_module.os, "fsync", recording)
    yield seen


def test_the_default_limit_is_64_kib(runtime: Runtime) -> None:
    assert runtime.drive_options.inline_blob_bytes == LIMIT


def test_a_small_upload_is_kept_in_its_commit_without_a_file_or_fsync(
    runtime: Runtime, session: Session, fsyncs: list[int]
) -> None:
    drive = drive_with(runtime, session)
    data = b"x" * LIMIT  # the limit itself is still small
    node = put_file(drive, tree.get_root(session), "small.bin", data)
    assert fsyncs == [], "a small upload fsynced a file or folder"
    assert list(runtime.blobs.digests()) == []
    assert runtime.blobs.temp_files() == []
    assert inline_blobs.read(session, hashlib.sha256(data).hexdigest()) == data
    with drive.open_content(node) as stream:
        assert stream.read() == data


def test_an_upload_over_the_limit_is_a_durable_file(
    runtime: Runtime, session: Session, fsyncs: list[int]
) -> None:
    drive = drive_with(runtime, session)
    data = b"y" * (LIMIT + 1)
    node = put_file(drive, tree.get_root(session), "large.bin", data)
    sha = hashlib.sha256(data).hexdigest()
    assert list(runtime.blobs.digests()) == [sha]
    assert len(fsyncs) >= 2, "the file and its folder must be fsynced before the commit"
    assert inline_blobs.read(session, sha) is None
    with drive.open_content(node) as stream:
        assert stream.read() == data


def test_content_reads_back_whatever_the_limit_is_now(runtime: Runtime, session: Session) -> None:
    """The limit may change between writing and reading: both places are looked at."""
    root = tree.get_root(session)
    kept = put_file(drive_with(runtime, session, LIMIT), root, "kept.txt", b"in the database")
    filed = put_file(drive_with(runtime, session, 0), root, "filed.txt", b"in a file")
    for limit in (0, LIMIT):
        drive = drive_with(runtime, session, limit)
        with drive.open_content(kept) as stream:
            assert stream.read() == b"in the database"
        with drive.open_content(filed) as stream:
            assert stream.read() == b"in a file"


def test_a_refused_commit_keeps_nothing(runtime: Runtime, session: Session) -> None:
    """Rule (as for files): a PUT into a folder deleted during the body is refused at
    commit and leaves no content row, no file and no temp file."""
    drive = drive_with(runtime, session)
    root = tree.get_root(session)
    folder = drive.make_folder(root, "docs")
    upload = drive.begin_upload(folder, "report.txt", None)
    upload.writer.write(b"content nobody keeps")
    with runtime.sessions() as other:
        drive_with(runtime, other).delete(tree.child_named(other, root.id, "docs"))
    with pytest.raises(DriveError):
        drive.finish_upload(upload)
    upload.writer.abort()
    assert session.scalars(select(BlobInline.sha256)).all() == []
    assert list(runtime.blobs.digests()) == []
    assert runtime.blobs.temp_files() == []


def test_identical_small_content_is_kept_once(runtime: Runtime, session: Session) -> None:
    drive = drive_with(runtime, session)
    root = tree.get_root(session)
    put_file(drive, root, "a.txt", b"same")
    put_file(drive, root, "b.txt", b"same")
    assert len(session.scalars(select(BlobInline.sha256)).all()) == 1


def _kinds(runtime: Runtime) -> list[str]:
    with runtime.sessions() as s:
        return [p.kind for p in run_check(s, runtime.blobs).problems]


def test_check_verifies_kept_content_and_names_damage(runtime: Runtime, session: Session) -> None:
    drive = drive_with(runtime, session)
    root = tree.get_root(session)
    put_file(drive, root, "a.txt", b"alpha")
    put_file(drive, root, "b.txt", b"bravo")
    session.commit()
    assert _kinds(runtime) == []
    sha_a, sha_b = (
        session.scalars(select(Node.blob_sha256).where(Node.name == n)).one()
        for n in ("a.txt", "b.txt")
    )
    with runtime.sessions() as s:
        s.execute(update(BlobInline).where(BlobInline.sha256 == sha_a).values(data=b"alphX"))
        s.execute(BlobInline.__table__.delete().where(BlobInline.sha256 == sha_b))
        s.commit()
    assert sorted(_kinds(runtime)) == ["blob_corrupt", "blob_missing"]
