"""After an upload's commit: end the blob's pending count, and collect the blob
file a failed commit left with no row pointing at it (finding: failed commits
leaked unreferenced blobs)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from davdrive.blob_backend import BlobWriting
from davdrive.models import Blob

P = ParamSpec("P")
R = TypeVar("R")


class _HasUpload(Protocol):
    writer: BlobWriting


class _UnitOfWork(Protocol):
    @property
    def session(self) -> Session: ...


def blob_row_exists(session: Session, sha256: str) -> bool:
    """True when a committed blob row has this digest (read in a fresh transaction)."""
    return session.scalar(select(Blob.sha256).where(Blob.sha256 == sha256)) is not None


def settles_blob(
    method: Callable[Concatenate[Any, Any, P], R],
) -> Callable[Concatenate[Any, Any, P], R]:
    """Decorate ``finish_upload(self, upload, ...)``: whatever happens, settle the
    upload's blob; when the method raised, roll back first and delete the blob file
    of its content if nothing references it (``BlobWriting.settle``)."""

    @functools.wraps(method)
    def wrapper(self: _UnitOfWork, upload: _HasUpload, *args: P.args, **kwargs: P.kwargs) -> R:
        try:
            result = method(self, upload, *args, **kwargs)
        except BaseException:
            settle_writer(self, upload.writer, failed=True)
            raise
        settle_writer(self, upload.writer, failed=False)
        return result

    return wrapper


def settle_writer(work: _UnitOfWork, writer: BlobWriting, failed: bool) -> None:
    """End ``writer``'s pending count once its commit is done (``failed``: it was not,
    roll back, then delete its blob file if no committed row refers to it)."""
    if failed and writer.sha256 is not None:
        try:
            work.session.rollback()
        except Exception:  # the session cannot tell: keep the blob (safe)
            writer.settle(False, lambda _: True)
            return
    writer.settle(failed, lambda sha: blob_row_exists(work.session, sha))
