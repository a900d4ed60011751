"""An Explorer save and Finder's junk files over the real server, on one connection.

Rules: Win32 file times are the node's times (never dead properties); replacing one's
own fresh 0-byte file keeps no empty version; Finder's ``._*`` companions sent with
chunked coding and ``X-Expected-Entity-Length`` are accepted (201) and never listed.
"""

from __future__ import annotations

import http.client
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from davdrive.models import Node, NodeVersion
from tests.conftest import LiveServer, basic

pytestmark = pytest.mark.live

AUTH = {"Authorization": basic("tester", "secret")}
STAMP = "Wed, 06 Mar 2024 09:15:00 GMT"
PROPPATCH = (
    '<?xml version="1.0" encoding="utf-8" ?><D:propertyupdate xmlns:D="DAV:" '
    'xmlns:Z="urn:schemas-microsoft-com:"><D:set><D:prop>'
    f"<Z:Win32CreationTime>{STAMP}</Z:Win32CreationTime>"
    f"<Z:Win32LastAccessTime>{STAMP}</Z:Win32LastAccessTime>"
    f"<Z:Win32LastModifiedTime>{STAMP}</Z:Win32LastModifiedTime>"
    "<Z:Win32FileAttributes>00000020</Z:Win32FileAttributes>"
    "</D:prop></D:set></D:propertyupdate>"
)
LOCKINFO = (
    '<?xml version="1.0" encoding="utf-8" ?><D:lockinfo xmlns:D="DAV:"><D:lockscope>'
    "<D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype>"
    "<D:owner><D:href>DESKTOP\\tester</D:href></D:owner></D:lockinfo>"
)
PROPFIND = (
    '<?xml version="1.0" encoding="utf-8" ?><D:propfind xmlns:D="DAV:">'
    '<D:prop xmlns:Z="urn:schemas-microsoft-com:"><D:getlastmodified/>'
    "<Z:Win32LastModifiedTime/></D:prop></D:propfind>"
)


class Connection:
    """One kept-alive connection, as the Mini-Redirector and Finder use."""

    def __init__(self, live: LiveServer) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", live.port, timeout=10)

    def __call__(self, method: str, path: str, body: bytes | str | Iterator[bytes] | None = None,
                 **headers: str) -> tuple[int, dict[str, str], bytes]:
        hdrs = {**AUTH, **{k.replace("_", "-"): v for k, v in headers.items()}}
        chunked = not isinstance(body, (bytes, str, type(None)))
        self.conn.request(method, path, body=body, headers=hdrs, encode_chunked=chunked)
        response = self.conn.getresponse()
        data = response.read()
        assert response.getheader("Connection", "").lower() != "close", (method, path)
        return response.status, {k.lower(): v for k, v in response.getheaders()}, data


def test_explorer_save_then_finder_junk_on_one_connection(live: LiveServer) -> None:
    dav = Connection(live)
    # Explorer copying Report.docx in: 0 bytes, lock, content, times, unlock.
    assert dav("PUT", "/dav/Report.docx", b"")[0] == 201
    status, headers, _ = dav("LOCK", "/dav/Report.docx", LOCKINFO, Depth="0",
                             Timeout="Second-3600", Content_Type="text/xml")
    assert status == 200
    token = headers["lock-token"]
    assert dav("PUT", "/dav/Report.docx", b"PK\x03\x04 docx", If=f"({token})")[0] == 204
    status, _, body = dav("PROPPATCH", "/dav/Report.docx", PROPPATCH, If=f"({token})",
                          Content_Type="text/xml")
    assert status == 207 and b"HTTP/1.1 4" not in body, body
    assert dav("UNLOCK", "/dav/Report.docx", Lock_Token=token)[0] == 204
    status, _, body = dav("PROPFIND", "/dav/Report.docx", PROPFIND, Depth="0")
    assert status == 207
    assert body.count(STAMP.encode()) == 2, body  # getlastmodified and Win32LastModifiedTime
    with live.app.runtime.sessions() as session:
        node_id = session.scalar(select(Node.id).where(Node.name == "Report.docx"))
        assert session.scalars(
            select(NodeVersion).where(NodeVersion.node_id == node_id)).all() == []

    # Finder: the AppleDouble companion, chunked, with its announced length.
    def chunks() -> Iterator[bytes]:
        yield b"\x00\x05\x16\x07" + b"\x00" * 2044
        yield b"\x00" * 2048

    status, _, _ = dav("PUT", "/dav/._Report.docx", chunks(),
                       X_Expected_Entity_Length="4096", Transfer_Encoding="chunked")
    assert status == 201
    assert dav("PUT", "/dav/.DS_Store", b"\x00\x00\x00\x01Bud1")[0] == 201
    status, _, listing = dav("PROPFIND", "/dav/", Depth="1")
    assert status == 207
    assert b"Report.docx" in listing
    assert b"._Report" not in listing and b".DS_Store" not in listing
    assert dav("GET", "/dav/._Report.docx")[0] == 404
    assert dav("GET", "/dav/Report.docx")[2] == b"PK\x03\x04 docx"
