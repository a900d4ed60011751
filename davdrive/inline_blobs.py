"""Small blobs kept in the database (``storage.inline_blob_bytes``, docs/durable-writes.md).

A durable upload as a file costs an fsync of the file, of its folder (two when
the fan-out folder is new) and of the database's commit. Content of at most
the limit is stored instead as a ``blob_inline`` row in the commit that stores
the file's row: one fsync makes both durable, and there is no file to lose.

Content keeps its address (sha256) and its ``blob`` row either way; readers go
through ``open_blob``, which finds the bytes in the database or in the store,
whatever the limit was when they were written.
"""

from __future__ import annotations

import io
from typing import BinaryIO

from sqlalchemy import Connection, bindparam, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from davdrive.blob_backend import BlobBackend, BlobInfo
from davdrive.models import Base, BlobInline
from davdrive.prepared import PreparedInsert


def store(session: Session | Connection, info: BlobInfo, data: bytes) -> None:
    """Keep ``data`` as the bytes of blob ``info`` (the blob row must be in the same
    transaction); a row another upload of the same content stored stays."""
    values = {"sha256": info.sha256, "data": data}
    bind = session.get_bind() if isinstance(session, Session) else session
    postgres = bind.dialect.name == "postgresql"
    if isinstance(session, Connection):
        _STORE_PREPARED["postgresql" if postgres else "sqlite"].run(session, values)
    else:
        session.execute(_PG_STORE if postgres else _SQLITE_STORE, values)


# Built once (the statement cache then skips building and compiling them per request).
_SQLITE_STORE = sqlite.insert(Base.metadata.tables["blob_inline"]).on_conflict_do_nothing()
_PG_STORE = postgresql.insert(Base.metadata.tables["blob_inline"]).on_conflict_do_nothing()
# The same, compiled once per dialect, for Core connections (the small PUT's commit).
_STORE_PREPARED = {
    "sqlite": PreparedInsert(
        Base.metadata.tables["blob_inline"], lambda t: sqlite.insert(t).on_conflict_do_nothing()
    ),
    "postgresql": PreparedInsert(
        Base.metadata.tables["blob_inline"],
        lambda t: postgresql.insert(t).on_conflict_do_nothing(),
    ),
}


_READ = select(BlobInline.data).where(BlobInline.sha256 == bindparam("sha256"))  # built once


def read(session: Session, sha256: str) -> bytes | None:
    """The bytes of a blob kept in the database, or None (one Core statement)."""
    data: bytes | None = session.connection().execute(_READ, {"sha256": sha256}).scalar()
    return data


def open_blob(session: Session, blobs: BlobBackend, sha256: str) -> BinaryIO:
    """The content of blob ``sha256`` as a seekable stream, from the
    store or, when the store has no file for it, from the database (whatever the limit
    was when it was written). A local store is asked first: a missing file costs one
    failed open, a needless query costs far more; a remote one (S3) second: there a
    miss costs a round trip, more than the query. Raises FileNotFoundError when
    neither place has it."""
    if not blobs.local:
        data = read(session, sha256)
        return io.BytesIO(data) if data is not None else blobs.open(sha256)
    try:
        return blobs.open(sha256)
    except FileNotFoundError:
        data = read(session, sha256)
        if data is None:
            raise
        return io.BytesIO(data)


def digests(session: Session) -> set[str]:
    """The addresses of every blob kept in the database."""
    return set(session.scalars(select(BlobInline.sha256)))
