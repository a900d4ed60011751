"""Byte-exact replays of the Windows Mini-Redirector and macOS Finder (issue 10).

Each replay sends the requests those clients send, in their order, with their
headers, on one keep-alive connection, and checks every answer's status and key
headers. Win32 times mapped onto the node, junk files dropped and quota values
have tests of their own here.
"""

from __future__ import annotations

import re
from email.utils import parsedate_to_datetime

import pytest
from lxml import etree

from tests.conftest import LiveServer, basic
from tests.live.replay import Connection
from tests.live.wire import Response

pytestmark = pytest.mark.live

D = "{DAV:}"
Z = "{urn:schemas-microsoft-com:}"
AUTH = b"Authorization: " + basic("tester", "secret").encode() + b"\r\n"
MINIREDIR = (b"Connection: Keep-Alive\r\nUser-Agent: Microsoft-WebDAV-MiniRedir/10.0.19045\r\n"
             b"translate: f\r\n")
FINDER = (b"Accept: */*\r\nUser-Agent: WebDAVFS/3.0.0 (03008000) Darwin/22.1.0 (x86_64)\r\n"
          b"Accept-Language: en-us\r\nAccept-Encoding: gzip, deflate\r\nConnection: keep-alive\r\n")
WIN_LISTING = (
    b'<?xml version="1.0" encoding="utf-8" ?><D:propfind xmlns:D="DAV:"><D:prop '
    b'xmlns:Z="urn:schemas-microsoft-com:"><D:getcontentlength/><D:getlastmodified/>'
    b"<D:creationdate/><D:displayname/><D:resourcetype/><D:getcontenttype/><D:getetag/>"
    b"<Z:Win32FileAttributes/><Z:Win32CreationTime/><Z:Win32LastAccessTime/>"
    b"<Z:Win32LastModifiedTime/></D:prop></D:propfind>"
)
WIN_LOCK = (
    b'<?xml version="1.0" encoding="utf-8" ?><D:lockinfo xmlns:D="DAV:"><D:lockscope>'
    b"<D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner><D:href>"
    b"DESKTOP-7Q1\\ada</D:href></D:owner></D:lockinfo>"
)
WIN32_TIMES = (
    b'<?xml version="1.0" encoding="utf-8" ?><D:propertyupdate xmlns:D="DAV:" '
    b'xmlns:Z="urn:schemas-microsoft-com:"><D:set><D:prop>'
    b"<Z:Win32CreationTime>Fri, 10 May 2024 08:43:02 GMT</Z:Win32CreationTime>"
    b"<Z:Win32LastAccessTime>Tue, 03 Jun 2025 08:17:59 GMT</Z:Win32LastAccessTime>"
    b"<Z:Win32LastModifiedTime>Fri, 10 May 2024 08:43:02 GMT</Z:Win32LastModifiedTime>"
    b"<Z:Win32FileAttributes>00000020</Z:Win32FileAttributes></D:prop></D:set>"
    b"</D:propertyupdate>"
)
WIN_MTIME = parsedate_to_datetime("Fri, 10 May 2024 08:43:02 GMT")
FINDER_PROPS = (
    b'<?xml version="1.0" encoding="utf-8"?>\n<D:propfind xmlns:D="DAV:">\n<D:prop>\n'
    b"<D:getlastmodified/>\n<D:getcontentlength/>\n<D:creationdate/>\n<D:resourcetype/>\n"
    b"</D:prop>\n</D:propfind>\n"
)
FINDER_QUOTA = (
    b'<?xml version="1.0" encoding="utf-8"?>\n<D:propfind xmlns:D="DAV:">\n<D:prop>\n'
    b"<D:quota-available-bytes/>\n<D:quota-used-bytes/>\n<D:quota/>\n<D:quotaused/>\n"
    b"</D:prop>\n</D:propfind>\n"
)
FINDER_LOCK = (
    b'<?xml version="1.0" encoding="utf-8"?>\n<D:lockinfo xmlns:D="DAV:">\n'
    b"<D:lockscope><D:exclusive/></D:lockscope>\n<D:locktype><D:write/></D:locktype>\n"
    b"<D:owner>\n<D:href>http://www.apple.com/webdav_fs/</D:href>\n</D:owner>\n"
    b"</D:lockinfo>\n"
)
CONTENT = b"Minutes of the board, 3 May.\r\n" * 40


