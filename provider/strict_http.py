"""A strict HTTP/1.1 request parser in front of cheroot's (RFC 9112).

cheroot is lenient where leniency lets one TCP message be read as two
requests (request smuggling): the last of two ``Content-Length`` headers
wins, ``Transfer-Encoding : chunked`` (space before the colon) is honoured,
continuation lines are folded. ``StrictHTTPRequest`` replaces its request
line and header reading. Everything below is answered ``400 Bad Request`` and
the connection is closed, before the application runs:

- a request line that is not exactly ``METHOD SP target SP HTTP/1.x CRLF``
  (extra spaces, tabs, bad version; other major versions get 505), a
  control byte or space in the target;
- a field name with a character outside RFC 9110 ``token``, whitespace
  between a field name and the colon, a continuation line (obs-fold), a
  control byte (other than TAB) in a field value;
- more than one ``Content-Length`` field (also with equal values, and a
  comma list: RFC 9112 6.3 lets a server refuse them and nothing sends them),
  a ``Content-Length`` that is not 1 to 18 ASCII digits;
- ``Transfer-Encoding`` on HTTP/1.0, any ``Transfer-Encoding`` other than
  exactly ``chunked``, ``Transfer-Encoding`` together with ``Content-Length``;
- no ``Host`` on HTTP/1.1, more than one ``Host``, a malformed ``Host``;
  with ``allowed_hosts`` set, a ``Host`` not in it gets 421;
- a chunked body is read by ``provider.chunked.StrictChunkedReader``;
- a second ``Authorization``, ``Content-Type``, ``Destination``, ``Depth``,
  ``Overwrite``, ``If``, ``Lock-Token`` or ``Timeout`` field (which one would
  count is otherwise up to the code reading it).

Field names with an underscore are dropped, as nginx does by default: WSGI
maps ``X_Forwarded_For`` and ``X-Forwarded-For`` to the same variable.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any

from cheroot import server as cheroot_server

from provider.body_input import read_into
from provider.chunked import StrictChunkedReader
from provider.request_target import origin_target

_log = logging.getLogger("davdrive.http")

_TOKEN = rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_REQUEST_LINE = re.compile(rb"(" + _TOKEN + rb") ([^\x00-\x20\x7f]+) HTTP/(\d)\.(\d)\r\n\Z")
_FIELD_NAME = re.compile(_TOKEN + rb"\Z")
_FIELD_VALUE_BAD = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
_DIGITS = re.compile(rb"[0-9]{1,18}\Z")
_HOST = re.compile(rb"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~!$&'()*+,;=%-]+)(:[0-9]{0,5})?\Z")
MAX_FIELDS = 200  # header fields in one request head
# Repeated fields joined with ", " (RFC 9110 5.3): cheroot's list, and X-Forwarded-For,
# whose right-most hops are the ones a trusted proxy added (davdrive.source_address).
_COMMA_SEPARATED: frozenset[bytes] = frozenset(
    (*getattr(cheroot_server, "comma_separated_headers", ()), b"X-Forwarded-For")
)
# Fields whose repetition would leave it to chance which value is used.
SINGLETONS = frozenset(
    {
        b"host", b"content-length", b"authorization", b"content-type", b"destination",
        b"depth", b"overwrite", b"if", b"lock-token", b"timeout",
    }
)


class BadRequest(ValueError):
    """The request head breaks a framing rule; answered 400 (or ``status``) and closed."""

    def __init__(self, message: str, status: str = "400 Bad Request") -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def parse_request_line(line: bytes) -> tuple[bytes, bytes, tuple[int, int]]:
    """(method, target, version) of a request line, or BadRequest."""
    match = _REQUEST_LINE.match(line)
    if match is None:
        raise BadRequest("Malformed request line (METHOD SP target SP HTTP/1.x).")
    method, target, major, minor = match.groups()
    version = (int(major), int(minor))
    if version[0] != 1:
        raise BadRequest("Only HTTP/1.0 and HTTP/1.1 are served.", "505 HTTP Version Not Supported")
    return method, target, version


def read_fields(rfile: Any, max_fields: int = MAX_FIELDS) -> list[tuple[bytes, bytes]]:
    """The header fields up to the empty line, as (lower-case name, value); strict."""
    fields: list[tuple[bytes, bytes]] = []
    while True:
        line = rfile.readline()
        if not line:
            raise BadRequest("The connection ended inside the request headers.")
        if line == b"\r\n":
            return fields
        if not line.endswith(b"\r\n"):
            raise BadRequest("Header lines must end with CRLF.")
        fields.append(parse_field_line(line[:-2]))
        if len(fields) > max_fields:
            raise BadRequest(f"More than {max_fields} header fields.")


def parse_field_line(line: bytes) -> tuple[bytes, bytes]:
    """(lower-case name, trimmed value) of one header line without its CRLF; strict."""
    if line[:1] in (b" ", b"\t"):
        raise BadRequest("Folded header lines (obs-fold) are refused.")
    name, colon, value = line.partition(b":")
    if not colon:
        raise BadRequest("A header line has no colon.")
    if not _FIELD_NAME.match(name):
        raise BadRequest(
            "A header name has whitespace before the colon or a character that is "
            "not allowed."
        )
    value = value.strip(b" \t")
    if _FIELD_VALUE_BAD.search(value):
        raise BadRequest("A header value contains control bytes.")
    return name.lower(), value


def split_fields(block: bytes, max_fields: int = MAX_FIELDS) -> list[tuple[bytes, bytes]]:
    """The fields of a head's field block (the lines after the request line, up to
    and with the empty line), as ``read_fields`` returns and refuses them."""
    if block == b"\r\n":
        return []
    if not block.endswith(b"\r\n\r\n"):
        raise BadRequest("The request head does not end with an empty line.")
    lines = block[:-4].split(b"\r\n")
    if len(lines) > max_fields:
        raise BadRequest(f"More than {max_fields} header fields.")
    return [parse_field_line(line) for line in lines]


def check_framing(
    fields: Iterable[tuple[bytes, bytes]],
    version: tuple[int, int],
    allowed_hosts: frozenset[str],
) -> None:
    """Raise BadRequest unless the message framing and Host are unambiguous."""
    seen: dict[bytes, list[bytes]] = {}
    for name, value in fields:
        seen.setdefault(name, []).append(value)
    for name in SINGLETONS:
        if len(seen.get(name, ())) > 1:
            raise BadRequest(f"More than one {name.decode().title()} header.")
    lengths = seen.get(b"content-length", [])
    if lengths and not _DIGITS.match(lengths[0]):
        raise BadRequest("Invalid Content-Length header (1 to 18 digits).")
    codings = seen.get(b"transfer-encoding", [])
    if codings:
        if version < (1, 1):
            raise BadRequest("Transfer-Encoding is not allowed in HTTP/1.0.")
        if b", ".join(codings).strip().lower() != b"chunked":
            raise BadRequest("Only 'Transfer-Encoding: chunked' is accepted.")
        if lengths:
            raise BadRequest("Content-Length and Transfer-Encoding together are refused.")
    hosts = seen.get(b"host", [])
    if not hosts:
        if version >= (1, 1):
            raise BadRequest("HTTP/1.1 requests need a Host header.")
        return
    if not _HOST.match(hosts[0]):
        raise BadRequest("Malformed Host header.")
    if allowed_hosts:
        host = hosts[0].decode("latin-1").lower()
        if not host.endswith("]") and ":" in host:
            host = host.rsplit(":", 1)[0]
        if host not in allowed_hosts:
            raise BadRequest(
                "This server does not serve that host name.", "421 Misdirected Request"
            )


class _Replay:
    """A readline() source that returns one already read line first."""

    def __init__(self, line: bytes, rfile: Any) -> None:
        self._line: bytes | None = line
        self._rfile = rfile

    def readline(self, size: int | None = None) -> bytes:
        if self._line is not None:
            line, self._line = self._line, None
            return line
        return self._rfile.readline() if size is None else self._rfile.readline(size)  # type: ignore[no-any-return]


class StrictHTTPRequest(cheroot_server.HTTPRequest):  # type: ignore[misc]
    """cheroot's request with strict request-line and header parsing (see module doc)."""

    def parse_request(self) -> None:
        self.conn.arm_head_deadline()
        try:
            take = getattr(self.conn.rfile, "take_head", None)
            head = take(self.server.max_request_header_size) if take is not None else None
            if head is None:
                super().parse_request()
            else:
                self._parse_whole_head(head)
        finally:
            self.conn.disarm_head_deadline()

    def _parse_whole_head(self, head: bytes) -> None:
        """``parse_request`` for a head already read whole (ends with CRLF CRLF, within
        the size limit): one split instead of a read per line, same rules and order."""
        self.started_request = True
        line, _, block = head.partition(b"\r\n")
        if not self._accept_request_line(line + b"\r\n"):
            return
        try:
            fields = split_fields(block)
        except BadRequest as exc:
            self._refuse(exc)
            return
        if self._accept_fields(fields):
            self.ready = True

    def _refuse(self, exc: BadRequest) -> bool:
        self.close_connection = True
        _log.info("refused request from %s: %s", self.conn.remote_addr, exc.message)
        self.simple_response(exc.status, exc.message)
        return False

    def read_request_line(self) -> bool:
        line = self.rfile.readline()
        self.started_request = True
        if line == b"\r\n":  # RFC 9112 2.2: one leading empty line may be ignored
            line = self.rfile.readline()
        if not line:
            return False
        return self._accept_request_line(line)

    def _accept_request_line(self, line: bytes) -> bool:
        try:
            method, target, version = parse_request_line(line)
        except BadRequest as exc:
            return self._refuse(exc)
        self.strict_version = version
        common = origin_target(method, target, version, self.server.protocol)
        if common is not None:
            for name, value in common.items():
                setattr(self, name, value)
            return True
        checked = getattr(self, "rfile", None)  # none yet when the head was read whole
        self.rfile = _Replay(line, checked)
        try:
            return bool(super().read_request_line())
        finally:
            self.rfile = checked

    def read_request_headers(self) -> bool:
        try:
            fields = read_fields(self.rfile)
        except BadRequest as exc:
            return self._refuse(exc)
        return self._accept_fields(fields)

    def _accept_fields(self, fields: list[tuple[bytes, bytes]]) -> bool:
        try:
            check_framing(fields, self.strict_version, self.server.allowed_hosts)
        except BadRequest as exc:
            return self._refuse(exc)
        for name, value in fields:
            if b"_" in name:
                continue
            key = name.title()
            if key in _COMMA_SEPARATED and key in self.inheaders:
                value = self.inheaders[key] + b", " + value
            self.inheaders[key] = value
        length = int(self.inheaders.get(b"Content-Length", b"0"))
        limit = self.server.max_request_body_size
        if limit and length > limit:
            self.simple_response(
                "413 Request Entity Too Large", "The request body exceeds the allowed size."
            )
            return False
        tokens = {t.strip().lower() for t in self.inheaders.get(b"Connection", b"").split(b",")}
        if self.response_protocol == "HTTP/1.1":
            self.close_connection = b"close" in tokens
        else:
            self.close_connection = b"keep-alive" not in tokens
        self.chunked_read = b"Transfer-Encoding" in self.inheaders
        # "100 Continue" is sent when the application first reads the body (PEP 3333
        # option 2), so a request refused before that (401, 413) never invites it.
        self.expect_continue = self.inheaders.get(b"Expect", b"").lower() == b"100-continue"
        return True

    def respond(self) -> None:
        if self.chunked_read:
            body: Any = StrictChunkedReader(self.conn.rfile)
        else:
            body = cheroot_server.KnownLengthRFile(
                self.conn.rfile, int(self.inheaders.get(b"Content-Length", b"0"))
            )
        self.rfile = _ContinueOnRead(body, self) if self.expect_continue else body
        self.server.gateway(self).respond()
        if self.ready:
            self.ensure_headers_sent()
        wfile = self.conn.wfile
        if self.chunked_write:
            wfile.write(b"0\r\n\r\n")
        wfile.flush()  # the answer is complete: nothing stays held (provider.answer_writer)

    def body_unread(self) -> bool:
        if self.chunked_read:
            return not getattr(self.rfile, "closed", True)
        return bool(getattr(self.rfile, "remaining", 0))

    def send_headers(self) -> None:
        # A body the application did not read is not drained (it may be large and
        # slow): the connection is closed after the answer instead. Same when the
        # application itself answers "Connection: close" (a broken body).
        closing = any(
            key.lower() == b"connection" and value.strip().lower() == b"close"
            for key, value in self.outheaders
        )
        if closing or self.body_unread():
            self.close_connection = True
            self.conn.drain_on_close = self.body_unread()
        hold = getattr(self.conn.wfile, "hold_next", None)
        if hold is not None:
            hold()  # the head leaves with the first body bytes (provider.answer_writer)
        super().send_headers()


class _ContinueOnRead:
    """Request body that sends "100 Continue" before its first read."""

    def __init__(self, body: Any, request: StrictHTTPRequest) -> None:
        self._body = body
        self._request = request
        self._sent = False

    def _continue(self) -> None:
        if not self._sent:
            self._sent = True
            if not self._request.sent_headers:
                proto = self._request.server.protocol.encode("ascii")
                self._request.conn.wfile.write(proto + b" 100 Continue\r\n\r\n")

    def read(self, size: int | None = None) -> bytes:
        self._continue()
        return self._body.read(size)  # type: ignore[no-any-return]

    def readinto(self, buffer: Any) -> int:
        self._continue()
        return read_into(self._body, buffer)

    def readline(self, size: int | None = None) -> bytes:
        self._continue()
        return self._body.readline(size)  # type: ignore[no-any-return]

    def readlines(self, sizehint: int = 0) -> list[bytes]:
        self._continue()
        return self._body.readlines(sizehint)  # type: ignore[no-any-return]

    def __iter__(self) -> Any:
        self._continue()
        return iter(self._body)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._body, name)
