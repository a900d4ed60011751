"""One keep-alive connection that sends exact request bytes and reads each answer
whole (framed by Content-Length or chunked coding; no body after HEAD)."""

from __future__ import annotations

import socket
from types import TracebackType

from tests.live.wire import Response, split_responses


class Connection:
    def __init__(self, port: int, timeout: float = 10) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buffer = b""

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.sock.close()

    def send(self, request: bytes, *, head: bool = False) -> Response:
        """Send ``request`` (head, CRLF CRLF, body) and return the one answer to it."""
        self.sock.sendall(request)
        while True:
            framed = self._one(head)
            if framed is not None:
                return framed
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError(f"closed before a full answer: {self.buffer[:300]!r}")
            self.buffer += chunk

    def _one(self, head: bool) -> Response | None:
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return None
        if head:
            response = split_responses(self.buffer[: end + 4])[0]
            response.body = b""
            self.buffer = self.buffer[end + 4 :]
            return response
        responses = split_responses(self.buffer)
        if not responses:
            return None
        first = responses[0]
        if "content-length" in first.headers:
            size = end + 4 + int(first.headers["content-length"])
            if len(self.buffer) < size:
                return None
            self.buffer = self.buffer[size:]
            return first
        if first.headers.get("transfer-encoding", "").lower() == "chunked":
            close = self.buffer.find(b"\r\n0\r\n\r\n", end)
            if close < 0 and not self.buffer[end + 4 :].startswith(b"0\r\n\r\n"):
                return None
            stop = (close + 7) if close >= 0 else end + 9
            self.buffer = self.buffer[stop:]
            return first
        return None  # no framing: the server would have to close; not expected here
