"""``davdrive restore SNAPSHOT`` into a PostgreSQL database (``davdrive.restore``).

``restore_into_database(snapshot, settings)``: with no server on the database
(the exclusive serve lock, ``davdrive.serve_guard``), the database is migrated
to head and must hold no drive (else ``Conflict``, nothing written). Every
blob file the snapshot's rows name is copied through the configured store's
writer (``davdrive.blob_copy``: re-hashed, a damaged one stops the restore);
then every table of the snapshot (at the current schema: a migrated copy when
an older version took it) is copied in one transaction, sequences set past the
largest keys. A restore that stops deletes the blobs it added (the rows were
never committed). Then a ``restore`` event and ``davdrive check``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from davdrive import check, inline_blobs, serve_guard, snapshots, table_copy
from davdrive.blob_copy import BlobDamaged, copy_blob
from davdrive.blobs import BlobStore
from davdrive.errors import Conflict
from davdrive.models import StorageMove
from davdrive.restore import DamagedSnapshot, record_and_check
from davdrive.runtime import Runtime, open_runtime
from davdrive.settings import DB_FILE, Settings
from davdrive.storage_target import describe_database

PROGRESS_EVERY = 1000


def restore_into_database(
    snapshot: Path, settings: Settings, progress: Callable[[int], None] | None = None,
) -> tuple[check.Report, int, int]:
    """Restore ``snapshot`` into the database ``settings`` name; (the check's report,
    blob files copied, blobs kept in the database). See the module."""
    with serve_guard.moving(settings.database_url, "restoring a snapshot into it"):
        runtime = open_runtime(settings)
        try:
            _require_empty(runtime)
            copied, inline = _restore_into(snapshot, runtime, progress)
            report = record_and_check(runtime, snapshot, copied, inline)
        finally:
            runtime.close()
    return report, copied, inline


def _require_empty(runtime: Runtime) -> None:
    with runtime.engine.connect() as conn:
        filled = sorted(name for name, n in table_copy.count_rows(conn).items() if n)
        if conn.execute(select(StorageMove.id)).first() is not None:
            filled.append("storage_move")
    if filled:
        raise Conflict(
            f"the database {describe_database(runtime.settings)} already holds data (tables "
            f"{', '.join(filled[:3])}...): restore writes only into an empty database; create "
            "a new one; nothing was written"
        )


def _restore_into(
    snapshot: Path, runtime: Runtime, progress: Callable[[int], None] | None,
) -> tuple[int, int]:
    added: list[str] = []
    store = BlobStore(snapshot / snapshots.BLOBS, read_only=True)
    with snapshots.checkable(snapshot / DB_FILE) as engine, engine.connect() as source:
        with Session(bind=source, join_transaction_mode="create_savepoint") as session:
            needed = list(check.file_blobs(session))
            inline = len(inline_blobs.digests(session))
        try:
            for sha256, where in needed:
                existed = runtime.blobs.exists(sha256)
                try:
                    copy_blob(store, runtime.blobs, sha256, where)
                except BlobDamaged:
                    raise DamagedSnapshot(
                        f"the snapshot's blob {sha256} ({where}) is missing or damaged; "
                        "nothing was restored. Try an older snapshot (`davdrive backup "
                        "--verify SNAPSHOT` checks one)"
                    ) from None
                if not existed:
                    added.append(sha256)
                if progress is not None and len(added) % PROGRESS_EVERY == 0 and added:
                    progress(len(added))
            with runtime.engine.begin() as target:
                table_copy.copy_tables(source, target)
                table_copy.reset_sequences(target)
        except BaseException:
            for sha256 in added:
                runtime.blobs.delete(sha256)
            raise
    return len(needed), inline
