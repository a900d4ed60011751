"""A snapshot's layout, name and manifest; finding snapshots; verifying one.

A snapshot is a folder of the backup folder, named by the UTC time it was taken
(``2026-03-14T02-15-00.123Z``: no colon, so any file system takes it)::

    davdrive.sqlite3        the database at one consistent point (a single file)
    blobs/aa/bb/<sha256>    the blob files its rows refer to (hard links or copies)
    manifest.json           {"format", "taken_at", "schema", "inline", "blobs":
                             {sha256: size}, "missing": [sha256, ...]}

It is written under ``.partial-<name>`` and renamed when complete, and a rotation
renames it back before deleting it: a folder whose name parses as a time is a
complete snapshot. Nothing here writes into a snapshot: ``verify`` reads its
database read-only (a copy, migrated, when an older version took it) and runs
``davdrive.check.run_check`` on it and its blob folder, then compares the manifest.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session

from davdrive import check, db
from davdrive.blobs import BlobStore
from davdrive.errors import BadRequest, NotFound
from davdrive.settings import DB_FILE

MANIFEST = "manifest.json"
BLOBS = "blobs"
PARTIAL = ".partial-"
FORMAT = 1
_NAME_TIME = "%Y-%m-%dT%H-%M-%S"


def name_of(taken_at: dt.datetime) -> str:
    """The folder name of a snapshot taken at ``taken_at`` (UTC, to the millisecond)."""
    t = taken_at.astimezone(dt.UTC)
    return f"{t.strftime(_NAME_TIME)}.{t.microsecond // 1000:03d}Z"


def time_of(name: str) -> dt.datetime | None:
    """The time a snapshot folder's name gives, or None for any other name."""
    try:
        return dt.datetime.strptime(name, _NAME_TIME + ".%fZ").replace(tzinfo=dt.UTC)
    except ValueError:
        return None


def listing(backup_dir: Path) -> list[tuple[dt.datetime, Path]]:
    """The complete snapshots in ``backup_dir``, oldest first."""
    if not backup_dir.is_dir():
        return []
    found = []
    for path in backup_dir.iterdir():
        taken = time_of(path.name)
        if taken is not None and path.is_dir():
            found.append((taken, path))
    return sorted(found)


def find(backup_dir: Path, given: str | None) -> Path:
    """The snapshot ``given`` (a path, or a name in ``backup_dir``), or the newest."""
    if given:
        path = Path(given)
        if not path.exists() and not path.is_absolute():
            path = backup_dir / given
        if not path.is_dir():
            raise NotFound(f"no snapshot {given} (neither a folder nor a name in {backup_dir})")
        return path.resolve()
    found = listing(backup_dir)
    if not found:
        raise NotFound(f"no snapshot in {backup_dir}: run `davdrive backup` first")
    return found[-1][1]


@dataclass
class Manifest:
    """What a snapshot holds; ``blobs``: the size of each blob file, by sha256."""

    taken_at: dt.datetime
    schema: str | None
    inline: int = 0
    blobs: dict[str, int] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)

    def as_json(self) -> str:
        return json.dumps({
            "format": FORMAT, "taken_at": self.taken_at.isoformat(), "schema": self.schema,
            "database": DB_FILE, "inline": self.inline, "blobs": self.blobs,
            "missing": self.missing,
        }, indent=1, sort_keys=True)


def read_manifest(snapshot: Path) -> Manifest:
    """The manifest of ``snapshot``; ``BadRequest`` when it is not a readable snapshot."""
    try:
        raw: dict[str, Any] = json.loads((snapshot / MANIFEST).read_text(encoding="utf-8"))
        if raw.get("format") != FORMAT or not (snapshot / DB_FILE).is_file():
            raise ValueError("unknown format or no database")
        return Manifest(
            dt.datetime.fromisoformat(raw["taken_at"]), raw.get("schema"), int(raw["inline"]),
            {str(k): int(v) for k, v in raw["blobs"].items()}, list(raw.get("missing", [])),
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise BadRequest(f"{snapshot} is not a davdrive snapshot ({exc})") from None


def copy_database(source: sqlite3.Connection, target: Path) -> None:
    """SQLite's online backup of ``source`` into the new file ``target`` in one step (one
    read transaction: a consistent point, writers go on meanwhile), left as a single
    file (rollback journal)."""
    copy = sqlite3.connect(target)
    try:
        source.backup(copy)
        copy.execute("PRAGMA journal_mode=DELETE")
    finally:
        copy.close()


def read_only(database: Path) -> sqlite3.Connection:
    """A connection that only reads the SQLite file ``database`` (never creates it)."""
    uri = database.resolve().as_uri() + "?mode=ro"
    return sqlite3.connect(uri, uri=True, check_same_thread=False)


def read_only_engine(database: Path) -> Engine:
    """An engine that only reads the SQLite file ``database`` (and never creates it)."""
    return create_engine("sqlite://", creator=lambda: read_only(database))


@contextmanager
def checkable(database: Path) -> Iterator[Engine]:
    """An engine on ``database`` at the current schema: the file itself, read-only, or a
    migrated copy in a temporary folder when an older version wrote it."""
    engine = read_only_engine(database)
    try:
        if db.current_revision(engine) == db.head_revision():
            yield engine
            return
        with tempfile.TemporaryDirectory(prefix="davdrive-verify-") as tmp:
            source = read_only(database)
            try:
                copy_database(source, Path(tmp) / DB_FILE)
            finally:
                source.close()
            copy = db.make_engine(f"sqlite:///{Path(tmp) / DB_FILE}", threads=1)
            try:
                db.migrate(copy)
                yield copy
            finally:
                copy.dispose()
    finally:
        engine.dispose()


def verify(snapshot: Path, progress: check.Progress | None = None) -> check.Report:
    """Check ``snapshot`` end to end with ``davdrive check``'s code (every blob against
    its hash, every row against its blob, the event chain...), then its manifest."""
    manifest = read_manifest(snapshot)
    store = BlobStore(snapshot / BLOBS, read_only=True)
    with checkable(snapshot / DB_FILE) as engine, Session(engine) as session:
        # nothing writes to a snapshot: any temp file or blob file without a row is a fault
        report = check.run_check(session, store, temp_age=0, orphan_age=0, progress=progress)
        report.problems += _manifest_problems(session, store, manifest)
    return report


def _manifest_problems(
    session: Session, store: BlobStore, manifest: Manifest
) -> list[check.Problem]:
    """Every blob file the rows need is listed, and every listed file has its size."""
    found = [
        check.Problem("manifest", row, f"blob {sha256} is not listed in {MANIFEST}")
        for sha256, row in check.file_blobs(session) if sha256 not in manifest.blobs
    ]
    for sha256, size in sorted(manifest.blobs.items()):
        try:
            actual = store.size(sha256)
        except (OSError, ValueError):
            actual = None
        if actual != size:
            found.append(check.Problem(
                "manifest", f"blob {sha256}",
                f"listed with {size} bytes, the snapshot holds "
                + ("no such file" if actual is None else f"{actual} bytes"),
            ))
    return found
