"""Seekable reads of one S3 object, streamed.

``open_object`` sends the GET at once (a missing object raises
FileNotFoundError there, as opening a missing file does) and gives a buffered,
seekable stream: reading goes on along that one response; a seek elsewhere
drops it, and the next read sends a GET with ``Range: bytes=<position>-``. So
a whole file costs one request, a Range answer two (the first response is
dropped unread), and memory stays at one buffer whatever the object's size. A
connection that breaks mid-object is resumed once from the position reached.
"""

from __future__ import annotations

import io
from typing import Any, BinaryIO

from davdrive.blob_backend import READ_BLOCK
from davdrive.blob_s3_client import s3_errors
from davdrive.errors import StoreUnavailable


def open_object(client: Any, bucket: str, key: str, block: int = READ_BLOCK) -> BinaryIO:
    """The object as a seekable binary stream (the caller closes it)."""
    return io.BufferedReader(_ObjectReader(client, bucket, key), block)  # type: ignore[return-value]


class _ObjectReader(io.RawIOBase):
    def __init__(self, client: Any, bucket: str, key: str) -> None:
        super().__init__()
        self._client, self._bucket, self._key = client, bucket, key
        self._pos = 0
        response = self._get(0)
        self.size: int = int(response["ContentLength"])
        self._body: Any = response["Body"]

    def _get(self, start: int) -> Any:
        ranged = {"Range": f"bytes={start}-"} if start else {}
        with s3_errors(f"reading {self._key}"):
            return self._client.get_object(Bucket=self._bucket, Key=self._key, **ranged)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self.size}[whence]
        target = base + offset
        if target < 0:
            raise ValueError("negative seek position")
        if target != self._pos:
            self._drop()
            self._pos = target
        return self._pos

    def readinto(self, buffer: Any) -> int:
        want = min(len(buffer), self.size - self._pos)
        if want <= 0:
            return 0
        data = self._read(want)
        n = len(data)
        buffer[:n] = data
        self._pos += n
        return n

    def _read(self, want: int) -> bytes:
        from botocore.exceptions import BotoCoreError
        from urllib3.exceptions import HTTPError

        for attempt in (1, 2):
            try:
                if self._body is None:
                    self._body = self._get(self._pos)["Body"]
                data: bytes = self._body.read(want)
            except (BotoCoreError, HTTPError, OSError) as exc:
                self._drop()
                if attempt == 2 or isinstance(exc, FileNotFoundError):
                    raise StoreUnavailable(f"reading {self._key}: {exc}") from exc
                continue
            if data:
                return data
            self._drop()  # ended early: resume once from here
        raise StoreUnavailable(f"reading {self._key}: the object ended at byte {self._pos} "
                               f"of {self.size}")

    def _drop(self) -> None:
        body, self._body = self._body, None
        if body is not None:
            body.close()

    def close(self) -> None:
        if not self.closed:
            self._drop()
        super().close()
