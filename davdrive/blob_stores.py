"""The blob store a data folder's settings name."""

from __future__ import annotations

from davdrive.blob_backend import BlobBackend
from davdrive.blobs import BlobStore
from davdrive.settings import Settings


def open_blob_store(settings: Settings) -> BlobBackend:
    """The local folder's store.

    With several server processes no process can tell whether another one is
    about to commit a blob, so none deletes one after a failed commit."""
    return BlobStore(settings.blob_dir, collect_failed=settings["server.workers"] == 1)
