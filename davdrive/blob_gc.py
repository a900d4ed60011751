"""Blob garbage collection: remove the content nothing refers to any more.

A blob is garbage when no node (live or in the trash), no previous version and
no record attachment refers to it: its row goes, with its bytes (the file in
the store, or the ``blob_inline`` row). What makes blobs garbage: purging the
trash (``davdrive.trash``), versions past ``storage.versions``, detached
attachments and deleted records, a commit refused after its blob was stored.

Never one still referenced, even by an upload in flight. An upload stores its
blob file first and commits the row that refers to it afterwards, in another
transaction; meanwhile the blob may look unreferenced. So:

- the candidates are read without the lock (writers go on), then confirmed
  and removed holding the database's write lock, which every commit that
  refers to a blob also holds: "unreferenced" and "removed" are one step for
  them, and a commit after it sees the blob row gone and inserts it again;
- the upload's writer keeps a second link to its bytes until its commit and,
  holding that lock, puts the file back if it was removed
  (``BlobWriting.ensure_placed``): its committed row never points at nothing;
- files changed in the last ``min_age`` seconds and the store's temp folder
  are left alone.

The caller commits; the files are removed before that commit, under the lock
(a commit that then fails leaves unreferenced rows without bytes, harmless:
the next collection removes them, an upload of that content places it again).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from sqlalchemy import Select, delete, exists, select
from sqlalchemy.orm import Session

from davdrive.account_checks import audit_change
from davdrive.blob_backend import BlobBackend
from davdrive.blob_removal import removal_allowed
from davdrive.models import Attachment, Blob, BlobInline, Node, NodeVersion
from davdrive.policy import SYSTEM, Actor
from davdrive.write_lock import take_write_lock

_log = logging.getLogger("davdrive")

YOUNG_SECONDS = 15 * 60  # a blob file changed this recently is never removed
CHUNK = 500  # blobs per statement


@dataclass(frozen=True)
class Collected:
    """What a collection removed: ``blobs`` (rows) and their ``bytes``; ``young``
    unreferenced blobs left for a later run because their file is recent."""

    blobs: int = 0
    bytes: int = 0
    young: int = 0


def _unreferenced() -> Select[str, int]:
    """Blobs no node, version or attachment refers to (one index search each)."""
    return select(Blob.sha256, Blob.size).where(
        ~exists().where(Node.blob_sha256 == Blob.sha256),
        ~exists().where(NodeVersion.blob_sha256 == Blob.sha256),
        ~exists().where(Attachment.blob_sha256 == Blob.sha256),
    )


def unreferenced(session: Session, among: Iterable[str] | None = None) -> dict[str, int]:
    """{sha256: size} of the blobs nothing refers to (among ``among`` when given)."""
    if among is None:
        return {sha: size for sha, size in session.execute(_unreferenced())}
    found: dict[str, int] = {}
    for chunk in _chunks(sorted(set(among))):
        query = _unreferenced().where(Blob.sha256.in_(chunk))
        found.update({sha: size for sha, size in session.execute(query)})
    return found


def collect_garbage(
    session: Session,
    blobs: BlobBackend,
    *,
    actor: Actor = SYSTEM,
    among: Iterable[str] | None = None,
    min_age: float = YOUNG_SECONDS,
) -> Collected:
    """Remove every unreferenced blob (only those of ``among`` when given: the
    blobs a purge released), except those whose file changed less than
    ``min_age`` seconds ago; audited (``blob.collect``) when something went.
    Takes the write lock unless nothing is to be removed; the caller commits. While
    a backup runs, removes nothing (``davdrive.blob_removal``)."""
    candidates = unreferenced(session, among)
    if not candidates:
        return Collected()
    if not removal_allowed(session, blobs.lock_dir):
        _log.info("a backup is running: blobs are collected at the next round")
        return Collected()
    take_write_lock(session, "drive")
    confirmed = unreferenced(session, candidates)  # under the lock: final
    doomed: dict[str, int] = {}
    young = 0
    for sha256, size in confirmed.items():
        if min_age > 0 and _file_age(blobs, sha256) < min_age:
            young += 1
        else:
            doomed[sha256] = size
    for chunk in _chunks(sorted(doomed)):
        session.execute(delete(BlobInline).where(BlobInline.sha256.in_(chunk)))
        session.execute(delete(Blob).where(Blob.sha256.in_(chunk)))
    session.flush()
    for sha256 in doomed:
        blobs.delete(sha256)
    freed = sum(doomed.values())
    if doomed:
        audit_change(session, actor, "blob.collect",
                     detail=f"{len(doomed)} blob(s) removed, {freed} bytes freed")
    return Collected(blobs=len(doomed), bytes=freed, young=young)


def _file_age(blobs: BlobBackend, sha256: str) -> float:
    """Seconds since the blob's file last changed; infinite without a file (the
    bytes are in the database, or already gone)."""
    try:
        return blobs.age_seconds(sha256)
    except FileNotFoundError:
        return float("inf")


def _chunks(items: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(items), CHUNK):
        yield items[start:start + CHUNK]
