"""The streamed PROPFIND answers exactly what WsgiDAV's own PROPFIND answers.

Finding 4 of issue 9: WsgiDAV builds one XML tree for a whole folder (400 MB
for 50,000 entries), so drive folders are answered by ``provider.propfind``,
a batch at a time. Rule checked here: for the same request, the streamed
answer and WsgiDAV's (``dav.stream_propfind = false``) have the same status,
the same responses in the same order, the same hrefs, properties and
statuses, down to the bytes; what the stream does not handle falls back to
WsgiDAV (same answer by construction, checked too). Lock timeouts count
down between the two requests and are compared as ``Second-N``.
"""

from __future__ import annotations

import re

import pytest
from lxml import etree
from werkzeug.test import Client

from davdrive import tree
from davdrive.models import Node
from davdrive.runtime import Runtime
from davdrive.server import DriveApp, create_app
from davdrive.settings import Settings
from tests.conftest import Dav, add_user, basic

ALLPROP = '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>'
PROPNAME = '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:propname/></D:propfind>'
NAMED = (
    '<?xml version="1.0"?><D:propfind xmlns:D="DAV:" xmlns:d="urn:davdrive" xmlns:x="urn:x">'
    "<D:prop><D:resourcetype/><D:getcontentlength/><D:getetag/><D:getlastmodified/>"
    "<D:displayname/><D:lockdiscovery/><D:supportedlock/><d:degree/><d:doc-type/>"
    "<d:visibility/><d:owner/><d:protected/><d:effective-access/><x:color/><x:missing/>"
    "</D:prop></D:propfind>"
)
EMPTY_PROPFIND = '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"/>'
# Requests WsgiDAV refuses with 400: the stream leaves them to it.
BAD_BODIES = (
    '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:allprop/><D:prop><D:getetag/>'
    "</D:prop></D:propfind>",
    '<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:"/>',
)
LOCKINFO = (
    '<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/>'
    "</D:lockscope><D:locktype><D:write/></D:locktype><D:owner>Ada Lovelace</D:owner>"
    "</D:lockinfo>"
)
COLOR = (
    '<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:x="urn:x"><D:set><D:prop>'
    '<x:color>blue <x:shade tone="dark">navy</x:shade></x:color></D:prop></D:set>'
    "</D:propertyupdate>"
)


class Pair:
    """The same user against the streaming app and against WsgiDAV's PROPFIND."""

    def __init__(self, streamed: DriveApp, plain: DriveApp, login: str) -> None:
        auth = basic(login, f"{login}-pw")
        self.streamed = Dav(Client(streamed), auth)
        self.plain = Dav(Client(plain), auth)

    def compare(self, path: str, body: str, depth: str, **headers: str) -> bytes:
        """PROPFIND through both; assert the same answer; return the streamed body."""
        a = self.streamed("PROPFIND", path, body, Depth=depth, **headers)
        b = self.plain("PROPFIND", path, body, Depth=depth, **headers)
        assert a.status_code == b.status_code, (path, depth, a.status_code, b.status_code)
        if a.status_code != 207:
            assert a.data == b.data
            return a.data  # type: ignore[no-any-return]
        left, right = normalise(a.data), normalise(b.data)
        assert parsed(left) == parsed(right), (path, depth, body)
        assert left == right, (path, depth, body)
        assert a.headers["Content-Type"] == b.headers["Content-Type"]
        return a.data  # type: ignore[no-any-return]


def normalise(body: bytes) -> bytes:
    return re.sub(rb"Second-\d+", b"Second-N", body)


def parsed(body: bytes) -> list[tuple[str, list[tuple[str, list[str]]]]]:
    """[(href, [(status, [canonical XML of each property])])] in document order."""
    root = etree.fromstring(body)
    assert root.tag == "{DAV:}multistatus"
    result = []
    for response in root.findall("{DAV:}response"):
        href = response.findtext("{DAV:}href") or ""
        stats = []
        for propstat in response.findall("{DAV:}propstat"):
            props = [
                etree.tostring(p, method="c14n").decode()
                for p in propstat.find("{DAV:}prop")  # type: ignore[union-attr]
            ]
            stats.append((propstat.findtext("{DAV:}status") or "", props))
        result.append((href, stats))
    return result


@pytest.fixture
def apps(settings: Settings, runtime: Runtime) -> tuple[DriveApp, DriveApp]:
    """A drive with a degree-3 writer (wendy), a degree-1 member (carol), a document admin (ada):
    /Club holds files, a subfolder, dead properties, a lock and a file hidden from carol."""
    add_user(runtime, "wendy", "wendy-pw", documents="write", category="writer", degree=3)
    add_user(runtime, "carol", "carol-pw", documents="read", category="member")
    add_user(runtime, "ada", "ada-pw", documents="admin", category="docadmin")
    streamed = create_app(settings, runtime)
    plain = create_app(settings.replace(dav__stream_propfind=False), runtime)
    wendy = Dav(Client(streamed), basic("wendy", "wendy-pw"))
    assert wendy("MKCOL", "/dav/Club").status_code == 201
    assert wendy("MKCOL", "/dav/Club/Minutes").status_code == 201
    for name in ("agenda.txt", "Été 2026.txt", "budget.txt", "secret.txt", "page.html"):
        assert wendy("PUT", f"/dav/Club/{name}", name.encode()).status_code == 201
    assert wendy("PROPPATCH", "/dav/Club/agenda.txt", COLOR).status_code == 207
    assert wendy("PROPPATCH", "/dav/Club/Minutes", COLOR).status_code == 207
    locked = wendy("LOCK", "/dav/Club/budget.txt", LOCKINFO, Timeout="Second-3600")
    assert locked.status_code == 200
    with runtime.sessions() as session:
        club = tree.resolve_chain(session, ["Club", "secret.txt"])
        assert club is not None
        node: Node = club[-1]
        node.min_degree = 3
        session.commit()
    return streamed, plain


