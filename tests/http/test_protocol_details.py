"""Protocol details real clients trip over (issue 10).

Each test names the request a client sends and the rule it checks.
"""

from __future__ import annotations

from email.utils import parsedate_to_datetime

import pytest
from lxml import etree
from werkzeug.test import Client

from davdrive.server import DriveApp, create_app
from davdrive.settings import Settings
from tests.conftest import Dav
from tests.http.test_backoffice_http import office  # noqa: F401  (a fixture)

D = "{DAV:}"
S = "{http://sabredav.org/ns}"
PROPNAME = '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:propname/></D:propfind>'
PROPPATCH = (
    '<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:x="urn:x"><D:set><D:prop>'
    "<x:colour>blue</x:colour></D:prop></D:set></D:propertyupdate>"
)


def hrefs(body: bytes) -> list[str]:
    return [e.text or "" for e in etree.fromstring(body).iter(f"{D}href")]


def error_of(response) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """(exception, message) of a DAV error body, as rclone's api.Error reads it."""
    assert response.headers["Content-Type"].startswith("application/xml"), response.data[:200]
    root = etree.fromstring(response.data)
    assert root.tag == f"{D}error"
    return root.findtext(f"{S}exception") or "", root.findtext(f"{S}message") or ""


def test_propfind_without_depth_means_depth_1(dav: Dav) -> None:
    """PROPFIND /dav/ with no Depth header (webdav4): answered as Depth 1 (SabreDAV's choice)."""
    assert dav("MKCOL", "/dav/A/").status_code == 201
    assert dav("MKCOL", "/dav/A/B/").status_code == 201
    assert dav("PUT", "/dav/A/B/deep.txt", b"x").status_code == 201
    response = dav("PROPFIND", "/dav/A/")
    assert response.status_code == 207
    assert sorted(hrefs(response.data)) == ["/dav/A/", "/dav/A/B/"]


def test_explicit_depth_infinity_is_still_refused_with_the_rfc_condition(dav: Dav) -> None:
    """PROPFIND /dav/ with Depth: infinity: 403 with propfind-finite-depth (RFC 4918 9.1)."""
    response = dav("PROPFIND", "/dav/", Depth="infinity")
    assert response.status_code == 403
    root = etree.fromstring(response.data)
    assert root.find(f"{D}propfind-finite-depth") is not None
    assert "depth" in (root.findtext(f"{S}message") or "").lower()


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_get_and_head_on_a_folder_answer_200(dav: Dav, method: str) -> None:
    """HEAD /dav/Docs/ (webdavclient3's check) and GET /dav/Docs/: 200, no WsgiDAV advice."""
    assert dav("MKCOL", "/dav/Docs/").status_code == 201
    for path in ("/dav/", "/dav/Docs/", "/dav/Docs"):
        response = dav(method, path)
        assert response.status_code == 200, path
        assert response.data.count(b"\n") <= 1
        assert b"WsgiDav" not in response.data and b"browsing" not in response.data


def test_proppatch_with_depth_1_is_applied(dav: Dav) -> None:
    """PROPPATCH /dav/f.txt with Depth: 1: RFC 4918 9.2 has no Depth for PROPPATCH; applied."""
    assert dav("PUT", "/dav/f.txt", b"x").status_code == 201
    response = dav("PROPPATCH", "/dav/f.txt", PROPPATCH, Depth="1")
    assert response.status_code == 207
    assert b"200 OK" in response.data
    got = dav("PROPFIND", "/dav/f.txt", '<D:propfind xmlns:D="DAV:"><D:prop>'
              '<x:colour xmlns:x="urn:x"/></D:prop></D:propfind>', Depth="0")
    assert b">blue<" in got.data


def _propnames(dav: Dav, path: str, depth: str) -> dict[str, set[str]]:
    response = dav("PROPFIND", path, PROPNAME, Depth=depth)
    assert response.status_code == 207
    out: dict[str, set[str]] = {}
    for resp in etree.fromstring(response.data).iter(f"{D}response"):
        names: set[str] = set()
        for prop in resp.iter(f"{D}prop"):
            for child in prop:
                assert len(child) == 0 and not (child.text or "").strip()  # names, no values
                names.add(child.tag)
        out[resp.findtext(f"{D}href") or ""] = names
    return out


@pytest.fixture(params=[True, False], ids=["streamed", "wsgidav"])
def both_paths(request: pytest.FixtureRequest, settings: Settings, app: DriveApp) -> Dav:
    """The same drive answered by the streamed PROPFIND and by WsgiDAV's own."""
    if request.param:
        return Dav(Client(app))
    plain = Settings({**settings.values, "dav.stream_propfind": False})
    return Dav(Client(create_app(plain, app.runtime)))


