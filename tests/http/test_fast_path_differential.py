"""The read fast path answers exactly as WsgiDAV does (docs/fast-path.md).

Rule checked: a request on the fast path's whitelist (GET/HEAD of a file,
PROPFIND Depth 0/1 of live properties) gets the same answer with
``dav.fast_path`` on and off: status, headers but Date, body; for PROPFIND the
same hrefs in the same order and every property with the same status and
value. Both apps share one data folder; users see all (mia), part (carol)
or none (carol in /Club/Vault, outsider everywhere) of a folder, and a
pass-through user (pat) lists a folder she only passes through. The spy
checks the whitelisted requests really took the fast path.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import delete
from werkzeug.test import Client

from davdrive import node_admin
from davdrive.models import BlobInline
from davdrive.policy import SYSTEM
from davdrive.server import DriveApp
from davdrive.services import Drive
from davdrive.settings import Settings
from provider.fast_read import FAST
from tests.conftest import Dav, add_user, basic, put_file
from tests.http.club import Club

NAMES = ("sp ace.txt", "Café déjà vu.txt", "100% sure.txt", "R&D notes.txt", "ünï ✓.txt")
VAULT = "/Club/Vault"

PROPFIND = '<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:">{}</D:propfind>'
BODIES = {
    "empty": "",
    "allprop": PROPFIND.format("<D:allprop/>"),
    # the reference benchmark's set (rclone-like listing)
    "rclone": PROPFIND.format(
        "<D:prop><D:resourcetype/><D:getcontentlength/><D:getlastmodified/><D:getetag/>"
        "</D:prop>"
    ),
    "finder": PROPFIND.format(
        "<D:prop><D:getlastmodified/><D:getcontentlength/><D:creationdate/>"
        "<D:resourcetype/></D:prop>"
    ),
    # Windows' mini-redirector asks for DAV: names WsgiDAV answers 404
    "windows": PROPFIND.format(
        "<D:prop><D:name/><D:parentname/><D:href/><D:ishidden/><D:isreadonly/>"
        "<D:getcontenttype/><D:contentclass/><D:getcontentlanguage/><D:creationdate/>"
        "<D:lastaccessed/><D:getlastmodified/><D:getcontentlength/><D:iscollection/>"
        "<D:isstructureddocument/><D:defaultdocument/><D:displayname/><D:isroot/>"
        "<D:resourcetype/></D:prop>"
    ),
    "every-live": PROPFIND.format(
        "<D:prop><D:displayname/><D:getetag/><D:getcontenttype/><D:creationdate/>"
        "<D:lockdiscovery/><D:supportedlock/><D:resourcetype/><D:getcontentlength/>"
        "<D:getlastmodified/></D:prop>"
    ),
    "missing-first": PROPFIND.format("<D:prop><D:getetag/><D:displayname/></D:prop>"),
}


@dataclass
class Pair:
    """The same drive behind the fast app and the WsgiDAV-only app."""

    fast: DriveApp
    slow: DriveApp
    seen: list[dict[str, Any]]

    def _dav(self, app: DriveApp, login: str) -> Dav:
        def spy(environ: dict[str, Any], start_response: Any) -> Any:
            self.seen.append(environ)
            return app(environ, start_response)

        return Dav(Client(spy), basic(login, f"{login}-password"))

    def both(self, login: str, method: str, path: str, body: str = "", **headers: str) -> Any:
        """(fast answer, slow answer, whether the fast app answered on its fast path)."""
        self.seen.clear()
        fast = self._dav(self.fast, login)(method, path, body, **headers)
        took_fast = bool(self.seen[-1].get(FAST))
        slow = self._dav(self.slow, login)(method, path, body, **headers)
        assert not self.seen[-1].get(FAST)
        return fast, slow, took_fast


@pytest.fixture
def pair(club: Club, settings: Settings) -> Iterator[Pair]:
    runtime = club.runtime
    add_user(runtime, "pat", "pat-password", documents="read", category="passer",
             root_right="none")
    add_user(runtime, "outsider", "outsider-password", documents="read", category="outside",
             root_right="none")
    with runtime.sessions() as session:
        drive = Drive(session, runtime.blobs, SYSTEM, runtime.drive_options)
        club_node = node_admin.resolve_path(session, "/Club")
        names = drive.make_folder(club_node, "Names")
        for name in NAMES:
            put_file(drive, names, name, name.encode())
        drive.make_folder(names, "Sub folder & more")
        vault = drive.make_folder(club_node, "Vault")
        for i in range(3):
            put_file(drive, vault, f"Secret {i}.txt", SECRET_TEXT)
        private = put_file(drive, club_node, "Private.txt", b"mine")
        put_file(drive, club_node, "Empty.txt", b"")
        put_file(drive, club_node, "page.html", b"<script>alert(1)</script>")
        put_file(drive, club_node, ".DS_Store", b"junk")
        node_admin.set_folder_rights(session, names, {"passer": "read"})
        for i in range(3):
            node = node_admin.resolve_path(session, f"{VAULT}/Secret {i}.txt")
            node_admin.node_set(session, node, min_degree=3)
        node_admin.node_set(session, private, visibility="private", owner_login="wendy")
        session.commit()
    off = Settings(values={**settings.values, "dav.fast_path": False})
    yield Pair(club.app, DriveApp(off, runtime), [])


SECRET_TEXT = b"only for degree 3"


def parse_multistatus(data: bytes) -> list[tuple[str, dict[str, tuple[str, str]]]]:
    """[(href, {property: (status, value as XML)})] in answer order."""
    root = ET.fromstring(data)
    assert root.tag == "{DAV:}multistatus"
    result = []
    for response in root.findall("{DAV:}response"):
        href = response.findtext("{DAV:}href") or ""
        props: dict[str, tuple[str, str]] = {}
        for propstat in response.findall("{DAV:}propstat"):
            status = propstat.findtext("{DAV:}status") or ""
            for prop in propstat.find("{DAV:}prop") or []:
                assert prop.tag not in props, f"{prop.tag} twice for {href}"
                prop.tail = None
                props[prop.tag] = (status, ET.tostring(prop, encoding="unicode"))
        result.append((href, props))
    return result


def assert_same_propfind(fast: Any, slow: Any, what: str) -> None:
    assert fast.status_code == slow.status_code, what
    assert fast.headers.get("Content-Type") == slow.headers.get("Content-Type"), what
    if slow.status_code != 207:
        assert fast.data == slow.data, what
        return
    fast_items, slow_items = parse_multistatus(fast.data), parse_multistatus(slow.data)
    assert [h for h, _ in fast_items] == [h for h, _ in slow_items], what
    for (href, fast_props), (_, slow_props) in zip(fast_items, slow_items, strict=True):
        assert sorted(fast_props) == sorted(slow_props), f"{what} {href}"
        for name, value in slow_props.items():
            assert fast_props[name] == value, f"{what} {href} {name}"


def assert_same_get(fast: Any, slow: Any, what: str) -> None:
    assert fast.status_code == slow.status_code, what

    def kept(response: Any) -> list[tuple[str, str]]:
        return [(k, v) for k, v in response.headers.items() if k != "Date"]

    assert kept(fast) == kept(slow), what
    assert fast.data == slow.data, what


def paths() -> list[str]:
    listed = ["/Club/", "/Club", "/Club/Names/", VAULT + "/", "/", "/Club/Deep/"]
    files = ["/Club/Public.txt", "/Club/Degree3.txt", "/Club/Budget.txt", "/Club/Private.txt",
             "/Club/Empty.txt", "/Club/page.html", "/Club/.DS_Store", "/Club/nothing.txt",
             "/Club/PUBLIC.TXT", f"{VAULT}/Secret 0.txt", "/Club/Names/Sub folder & more/"]
    return listed + files + [f"/Club/Names/{n}" for n in NAMES]


# Who sees what of /Club: all (mia), part (carol: no degree-3 or treasury file,
# nothing of the Vault), none (outsider), /Club only as a pass-through (pat).
USERS = ("mia", "carol", "wendy", "pat", "outsider")


@pytest.mark.parametrize("login", USERS)
def test_propfind_answers_are_the_same_on_both_paths(pair: Pair, login: str) -> None:
    """PROPFIND Depth 0 and 1 with every prop set, on folders, files, hidden, missing
    and junk paths: same status, hrefs and every property on both paths."""
    fast_answers = 0
    for path in paths():
        for depth in ("0", "1"):
            for name, body in BODIES.items():
                what = f"{login} PROPFIND {path} Depth {depth} {name}"
                fast, slow, took_fast = pair.both(login, "PROPFIND", "/dav" + path, body,
                                                  Depth=depth)
                assert_same_propfind(fast, slow, what)
                fast_answers += took_fast
    if login != "outsider":
        assert fast_answers > 0, "the whitelisted requests took the fast path"


@pytest.mark.parametrize("login", USERS)
def test_get_and_head_answers_are_the_same_on_both_paths(pair: Pair, login: str) -> None:
    """GET and HEAD of visible, hidden, private, missing, junk, active-content and empty
    files and of folders: same status, headers (but Date) and body on both paths."""
    for path in paths():
        for method in ("GET", "HEAD"):
            fast, slow, took_fast = pair.both(login, method, "/dav" + path)
            assert_same_get(fast, slow, f"{login} {method} {path}")
            if took_fast:
                assert fast.status_code == 200


def test_the_fast_path_answers_what_it_should(pair: Pair) -> None:
    """The whitelist is used: a visible file's GET/HEAD, PROPFIND Depth 0/1 of a folder
    the user sees, with an empty body, allprop and the benchmark's prop set."""
    for method in ("GET", "HEAD"):
        assert pair.both("carol", method, "/dav/Club/Public.txt")[2]
    for depth in ("0", "1"):
        for name in ("empty", "allprop", "rclone", "windows"):
            _, _, took_fast = pair.both("carol", "PROPFIND", "/dav/Club/Names/",
                                        BODIES[name], Depth=depth)
            assert took_fast, (depth, name)


