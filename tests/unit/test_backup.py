"""`davdrive backup`, `backup --verify` and `restore` (DESIGN 4 and 8, seed 000: "sauvegardés
toutes les nuits").

Rules checked here:
- a snapshot holds the database (SQLite online backup), a manifest of the blob files its
  rows name and those files, hard-linked to the live store (copied when linking fails);
  never an upload temp file; its path is the last line of `backup`'s output;
- a PostgreSQL database is refused with one line pointing to pg_dump, before connecting;
- `backup --verify` checks a snapshot with `davdrive check`'s code: a flipped byte or a
  missing blob file is named, exit 1;
- `restore` refuses a target that is not new or empty and writes nothing; otherwise the
  restored folder passes `check`, holds every content (inline ones too) and shares no
  file with the snapshot;
- every backup and restore appends an event; rotation runs after a complete backup only.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import select
from sqlalchemy.orm import Session

from davdrive import audit, backup, db, snapshots, tree
from davdrive.blobs import BlobStore
from davdrive.cli import main
from davdrive.models import AuditEvent, Node, NodeVersion
from davdrive.passwords import Passwords
from davdrive.policy import SYSTEM
from davdrive.runtime import Runtime, open_runtime
from davdrive.services import Drive
from davdrive.settings import DB_FILE, Settings, load_settings
from tests.conftest import put_file, stored_bytes

pytestmark = pytest.mark.sqlite_only(
    "backups of an SQLite drive (PostgreSQL: tests/live/test_backup_postgresql.py)")

BIG = b"large content, kept as a blob file " * 2500  # over the 64 KiB inline limit
SMALL = b"small content kept in the database"


@pytest.fixture
def drive(runtime: Runtime, session: Session) -> Iterator[Drive]:
    """A drive holding docs/big.bin (a blob file, two versions) and small.txt (inline)."""
    d = Drive(session, runtime.blobs, SYSTEM, runtime.drive_options)
    docs = d.make_folder(tree.get_root(session), "docs")
    put_file(d, docs, "big.bin", BIG + b"v1")
    big = tree.child_named(session, docs.id, "big.bin")
    upload = d.begin_upload(docs, "big.bin", big)
    upload.writer.write(BIG + b"v2")
    d.finish_upload(upload)
    put_file(d, tree.get_root(session), "small.txt", SMALL)
    session.commit()
    yield d


class Cli:
    """`davdrive ...` in-process: exit status, stdout, stderr."""

    def __init__(self, passwords: Passwords, capsys: pytest.CaptureFixture[str]) -> None:
        self.passwords, self.capsys = passwords, capsys

    def __call__(self, data: Path, *args: str) -> tuple[int, str, str]:
        code = main(["--data", str(data), *args], passwords=self.passwords)
        captured = self.capsys.readouterr()
        return code, captured.out, captured.err


@pytest.fixture
def cli(fast_passwords: Passwords, capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(fast_passwords, capsys)


def take(cli: Cli, runtime: Runtime) -> Path:
    code, out, err = cli(runtime.settings.data_dir, "backup")
    assert code == 0, (out, err)
    return Path(out.splitlines()[-1])


def sha_of(session: Session, name: str) -> str:
    sha = session.scalars(select(Node.blob_sha256).where(Node.name == name)).one()
    assert sha is not None
    return sha


def events(runtime: Runtime, action: str) -> list[AuditEvent]:
    with runtime.sessions() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def test_a_snapshot_holds_the_database_and_links_the_blob_files_its_rows_name(
    drive: Drive, runtime: Runtime, session: Session, cli: Cli
) -> None:
    temp = runtime.blobs.tmp_dir / "up-in-flight"
    temp.write_bytes(b"an upload being received")
    code, out, err = cli(runtime.settings.data_dir, "backup")
    assert code == 0, err
    snapshot = Path(out.splitlines()[-1])  # the last line: the snapshot's path
    assert snapshot.parent == runtime.settings.data_dir / "backups"
    assert snapshots.time_of(snapshot.name) is not None
    manifest = json.loads((snapshot / "manifest.json").read_text())
    big = sha_of(session, "big.bin")
    versions = {big, *session.scalars(select(NodeVersion.blob_sha256))}
    # both versions of big.bin are files; small.txt is inside the database
    assert set(manifest["blobs"]) == versions and len(versions) == 2
    assert manifest["blobs"][big] == len(BIG) + 2 and manifest["inline"] == 1
    for sha in versions:
        linked = snapshot / "blobs" / sha[:2] / sha[2:4] / sha
        assert linked.stat().st_ino == runtime.blobs.path(sha).stat().st_ino
    assert not any((snapshot / "blobs" / "tmp").iterdir())  # no temp file
    assert (snapshot / DB_FILE).is_file() and not (snapshot / f"{DB_FILE}-wal").exists()


def test_blob_files_are_copied_when_they_cannot_be_linked(
    drive: Drive, runtime: Runtime, session: Session, cli: Cli,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tries: list[str] = []

    def other_file_system(src: str, dst: str) -> None:
        tries.append(str(src))
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(backup.os, "link", other_file_system)
    code, out, err = cli(runtime.settings.data_dir, "backup")
    assert code == 0, err
    snapshot = Path(out.splitlines()[-1])
    assert "0 blob files linked, 2 copied" in out
    assert len(tries) == 1  # another file system: no further link is tried
    big = sha_of(session, "big.bin")
    copy = snapshot / "blobs" / big[:2] / big[2:4] / big
    assert copy.read_bytes() == BIG + b"v2"
    assert copy.stat().st_ino != runtime.blobs.path(big).stat().st_ino
    assert cli(runtime.settings.data_dir, "backup", "--verify", str(snapshot))[0] == 0


def test_backup_reports_progress_on_stderr(
    drive: Drive, runtime: Runtime, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(backup, "PROGRESS_EVERY", 1)
    code, _, err = cli(runtime.settings.data_dir, "backup")
    assert code == 0
    assert "1 blob files linked, 0 copied so far\n2 blob files linked, 0 copied so far" in err


def test_verify_passes_on_a_sound_snapshot_default_the_newest(
    drive: Drive, runtime: Runtime, cli: Cli
) -> None:
    take(cli, runtime)
    newest = take(cli, runtime)
    code, out, err = cli(runtime.settings.data_dir, "backup", "--verify")
    assert code == 0, (out, err)
    assert f"verifying snapshot {newest}" in err
    assert "blobs checked; no problem found" in out


def flip_a_byte(path: Path) -> None:
    """Damage the snapshot's file only: a new file replaces the link to the live one."""
    data = bytearray(path.read_bytes())
    data[10] ^= 0x01
    path.unlink()
    path.write_bytes(bytes(data))


