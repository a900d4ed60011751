#!/usr/bin/env python3
"""The loopback ceiling for get_large: a bare socket server that answers every
request on a connection with one file, read into a 1 MiB buffer and sent with
``sendall``. No HTTP beyond finding the end of the request head, no WSGI, no
sign-in, no rights, no database: what is left is the machine's loopback TCP
and the bench's client. ``bench/run.py`` measures get_large against it in the
same interleaved repetitions as bare WsgiDAV and davdrive, so that the report
says how close to this machine's limit davdrive sends, and what a target
above it would ask.

    python bench/ceiling.py FILE      (prints its port, then serves until killed)
"""

from __future__ import annotations

import os
import socket
import sys
import threading

BLOCK = 1 << 20


def answer(conn: socket.socket, path: str) -> None:
    """Serve requests on ``conn`` until the client closes it."""
    buffer = bytearray(BLOCK)
    view = memoryview(buffer)
    pending = b""
    with conn:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while True:
            while b"\r\n\r\n" not in pending:
                data = conn.recv(65536)
                if not data:
                    return
                pending += data
            pending = pending.split(b"\r\n\r\n", 1)[1]
            with open(path, "rb", buffering=0) as stream:
                size = os.fstat(stream.fileno()).st_size
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                             b"Content-Length: %d\r\n\r\n" % size)
                while n := stream.readinto(buffer):
                    conn.sendall(view[:n])


def main() -> None:
    path = sys.argv[1]
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    print(listener.getsockname()[1], flush=True)
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=answer, args=(conn, path), daemon=True).start()


if __name__ == "__main__":
    main()