def test_a_listing_shows_only_what_the_user_may_see(pair: Pair) -> None:
    """Rule: hidden == missing in listings. carol's fast listing of /Club has no
    degree-3, treasury, private or junk file, and nothing of the Vault; mia (degree 3,
    manager) sees the degree-3 and treasury files."""
    fast, _, took_fast = pair.both("carol", "PROPFIND", "/dav/Club/", "", Depth="1")
    assert took_fast
    hrefs = [h for h, _ in parse_multistatus(fast.data)]
    for hidden in ("Degree3.txt", "Budget.txt", "Private.txt", ".DS_Store", "Deep/"):
        assert f"/dav/Club/{hidden}" not in hrefs
    assert "/dav/Club/Public.txt" in hrefs
    fast, _, _ = pair.both("carol", "PROPFIND", "/dav/Club/Vault/", "", Depth="1")
    assert [h for h, _ in parse_multistatus(fast.data)] == ["/dav/Club/Vault/"]
    fast, _, _ = pair.both("mia", "PROPFIND", "/dav/Club/", "", Depth="1")
    hrefs = [h for h, _ in parse_multistatus(fast.data)]
    assert "/dav/Club/Degree3.txt" in hrefs and "/dav/Club/Budget.txt" in hrefs


def dav_as(app: DriveApp, login: str) -> Dav:
    return Dav(Client(app), basic(login, f"{login}-password"))


