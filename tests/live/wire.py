"""Raw-socket helpers for the live HTTP tests: exact bytes out, every byte back."""

from __future__ import annotations

import contextlib
import socket
import time
from dataclasses import dataclass


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes


def split_responses(data: bytes) -> list[Response]:
    """The successive responses in ``data``, framed by Content-Length or chunked coding."""
    out: list[Response] = []
    while data.startswith(b"HTTP/1."):
        head, sep, rest = data.partition(b"\r\n\r\n")
        if not sep:
            break
        lines = head.split(b"\r\n")
        status = int(lines[0].split()[1])
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        if 100 <= status < 200:
            data = rest
            continue
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            while True:
                size_line, _, rest = rest.partition(b"\r\n")
                size = int(size_line.split(b";")[0] or b"0", 16)
                if size == 0:
                    rest = rest.partition(b"\r\n")[2]
                    break
                body += rest[:size]
                rest = rest[size + 2 :]
        elif "content-length" in headers:
            length = int(headers["content-length"])
            body, rest = rest[:length], rest[length:]
        else:
            body, rest = rest, b""
        out.append(Response(status, headers, body))
        data = rest
    return out


@dataclass
class Wire:
    """Everything the server sent on one connection, and whether it closed it."""

    data: bytes
    closed: bool

    @property
    def responses(self) -> list[Response]:
        return split_responses(self.data)

    @property
    def statuses(self) -> list[int]:
        return [r.status for r in self.responses]


def send_raw(
    port: int, data: bytes, *, timeout: float = 5, source: str = "127.0.0.1",
    half_close: bool = False,
) -> Wire:
    """Send ``data`` at once, then read until the server closes or ``timeout`` passes.

    ``half_close`` ends the client's side after ``data`` (the server reads EOF).
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((source, 0))
        sock.settimeout(timeout)
        sock.connect(("127.0.0.1", port))
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(data)
            if half_close:
                sock.shutdown(socket.SHUT_WR)
        return read_all(sock, timeout)


def read_head(sock: socket.socket) -> bytes:
    """Read until the end of an answer's head (or the connection's end); return it all."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def read_all(sock: socket.socket, timeout: float) -> Wire:
    chunks: list[bytes] = []
    closed = False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            closed = True
            break
        except TimeoutError:
            break
        if not chunk:
            closed = True
            break
        chunks.append(chunk)
    return Wire(b"".join(chunks), closed)