def request(method: bytes, target: bytes, port: int, client: bytes, *, body: bytes = b"",
            extra: bytes = b"", auth: bool = True) -> bytes:
    head = method + b" " + target + b" HTTP/1.1\r\n" + client + extra
    if body or method in (b"PUT", b"PROPFIND", b"PROPPATCH", b"LOCK"):
        head += b"Content-Length: %d\r\n" % len(body)
    head += b"Host: 127.0.0.1:%d\r\n" % port
    return head + (AUTH if auth else b"") + b"\r\n" + body


def props(response: Response) -> dict[str, dict[str, tuple[str, str]]]:
    """{href: {property tag: (status code, text)}} of a 207 answer."""
    assert response.status == 207, response.body[:300]
    out: dict[str, dict[str, tuple[str, str]]] = {}
    for resp in etree.fromstring(response.body).iter(f"{D}response"):
        found: dict[str, tuple[str, str]] = {}
        for propstat in resp.iter(f"{D}propstat"):
            code = (propstat.findtext(f"{D}status") or "").split()[1]
            prop_el = propstat.find(f"{D}prop")
            for prop in [] if prop_el is None else list(prop_el):
                found[prop.tag] = (code, "".join(prop.itertext()))
        out[resp.findtext(f"{D}href") or ""] = found
    return out


def lock_token(response: Response) -> bytes:
    token = response.headers.get("lock-token", "")
    assert re.fullmatch(r"<opaquelocktoken:[^>]+>", token), response.headers
    return token.encode()


def windows_save(live: LiveServer, conn: Connection, target: bytes, data: bytes) -> None:
    """Explorer saving a new file: LOCK, PUT 0 bytes, PROPPATCH Win32 times, PUT, PROPPATCH,
    UNLOCK."""
    port = live.port
    lock = conn.send(request(b"LOCK", target, port, MINIREDIR, body=WIN_LOCK, extra=(
        b'Cache-Control: no-cache\r\nPragma: no-cache\r\nContent-Type: text/xml; charset="utf-8"'
        b"\r\nTimeout: Second-3600\r\n")))
    assert lock.status == 201  # a lock on an unmapped URL creates the resource (RFC 4918 9.10.4)
    token = lock_token(lock)
    assert b"DESKTOP-7Q1\\ada" in lock.body  # the owner, shown as "locked by"
    if_header = b"If: (" + token + b")\r\n"
    empty = conn.send(request(b"PUT", target, port, MINIREDIR, extra=if_header))
    assert empty.status == 204  # it exists since the LOCK
    patch = conn.send(request(b"PROPPATCH", target, port, MINIREDIR, body=WIN32_TIMES, extra=(
        b'Content-Type: text/xml; charset="utf-8"\r\n' + if_header)))
    statuses = {tag: code for tag, (code, _) in props(patch)[target.decode()].items()}
    assert statuses == {f"{Z}{name}": "200" for name in (
        "Win32CreationTime", "Win32LastAccessTime", "Win32LastModifiedTime",
        "Win32FileAttributes")}, statuses  # Explorer treats anything else as a failed save
    full = conn.send(request(b"PUT", target, port, MINIREDIR, body=data, extra=if_header))
    assert full.status == 204
    assert full.headers.get("etag", "").startswith('"')
    # Explorer sets the times once more after the content, as the source file had them.
    again = conn.send(request(b"PROPPATCH", target, port, MINIREDIR, body=WIN32_TIMES, extra=(
        b'Content-Type: text/xml; charset="utf-8"\r\n' + if_header)))
    assert {code for code, _ in props(again)[target.decode()].values()} == {"200"}
    unlock = conn.send(request(b"UNLOCK", target, port, MINIREDIR, extra=b"Lock-Token: " + token
                               + b"\r\n"))
    assert unlock.status == 204


