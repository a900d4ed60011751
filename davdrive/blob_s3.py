"""Content-addressed blob store in an S3-compatible bucket (one ``davdrive.blob_backend``).

For several server processes or hosts sharing one drive: every process reads
and writes the same bucket. A blob is the object ``<prefix>aa/bb/<sha256>``;
objects are never changed, only created and deleted. An upload goes to a
temporary key first, is verified, then copied to its content key
(``davdrive.blob_s3_writer``); the database row that refers to it is committed
after that. Reads stream (``davdrive.blob_s3_reader``).

Differences from the local store, and why:

- ``collect_failed`` is off: the pending counts that make deleting the blob
  of a failed commit safe are per process, and a bucket is shared by
  processes that cannot see each other's. Such blobs (no row) are removed by
  ``davdrive check --repair``; the garbage collection (``davdrive.blob_gc``)
  removes those whose rows nothing refers to, under the database's write
  lock, exactly as for local files.
- Temporary items younger than ``temp_grace`` seconds are never removed by
  ``remove_stale_temp``: another process or host may be writing them (a
  restart of this one proves nothing about the others).
- Not ``local``: no path, no sendfile, no hard-linked snapshots (a backup
  copies the blobs); the database is asked first for small contents.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any, BinaryIO

from davdrive.blob_backend import READ_BLOCK, BlobInfo, TempItem
from davdrive.blob_s3_client import Keys, s3_errors
from davdrive.blob_s3_reader import open_object
from davdrive.blob_s3_writer import S3Writer
from davdrive.blob_settings import S3Settings

COPY_LIMIT = 5 * 1024**3  # larger objects are copied in parts (S3's CopyObject limit)
COPY_PART = 512 * 1024**2
TEMP_GRACE_SECONDS = 3600.0
_UPLOAD_MARK = "#"  # temp item names: "<key name>" or "<key name>#<multipart upload id>"


class S3Store:
    """Blobs in ``settings.bucket`` under ``settings.prefix`` (see the module)."""

    local = False
    collect_failed = False

    def __init__(
        self, client: Any, settings: S3Settings, *, lock_dir: Path, read_back: bool = False,
        temp_grace: float = TEMP_GRACE_SECONDS,
    ) -> None:
        """``client``: a boto3 S3 client (``blob_s3_client.make_client``). ``lock_dir``:
        the local folder of ``davdrive.blob_removal``'s lock. ``read_back``: verify
        every upload by reading it back, whatever the ETags say."""
        self.client = client
        self.bucket = settings.bucket
        self.keys = Keys(settings.prefix)
        self.part_bytes = settings.part_bytes
        self.lock_dir = lock_dir
        self.read_back = read_back
        self.temp_grace = temp_grace
        self.copy_limit, self.copy_part = COPY_LIMIT, COPY_PART
        self._lock = threading.Lock()
        self._pending: dict[str, int] = {}  # digest -> writers finished, not yet settled

    # --- writing -------------------------------------------------------------------

    def writer(self, max_bytes: int | None = None) -> S3Writer:
        return S3Writer(self, max_bytes)

    def put_bytes(self, data: bytes) -> BlobInfo:
        """Store ``data`` at once (tools, tests); see ``BlobStore.put_bytes``."""
        writer = self.writer()
        writer.write(data)
        info = writer.finish()
        writer.settle(False, lambda _: True)
        return info

    def place(self, temp_key: str, info: BlobInfo) -> None:
        """Copy the verified ``temp_key`` to the content key of ``info`` (unless it is
        there already) and count one pending writer."""
        with self._lock:
            self._pending[info.sha256] = self._pending.get(info.sha256, 0) + 1
        try:
            if not self.exists(info.sha256):
                self.copy_in(temp_key, info.sha256, info.size)
        except BaseException:
            with self._lock:
                self._release(info.sha256)
            raise

    def copy_in(self, temp_key: str, sha256: str, size: int) -> None:
        """Copy ``temp_key`` (``size`` bytes) to the content key of ``sha256``, server side."""
        target = self.keys.blob(sha256)
        source = {"Bucket": self.bucket, "Key": temp_key}
        with s3_errors(f"placing {target}"):
            if size <= self.copy_limit:
                self.client.copy_object(Bucket=self.bucket, Key=target, CopySource=source)
            else:
                self._copy_in_parts(source, target, size)

    def _copy_in_parts(self, source: dict[str, str], target: str, size: int) -> None:
        client, bucket = self.client, self.bucket
        upload_id = client.create_multipart_upload(Bucket=bucket, Key=target)["UploadId"]
        try:
            parts = []
            for number, start in enumerate(range(0, size, self.copy_part), 1):
                end = min(start + self.copy_part, size) - 1
                done = client.upload_part_copy(
                    Bucket=bucket, Key=target, UploadId=upload_id, PartNumber=number,
                    CopySource=source, CopySourceRange=f"bytes={start}-{end}",
                )
                parts.append({"PartNumber": number, "ETag": done["CopyPartResult"]["ETag"]})
            client.complete_multipart_upload(Bucket=bucket, Key=target, UploadId=upload_id,
                                             MultipartUpload={"Parts": parts})
        except BaseException:
            client.abort_multipart_upload(Bucket=bucket, Key=target, UploadId=upload_id)
            raise

    def settle(
        self, writer: S3Writer, failed: bool, referenced: Callable[[str], bool]
    ) -> None:
        """End ``writer``'s pending count and delete its temporary object; see the module
        for why a failed commit's blob is left to ``davdrive check --repair``."""
        sha256, writer.sha256 = writer.sha256, None
        writer.release_temp()
        if sha256 is None:
            return
        with self._lock:
            left = self._release(sha256)
            if not (failed and left == 0 and self.collect_failed):
                return
            try:
                keep = referenced(sha256)
            except Exception:  # cannot tell: keep it
                keep = True
            if not keep:
                self.delete(sha256)

    def _release(self, sha256: str) -> int:
        left = self._pending.get(sha256, 1) - 1
        if left > 0:
            self._pending[sha256] = left
        else:
            self._pending.pop(sha256, None)
        return left

    def abort_upload(self, key: str, upload_id: str) -> None:
        """Abort a multipart upload (its parts go; nothing when it is gone)."""
        with suppress(FileNotFoundError), s3_errors(f"aborting {key}"):
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)

    def delete_key(self, key: str) -> None:
        with s3_errors(f"deleting {key}"):
            self.client.delete_object(Bucket=self.bucket, Key=key)

    # --- reading -------------------------------------------------------------------

    def open(self, sha256: str) -> BinaryIO:
        return self.open_key(self.keys.blob(sha256))

    def open_key(self, key: str) -> BinaryIO:
        return open_object(self.client, self.bucket, key)

    def _head(self, sha256: str) -> dict[str, Any]:
        key = self.keys.blob(sha256)
        with s3_errors(f"looking up {key}"):
            found: dict[str, Any] = self.client.head_object(Bucket=self.bucket, Key=key)
        return found

    def exists(self, sha256: str) -> bool:
        try:
            self._head(sha256)
        except FileNotFoundError:
            return False
        return True

    def size(self, sha256: str) -> int:
        return int(self._head(sha256)["ContentLength"])

    def age_seconds(self, sha256: str) -> float:
        return time.time() - self._head(sha256)["LastModified"].timestamp()

    def delete(self, sha256: str) -> None:
        self.delete_key(self.keys.blob(sha256))

    def digests(self) -> Iterator[str]:
        """Every stored blob's digest, in key order."""
        for item in self._objects(self.keys.prefix):
            digest = self.keys.digest_of(item["Key"])
            if digest is not None:
                yield digest

    def digest_of_key(self, key: str) -> tuple[str, int] | None:
        """(sha256, size) of the object at ``key`` read back, or None when it is missing."""
        digest, size = hashlib.sha256(), 0
        try:
            with self.open_key(key) as stream:
                while block := stream.read(READ_BLOCK):
                    digest.update(block)
                    size += len(block)
        except FileNotFoundError:
            return None
        return digest.hexdigest(), size

    def digest_of_file(self, sha256: str) -> str | None:
        found = self.digest_of_key(self.keys.blob(sha256))
        return None if found is None else found[0]

    def verify(self, sha256: str) -> bool:
        return self.digest_of_file(sha256) == sha256

    def free_bytes(self) -> int | None:
        return None  # a bucket sets no limit the drive can read

    def path(self, sha256: str) -> Path:
        raise NotImplementedError("blobs in an S3 bucket have no local path")

    def close(self) -> None:
        """Close the client's pooled connections."""
        self.client.close()

    # --- what uploads leave ----------------------------------------------------------

    def temp_items(self) -> list[TempItem]:
        """Temporary objects (finished uploads not settled yet) and multipart uploads
        begun (their time: the last part's)."""
        start = len(self.keys.temp_prefix)
        items = [TempItem(obj["Key"][start:], obj["LastModified"].timestamp())
                 for obj in self._objects(self.keys.temp_prefix)]
        for upload in self._uploads():
            latest = upload["Initiated"]
            with s3_errors("listing parts"):
                pages = self.client.get_paginator("list_parts").paginate(
                    Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"])
                for page in pages:
                    for part in page.get("Parts", []):
                        latest = max(latest, part["LastModified"])
            name = upload["Key"][start:] + _UPLOAD_MARK + upload["UploadId"]
            items.append(TempItem(name, latest.timestamp()))
        return items

    def remove_temp(self, name: str) -> None:
        key_name, _, upload_id = name.partition(_UPLOAD_MARK)
        if not key_name or "/" in key_name:
            raise ValueError("not a temp item name")
        key = self.keys.temp_prefix + key_name
        if upload_id:
            self.abort_upload(key, upload_id)
        else:
            self.delete_key(key)

    def remove_stale_temp(self, older_than: float) -> list[str]:
        """Remove temporary items last written before ``older_than``, but none younger
        than ``temp_grace`` seconds (see the module); their names."""
        limit = min(older_than, time.time() - self.temp_grace)
        removed = []
        for item in self.temp_items():
            if item.modified < limit:
                self.remove_temp(item.name)
                removed.append(item.name)
        return removed

    def _objects(self, prefix: str) -> Iterator[dict[str, Any]]:
        with s3_errors(f"listing {prefix}"):
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=prefix)
            for page in pages:
                yield from page.get("Contents", [])

    def _uploads(self) -> Iterator[dict[str, Any]]:
        with s3_errors("listing multipart uploads"):
            pages = self.client.get_paginator("list_multipart_uploads").paginate(
                Bucket=self.bucket, Prefix=self.keys.temp_prefix)
            for page in pages:
                yield from page.get("Uploads", [])