def test_verify_names_a_flipped_byte_in_a_snapshot_blob(
    drive: Drive, runtime: Runtime, session: Session, cli: Cli
) -> None:
    snapshot = take(cli, runtime)
    big = sha_of(session, "big.bin")
    flip_a_byte(snapshot / "blobs" / big[:2] / big[2:4] / big)
    node = session.scalars(select(Node.id).where(Node.name == "big.bin")).one()
    code, out, err = cli(runtime.settings.data_dir, "backup", "--verify", snapshot.name)
    assert code == 1
    assert (f"davdrive: snapshot {snapshot.name} failed verification: blob_corrupt: "
            f"node {node}: blob {big} now hashes to") in err
    report = snapshots.verify(snapshot)
    assert [p.kind for p in report.problems] == ["blob_corrupt"]
    assert cli(runtime.settings.data_dir, "check")[0] == 0  # the live store is untouched


def test_verify_names_a_missing_snapshot_blob(
    drive: Drive, runtime: Runtime, session: Session, cli: Cli
) -> None:
    snapshot = take(cli, runtime)
    big = sha_of(session, "big.bin")
    (snapshot / "blobs" / big[:2] / big[2:4] / big).unlink()
    code, _, err = cli(runtime.settings.data_dir, "backup", "--verify", str(snapshot))
    assert code == 1
    assert "blob_missing: node" in err and big in err
    kinds = [p.kind for p in snapshots.verify(snapshot).problems]
    assert kinds == ["blob_missing", "manifest"]  # and the manifest's entry has no file


def test_verify_names_a_broken_event_chain_in_a_snapshot(
    drive: Drive, runtime: Runtime, cli: Cli
) -> None:
    snapshot = take(cli, runtime)
    conn = sqlite3.connect(snapshot / DB_FILE)
    conn.execute("UPDATE audit_event SET user_login = 'mallory' WHERE id = 2")
    conn.commit()
    conn.close()
    code, _, err = cli(runtime.settings.data_dir, "backup", "--verify", str(snapshot))
    assert code == 1 and "event_chain: event 2" in err