def test_windows_mini_redirector_session(live: LiveServer) -> None:
    """OPTIONS /, PROPFIND Depth 0 and 1 (Win32 prop set), then Explorer's save sequence
    and a read-back: every answer as RFC 4918 and MS-WDV expect."""
    port = live.port
    with Connection(port) as conn:
        options = conn.send(request(b"OPTIONS", b"/", port, MINIREDIR, auth=False))
        assert options.status == 200
        assert {"1", "2"} <= {v.strip() for v in options.headers["dav"].split(",")}
        assert options.headers["ms-author-via"] == "DAV"
        challenge = conn.send(request(b"PROPFIND", b"/dav", port, MINIREDIR, auth=False,
                                      extra=b"Depth: 0\r\n"))
        assert challenge.status == 401
        assert challenge.headers["www-authenticate"].startswith("Basic ")
        root = conn.send(request(b"PROPFIND", b"/dav", port, MINIREDIR, extra=b"Depth: 0\r\n"))
        assert list(props(root)) == ["/dav/"]  # an empty body is allprop (RFC 4918 9.1)
        assert props(root)["/dav/"][f"{D}resourcetype"][0] == "200"
        windows_save(live, conn, b"/dav/New%20Text%20Document.txt", CONTENT)
        listing = props(conn.send(request(b"PROPFIND", b"/dav/", port, MINIREDIR,
                                          body=WIN_LISTING, extra=b"Depth: 1\r\n")))
        item = listing["/dav/New%20Text%20Document.txt"]
        assert item[f"{D}getcontentlength"] == ("200", str(len(CONTENT)))
        assert item[f"{D}resourcetype"] == ("200", "")
        assert item[f"{D}getetag"][1].startswith('"')
        got = conn.send(request(b"GET", b"/dav/New%20Text%20Document.txt", port, MINIREDIR))
        assert got.status == 200 and got.body == CONTENT
        assert got.headers["etag"] == item[f"{D}getetag"][1]
        head = conn.send(request(b"HEAD", b"/dav/missing.txt", port, MINIREDIR), head=True)
        assert head.status == 404
        again = conn.send(request(b"OPTIONS", b"/dav/", port, MINIREDIR))
        assert again.status == 200  # the connection survived the HEAD


def test_windows_win32_times_are_the_node_times(live: LiveServer) -> None:
    """PROPPATCH Win32LastModifiedTime sets getlastmodified; a later edit by another client
    moves Win32LastModifiedTime along (not an inert dead property)."""
    port = live.port
    with Connection(port) as conn:
        windows_save(live, conn, b"/dav/dated.txt", CONTENT)
        listed = props(conn.send(request(b"PROPFIND", b"/dav/dated.txt", port, MINIREDIR,
                                         body=WIN_LISTING, extra=b"Depth: 0\r\n")))
        item = listed["/dav/dated.txt"]
        assert parsedate_to_datetime(item[f"{D}getlastmodified"][1]) == WIN_MTIME
        edit = conn.send(request(b"PUT", b"/dav/dated.txt", port, b"User-Agent: rclone/v1.75\r\n",
                                 body=b"edited elsewhere"))
        assert edit.status == 204
        later = props(conn.send(request(b"PROPFIND", b"/dav/dated.txt", port, MINIREDIR,
                                        body=WIN_LISTING, extra=b"Depth: 0\r\n")))["/dav/dated.txt"]
        assert later[f"{Z}Win32LastModifiedTime"][0] == "200"
        assert parsedate_to_datetime(later[f"{Z}Win32LastModifiedTime"][1]) == \
            parsedate_to_datetime(later[f"{D}getlastmodified"][1]) > WIN_MTIME


def finder_put(port: int, conn: Connection, target: bytes, data: bytes,
               extra: bytes = b"") -> Response:
    """Finder's upload: chunked, the size announced in X-Expected-Entity-Length."""
    half = len(data) // 2
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (data[:half], data[half:])
                      if part) + b"0\r\n\r\n"
    head = (b"PUT " + target + b" HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n" % port + FINDER + AUTH
            + b"Content-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n"
            + b"X-Expected-Entity-Length: %d\r\n" % len(data) + extra + b"\r\n")
    return conn.send(head + chunks)


