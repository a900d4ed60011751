"""Issue 9, finding 5 (DB part): a request holds a pooled connection only while SQL runs.

"15 slow authenticated PUT bodies make every other request 500 after 30 s
(QueuePool limit of size 5 overflow 10 reached)": each slow body held a
connection. Rules checked (docs/security.md, "Resource isolation"):
- while a PUT body is being received, the request holds no DB connection;
- while a GET body is being sent, the request holds no DB connection;
- the pool has at least one connection per worker thread.
"""

from __future__ import annotations

import io

from sqlalchemy import Engine
from werkzeug.test import Client

from davdrive.server import DriveApp
from tests.conftest import Dav, basic


class ProbingInput(io.RawIOBase):
    """A request body that records the pool's checked-out count at every read."""

    def __init__(self, data: bytes, engine: Engine) -> None:
        self._data = io.BytesIO(data)
        self._engine = engine
        self.checked_out: list[int] = []

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._data.seek(offset, whence)

    def tell(self) -> int:
        return self._data.tell()

    def read(self, size: int | None = -1) -> bytes:
        self.checked_out.append(self._engine.pool.checkedout())  # type: ignore[attr-defined]
        return self._data.read(-1 if size is None else size)

    def readinto(self, buffer: bytearray) -> int:  # type: ignore[override]
        chunk = self.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


def put_with_probe(app: DriveApp, path: str, data: bytes) -> tuple[int, ProbingInput]:
    probe = ProbingInput(data, app.runtime.engine)
    response = Client(app).open(
        path,
        method="PUT",
        input_stream=probe,
        headers={"Authorization": basic("tester", "secret"), "Content-Length": str(len(data))},
        buffered=True,
    )
    return response.status_code, probe


def test_no_connection_is_checked_out_while_a_put_body_is_received(app: DriveApp) -> None:
    """PUT /dav/big.bin (3 MiB, read in blocks): the pool shows no checked-out
    connection at any read of the body; before, the request's session held one."""
    data = bytes(range(256)) * (3 * 4096)
    status, probe = put_with_probe(app, "/dav/big.bin", data)
    assert status == 201
    assert len(probe.checked_out) >= 3, "the body was read in several blocks"
    assert set(probe.checked_out) == {0}


def test_no_connection_is_checked_out_while_overwriting(app: DriveApp, dav: Dav) -> None:
    """PUT over an existing file: same rule (the existing row is loaded first)."""
    assert dav("PUT", "/dav/doc.txt", b"first version").status_code == 201
    status, probe = put_with_probe(app, "/dav/doc.txt", b"second version" * 100_000)
    assert status == 204
    assert probe.checked_out and set(probe.checked_out) == {0}
    assert dav("GET", "/dav/doc.txt").data == b"second version" * 100_000


def test_no_connection_is_checked_out_while_a_get_body_is_sent(
    app: DriveApp, dav: Dav
) -> None:
    """GET /dav/big.bin (3 MiB, streamed in 1 MiB blocks): between blocks handed to
    the server (a slow client's socket), the request holds no connection."""
    data = b"x" * (3 * 1024 * 1024)
    assert dav("PUT", "/dav/big.bin", data).status_code == 201
    response = Client(app).open(
        "/dav/big.bin", headers={"Authorization": basic("tester", "secret")}, buffered=False
    )
    assert response.status_code == 200
    pool = app.runtime.engine.pool
    received = b""
    seen = []
    for chunk in response.response:
        received += chunk if isinstance(chunk, bytes) else chunk.encode()
        seen.append(pool.checkedout())  # type: ignore[attr-defined]
    response.close()
    assert received == data
    assert seen and set(seen) == {0}
    assert pool.checkedout() == 0  # type: ignore[attr-defined]


def test_pool_has_a_connection_per_worker_thread(app: DriveApp) -> None:
    """server.threads (16) workers, each with its session and a lock-storage session:
    the pool must not be the bottleneck (it was 5 + 10 overflow)."""
    pool = app.runtime.engine.pool
    threads = app.settings["server.threads"]
    assert pool.size() >= threads  # type: ignore[attr-defined]
    assert pool.size() + pool._max_overflow >= 2 * threads  # type: ignore[attr-defined]
