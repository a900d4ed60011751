"""cheroot's WSGI gateway with ``wsgi.file_wrapper`` and writes that copy nothing.

- ``environ["wsgi.file_wrapper"]`` is ``provider.file_body.FileBody``. When the
  server has ``sendfile`` set, the application returns one, the connection is
  plain HTTP (no TLS), the method is not HEAD and the answer's
  ``Content-Length`` equals the bytes the body will produce, the file goes out
  with ``socket.sendfile()`` (the kernel copies it; no Python loop). Anything
  else is sent block by block (1 MiB), each block in one ``sendall``, read
  into one buffer reused for the whole body (``FileBody.send``).
- ``DirectWriteRequest.write``: a block of 64 KiB or more is handed straight
  to the socket (``sendall``) after the buffered header bytes, instead of
  through cheroot's pure-Python buffered writer, which copies every block
  and moves the unsent rest after each partial send.
"""

from __future__ import annotations

import logging
import socket
import ssl
from typing import Any

from cheroot import wsgi

from provider.file_body import FileBody
from provider.strict_http import StrictHTTPRequest

_log = logging.getLogger("davdrive.http")

DIRECT_WRITE_MIN = 64 * 1024


class DirectWriteRequest(StrictHTTPRequest):  # type: ignore[misc]
    """``StrictHTTPRequest`` whose large body writes bypass the buffered writer."""

    def write(self, chunk: bytes) -> None:
        if len(chunk) < DIRECT_WRITE_MIN:
            super().write(chunk)
            return
        wfile = self.conn.wfile
        if self.chunked_write:
            wfile.write(b"%x\r\n" % len(chunk))
        wfile.flush()
        self.conn.socket.sendall(chunk)
        wfile.bytes_written += len(chunk)
        if self.chunked_write:
            wfile.write(b"\r\n")


class DriveGateway(wsgi.Gateway_10):  # type: ignore[misc]
    """WSGI 1.0 gateway offering ``wsgi.file_wrapper`` and sending it with sendfile."""

    def get_environ(self) -> dict[str, Any]:  # type: ignore[override]
        env: dict[str, Any] = super().get_environ()
        env["wsgi.file_wrapper"] = FileBody
        return env

    def respond(self) -> None:
        response = self.req.server.wsgi_app(self.env, self.start_response)
        try:
            if isinstance(response, FileBody):
                if self._can_sendfile(response):
                    self._sendfile(response)
                else:
                    response.send(self.write)
            else:
                for chunk in response:
                    if not chunk:
                        continue
                    if not isinstance(chunk, bytes):
                        raise ValueError("WSGI Applications must yield bytes")
                    self.write(chunk)
        finally:
            self.req.ensure_headers_sent()
            close = getattr(response, "close", None)
            if close is not None:
                close()

    def _can_sendfile(self, body: FileBody) -> bool:
        req = self.req
        sock = req.conn.socket
        if not getattr(req.server, "sendfile", False):
            return False
        if req.conn.ssl_env or isinstance(sock, ssl.SSLSocket):
            return False
        if not isinstance(sock, socket.socket) or req.method == b"HEAD":
            return False
        if not self.started_response or req.chunked_write:
            return False
        declared = self.remaining_bytes_out
        return declared is not None and declared > 0 and declared == body.remaining()

    def _sendfile(self, body: FileBody) -> None:
        region = body.region()
        assert region is not None
        offset, count = region
        body.prepare()
        req = self.req
        req.ensure_headers_sent()
        if body.head:
            req.write(body.head)
        wfile = req.conn.wfile
        wfile.flush()
        sent = req.conn.socket.sendfile(body.file, offset, count)
        wfile.bytes_written += sent
        if sent != count:
            # The file shrank under us: the client cannot tell the answer's end.
            _log.warning("file ended after %d of %d bytes; closing the connection", sent, count)
            req.close_connection = True