def test_propname_lists_the_property_names(both_paths: Dav) -> None:
    """PROPFIND with <D:propname/> (cadaver's propnames): every item lists its names (RFC 4918
    9.1: "propname" returns names only); WsgiDAV 4.4 looked for <D:name/> and answered empty."""
    dav = both_paths
    assert dav("PUT", "/dav/n.txt", b"abc").status_code == 201
    assert dav("PROPPATCH", "/dav/n.txt", PROPPATCH).status_code == 207
    names = _propnames(dav, "/dav/", "1")
    assert {"/dav/", "/dav/n.txt"} <= set(names)
    assert {f"{D}getcontentlength", f"{D}getlastmodified", f"{D}getetag",
            "{urn:x}colour"} <= names["/dav/n.txt"]
    assert f"{D}resourcetype" in names["/dav/"]


def test_getetag_in_propfind_is_the_etag_header(dav: Dav) -> None:
    """PROPFIND getetag and the ETag header of GET carry the same quoted entity tag
    (RFC 4918 15.6: getetag holds the ETag header value, quotes included)."""
    assert dav("PUT", "/dav/e.txt", b"etag me").status_code == 201
    header = dav("GET", "/dav/e.txt").headers["ETag"]
    assert header.startswith('"') and header.endswith('"')
    body = dav("PROPFIND", "/dav/", '<D:propfind xmlns:D="DAV:"><D:prop><D:getetag/>'
               "</D:prop></D:propfind>", Depth="1").data
    tags = [e.text for e in etree.fromstring(body).iter(f"{D}getetag")]
    assert header in tags


def test_backoffice_items_have_real_dates(office: dict[str, Dav]) -> None:  # noqa: F811
    """PROPFIND Depth 1 of the back-office branch (rclone lsl): every item has a creation
    and a modification date of this era, not 1970 or none."""
    bob = office["bob"]
    for path in ("/dav/", "/dav/backoffice/", "/dav/backoffice/members/",
                 "/dav/backoffice/members/Carol Petit/"):
        body = bob("PROPFIND", path, Depth="1").data
        for resp in etree.fromstring(body).iter(f"{D}response"):
            href = resp.findtext(f"{D}href") or ""
            if "backoffice" not in href:
                continue
            modified = resp.findtext(f".//{D}getlastmodified")
            created = resp.findtext(f".//{D}creationdate")
            assert modified and created, href
            assert parsedate_to_datetime(modified).year >= 2024, href


@pytest.mark.parametrize(
    ("method", "path", "body", "headers", "status"),
    [
        ("GET", "/dav/missing.txt", b"", {}, 404),
        ("GET", "/dav/Été 2026.txt", b"", {}, 404),
        ("MKCOL", "/dav/no/such/parent/", b"", {}, 409),
        ("MKCOL", "/dav/Existing/", b"", {}, 405),
        ("DELETE", "/dav/missing.txt", b"", {}, 404),
        ("PUT", "/dav/bad:name.txt", b"x", {}, 400),
        ("COPY", "/dav/missing.txt", b"", {"Destination": "/dav/c.txt"}, 404),
        ("PROPFIND", "/dav/", b"<not xml", {"Depth": "0"}, 400),
    ],
)
def test_error_answers_are_a_dav_error_with_a_sentence(
    dav: Dav, method: str, path: str, body: bytes, headers: dict[str, str], status: int
) -> None:
    """Every 4xx is a DAV error element with a human s:message (as SabreDAV writes it, which
    rclone shows), and names no library, version or configuration advice."""
    assert dav("MKCOL", "/dav/Existing/").status_code == 201
    response = dav(method, path, body, **headers)
    assert response.status_code == status
    exception, message = error_of(response)
    assert exception and len(message) > 10 and message[0].isupper(), message
    if status == 404:
        assert path in message  # the path as the client wrote it, mount included
    lowered = response.data.lower()
    for word in (b"wsgidav", b"4.4", b"python", b"cheroot", b"<html", b"middleware"):
        assert word not in lowered, response.data


def test_a_precondition_element_stays_in_the_error(dav: Dav) -> None:
    """PUT on a locked file without the token: 423 keeps its RFC 4918 condition element
    (lock-token-submitted or no-conflicting-lock, naming the locked URL) next to s:message."""
    lock = dav("LOCK", "/dav/locked.txt", '<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:">'
               "<D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype>"
               "</D:lockinfo>", Depth="0")
    assert lock.status_code in (200, 201)
    response = dav("PUT", "/dav/locked.txt", b"x")
    assert response.status_code == 423
    root = etree.fromstring(response.data)
    condition = root.find(f"{D}lock-token-submitted")
    if condition is None:
        condition = root.find(f"{D}no-conflicting-lock")
    assert condition is not None
    assert condition.findtext(f"{D}href") == "/dav/locked.txt"
    assert root.findtext(f"{S}message")