def test_verify_refuses_what_is_not_a_snapshot(runtime: Runtime, cli: Cli, tmp_path: Path) -> None:
    code, _, err = cli(runtime.settings.data_dir, "backup", "--verify", str(tmp_path))
    assert code == 1 and "not a davdrive snapshot" in err
    code, _, err = cli(runtime.settings.data_dir, "backup", "--verify")
    assert code == 1 and "no snapshot in" in err


def restored_settings(tmp_path: Path, name: str = "restored") -> Settings:
    return load_settings(None, {}, {"data_dir": str(tmp_path / name), "server.port": 0})


def test_restore_makes_a_drive_that_checks_clean_and_holds_every_content(
    drive: Drive, runtime: Runtime, session: Session, cli: Cli, tmp_path: Path,
    fast_passwords: Passwords,
) -> None:
    snapshot = take(cli, runtime)
    target = restored_settings(tmp_path)
    code, out, err = cli(target.data_dir, "restore", str(snapshot))
    assert code == 0, (out, err)
    assert f"restored snapshot {snapshot.name} into {target.data_dir}" in out
    assert cli(target.data_dir, "check")[0] == 0
    restored = open_runtime(target, fast_passwords)
    try:
        with restored.sessions() as s:
            big, small = sha_of(s, "big.bin"), sha_of(s, "small.txt")
        assert stored_bytes(restored, big, 0) == BIG + b"v2"
        assert stored_bytes(restored, small, 0) == SMALL  # kept in the database
        assert not restored.blobs.exists(small)
        # independent of the snapshot (and so of the live store): copies, not links
        snap_file = snapshot / "blobs" / big[:2] / big[2:4] / big
        assert restored.blobs.path(big).stat().st_ino != snap_file.stat().st_ino
        with restored.sessions() as s:
            assert audit.verify(s) is None
            last = s.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
            assert last is not None and last.action == "restore"
            assert snapshot.name in last.detail
    finally:
        restored.close()


def test_restore_into_an_empty_existing_folder(
    drive: Drive, runtime: Runtime, cli: Cli, tmp_path: Path
) -> None:
    snapshot = take(cli, runtime)
    target = restored_settings(tmp_path)
    target.data_dir.mkdir()
    code, out, err = cli(target.data_dir, "restore", str(snapshot))
    assert code == 0, (out, err)


def listing(folder: Path) -> list[tuple[str, bytes]]:
    return sorted((str(p.relative_to(folder)), p.read_bytes() if p.is_file() else b"")
                  for p in folder.rglob("*"))


def test_restore_refuses_a_folder_that_is_not_empty_and_writes_nothing(
    drive: Drive, runtime: Runtime, cli: Cli, tmp_path: Path
) -> None:
    snapshot = take(cli, runtime)
    target = tmp_path / "busy"
    target.mkdir()
    (target / "notes.txt").write_bytes(b"someone's file")
    before = listing(target)
    code, out, err = cli(target, "restore", str(snapshot))
    assert code == 1 and out == ""
    assert "is not a new or empty folder" in err and "nothing was written" in err
    assert listing(target) == before
    a_file = tmp_path / "a-file"
    a_file.write_bytes(b"not a folder")
    assert cli(a_file, "restore", str(snapshot))[0] == 1
    assert a_file.read_bytes() == b"not a folder"
    # the live data folder is not a restore target either
    live_before = listing(runtime.settings.data_dir)
    assert cli(runtime.settings.data_dir, "restore", str(snapshot))[0] == 1
    assert listing(runtime.settings.data_dir) == live_before


def test_restore_refuses_what_is_not_a_snapshot_and_writes_nothing(
    cli: Cli, tmp_path: Path
) -> None:
    (tmp_path / "junk").mkdir()
    code, _, err = cli(tmp_path / "new", "restore", str(tmp_path / "junk"))
    assert code == 1 and "not a davdrive snapshot" in err
    assert not (tmp_path / "new").exists()


