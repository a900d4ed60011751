"""PUT bodies: the sink WsgiDAV writes into, announced lengths, ``X-OC-Mtime`` and
``OC-Checksum`` (checked once the body is in, before anything is stored).

``UploadSink.receive`` reads a body itself (the fast PUT): one of at least
``PIPELINED_FROM`` bytes is read into reused buffers while the previous block
is written and hashed on a helper thread (``BlobWriter.receive``); a smaller
one block by block, as WsgiDAV's own loop does."""

from __future__ import annotations

from typing import Any

from wsgidav.dav_error import DAVError

from davdrive.errors import IncompleteUpload
from davdrive.services import Upload
from provider.body_input import BODY_BLOCK, body_blocks
from provider.errors import dav_errors
from provider.owncloud import check_oc_checksum

MTIME_ACCEPTED = "davdrive.oc_mtime_accepted"
PIPELINED_FROM = 4 * BODY_BLOCK  # a body this large is received on two threads


class UploadSink:
    """File-like object for WsgiDAV's PUT loop; refuses a short or oversized body."""

    def __init__(
        self, upload: Upload, expected: int | None, checksum: tuple[str, str] | None = None
    ) -> None:
        self.upload = upload
        self.expected = expected
        self.checksum = checksum
        if checksum is not None:  # computed while receiving (sha256 always is)
            upload.writer.also_compute(checksum[0])

    def write(self, data: bytes) -> int:
        with dav_errors():
            return self.upload.writer.write(data)

    def receive(self, environ: dict[str, Any], length: int) -> None:
        """Read the body of ``length`` announced bytes from ``wsgi.input`` into the
        upload, setting WsgiDAV's ``wsgidav.some_input_read``/``all_input_read`` as its
        loop does. A body that ends early stops there (``close`` refuses it)."""
        stream = environ["wsgi.input"]
        if length >= PIPELINED_FROM and hasattr(stream, "readinto"):
            environ["wsgidav.some_input_read"] = 1
            with dav_errors():
                self.upload.writer.receive(stream.readinto, length)
            environ["wsgidav.all_input_read"] = 1
        else:
            for block in body_blocks(environ, length):
                self.write(block)

    def close(self) -> None:
        size = self.upload.writer.size
        if self.expected is not None and size != self.expected:
            with dav_errors():
                raise IncompleteUpload(
                    f"Received {size} of {self.expected} announced bytes; nothing was stored."
                )
        check_oc_checksum(self.checksum, self.upload.writer.hexdigests())


PUT_CREATED = "davdrive.put_created"  # environ: what the commit did (True: a new file)


def put_status(environ: dict[str, Any], status: str) -> str:
    """201 or 204 as the commit decided, not as WsgiDAV guessed when the PUT began:
    the file it found may have been deleted meanwhile (then it is created anew:
    201), or the new name created by another request (then overwritten: 204)."""
    created = environ.get(PUT_CREATED)
    if created is None or status[:3] not in ("201", "204"):
        return status
    return "201 Created" if created else "204 No Content"


def oc_mtime_headers(environ: dict[str, Any], status: str, headers: list[Any]) -> list[Any]:
    """``X-OC-MTime: accepted`` on a successful PUT whose X-OC-Mtime was applied."""
    if environ.get(MTIME_ACCEPTED) and status[:1] == "2":
        return [*headers, ("X-OC-MTime", "accepted")]
    return headers


def expected_length(environ: dict[str, Any]) -> int | None:
    for key in ("CONTENT_LENGTH", "HTTP_X_EXPECTED_ENTITY_LENGTH"):
        raw = environ.get(key)
        if raw not in (None, ""):
            try:
                value = int(raw)
            except ValueError:
                raise DAVError(400, f"Invalid {key} header.") from None
            if value < 0:
                raise DAVError(400, f"Invalid {key} header.")
            if "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower() and key == (
                "CONTENT_LENGTH"
            ):
                continue
            return value
    return None



MAX_OC_MTIME = 253402300799  # 9999-12-31T23:59:59Z


def oc_mtime(environ: dict[str, Any]) -> float | None:
    """The client's modification time (``X-OC-Mtime``, Unix seconds), if sent.

    Raises a 400 for anything but plain decimal digits within year 9999, so a
    bad header is refused before the body is read rather than after storing it.
    """
    raw = environ.get("HTTP_X_OC_MTIME")
    if raw is None:
        return None
    raw = raw.strip()
    if not (raw.isascii() and raw.isdigit() and int(raw) <= MAX_OC_MTIME):
        raise DAVError(400, "Invalid X-OC-Mtime header: expected Unix seconds.")
    return float(raw)
