"""cheroot's WSGI gateway with ``wsgi.file_wrapper`` and writes that copy nothing.

- The environ and the answer's headers are cheroot's, built with less work
  per request (header names' variables remembered; tests compare them with
  cheroot's own).

- ``environ["wsgi.file_wrapper"]`` is ``provider.file_body.FileBody``. When the
  server has ``sendfile`` set, the application returns one, the connection is
  plain HTTP (no TLS), the method is not HEAD and the answer's
  ``Content-Length`` equals the bytes the body will produce, the file goes out
  with ``socket.sendfile()`` (the kernel copies it; no Python loop). Anything
  else is sent block by block (1 MiB), each block in one ``sendall``, read
  into one buffer reused for the whole body (``FileBody.send``).
- Every write goes to the socket in one ``sendall`` without a copy
  (``provider.answer_writer``); ``DirectWriteRequest.write`` frames a chunked
  block of 64 KiB or more around it instead of joining them into a copy.
"""

from __future__ import annotations

import logging
import socket
import ssl
import sys
from functools import lru_cache
from typing import Any

from cheroot import wsgi

from provider.file_body import FileBody
from provider.strict_http import StrictHTTPRequest

_log = logging.getLogger("davdrive.http")

DIRECT_WRITE_MIN = 64 * 1024


class DirectWriteRequest(StrictHTTPRequest):  # type: ignore[misc]
    """``StrictHTTPRequest`` that frames a large chunked block without copying it."""

    def write(self, chunk: bytes) -> None:
        if not self.chunked_write or len(chunk) < DIRECT_WRITE_MIN:
            super().write(chunk)  # the socket writer sends it as it is
            return
        wfile = self.conn.wfile  # cheroot joins size, block and CRLF into one copy
        wfile.write(b"%x\r\n" % len(chunk))
        wfile.write(chunk)
        wfile.write(b"\r\n")


@lru_cache(maxsize=512)
def _header_variable(name: bytes) -> str:
    """The environ variable of a request header field name, as cheroot names it."""
    return "HTTP_" + name.decode("latin-1").upper().replace("-", "_")


class DriveGateway(wsgi.Gateway_10):  # type: ignore[misc]
    """WSGI 1.0 gateway offering ``wsgi.file_wrapper`` and sending it with sendfile."""

    def get_environ(self) -> dict[str, Any]:  # type: ignore[override]
        """cheroot's environ (the same keys and values), built with each header
        name's variable remembered instead of converted per request."""
        req = self.req
        server = req.server
        if isinstance(server.bind_addr, str):  # a UNIX socket: cheroot's peer entries
            env: dict[str, Any] = super().get_environ()
            env["wsgi.file_wrapper"] = FileBody
            return env
        conn = req.conn
        env = {
            "ACTUAL_SERVER_PROTOCOL": server.protocol,
            "PATH_INFO": req.path.decode("latin-1"),
            "QUERY_STRING": req.qs.decode("latin-1"),
            "REMOTE_ADDR": conn.remote_addr or "",
            "REMOTE_PORT": str(conn.remote_port or ""),
            "REQUEST_METHOD": req.method.decode("latin-1"),
            "REQUEST_URI": req.uri.decode("latin-1"),
            "SCRIPT_NAME": "",
            "SERVER_NAME": server.server_name,
            "SERVER_PROTOCOL": req.request_protocol.decode("latin-1"),
            "SERVER_SOFTWARE": server.software,
            "wsgi.errors": sys.stderr,
            "wsgi.input": req.rfile,
            "wsgi.input_terminated": bool(req.chunked_read),
            "wsgi.multiprocess": False,
            "wsgi.multithread": True,
            "wsgi.run_once": False,
            "wsgi.url_scheme": req.scheme.decode("latin-1"),
            "wsgi.version": self.version,
            "SERVER_PORT": str(server.bind_addr[1]),
        }
        for key, value in req.inheaders.items():
            env[_header_variable(key)] = value.decode("latin-1")
        content_type = env.pop("HTTP_CONTENT_TYPE", None)
        if content_type is not None:
            env["CONTENT_TYPE"] = content_type
        length = env.pop("HTTP_CONTENT_LENGTH", None)
        if length is not None:
            env["CONTENT_LENGTH"] = length
        if conn.ssl_env:
            env.update(conn.ssl_env)
        env["wsgi.file_wrapper"] = FileBody
        return env

    def start_response(self, status: str, headers: Any, exc_info: Any = None) -> Any:
        """cheroot's ``start_response`` (same checks and errors), converting each
        header once."""
        if self.started_response and not exc_info:
            raise RuntimeError("WSGI start_response called a second time with no exc_info.")
        self.started_response = True
        req = self.req
        if req.sent_headers:
            raise exc_info[1]
        req.status = self._encode_status(status)  # type: ignore[attr-defined]
        out = req.outheaders
        for key, value in headers:
            if not isinstance(key, str):
                raise TypeError(f"WSGI response header key {key!r} is not of type str.")
            if not isinstance(value, str):
                raise TypeError(f"WSGI response header value {value!r} is not of type str.")
            if len(key) == 14 and key.lower() == "content-length":
                self.remaining_bytes_out = int(value)
            out.append((key.encode("latin-1"), value.encode("latin-1")))
        return self.write

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