def test_requests_off_the_whitelist_go_to_wsgidav(pair: Pair) -> None:
    """Range, If headers, propname, dead and lock properties, other namespaces, the
    Nextcloud layout and query strings are answered by WsgiDAV (not the fast path),
    with WsgiDAV's answers: 206, 304, names, the dead value, the active lock."""
    mia = "mia"
    fast, slow, took_fast = pair.both(mia, "GET", "/dav/Club/Public.txt", Range="bytes=0-2")
    assert not took_fast and fast.status_code == 206 and fast.data == b"pub"
    etag = fast.headers["ETag"]
    fast, _, took_fast = pair.both(mia, "GET", "/dav/Club/Public.txt", If_None_Match=etag)
    assert not took_fast and fast.status_code == 304
    propname = PROPFIND.format("<D:propname/>")
    fast, slow, took_fast = pair.both(mia, "PROPFIND", "/dav/Club/Public.txt", propname,
                                      Depth="0")
    assert not took_fast and fast.status_code == 207 and b"getetag" in fast.data
    oc = PROPFIND.format('<D:prop xmlns:oc="http://owncloud.org/ns"><oc:checksums/></D:prop>')
    fast, slow, took_fast = pair.both(mia, "PROPFIND", "/dav/Club/Public.txt", oc, Depth="0")
    assert not took_fast
    assert_same_propfind(fast, slow, "oc:checksums")
    fast, _, took_fast = pair.both(mia, "GET", "/dav/Club/Public.txt?x=1")
    assert not took_fast and fast.status_code == 200
    fast, _, took_fast = pair.both(mia, "PROPFIND", "/dav/files/mia/Club/", "", Depth="1")
    assert not took_fast and fast.status_code == 207
    assert b"<D:href>/dav/files/mia/Club/Public.txt</D:href>" in fast.data

    # A dead property: allprop of the file and of its folder's listing shows it.
    dav = dav_as(pair.fast, mia)
    patch = ('<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:x="urn:x"><D:set>'
             "<D:prop><x:tag>dead value</x:tag></D:prop></D:set></D:propertyupdate>")
    assert dav("PROPPATCH", "/dav/Club/Names/sp ace.txt", patch).status_code == 207
    for path, depth in (("/dav/Club/Names/sp ace.txt", "0"), ("/dav/Club/Names/", "1")):
        fast, slow, took_fast = pair.both(mia, "PROPFIND", path, BODIES["allprop"], Depth=depth)
        assert not took_fast and b"dead value" in fast.data
        assert_same_propfind(fast, slow, f"dead property {path}")
        fast, _, took_fast = pair.both(mia, "PROPFIND", path, BODIES["rclone"], Depth=depth)
        assert took_fast, "a named set of live properties is not affected by dead ones"

    # A lock: lockdiscovery (allprop or named) shows it, on WsgiDAV's path.
    lockinfo = ('<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/>'
                "</D:lockscope><D:locktype><D:write/></D:locktype>"
                "<D:owner>mia</D:owner></D:lockinfo>")
    locked = dav("LOCK", "/dav/Club/Names/R&D notes.txt", lockinfo, Timeout="Infinite")
    assert locked.status_code == 200
    for path, depth in (("/dav/Club/Names/R&D notes.txt", "0"), ("/dav/Club/Names/", "1")):
        for name in ("empty", "every-live"):
            fast, slow, took_fast = pair.both(mia, "PROPFIND", path, BODIES[name], Depth=depth)
            assert not took_fast and b"activelock" in fast.data
            assert_same_propfind(fast, slow, f"lock {path} {name}")
        fast, _, took_fast = pair.both(mia, "PROPFIND", path, BODIES["rclone"], Depth=depth)
        assert took_fast, "a prop set without lock properties is not affected by locks"