def test_macos_finder_session(live: LiveServer) -> None:
    """Finder mounting /dav/ and copying a file: PROPFIND with its prop sets (quota ones
    included), probes for .DS_Store, LOCK, chunked PUT with X-Expected-Entity-Length, the
    AppleDouble ._ companion, UNLOCK, read-back."""
    port = live.port
    with Connection(port) as conn:
        options = conn.send(request(b"OPTIONS", b"/dav/", port, FINDER))
        assert options.status == 200 and "2" in options.headers["dav"]
        quota = conn.send(request(b"PROPFIND", b"/dav/", port, FINDER, body=FINDER_QUOTA,
                                  extra=b"Content-Type: text/xml\r\nDepth: 0\r\n"))
        assert quota.status == 207 and "/dav/" in props(quota)
        listing = conn.send(request(b"PROPFIND", b"/dav/", port, FINDER, body=FINDER_PROPS,
                                    extra=b"Content-Type: text/xml\r\nDepth: 1\r\n"))
        assert props(listing)["/dav/"][f"{D}resourcetype"][0] == "200"
        probe = conn.send(request(b"PROPFIND", b"/dav/.DS_Store", port, FINDER,
                                  body=FINDER_PROPS, extra=b"Content-Type: text/xml\r\n"
                                                            b"Depth: 0\r\n"))
        assert probe.status == 404
        lock = conn.send(request(b"LOCK", b"/dav/Report%202026.pdf", port, FINDER,
                                 body=FINDER_LOCK, extra=b"Content-Type: text/xml; "
                                 b'charset="utf-8"\r\nTimeout: Second-600\r\nDepth: 0\r\n'))
        assert lock.status == 201
        token = lock_token(lock)
        if_header = b"If: (" + token + b")\r\n"
        put = finder_put(port, conn, b"/dav/Report%202026.pdf", CONTENT, if_header)
        assert put.status == 204  # created by the LOCK, replaced by the PUT
        apple = finder_put(port, conn, b"/dav/._Report%202026.pdf", b"\x00\x05\x16\x07" * 8)
        assert apple.status == 201  # accepted (whether kept or dropped)
        unlock = conn.send(request(b"UNLOCK", b"/dav/Report%202026.pdf", port, FINDER,
                                   extra=b"Lock-Token: " + token + b"\r\n"))
        assert unlock.status == 204
        stat = props(conn.send(request(b"PROPFIND", b"/dav/Report%202026.pdf", port, FINDER,
                                       body=FINDER_PROPS, extra=b"Depth: 0\r\n")))
        assert stat["/dav/Report%202026.pdf"][f"{D}getcontentlength"] == ("200", str(len(CONTENT)))
        got = conn.send(request(b"GET", b"/dav/Report%202026.pdf", port, FINDER))
        assert got.status == 200 and got.body == CONTENT


def test_finder_chunked_put_larger_than_announced_stores_nothing(live: LiveServer) -> None:
    """A chunked PUT announcing more than the upload limit in X-Expected-Entity-Length is
    refused with 413 before a byte is stored (DESIGN 6)."""
    limit = live.app.settings["dav.max_upload_bytes"]
    port = live.port
    with Connection(port) as conn:
        head = (b"PUT /dav/huge.bin HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n" % port + FINDER + AUTH
                + b"Transfer-Encoding: chunked\r\nX-Expected-Entity-Length: %d\r\n\r\n"
                % (limit + 1))
        refused = conn.send(head + b"3\r\nabc\r\n0\r\n\r\n")
    assert refused.status == 413
    with Connection(port) as conn:
        assert conn.send(request(b"GET", b"/dav/huge.bin", port, FINDER)).status == 404


def test_finder_appledouble_files_are_dropped(live: LiveServer) -> None:
    """PUT ._x and .DS_Store: 201, then GET 404 and never listed (DESIGN 6 client quirks)."""
    port = live.port
    with Connection(port) as conn:
        for target in (b"/dav/._notes.txt", b"/dav/.DS_Store"):
            assert finder_put(port, conn, target, b"\x00\x05\x16\x07").status == 201
            assert conn.send(request(b"GET", target, port, FINDER)).status == 404
        listing = props(conn.send(request(b"PROPFIND", b"/dav/", port, FINDER,
                                          body=FINDER_PROPS, extra=b"Depth: 1\r\n")))
        assert not any("._" in href or "DS_Store" in href for href in listing)


def test_finder_quota_properties_have_values(live: LiveServer) -> None:
    """PROPFIND quota-available-bytes / quota-used-bytes (Finder, Windows, davfs2, gio):
    200 with numbers (RFC 4331 3, 4), so the clients show free space."""
    port = live.port
    with Connection(port) as conn:
        answer = props(conn.send(request(b"PROPFIND", b"/dav/", port, FINDER, body=FINDER_QUOTA,
                                         extra=b"Depth: 0\r\n")))["/dav/"]
    for name in ("quota-available-bytes", "quota-used-bytes"):
        code, text = answer[f"{D}{name}"]
        assert code == "200" and text.strip().isdigit(), (name, code, text)
