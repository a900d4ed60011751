"""``davdrive migrate-storage``: copy a drive onto another database and blob store.

The source (the settings the command runs with) is read, never written: the
move is a copy, and the servers are pointed at the target afterwards. Its
schema is brought to this version's first, as by any davdrive command.

``move_storage(source, target)``, in order:

1. Locks: no server may write to either side, and none may start meanwhile:
   the ``serve.lock`` of the data folder of each SQLite database
   (``davdrive.folder_lock``) and the exclusive serve lock of each PostgreSQL
   database (``davdrive.serve_guard``), held until the end; refused at once
   when a server holds one.
2. The target is migrated to head and must hold no drive, unless it carries
   the marker (``storage_move`` table) of an unfinished move from the same
   source: then the move resumes. A new move writes the marker first.
3. One consistent read of the source (REPEATABLE READ on PostgreSQL, one
   read transaction on SQLite) for all that follows: every blob a row refers
   to, except those kept in the database (they travel with the rows), is
   copied through the target store's writer, which re-hashes it
   (``davdrive.blob_copy``: a damaged blob stops the move, named); blobs the
   target already has with the right size are skipped (a resumed move).
4. The rows of every table, in one target transaction (rows a cut-short
   attempt left are deleted first), keys preserved; PostgreSQL's sequences are
   set past the largest keys (``davdrive.table_copy``).
5. Verification: every table's row count and digest, source against target,
   and every copied blob re-hashed in the target store. Only then is the
   marker removed. A failed verification keeps it and says what differs.

A move cut short at any point (killed, a network failure) is resumed by the
same command; nothing of the source changes meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, delete, select, update
from sqlalchemy.orm import Session

from davdrive import check, folder_lock, serve_guard, table_copy
from davdrive.blob_copy import CopiedBlobs, copy_blobs
from davdrive.errors import BadRequest, Conflict
from davdrive.models import Blob, StorageMove, utcnow
from davdrive.runtime import Runtime, open_runtime
from davdrive.settings import Settings
from davdrive.storage_target import identity

Say = Callable[[str], None]  # one line of progress


class MoveVerificationFailed(Conflict):
    """The target differs from the source after the copy; the marker is kept."""


@dataclass
class MoveResult:
    """What a finished move did; ``tables``: rows per table."""

    source: str
    target: str
    resumed: bool
    blobs: CopiedBlobs
    inline: int
    tables: dict[str, int] = field(default_factory=dict)
    verified_blobs: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source, "target": self.target, "resumed": self.resumed,
            "blobs": {"total": self.blobs.total, "copied": self.blobs.copied,
                      "already_there": self.blobs.skipped, "verified": self.verified_blobs},
            "inline_blobs": self.inline, "tables": self.tables, "verified": True,
            "source_unchanged": True,
        }


def move_storage(source: Settings, target: Settings, say: Say | None = None) -> MoveResult:
    """Copy the drive of ``source`` onto ``target``; see the module."""
    tell = say or (lambda _: None)
    if source.database_url == target.database_url:
        raise BadRequest("the target's database is the source's: give another database "
                         "(the move copies; it cannot copy a drive onto itself)")
    with _locked(source, target):
        source_rt = open_runtime(source)
        try:
            target_rt = open_runtime(target)
            try:
                return _move(source_rt, target_rt, tell)
            finally:
                target_rt.close()
        finally:
            source_rt.close()


@contextmanager
def _locked(source: Settings, target: Settings) -> Iterator[None]:
    """Hold the serve locks of both sides (see the module, step 1)."""
    folders = {side.data_dir for side in (source, target)
               if side.database_url.startswith("sqlite")}
    with ExitStack() as stack:
        for folder in sorted(folders):
            folder.mkdir(parents=True, exist_ok=True)
            stack.enter_context(folder_lock.serving(folder, folder_lock.MOVE))
        for side in (source, target):
            stack.enter_context(serve_guard.moving(side.database_url))
        yield


def _move(source: Runtime, target: Runtime, say: Say) -> MoveResult:
    from_id = identity(source.settings)
    resumed = _claim_target(target, from_id)
    say(("resuming the unfinished move from " if resumed else "moving from ") + from_id)
    say(f"to {identity(target.settings)}")
    started = utcnow().timestamp()
    left = target.blobs.remove_stale_temp(started)  # no server runs: what a cut move left
    if left:
        say(f"removed {len(left)} temporary upload(s) an interrupted copy left in the target")
    with _source_snapshot(source) as reading:
        # a savepoint: closing the session leaves the read transaction open
        with Session(bind=reading, join_transaction_mode="create_savepoint") as session:
            needed = list(check.file_blobs(session))
            sizes = {sha: size for sha, size in session.execute(select(Blob.sha256, Blob.size))}
        say(f"blobs: {len(needed)} to copy ({len(sizes) - len(needed)} kept in the database)")
        blobs = copy_blobs(source.blobs, target.blobs, needed, sizes,
                           progress=lambda done: _blob_progress(target, done, say))
        source_digests = _copy_rows(reading, target, say)
    say("verifying: every table's rows and every blob's hash in the target")
    verified = _verify(target, source_digests, [sha for sha, _ in needed], say)
    with target.engine.begin() as conn:
        conn.execute(delete(StorageMove))
    return MoveResult(from_id, identity(target.settings), resumed, blobs,
                      inline=len(sizes) - len(needed),
                      tables={name: d.rows for name, d in source_digests.items()},
                      verified_blobs=verified)


def _claim_target(target: Runtime, from_id: str) -> bool:
    """Write the marker on an empty target, or find the same move's (True: resume)."""
    with target.engine.begin() as conn:
        marker = conn.execute(select(StorageMove)).first()
        if marker is not None:
            if marker.source != from_id:
                raise Conflict(
                    f"the target holds an unfinished move from another source ({marker.source}); "
                    "run that move again to finish it, or give an empty target; nothing was "
                    "written"
                )
            return True
        filled = {name: n for name, n in table_copy.count_rows(conn).items() if n}
        if filled:
            sample = ", ".join(f"{name} {n}" for name, n in sorted(filled.items())[:3])
            raise Conflict(
                f"the target ({identity(target.settings)}) already holds data (rows: "
                f"{sample}...): migrate-storage copies only into an empty database; create a "
                "new one (or a new data folder) for the target; nothing was written"
            )
        conn.execute(StorageMove.__table__.insert().values(  # type: ignore[attr-defined]
            id=1, source=from_id, phase="blobs", blobs_done=0))
    return False