def test_a_damaged_snapshot_stops_the_restore_and_leaves_nothing(
    drive: Drive, runtime: Runtime, session: Session, cli: Cli, tmp_path: Path
) -> None:
    snapshot = take(cli, runtime)
    big = sha_of(session, "big.bin")
    flip_a_byte(snapshot / "blobs" / big[:2] / big[2:4] / big)
    target = tmp_path / "restored"
    code, _, err = cli(target, "restore", str(snapshot))
    assert code == 1 and big in err and "nothing was restored" in err
    assert not target.exists()


def test_each_backup_appends_an_event_to_the_live_chain(
    drive: Drive, runtime: Runtime, cli: Cli, tmp_path: Path
) -> None:
    snapshot = take(cli, runtime)
    backups = events(runtime, "backup")
    assert len(backups) == 1 and backups[0].outcome == "ok"
    assert backups[0].user_login == "system" and snapshot.name in backups[0].detail
    with runtime.sessions() as s:
        assert audit.verify(s) is None


def old_snapshot(backup_dir: Path, name: str) -> Path:
    path = backup_dir / name
    path.mkdir(parents=True)
    return path


def test_rotation_runs_after_a_backup_and_keeps_the_newest_of_a_day(
    drive: Drive, runtime: Runtime, cli: Cli
) -> None:
    backups = runtime.settings.backup_dir
    earlier = old_snapshot(backups, "2020-01-01T01-00-00.000Z")
    later = old_snapshot(backups, "2020-01-01T02-00-00.000Z")
    other = old_snapshot(backups, "my-notes")  # not a snapshot name: never touched
    leftover = old_snapshot(backups, ".partial-2020-01-02T01-00-00.000Z")  # a killed backup
    code, out, _ = cli(runtime.settings.data_dir, "backup")
    assert code == 0
    assert f"removed snapshot {earlier.name} (rotation)" in out
    assert not earlier.exists() and later.is_dir() and other.is_dir()
    assert not leftover.exists()


def test_a_backup_missing_a_live_blob_keeps_every_snapshot_and_exits_1(
    drive: Drive, runtime: Runtime, session: Session, cli: Cli
) -> None:
    backups = runtime.settings.backup_dir
    earlier = old_snapshot(backups, "2020-01-01T01-00-00.000Z")
    old_snapshot(backups, "2020-01-01T02-00-00.000Z")
    big = sha_of(session, "big.bin")
    runtime.blobs.path(big).unlink()
    code, out, err = cli(runtime.settings.data_dir, "backup")
    assert code == 1 and big in err
    snapshot = Path(out.splitlines()[-1])
    assert json.loads((snapshot / "manifest.json").read_text())["missing"] == [big]
    assert earlier.is_dir()  # no rotation after an incomplete backup
    assert [e.outcome for e in events(runtime, "backup")] == ["incomplete"]


def test_one_backup_at_a_time(drive: Drive, runtime: Runtime, cli: Cli) -> None:
    backups = runtime.settings.backup_dir
    backups.mkdir(parents=True)
    fd = os.open(backups / ".lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        code, out, err = cli(runtime.settings.data_dir, "backup")
    finally:
        os.close(fd)
    assert code == 1 and "another backup" in err
    assert snapshots.listing(backups) == []
    assert [e.outcome for e in events(runtime, "backup")] == []


def test_backup_dir_setting_places_snapshots_elsewhere(
    drive: Drive, runtime: Runtime, cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DAVDRIVE_BACKUP_DIR", str(tmp_path / "elsewhere"))
    snapshot = take(cli, runtime)
    assert snapshot.parent == tmp_path / "elsewhere"


def test_a_snapshot_an_older_version_took_is_verified_and_restored_unchanged(
    tmp_path: Path, cli: Cli
) -> None:
    """Verify checks a migrated copy (the snapshot stays as it was); restore migrates."""
    engine = db.make_engine(f"sqlite:///{tmp_path / 'old.sqlite3'}", threads=1)
    command.upgrade(db._alembic_config(engine), "0007")
    try:
        taken = backup.take_snapshot(engine, BlobStore(tmp_path / "blobs"), tmp_path / "b")
    finally:
        engine.dispose()
    database = taken.path / DB_FILE
    before = database.read_bytes()
    assert snapshots.read_manifest(taken.path).schema == "0007"
    code, out, err = cli(tmp_path / "unused", "backup", "--verify", str(taken.path))
    assert code == 0, (out, err)
    assert database.read_bytes() == before
    code, out, err = cli(tmp_path / "restored", "restore", str(taken.path))
    assert code == 0, (out, err)
