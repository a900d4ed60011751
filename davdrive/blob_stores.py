"""The blob store a data folder's settings name (``blobs.backend``)."""

from __future__ import annotations

from davdrive.blob_backend import BlobBackend
from davdrive.blobs import BlobStore
from davdrive.settings import Settings


def open_blob_store(settings: Settings) -> BlobBackend:
    """The local folder's store, or the S3 bucket's (boto3 is imported only then).

    Local: with several server processes no process can tell whether another one is
    about to commit a blob, so none deletes one after a failed commit."""
    if settings["blobs.backend"] == "s3":
        from davdrive.blob_s3 import S3Store
        from davdrive.blob_s3_client import make_client
        from davdrive.blob_settings import S3Settings

        s3 = S3Settings.of(settings.values)
        client = make_client(s3, max_connections=max(10, 2 * settings["server.threads"]))
        return S3Store(client, s3, lock_dir=settings.data_dir)
    return BlobStore(settings.blob_dir, collect_failed=settings["server.workers"] == 1)
