"""Several files uploaded into one folder in one submit (the web drive's form).

All or nothing: ``DriveUploads.upload_files`` checks every file as a WebDAV PUT
of it is checked (``check_upload``, as ``begin_upload`` does: create in the
folder, or modify the file of that name; the name rules, reserved names, a name
held by a hidden item (rule 4), the quotas and the free disk space for its
size), plus the upload size limit and a name given twice in the submit. Every
refused file is named with its reason at once (``FilesRefused``) and nothing
is stored. The quotas are then checked on the whole submit. Each file then
streams to its own blob writer, one file at a time (memory bounded by a chunk,
one temp file open at a time); content small enough to be kept in the database
is read again from its stream in the transaction, one file at a time. One
transaction stores every row, with one audit event per file (``create`` or
``overwrite``, as PUT).

A file over an existing one is what PUT does: it replaces it when the actor may
modify it, keeping the replaced content as a version; when not, that file is
refused. Junk files (``davdrive.junk``) are skipped, never stored, as a PUT of
them is dropped. A failure at any step leaves nothing visible, and the blob
files written are removed (``BlobStore.settle``).
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import BinaryIO

from sqlalchemy.exc import IntegrityError

from davdrive import quota, tree
from davdrive.blob_backend import BlobInfo, BlobWriting
from davdrive.blob_settling import settle_writer
from davdrive.conflicts import Placement
from davdrive.db import release_connection
from davdrive.drive_base import Upload
from davdrive.drive_versions import DriveVersions
from davdrive.errors import (
    BadRequest,
    ChangedMeanwhile,
    DriveError,
    FilesRefused,
    NotFound,
    TooLarge,
)
from davdrive.incoming import CHUNK, IncomingFile
from davdrive.models import Node
from davdrive.paths import name_key
from davdrive.policy import Action


@dataclass
class UploadedFiles:
    """What a submit stored: new files, files replaced (a version kept) and the names
    of junk files skipped, each in the order given."""

    created: list[Node] = field(default_factory=list)
    replaced: list[Node] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Planned:
    """A file of the submit that passed its checks: where it goes (``check_upload``)."""

    incoming: IncomingFile
    size: int
    parent: Node
    name: str
    existing: Node | None
    placement: Placement


@dataclass(frozen=True)
class _Received:
    """A file's content in the blob store (``small``: its bytes go to the database
    instead, read again from ``incoming`` at the commit)."""

    upload: Upload
    incoming: IncomingFile
    info: BlobInfo
    small: bool


class DriveUploads(DriveVersions):
    """The upload of several files into one folder, all or nothing."""

    def upload_files(
        self, folder: Node, files: Sequence[IncomingFile],
        unlocked: Callable[[Node], None] | None = None,
    ) -> UploadedFiles:
        """Store ``files`` in ``folder`` (a folder the actor sees), all or none.
        ``unlocked(file)`` refuses (raises) overwriting a file that is locked.

        Raises ``FilesRefused`` naming every refused file, ``QuotaExceeded`` or
        ``DiskFull`` when the whole submit does not fit, BadRequest for no file;
        then nothing is stored. Commits once on success.
        """
        if not files:
            raise BadRequest("Choose at least one file to upload.")
        if not folder.is_folder or not self.decide(Action.SEE, folder):
            raise NotFound("No such folder.")
        done = UploadedFiles()
        planned = self._plan(folder, files, done.skipped, unlocked)
        if not planned:
            return done  # junk files only: nothing to store
        self._check_submit_room(planned)
        release_connection(self.session)
        writers: list[BlobWriting] = []
        try:
            received = [self._receive(one, writers) for one in planned]
            for node, one in zip(self._store_all(folder, received), received, strict=True):
                (done.created if one.upload.created else done.replaced).append(node)
        except BaseException:
            self._release(writers, failed=True)
            raise
        self._release(writers, failed=False)
        return done

    def _plan(
        self, folder: Node, files: Sequence[IncomingFile], skipped: list[str],
        unlocked: Callable[[Node], None] | None,
    ) -> list[_Planned]:
        """Check every file (``_check_one``); junk names go to ``skipped``. Raises
        ``FilesRefused`` naming every refused file."""
        planned: list[_Planned] = []
        refused: list[tuple[str, DriveError]] = []
        seen: set[str] = set()
        for incoming in files:
            try:
                one = self._check_one(folder, incoming, seen)
                if one is not None and one.existing is not None and unlocked is not None:
                    unlocked(one.existing)
            except DriveError as exc:
                refused.append((incoming.name, exc))
                continue
            if one is None:
                skipped.append(incoming.name)
            else:
                planned.append(one)
        if refused:
            raise FilesRefused(refused, len(files))
        return planned

    def _check_one(
        self, folder: Node, incoming: IncomingFile, seen: set[str]
    ) -> _Planned | None:
        """The checks of a PUT of ``incoming`` into ``folder`` (None for a junk file,
        never stored), or the error refusing it."""
        size = _size_of(incoming.stream)
        limit = self.options.max_upload_bytes
        if limit is not None and size > limit:
            raise TooLarge(f"The file is larger than the limit of {limit} bytes.")
        holder = tree.child_named(self.session, folder.id, incoming.name)
        existing = holder if holder is not None and self.decide(Action.SEE, holder) else None
        parent, name, dropped = self.check_upload(folder, incoming.name, existing, expected=size)
        if dropped:
            return None
        key = name_key(name)
        if key in seen:
            raise BadRequest("A file of this name is already part of this upload.")
        seen.add(key)
        return _Planned(incoming, size, parent, name, existing, self.placement(parent))

    def _check_submit_room(self, planned: list[_Planned]) -> None:
        """The quotas and the free disk space for the whole submit (each file's own were
        checked by ``check_upload``): per owner of what it writes, and for the drive."""
        what = f"upload of {len(planned)} file(s)"
        owners: dict[int | None, tuple[int, int]] = {}
        for one in planned:
            existing = one.existing
            owner = existing.owner_id if existing else self.actor.user_id
            total, replaced = owners.get(owner, (0, 0))
            owners[owner] = (total + one.size, replaced + (existing.size if existing else 0))
        size = sum(total for total, _ in owners.values())
        replaced = sum(r for _, r in owners.values())
        limits, free = self.options.quota, self.blobs.free_bytes
        quota.check_room(self.session, limits, free, owner_id=None, category="", size=size,
                         replaces=replaced, on_disk=True, what=what)
        for owner, (total, replaces) in owners.items():
            if owner is None:
                continue
            category = (self.actor.category if owner == self.actor.user_id
                        else quota.category_of(self.session, owner))
            quota.check_room(self.session, limits, free, owner_id=owner, category=category,
                             size=total, replaces=replaces, on_disk=False, what=what)

    def _receive(self, one: _Planned, writers: list[BlobWriting]) -> _Received:
        """Stream the file to a new blob writer (added to ``writers``) and make it durable;
        content for the database is only hashed (its temp file is removed)."""
        writer = self.blobs.writer(self.options.max_upload_bytes)
        writers.append(writer)
        stream = one.incoming.stream
        stream.seek(0)
        while chunk := stream.read(CHUNK):
            writer.write(chunk)
        upload = Upload(one.parent, one.name, one.existing, writer, placement=one.placement)
        small = writer.take_small(self.options.inline_blob_bytes)
        if small is not None:
            return _Received(upload, one.incoming, small[0], True)
        return _Received(upload, one.incoming, writer.finish(), False)

    def _store_all(self, folder: Node, received: list[_Received]) -> list[Node]:
        """In one transaction under the write lock, store each file as a PUT's commit
        does (what holds the name now; the quotas again, counting the files stored
        before it) and commit. The folder must still be where the checks found it
        (else ``ParentGone``)."""
        nodes = []
        try:
            self._hold_parent(folder, received[0].upload.placement)
            for one in received:
                target = self._upload_target(one.upload)
                self.check_room(target, one.info.size, on_disk=False)
                small = (one.info, _content(one)) if one.small else None
                nodes.append(self._write_upload(one.upload, target, one.info, small, None))
            self._commit()
        except IntegrityError as exc:
            raise self.conflict_error(exc) from exc
        except BaseException:
            self._undo()  # nothing of the submit stays, and the write lock goes
            raise
        return nodes

    def _release(self, writers: list[BlobWriting], *, failed: bool) -> None:
        """Drop the writers not finished; settle the others (``settle_writer``)."""
        for writer in writers:
            if writer.sha256 is None:
                writer.abort()
            settle_writer(self, writer, failed)


def _size_of(stream: BinaryIO) -> int:
    """The stream's length, found by seeking to its end (then back to its start)."""
    size = stream.seek(0, io.SEEK_END)
    stream.seek(0)
    return size


def _content(one: _Received) -> bytes:
    """The small content of ``one`` read again from its stream; ``ChangedMeanwhile``
    if it is not what was hashed."""
    stream = one.incoming.stream
    stream.seek(0)
    data = stream.read(one.info.size + 1)
    if len(data) != one.info.size or hashlib.sha256(data).hexdigest() != one.info.sha256:
        raise ChangedMeanwhile("A file changed while it was being stored; nothing was stored.")
    return data