@pytest.mark.parametrize("login", ["wendy", "carol", "ada"])
@pytest.mark.parametrize("body", [ALLPROP, NAMED, PROPNAME, "", EMPTY_PROPFIND],
                         ids=["allprop", "named", "propname", "no-body", "empty-propfind"])
@pytest.mark.parametrize("depth", ["0", "1"])
def test_streamed_answer_equals_wsgidav_answer(
    apps: tuple[DriveApp, DriveApp], login: str, body: str, depth: str
) -> None:
    """Folders, files, the root (with the back-office branch for ada): same answer."""
    pair = Pair(*apps, login)
    club = pair.compare("/dav/Club/", body, depth)
    for path in ("/dav/", "/dav/Club/agenda.txt", "/dav/Club/Minutes", "/dav/Club/budget.txt"):
        pair.compare(path, body, depth)
    if depth == "1" and body != PROPNAME:
        hrefs = [href for href, _ in parsed(club)]
        assert ("/dav/Club/secret.txt" in hrefs) == (login != "carol")
        assert "/dav/Club/Minutes/" in hrefs and "/dav/Club/%C3%89t%C3%A9%202026.txt" in hrefs


def test_streamed_named_answer_shows_drive_props_dead_props_and_locks(
    apps: tuple[DriveApp, DriveApp]
) -> None:
    """The compared answers are not trivially empty: urn:davdrive props, the dead
    property (with its nested XML), lock discovery with the owner text (the token only
    for the lock's owner) and a 404 propstat for an unknown property."""
    wendy = Pair(*apps, "wendy").compare("/dav/Club/", NAMED, "1")
    carol = Pair(*apps, "carol").compare("/dav/Club/", NAMED, "1")
    for body in (wendy, carol):
        assert b"<d:effective-access" in body or b"effective-access>" in body
        assert b"navy</" in body and b'tone="dark"' in body
        assert b"Ada Lovelace" in body
        assert b"HTTP/1.1 404 Not Found" in body
    assert b"opaquelocktoken:" in wendy and b"opaquelocktoken:" not in carol
    assert b">see read</" in carol


@pytest.mark.parametrize("body", BAD_BODIES)
def test_requests_wsgidav_refuses_are_left_to_it(
    apps: tuple[DriveApp, DriveApp], body: str
) -> None:
    pair = Pair(*apps, "wendy")
    assert pair.streamed("PROPFIND", "/dav/Club/", body, Depth="1").status_code == 400
    pair.compare("/dav/Club/", body, "1")


@pytest.mark.parametrize(
    "path", ["/dav/Nothing/", "/dav/Club/secret.txt", "/dav/backoffice/", "/dav/backoffice/x"]
)
def test_missing_hidden_and_backoffice_paths_answer_as_wsgidav(
    apps: tuple[DriveApp, DriveApp], path: str
) -> None:
    """A missing and a hidden path (carol, degree 1) both 404, exactly as WsgiDAV."""
    pair = Pair(*apps, "carol")
    for depth in ("0", "1"):
        pair.compare(path, ALLPROP, depth)
    if "backoffice" not in path:
        assert pair.streamed("PROPFIND", path, ALLPROP, Depth="1").status_code == 404


def test_conditional_headers_are_evaluated_like_wsgidav(apps: tuple[DriveApp, DriveApp]) -> None:
    pair = Pair(*apps, "wendy")
    body = pair.compare("/dav/Club/agenda.txt", ALLPROP, "0")
    etag = re.search(rb"<D:getetag>([^<]+)</D:getetag>", body)
    assert etag is not None
    tag = etag.group(1).decode()
    pair.compare("/dav/Club/agenda.txt", ALLPROP, "0", If_Match='"nope"')
    pair.compare("/dav/Club/agenda.txt", ALLPROP, "0", If_Match=tag)
    refused = pair.streamed("PROPFIND", "/dav/Club/agenda.txt", ALLPROP, Depth="0",
                            If_Match='"nope"')
    assert refused.status_code == 412


def test_streamed_answer_has_no_content_length(apps: tuple[DriveApp, DriveApp]) -> None:
    """The body is produced batch by batch: no Content-Length (the server chunks it),
    and no forced ``Connection: close``."""
    streamed = Pair(*apps, "wendy").streamed("PROPFIND", "/dav/Club/", ALLPROP, Depth="1")
    assert streamed.status_code == 207
    assert "Content-Length" not in streamed.headers
    assert streamed.headers.get("Connection", "").lower() != "close"
