"""An upload streamed to a temporary key of the bucket (``davdrive.blob_s3``).

The bytes are hashed as they come (sha256, plus sha1/md5 when asked) and
gathered into one part of ``part_bytes``: memory stays at one part per upload,
whatever the file's size. A full part starts a multipart upload at a fresh key
under ``<prefix>tmp/`` and goes up with its Content-MD5 (the service refuses
a part that arrives damaged). Content that never fills a part is sent by
``finish`` in one PUT; content small enough for the database
(``take_small``) never reaches the bucket at all.

``finish`` completes the temporary object, then verifies it: the ETag the
service answers must be the MD5 of the body (one PUT) or the MD5 of the
parts' MD5s (multipart), as computed here from the bytes that were hashed.
When it is not (a service whose ETags are no MD5s, e.g. SSE-KMS) or the store
says so (``read_back``), the object is read back and its sha256 compared.
Only then is it copied to its content key (``S3Store.place``); the temporary
object stays until the writer is settled, so a collection that removes the
blob before the commit cannot lose it (``ensure_placed`` copies it again).

Any failure, and ``abort``, aborts the multipart upload and deletes the
temporary object: nothing stays visible. A process killed meanwhile leaves
them behind; ``S3Store.remove_stale_temp`` collects them.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from davdrive.blob_backend import BlobInfo, info_of
from davdrive.blob_intake import Intake
from davdrive.blob_s3_client import NotVerified, s3_errors
from davdrive.errors import ChangedMeanwhile, TooLarge
from davdrive.hashing import ContentHashes

if TYPE_CHECKING:
    from davdrive.blob_s3 import S3Store

MAX_PARTS = 10_000  # S3's limit per object
_log = logging.getLogger("davdrive")


def _md5(data: bytes | bytearray) -> Any:
    return hashlib.md5(data, usedforsecurity=False)


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


class S3Writer(Intake):
    """One upload to the bucket (see the module)."""

    def __init__(self, store: S3Store, max_bytes: int | None) -> None:
        self._store = store
        self._client, self._bucket = store.client, store.bucket
        self._max = max_bytes
        self._part = store.part_bytes
        self.key = store.keys.new_temp()
        self._hashes = ContentHashes()
        self._buffer = bytearray()
        self._upload_id: str | None = None  # a multipart upload begun, not completed
        self._parts: list[dict[str, Any]] = []
        self._part_md5s: list[bytes] = []
        self._open = True  # still taking bytes
        self._stored = False  # the temporary object exists
        self._etag = self._expected = ""  # the stored object's ETag; what it should be
        self.size = 0
        self.sha256: str | None = None

    def _accepting(self) -> bool:
        return self._open

    def _count(self, n: int) -> None:
        super()._count(n)
        if self.size > self._part * MAX_PARTS:
            raise TooLarge(f"The upload is larger than {MAX_PARTS} parts of "
                           f"{self._part} bytes (blobs.s3.part_bytes).")

    def _put_block(self, data: bytes | memoryview) -> None:
        self._hashes.update(data)
        view = memoryview(data)
        while view:
            room = self._part - len(self._buffer)
            self._buffer += view[:room]
            view = view[room:]
            if len(self._buffer) == self._part:
                self._send_part()

    def _send_part(self) -> None:
        """Send the buffer as the next part (beginning the multipart upload)."""
        with s3_errors(f"uploading {self.key}"):
            if self._upload_id is None:
                begun = self._client.create_multipart_upload(Bucket=self._bucket, Key=self.key)
                self._upload_id = begun["UploadId"]
            number = len(self._parts) + 1
            md5 = _md5(self._buffer).digest()
            sent = self._client.upload_part(
                Bucket=self._bucket, Key=self.key, UploadId=self._upload_id,
                PartNumber=number, Body=self._send(self._buffer), ContentMD5=_b64(md5),
            )
        self._parts.append({"PartNumber": number, "ETag": sent["ETag"]})
        self._part_md5s.append(md5)
        self._buffer = bytearray()

    def _send(self, data: bytearray) -> bytes | bytearray:
        """The body to send for ``data`` (tests override it to damage one)."""
        return data

    def finish(self) -> BlobInfo:
        """Store the temporary object, verify it, copy it to its content key; the writer
        is then pending until settled. On any error everything is removed."""
        assert self._open, "writer already finished"
        try:
            self._open = False
            info = info_of(self._hashes.hexdigests(), self.size)
            self._hashes.close()
            self._store_temp()
            self._verify(info)
            self._store.place(self.key, info)
        except BaseException:
            self.abort()
            raise
        self.sha256 = info.sha256
        return info

    def _store_temp(self) -> None:
        """Complete the temporary object: one PUT, or the last part and the completion."""
        with s3_errors(f"uploading {self.key}"):
            if self._upload_id is None:
                md5 = _md5(self._buffer)
                sent = self._client.put_object(
                    Bucket=self._bucket, Key=self.key, Body=self._send(self._buffer),
                    ContentMD5=_b64(md5.digest()),
                )
                self._expected = md5.hexdigest()
            else:
                if self._buffer or not self._parts:
                    self._send_part()
                sent = self._client.complete_multipart_upload(
                    Bucket=self._bucket, Key=self.key, UploadId=self._upload_id,
                    MultipartUpload={"Parts": self._parts},
                )
                self._upload_id = None
                whole = _md5(b"".join(self._part_md5s)).hexdigest()
                self._expected = f"{whole}-{len(self._parts)}"
            self._stored = True
        self._buffer = bytearray()
        self._etag = str(sent.get("ETag", "")).strip('"')

    def _verify(self, info: BlobInfo) -> None:
        """The temporary object holds the bytes hashed (see the module); else ``NotVerified``."""
        if self._etag == self._expected and not self._store.read_back:
            return
        stored = self._store.digest_of_key(self.key)
        if stored != (info.sha256, info.size):
            raise NotVerified(
                f"the object store holds other bytes than were sent for {self.key} "
                f"(ETag {self._etag}, expected {self._expected}); nothing was stored"
            )
        if self._etag != self._expected:
            _log.info("upload %s verified by reading it back: the store's ETag is no MD5",
                      self.key)

    def ensure_placed(self) -> None:
        """See ``BlobWriting.ensure_placed``: copy the kept temporary object again."""
        sha256 = self.sha256
        assert sha256 is not None, "writer not finished"
        if self._store.exists(sha256):
            return
        try:
            if not self._stored:
                raise FileNotFoundError(self.key)
            self._store.copy_in(self.key, sha256, self.size)
        except FileNotFoundError:
            raise ChangedMeanwhile(
                "The stored content was removed by a clean-up at the same time; nothing was "
                "changed. Please retry."
            ) from None

    def take_small(self, limit: int) -> tuple[BlobInfo, bytes] | None:
        """Content of at most ``limit`` bytes, from memory (or read back when ``limit``
        is above a part); the writer is aborted. None for anything larger."""
        assert self._open, "writer already finished"
        if self.size > limit:
            return None
        try:
            self._open = False
            if self._upload_id is None:
                data = bytes(self._buffer)
            else:
                self._store_temp()
                with self._store.open_key(self.key) as stream:
                    data = stream.read()
            digests = self._hashes.hexdigests()
        finally:
            self.abort()
        if len(data) != self.size:
            raise NotVerified(f"{self.key} holds {len(data)} of {self.size} bytes written")
        return info_of(digests, self.size), data

    def settle(self, failed: bool, referenced: Callable[[str], bool]) -> None:
        self._store.settle(self, failed, referenced)

    def release_temp(self) -> None:
        """Delete the temporary object a finished writer kept (``settle`` calls it, also
        after a commit that succeeded: a failure here is logged, never raised)."""
        if self._stored:
            self._stored = False
            self._quietly(self._store.delete_key, self.key)

    def abort(self) -> None:
        """Drop everything: the multipart upload and the temporary object. A failure to
        reach the store is logged (``remove_stale_temp`` collects what stays)."""
        self._open = False
        self._hashes.close()
        self._buffer = bytearray()
        upload_id, self._upload_id = self._upload_id, None
        if upload_id is not None:
            self._quietly(self._store.abort_upload, self.key, upload_id)
        self.release_temp()

    def _quietly(self, remove: Callable[..., None], *args: str) -> None:
        try:
            remove(*args)
        except OSError as exc:
            _log.warning("could not remove upload %s from the object store (%s); it is "
                         "collected later", self.key, exc)

