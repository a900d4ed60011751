"""The ownCloud checksums (sha1, md5) of stored content, computed when first shown.

An upload computes only the sha256 that addresses its content (plus any
algorithm its ``OC-Checksum`` names). ``complete`` gives blob rows their
missing sha1 and md5: it reads the stored bytes once (from the store or, for
all small contents together, the database: ``davdrive.inline_blobs``),
hashes them with sha256 too, and keeps the result only when that sha256 is
the content's address (damaged content gets no checksums: callers show
none). The values are then stored in the blob row, in a short transaction
of their own, so each content is hashed once; ``coalesce`` keeps a value
another request stored first (concurrent asks compute the same digests and
all succeed).

A unit of work that has already written something (a PROPPATCH checking a
checksum) gets the values for this request only: storing them would commit
its other changes early. The rows passed in hold the values afterwards
either way (set as loaded values, so they do not count as changes).
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterable
from typing import BinaryIO

from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from davdrive.blob_backend import READ_BLOCK, BlobBackend
from davdrive.db import has_written
from davdrive.models import Blob, BlobInline
from davdrive.write_lock import take_write_lock

NAMES = ("sha1", "md5")


def complete(session: Session, blobs: BlobBackend, rows: Iterable[Blob | None]) -> None:
    """Fill the sha1 and md5 of every row that lacks one (see the module docstring).
    The content kept in the database is read in one query for all rows."""
    lacking = {row.sha256: row for row in rows
               if row is not None and (row.sha1 is None or row.md5 is None)}
    if not lacking:
        return
    computed: dict[str, dict[str, str]] = {}
    in_database = []
    for sha256 in sorted(lacking):
        try:
            with blobs.open(sha256) as stream:
                digests = _digests(sha256, stream)
        except FileNotFoundError:
            in_database.append(sha256)
            continue
        except ValueError:
            continue
        if digests is not None:
            computed[sha256] = digests
    if in_database:
        for sha256, data in session.execute(
            select(BlobInline.sha256, BlobInline.data).where(BlobInline.sha256.in_(in_database))
        ):
            digests = _digests(sha256, io.BytesIO(data))
            if digests is not None:
                computed[sha256] = digests
    for sha256, digests in computed.items():
        row = lacking[sha256]
        for name in NAMES:
            if getattr(row, name) is None:
                set_committed_value(row, name, digests[name])
    if computed and not has_written(session):
        _store(session, computed)


def _digests(sha256: str, stream: BinaryIO) -> dict[str, str] | None:
    """sha1 and md5 of the content in ``stream``; None when it no longer hashes to its
    address ``sha256``."""
    hashes = {"sha256": hashlib.sha256()} | {
        name: hashlib.new(name, usedforsecurity=False) for name in NAMES
    }
    while block := stream.read(READ_BLOCK):
        for digest in hashes.values():
            digest.update(block)
    if hashes["sha256"].hexdigest() != sha256:
        return None
    return {name: hashes[name].hexdigest() for name in NAMES}


def _store(session: Session, computed: dict[str, dict[str, str]]) -> None:
    """One UPDATE for all rows (executemany), under the write lock, committed."""
    if session.in_transaction():
        session.commit()  # a read-only unit of work: ends its snapshot, changes nothing
    take_write_lock(session)
    table = Blob.__table__
    assert isinstance(table, Table)
    statement = (
        update(table)
        .where(table.c.sha256 == bindparam("key"))
        .values({name: func.coalesce(table.c[name], bindparam(f"new_{name}")) for name in NAMES})
    )
    session.connection().execute(statement, [
        {"key": sha256} | {f"new_{name}": digests[name] for name in NAMES}
        for sha256, digests in sorted(computed.items())
    ])
    session.commit()
