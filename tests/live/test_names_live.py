"""Finding 9 over the real cheroot server: the requests of the report, as sent on the
wire (percent-encoded UTF-8), get 409 for names that read as the back-office branch and
400 for invisible characters and Windows device names; none creates anything."""

from __future__ import annotations

import http.client

import pytest

from tests.conftest import LiveServer, basic

pytestmark = pytest.mark.live

AUTH = {"Authorization": basic("tester", "secret")}


def send(live: LiveServer, method: str, path: str, **headers: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", live.port, timeout=10)
    try:
        conn.request(method, path, body=b"x" if method == "PUT" else None,
                     headers={**AUTH, **headers})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


@pytest.mark.parametrize(("method", "path", "status", "reason"), [
    # fullwidth "backoffice", Cyrillic es, zero-width space, soft hyphen
    ("MKCOL", "/dav/%EF%BD%82%EF%BD%81%EF%BD%83%EF%BD%8B%EF%BD%8F%EF%BD%86%EF%BD%86"
              "%EF%BD%89%EF%BD%83%EF%BD%85/", 409, b"reserved"),
    ("MKCOL", "/dav/backoffi%D1%81e/", 409, b"reserved"),
    ("MKCOL", "/dav/backoffice%E2%80%8B/", 409, b"reserved"),
    ("PUT", "/dav/ba%C2%ADckoffice", 409, b"reserved"),
    # right-to-left override, lone zero-width space, BOM
    ("PUT", "/dav/invoice%E2%80%AEfdp.exe", 400, b"U+202E"),
    ("PUT", "/dav/%E2%80%8B", 400, b"U+200B"),
    ("PUT", "/dav/%EF%BB%BFnotes.txt", 400, b"U+FEFF"),
    # device names the Windows check let through
    ("PUT", "/dav/COM0", 400, b"device name"),
    ("PUT", "/dav/LPT0.txt", 400, b"device name"),
    ("PUT", "/dav/CONOUT$", 400, b"device name"),
    ("PUT", "/dav/COM%C2%B2.txt", 400, b"device name"),
])
def test_the_names_of_the_finding_are_refused_on_the_wire(
    live: LiveServer, method: str, path: str, status: int, reason: bytes
) -> None:
    got, body = send(live, method, path)
    assert (got, reason in body) == (status, True), body
    assert b"Traceback" not in body
    listing = send(live, "PROPFIND", "/dav/", Depth="1")[1]
    assert listing.count(b"<D:href>") == 1, listing  # the root alone: nothing was created