def test_a_pass_through_folder_is_listed_by_wsgidav(pair: Pair) -> None:
    """pat sees /Club only because /Club/Names is readable for her category: the
    listing of /Club is WsgiDAV's, the one of /Club/Names the fast path's."""
    fast, slow, took_fast = pair.both("pat", "PROPFIND", "/dav/Club/", "", Depth="1")
    assert not took_fast and fast.status_code == 207
    assert [h for h, _ in parse_multistatus(fast.data)] == ["/dav/Club/", "/dav/Club/Names/"]
    fast, slow, took_fast = pair.both("pat", "PROPFIND", "/dav/Club/Names/", "", Depth="1")
    assert took_fast and fast.status_code == 207
    assert_same_propfind(fast, slow, "pat Names")


def test_bad_bodies_are_refused_as_before(pair: Pair) -> None:
    """A malformed or entity-laden PROPFIND body gets the XML check's 400 on both paths."""
    for body in ("<D:propfind", '<!DOCTYPE x [<!ENTITY a "b">]><D:propfind xmlns:D="DAV:">'
                 "<D:allprop/></D:propfind>"):
        fast, slow, took_fast = pair.both("mia", "PROPFIND", "/dav/Club/", body, Depth="1")
        assert not took_fast and fast.status_code == slow.status_code == 400


def test_a_file_whose_content_is_gone_is_answered_as_before(pair: Pair) -> None:
    """GET of a file whose stored content disappeared (a damaged data folder): the fast
    path steps aside and the answer is WsgiDAV's on both paths (today the logged
    "internal error" answer, without a trace)."""
    with pair.fast.runtime.sessions() as session:
        node = node_admin.resolve_path(session, "/Club/Names/sp ace.txt")
        assert node.blob_sha256 is not None
        # wherever the content is kept: the store, or the database (small files)
        pair.fast.runtime.blobs.path(node.blob_sha256).unlink(missing_ok=True)
        session.execute(delete(BlobInline).where(BlobInline.sha256 == node.blob_sha256))
        session.commit()
    fast, slow, took_fast = pair.both("mia", "GET", "/dav/Club/Names/sp ace.txt")
    assert not took_fast
    assert fast.status_code == slow.status_code
    assert 400 <= fast.status_code < 600 and b"Traceback" not in fast.data