@contextmanager
def _source_snapshot(source: Runtime) -> Iterator[Connection]:
    """A connection reading the source at one consistent point until the block ends."""
    with source.engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                yield conn
            return
        # pysqlite begins transactions only before writes: one read transaction by hand.
        conn.exec_driver_sql("BEGIN")
        try:
            yield conn
        finally:
            conn.rollback()


def _blob_progress(target: Runtime, done: CopiedBlobs, say: Say) -> None:
    say(f"blobs copied {done.done}/{done.total} ({done.skipped} already in the target)")
    with target.engine.begin() as conn:
        conn.execute(update(StorageMove).values(blobs_done=done.done, updated_at=utcnow()))


def _copy_rows(reading: Connection, target: Runtime, say: Say) -> dict[str, table_copy.TableDigest]:
    def shown(table: str, rows: int) -> None:
        say(f"table {table}: {rows} rows")

    with target.engine.begin() as conn:
        table_copy.clear_tables(conn)  # what a cut-short attempt left (else nothing)
        digests = table_copy.copy_tables(reading, conn, progress=shown)
        table_copy.reset_sequences(conn)
        conn.execute(update(StorageMove).values(phase="verify", updated_at=utcnow()))
    return digests


def _verify(
    target: Runtime, source: dict[str, table_copy.TableDigest], blobs: list[str], say: Say,
) -> int:
    with target.engine.connect() as conn:
        problems = table_copy.differences(source, table_copy.digest_tables(conn))
    checked = 0
    for sha256 in blobs:
        try:
            digest = target.blobs.digest_of_file(sha256)
        except ValueError:
            digest = None
        if digest != sha256:
            problems.append(f"blob {sha256}: " + ("missing from the target store"
                                                  if digest is None else f"hashes to {digest}"))
        checked += 1
        if checked % 1000 == 0:
            say(f"verified {checked}/{len(blobs)} blobs")
    if problems:
        raise MoveVerificationFailed(
            f"the target differs from the source after the copy ({len(problems)} "
            f"difference(s); first: {problems[0]}); run the same command again to copy "
            "again (the source was not changed)"
        )
    say(f"verified: every table's rows and {checked} blob hashes equal")
    return checked
