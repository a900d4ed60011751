"""HTTP hardening (DESIGN section 6): malformed or hostile requests get a clean 4xx.

Every test asserts the exact status, that the answer carries no stack trace
and no content of ``/etc/passwd``, and that nothing changed in the drive or
in the data folder. Raw-socket cases (URLs a client library would normalise)
live in ``tests/live/test_raw_requests.py``.
"""

from __future__ import annotations

import base64
import io
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import Client, EnvironBuilder, run_wsgi_app

from davdrive import tree
from davdrive.passwords import Passwords
from davdrive.runtime import open_runtime
from davdrive.server import DriveApp, create_app
from davdrive.settings import Settings
from tests.conftest import Dav, add_user, basic

MiB = 1024 * 1024
PASSWD_PATH = Path("/etc/passwd")
PASSWD_LINES = (
    [line.encode() for line in PASSWD_PATH.read_text().splitlines() if line.strip()]
    if PASSWD_PATH.exists()
    else []
)
LEAK_MARKERS = [b"Traceback", b'File "', b"root:x:0:0", *PASSWD_LINES[:3]]

# --- XML payloads ------------------------------------------------------------

XXE_DTD = '<!DOCTYPE D:{root} [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
LAUGHS_DTD = (
    "<!DOCTYPE D:{root} ["
    '<!ENTITY lol "lol">'
    '<!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
    '<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">'
    '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">'
    '<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">'
    '<!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">'
    '<!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">'
    '<!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">'
    '<!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">'
    '<!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">'
    "]>"
)
PARAM_ENTITY_DTD = (
    '<!DOCTYPE D:{root} [<!ENTITY % ext SYSTEM "file:///etc/passwd"> %ext;]>'
)
PLAIN_DTD = '<!DOCTYPE D:{root} SYSTEM "http://dtd.example.invalid/webdav.dtd">'

BODIES = {
    # (root element, inner XML with a {value} slot where an entity may be used)
    "PROPFIND": (
        "propfind",
        '<D:propfind xmlns:D="DAV:" xmlns:Z="urn:z"><D:prop><D:displayname/>'
        "<Z:{value}/></D:prop></D:propfind>",
    ),
    "PROPPATCH": (
        "propertyupdate",
        '<D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:z"><D:set><D:prop>'
        "<Z:leak>{value}</Z:leak></D:prop></D:set></D:propertyupdate>",
    ),
    "LOCK": (
        "lockinfo",
        '<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope>'
        "<D:locktype><D:write/></D:locktype><D:owner>{value}</D:owner></D:lockinfo>",
    ),
}


def xml_body(method: str, dtd: str, value: str) -> str:
    root, inner = BODIES[method]
    if method == "PROPFIND":
        # PROPFIND has no text slot: put the entity in an attribute value.
        inner = inner.replace("<Z:{value}/>", '<Z:leak a="{value}"/>')
    return '<?xml version="1.0" encoding="utf-8"?>' + dtd.format(root=root) + inner.format(
        value=value
    )


ATTACKS = {
    "xxe": (XXE_DTD, "&xxe;"),
    "billion_laughs": (LAUGHS_DTD, "&lol9;"),
    "parameter_entity": (PARAM_ENTITY_DTD, "x"),
    "dtd_without_entities": (PLAIN_DTD, "x"),
}
MALFORMED = {
    "unclosed_element": '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop>',
    "undeclared_prefix": '<?xml version="1.0"?><D:propfind><D:allprop/></D:propfind>',
    "undefined_entity": '<?xml version="1.0"?><D:propfind xmlns:D="DAV:">&nope;</D:propfind>',
    "plain_text": "hello, this is not XML",
    "json": '{"propfind": {"allprop": true}}',
    "binary": b"\xff\xfe\x00<\x00D\x00:\x00\x81\x9f",
    "two_roots": '<?xml version="1.0"?><D:a xmlns:D="DAV:"/><D:b xmlns:D="DAV:"/>',
}
TARGETS = {"PROPFIND": "/dav/", "PROPPATCH": "/dav/doc.txt", "LOCK": "/dav/doc.txt"}
ALLPROP = '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>'
LEAK_PROP = (
    '<?xml version="1.0"?><D:propfind xmlns:D="DAV:" xmlns:Z="urn:z">'
    "<D:prop><Z:leak/></D:prop></D:propfind>"
)
LOCKINFO = (
    '<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/>'
    "</D:lockscope><D:locktype><D:write/></D:locktype><D:owner>me</D:owner></D:lockinfo>"
)


# --- helpers -----------------------------------------------------------------


def assert_clean(data: bytes) -> None:
    """No stack trace and nothing read from /etc/passwd in an answer body."""
    for marker in LEAK_MARKERS:
        assert marker not in data, f"answer body leaks {marker!r}: {data[:400]!r}"


@dataclass
class Answer:
    status_code: int
    headers: Any
    data: bytes


def call(
    app: DriveApp,
    method: str,
    path: str,
    body: bytes = b"",
    *,
    headers: dict[str, str] | None = None,
    environ: dict[str, Any] | None = None,
    drop: tuple[str, ...] = (),
    auth: str | None = basic("tester", "secret"),
) -> Answer:
    """One request with direct control over the WSGI environ (werkzeug validates headers)."""
    hdrs = dict(headers or {})
    if auth is not None:
        hdrs.setdefault("Authorization", auth)
    env = EnvironBuilder(path=path, method=method, data=body, headers=hdrs).get_environ()
    for key in drop:
        env.pop(key, None)
    env.update(environ or {})
    app_iter, status, response_headers = run_wsgi_app(app, env, buffered=True)
    data = b"".join(app_iter)
    answer = Answer(int(status.split()[0]), response_headers, data)
    assert_clean(data)
    return answer


def files_in(data_dir: Path) -> set[str]:
    """Every file under the data folder's parent, as relative paths, except blobs and the DB."""
    top = data_dir.parent
    found = set()
    for p in top.rglob("*"):
        rel = p.relative_to(top)
        if p.is_dir():
            continue
        if rel.parts[:2] == (data_dir.name, "blobs"):
            continue
        if rel.parts[0] == data_dir.name and p.name.startswith("davdrive.sqlite3"):
            continue
        found.add(str(rel))
    return found


def blob_files(data_dir: Path) -> set[str]:
    blobs = data_dir / "blobs"
    return {str(p.relative_to(blobs)) for p in blobs.rglob("*") if p.is_file()}


def snapshot(dav: Dav, data_dir: Path) -> tuple[bytes, set[str], set[str]]:
    """Everything a refused request must leave alone: listing, properties, locks, files."""
    listing = dav("PROPFIND", "/dav/", ALLPROP, Depth="1")
    assert listing.status_code == 207
    return listing.data, files_in(data_dir), blob_files(data_dir)


@pytest.fixture
def data_dir(app: DriveApp) -> Path:
    return app.settings.data_dir


@pytest.fixture
def seeded(dav: Dav) -> Dav:
    assert dav("PUT", "/dav/doc.txt", b"some text").status_code == 201
    assert dav("MKCOL", "/dav/Folder/").status_code == 201
    return dav


def check(response: Any, status: int) -> None:
    assert_clean(response.data)
    assert response.status_code == status, (response.status_code, response.data[:300])


# --- XML attacks ---------------------------------------------------------------


@pytest.mark.parametrize("attack", sorted(ATTACKS))
@pytest.mark.parametrize("method", ["PROPFIND", "PROPPATCH", "LOCK"])
def test_xml_with_dtd_or_entities_is_refused_with_400(
    seeded: Dav, data_dir: Path, method: str, attack: str
) -> None:
    before = snapshot(seeded, data_dir)
    dtd, value = ATTACKS[attack]
    response = seeded(method, TARGETS[method], xml_body(method, dtd, value), Depth="0")
    check(response, 400)
    assert snapshot(seeded, data_dir) == before


@pytest.mark.parametrize("kind", sorted(MALFORMED))
@pytest.mark.parametrize("method", ["PROPFIND", "PROPPATCH", "LOCK"])
def test_malformed_or_non_xml_body_is_refused_with_400(
    seeded: Dav, data_dir: Path, method: str, kind: str
) -> None:
    before = snapshot(seeded, data_dir)
    response = seeded(method, TARGETS[method], MALFORMED[kind], Depth="0")
    check(response, 400)
    assert snapshot(seeded, data_dir) == before


def test_xxe_entity_is_refused_with_400_and_proppatch_creates_no_property(seeded: Dav) -> None:
    body = xml_body("PROPPATCH", XXE_DTD, "&xxe;")
    check(seeded("PROPPATCH", "/dav/doc.txt", body), 400)
    response = seeded("PROPFIND", "/dav/doc.txt", LEAK_PROP, Depth="0")
    check(response, 207)
    assert b"HTTP/1.1 404 Not Found" in response.data  # the property does not exist
    assert b"HTTP/1.1 200 OK" not in response.data


def test_lock_with_xxe_on_a_new_url_creates_nothing(seeded: Dav, data_dir: Path) -> None:
    before = snapshot(seeded, data_dir)
    body = xml_body("LOCK", XXE_DTD, "&xxe;")
    check(seeded("LOCK", "/dav/new.txt", body, Depth="0"), 400)
    check(seeded("PROPFIND", "/dav/new.txt", Depth="0"), 404)
    assert snapshot(seeded, data_dir) == before


def test_xxe_in_chunked_body_is_refused_with_400(app: DriveApp, seeded: Dav) -> None:
    body = xml_body("PROPFIND", XXE_DTD, "&xxe;").encode()
    response = call(
        app, "PROPFIND", "/dav/", headers={"Depth": "0"}, drop=("CONTENT_LENGTH",),
        environ={"HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input": io.BytesIO(body)},
    )
    assert response.status_code == 400


class CountingInput(io.BytesIO):
    """A request body that remembers how many bytes were read from it."""

    bytes_read = 0

    def read(self, size: int | None = -1) -> bytes:
        data = super().read(size)
        self.bytes_read += len(data)
        return data


def test_xml_body_is_read_only_after_authentication(app: DriveApp) -> None:
    """Issue 9, finding 5: "XML bodies are read before authentication".

    PROPFIND /dav/ with an XXE body and no credentials: 401, and not one byte
    of the body read (nor parsed); with credentials the same body gets 400.
    """
    body = xml_body("PROPFIND", XXE_DTD, "&xxe;").encode()
    for auth, status, read in ((None, 401, 0), (basic("tester", "secret"), 400, len(body))):
        stream = CountingInput(body)
        response = call(
            app, "PROPFIND", "/dav/", headers={"Depth": "0"}, auth=auth,
            environ={"wsgi.input": stream, "CONTENT_LENGTH": str(len(body))},
        )
        assert response.status_code == status
        assert stream.bytes_read == read, "the body must not be read before sign-in"


def test_mkcol_with_an_xxe_body_is_415_and_creates_nothing(seeded: Dav, data_dir: Path) -> None:
    before = snapshot(seeded, data_dir)
    body = xml_body("PROPFIND", XXE_DTD, "&xxe;")
    check(seeded("MKCOL", "/dav/NewFolder/", body, Content_Type="application/xml"), 415)
    assert snapshot(seeded, data_dir) == before


def test_put_of_an_xml_file_with_a_dtd_is_stored_verbatim(seeded: Dav) -> None:
    """File content is never parsed: the DTD rules apply to DAV request bodies only."""
    content = xml_body("PROPFIND", XXE_DTD, "&xxe;").encode()
    check(seeded("PUT", "/dav/data.xml", content), 201)
    response = seeded("GET", "/dav/data.xml")
    assert response.status_code == 200
    assert response.data == content


def test_well_formed_bodies_still_work(seeded: Dav) -> None:
    check(seeded("PROPFIND", "/dav/", ALLPROP, Depth="1"), 207)
    props = BODIES["PROPPATCH"][1].format(value="blue")
    check(seeded("PROPPATCH", "/dav/doc.txt", props), 207)
    response = seeded("PROPFIND", "/dav/doc.txt", LEAK_PROP, Depth="0")
    check(response, 207)
    assert b"blue" in response.data
    response = seeded("LOCK", "/dav/doc.txt", LOCKINFO, Depth="0")
    check(response, 200)
    token = response.headers["Lock-Token"]
    check(seeded("UNLOCK", "/dav/doc.txt", Lock_Token=token), 204)


# --- size limits ---------------------------------------------------------------


def padded_propfind(size: int) -> bytes:
    head = b'<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:allprop/>'
    tail = b"</D:propfind>"
    return head + b" " * (size - len(head) - len(tail)) + tail


def test_xml_body_over_one_mib_is_refused_with_413(seeded: Dav, data_dir: Path) -> None:
    before = snapshot(seeded, data_dir)
    response = seeded("PROPFIND", "/dav/", padded_propfind(MiB + 1), Depth="1")
    check(response, 413)
    big_owner = LOCKINFO.replace("me", "x" * MiB)
    check(seeded("LOCK", "/dav/doc.txt", big_owner, Depth="0"), 413)
    check(seeded("LOCK", "/dav/big-lock.txt", big_owner, Depth="0"), 413)
    assert snapshot(seeded, data_dir) == before


def test_xml_body_of_exactly_one_mib_is_accepted(seeded: Dav) -> None:
    check(seeded("PROPFIND", "/dav/", padded_propfind(MiB), Depth="1"), 207)


def test_chunked_xml_body_over_one_mib_is_refused_with_413(app: DriveApp, seeded: Dav) -> None:
    response = call(
        app, "PROPFIND", "/dav/", headers={"Depth": "1"}, drop=("CONTENT_LENGTH",),
        environ={
            "HTTP_TRANSFER_ENCODING": "chunked",
            "wsgi.input": io.BytesIO(padded_propfind(2 * MiB)),
        },
    )
    assert response.status_code == 413


def test_xml_body_shorter_than_announced_is_refused_with_400(app: DriveApp) -> None:
    response = call(
        app, "PROPFIND", "/dav/", ALLPROP.encode(), headers={"Depth": "0"},
        environ={"CONTENT_LENGTH": str(len(ALLPROP) + 100)},
    )
    assert response.status_code == 400


@pytest.mark.parametrize("length", ["abc", "-5", "1e3", "+1", "1_0", "\xb2"])
def test_invalid_content_length_is_refused_with_400(app: DriveApp, length: str) -> None:
    for method in ("PROPFIND", "PUT"):
        response = call(
            app, method, "/dav/x.txt", b"x", headers={"Depth": "0"},
            environ={"CONTENT_LENGTH": length},
        )
        assert response.status_code == 400, method


@pytest.mark.parametrize("expected", ["abc", "-1", "\xb2"])
def test_invalid_x_expected_entity_length_is_refused_with_400(
    app: DriveApp, seeded: Dav, expected: str
) -> None:
    response = call(
        app, "PUT", "/dav/e.txt", drop=("CONTENT_LENGTH",),
        environ={
            "HTTP_TRANSFER_ENCODING": "chunked",
            "HTTP_X_EXPECTED_ENTITY_LENGTH": expected,
            "wsgi.input": io.BytesIO(b"x"),
        },
    )
    assert response.status_code == 400
    check(seeded("GET", "/dav/e.txt"), 404)


def test_headers_over_64_kib_are_refused_with_431(seeded: Dav, data_dir: Path) -> None:
    before = snapshot(seeded, data_dir)
    check(seeded("PROPFIND", "/dav/", Depth="1", X_Padding="a" * (64 * 1024)), 431)
    many = {f"X_Pad_{i}": "b" * 1000 for i in range(70)}
    check(seeded("PUT", "/dav/new.txt", b"x", **many), 431)
    assert snapshot(seeded, data_dir) == before


def test_headers_just_under_64_kib_are_accepted(seeded: Dav) -> None:
    check(seeded("PROPFIND", "/dav/", Depth="1", X_Padding="a" * (60 * 1024)), 207)


def test_a_huge_content_type_counts_towards_the_header_limit(
    app: DriveApp, seeded: Dav, data_dir: Path
) -> None:
    """CONTENT_TYPE has no HTTP_ prefix in WSGI but is a request header all the same."""
    before = snapshot(seeded, data_dir)
    response = call(
        app, "PUT", "/dav/ct.txt", b"x",
        headers={"Content-Type": "text/plain; x=" + "a" * (70 * 1024)},
    )
    assert response.status_code == 431
    assert snapshot(seeded, data_dir) == before


# --- malformed Authorization -------------------------------------------------------


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


MALFORMED_AUTH = {
    "bad_base64": "Basic !!!not-base64!!!",
    "truncated_base64": "Basic " + b64(b"tester:secret")[:-3],
    "base64_without_colon": "Basic " + b64(b"testersecret"),
    "non_utf8_after_decoding": "Basic " + b64(b"tester:s\xe9cr\xe9t"),
    "non_utf8_login": "Basic " + b64(b"\xff\xfe:secret"),
    "empty_basic": "Basic ",
    "basic_alone": "Basic",
    "empty_login": "Basic " + b64(b":secret"),
    "control_char_in_login": "Basic " + b64(b"tes\x01ter:secret"),
    "nul_in_password": "Basic " + b64(b"tester:sec\x00ret"),
    "del_in_password": "Basic " + b64(b"tester:secret\x7f"),
    "newline_in_password": "Basic " + b64(b"tester:secret\n"),
    "extremely_long": "Basic " + "QUFB" * 5000,
}


@pytest.mark.parametrize("kind", sorted(MALFORMED_AUTH))
def test_malformed_basic_credentials_get_400_never_500(seeded: Dav, kind: str) -> None:
    response = seeded("PROPFIND", "/dav/", Depth="0", Authorization=MALFORMED_AUTH[kind])
    check(response, 400)
    assert "Digest" not in response.headers.get("WWW-Authenticate", "")


def test_authorization_header_over_64_kib_gets_431(seeded: Dav) -> None:
    check(seeded("PROPFIND", "/dav/", Depth="0", Authorization="Basic " + "A" * 70_000), 431)


@pytest.mark.parametrize(
    "value",
    [
        'Digest username="tester", realm="davdrive", nonce="abc", uri="/dav/", '
        'response="0123456789abcdef0123456789abcdef"',
        "Bearer abc.def.ghi",
        "NTLM TlRMTVNTUAABAAAAB4IIogAAAAAAAAAAAAAAAAAAAAAGAbEdAAAADw==",
        "Negotiate YIIB",
    ],
    ids=["digest", "bearer", "ntlm", "negotiate"],
)
def test_other_auth_schemes_get_401_with_a_basic_challenge(seeded: Dav, value: str) -> None:
    response = seeded("PROPFIND", "/dav/", Depth="0", Authorization=value)
    check(response, 401)
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith("Basic ")
    assert "Digest" not in challenge
    assert len(response.headers.getlist("WWW-Authenticate")) == 1


def test_wrong_password_and_unknown_user_get_401(seeded: Dav) -> None:
    for login, password in (("tester", "wrong"), ("nobody", "secret"), ("tester", "")):
        response = seeded("PROPFIND", "/dav/", Depth="0", Authorization=basic(login, password))
        check(response, 401)
        assert response.headers["WWW-Authenticate"].startswith("Basic ")


def test_a_very_long_wrong_password_gets_401(seeded: Dav) -> None:
    response = seeded(
        "PROPFIND", "/dav/", Depth="0", Authorization=basic("tester", "p" * 3000)
    )
    check(response, 401)


def test_password_containing_colons_signs_in(app: DriveApp, seeded: Dav) -> None:
    add_user(app.runtime, "colon", "a:b:c")
    response = seeded("PROPFIND", "/dav/", Depth="0", Authorization=basic("colon", "a:b:c"))
    check(response, 207)


# --- NUL, CR, LF and other control bytes ---------------------------------------------


@pytest.mark.parametrize("byte", ["\x00", "\r", "\n", "\x01", "\x1b", "\x7f"])
@pytest.mark.parametrize(
    "header", ["HTTP_X_CUSTOM", "HTTP_DEPTH", "HTTP_AUTHORIZATION", "HTTP_DESTINATION",
               "CONTENT_TYPE"]
)
def test_control_bytes_in_header_values_are_refused_with_400(
    app: DriveApp, seeded: Dav, data_dir: Path, header: str, byte: str
) -> None:
    before = snapshot(seeded, data_dir)
    environ = {header: f"val{byte}ue"}
    if header == "HTTP_AUTHORIZATION":
        environ[header] = basic("tester", "secret") + byte
    for method, path in (("PUT", "/dav/ctl.txt"), ("COPY", "/dav/doc.txt"),
                         ("PROPFIND", "/dav/")):
        extra = {"HTTP_DESTINATION": "/dav/copy.txt"} if method == "COPY" else {}
        response = call(app, method, path, b"x" if method == "PUT" else b"",
                        headers={"Depth": "0"}, environ={**extra, **environ})
        assert response.status_code == 400, (method, response.data)
    assert snapshot(seeded, data_dir) == before


def test_a_tab_in_a_header_value_is_allowed(app: DriveApp, seeded: Dav) -> None:
    response = call(app, "PROPFIND", "/dav/", headers={"Depth": "0", "X-Note": "a\tb"})
    assert response.status_code == 207


@pytest.mark.parametrize(
    "path_info",
    ["/dav/a\x00b", "/dav/a\nb", "/dav/\x00", "/dav/a\x7fb", "/dav/../etc/passwd", "/dav/a\\b",
     "/dav/\xc0\xae\xc0\xae/"],
)
def test_bad_path_info_is_refused_with_400(
    app: DriveApp, seeded: Dav, data_dir: Path, path_info: str
) -> None:
    before = snapshot(seeded, data_dir)
    for method in ("GET", "PUT", "MKCOL"):
        response = call(app, method, "/dav/x", b"x" if method == "PUT" else b"",
                        environ={"PATH_INFO": path_info})
        assert response.status_code == 400, (method, path_info)
    assert snapshot(seeded, data_dir) == before


# --- Depth ------------------------------------------------------------------------


# A missing Depth header means 1 since issue 10 (test_protocol_details.py).
@pytest.mark.parametrize("depth", ["infinity", "Infinity", " INFINITY "])
def test_propfind_with_infinite_depth_is_403_propfind_finite_depth(
    seeded: Dav, depth: str
) -> None:
    response = seeded("PROPFIND", "/dav/", ALLPROP, Depth=depth)
    check(response, 403)
    assert b"propfind-finite-depth" in response.data
    assert response.headers["Content-Type"].startswith("application/xml")


def test_propfind_depth_one_and_zero_are_207(seeded: Dav) -> None:
    check(seeded("PROPFIND", "/dav/", Depth="1"), 207)
    check(seeded("PROPFIND", "/dav/", Depth="0"), 207)


def test_propfind_with_a_nonsense_depth_is_400(seeded: Dav) -> None:
    check(seeded("PROPFIND", "/dav/", Depth="2"), 400)


def test_infinite_propfind_can_be_enabled(
    settings: Settings, app: DriveApp, seeded: Dav
) -> None:
    allowed = create_app(settings.replace(**{"dav.allow_infinite_propfind": True}), app.runtime)
    response = Dav(Client(allowed))("PROPFIND", "/dav/", Depth="infinity")
    check(response, 207)
    assert b"/dav/Folder/" in response.data


# --- upload limit ---------------------------------------------------------------------


@pytest.fixture
def small(settings: Settings, fast_passwords: Passwords, tmp_path: Path) -> Iterator[DriveApp]:
    """An app (and its own data folder) with dav.max_upload_bytes = 1000."""
    limited = settings.replace(
        **{"dav.max_upload_bytes": 1000, "data_dir": str(tmp_path / "small" / "data")}
    )
    rt = open_runtime(limited, fast_passwords)
    with rt.sessions() as session:
        tree.get_root(session)
        session.commit()
    add_user(rt, "tester", "secret")
    yield create_app(limited, rt)
    rt.close()


def test_upload_over_max_upload_bytes_is_413_and_creates_nothing(small: DriveApp) -> None:
    dav = Dav(Client(small))
    data_dir = small.settings.data_dir
    before = snapshot(dav, data_dir)
    check(dav("PUT", "/dav/big.bin", b"x" * 1001), 413)
    check(dav("PROPFIND", "/dav/big.bin", Depth="0"), 404)
    assert snapshot(dav, data_dir) == before


def test_upload_of_exactly_max_upload_bytes_is_accepted(small: DriveApp) -> None:
    dav = Dav(Client(small))
    check(dav("PUT", "/dav/ok.bin", b"x" * 1000), 201)
    assert dav("GET", "/dav/ok.bin").data == b"x" * 1000


def test_oversized_overwrite_keeps_the_old_content(small: DriveApp) -> None:
    dav = Dav(Client(small))
    check(dav("PUT", "/dav/f.bin", b"old"), 201)
    check(dav("PUT", "/dav/f.bin", b"y" * 5000), 413)
    assert dav("GET", "/dav/f.bin").data == b"old"


@pytest.mark.parametrize("expected", [None, "5000"], ids=["plain", "x_expected_entity_length"])
def test_chunked_upload_over_the_limit_is_413_and_creates_nothing(
    small: DriveApp, expected: str | None
) -> None:
    dav = Dav(Client(small))
    data_dir = small.settings.data_dir
    before = snapshot(dav, data_dir)
    environ: dict[str, Any] = {
        "HTTP_TRANSFER_ENCODING": "chunked",
        "wsgi.input": io.BytesIO(b"z" * 5000),
    }
    if expected is not None:
        environ["HTTP_X_EXPECTED_ENTITY_LENGTH"] = expected
    response = call(small, "PUT", "/dav/chunked.bin", drop=("CONTENT_LENGTH",), environ=environ)
    assert response.status_code == 413
    check(dav("PROPFIND", "/dav/chunked.bin", Depth="0"), 404)
    assert snapshot(dav, data_dir) == before


def test_upload_limit_of_the_app_holds_even_with_a_shared_runtime(
    settings: Settings, app: DriveApp, seeded: Dav, data_dir: Path
) -> None:
    """create_app(settings, runtime) with a smaller limit than the runtime's settings."""
    limited = create_app(settings.replace(**{"dav.max_upload_bytes": 1000}), app.runtime)
    before = snapshot(seeded, data_dir)
    check(Dav(Client(limited))("PUT", "/dav/big.bin", b"x" * 1001), 413)
    response = call(
        limited, "PUT", "/dav/big2.bin", drop=("CONTENT_LENGTH",),
        environ={"HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input": io.BytesIO(b"z" * 5000)},
    )
    assert response.status_code == 413
    assert snapshot(seeded, data_dir) == before


# --- downloads --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["x.html", "x.htm", "x.svg", "x.js", "x.xml", "x.xhtml", "x.xsl"]
)
def test_active_content_is_served_as_an_attachment_with_csp(seeded: Dav, name: str) -> None:
    check(seeded("PUT", f"/dav/{name}", b"<script>alert(1)</script>"), 201)
    for method in ("GET", "HEAD"):
        response = seeded(method, f"/dav/{name}")
        check(response, 200)
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Content-Disposition"].startswith("attachment")
        assert name in response.headers["Content-Disposition"]
        assert "default-src 'none'" in response.headers["Content-Security-Policy"]


def test_active_content_keeps_its_headers_on_a_range_request(seeded: Dav) -> None:
    seeded("PUT", "/dav/x.html", b"<script>alert(1)</script>")
    response = seeded("GET", "/dav/x.html", Range="bytes=0-7")
    check(response, 206)
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "Content-Security-Policy" in response.headers


def test_plain_text_gets_nosniff_but_no_attachment(seeded: Dav) -> None:
    response = seeded("GET", "/dav/doc.txt")
    check(response, 200)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "Content-Disposition" not in response.headers


def test_attachment_filename_is_quoted(seeded: Dav) -> None:
    check(seeded("PUT", "/dav/a%20b%3B%20c.html", b"<b>x</b>"), 201)
    disposition = seeded("GET", "/dav/a%20b%3B%20c.html").headers["Content-Disposition"]
    assert disposition == "attachment; filename*=UTF-8''a%20b%3B%20c.html"


# --- unauthenticated probes ----------------------------------------------------------------


def test_options_on_root_without_credentials_is_200_with_dav_header(app: DriveApp) -> None:
    response = Client(app).open("/", method="OPTIONS")
    check(response, 200)
    classes = [c.strip() for c in response.headers["DAV"].split(",")]
    assert "1" in classes
    assert "2" in classes
    assert "WWW-Authenticate" not in response.headers


def test_propfind_without_credentials_is_401_with_basic_challenge(app: DriveApp) -> None:
    for depth in ("0", "1"):
        response = Client(app).open("/dav/", method="PROPFIND", headers={"Depth": depth})
        check(response, 401)
        assert response.headers["WWW-Authenticate"].startswith("Basic ")
        assert "Digest" not in response.headers["WWW-Authenticate"]


def test_unknown_top_level_path_is_404(app: DriveApp) -> None:
    response = Client(app).get("/etc/passwd")
    check(response, 404)


# --- Destination --------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["COPY", "MOVE"])
@pytest.mark.parametrize(
    "destination",
    [
        "https://proxy.example:8443/dav/a2.txt",
        "http://other-host.example/dav/a2.txt",
        "HTTPS://PROXY.EXAMPLE/dav/a2.txt",
        "/dav/a2.txt",
    ],
)
def test_destination_inside_the_mount_is_accepted_whatever_the_host(
    seeded: Dav, method: str, destination: str
) -> None:
    check(seeded(method, "/dav/doc.txt", Destination=destination), 201)
    response = seeded("GET", "/dav/a2.txt")
    check(response, 200)
    assert response.data == b"some text"
    check(seeded("GET", "/dav/doc.txt"), 404 if method == "MOVE" else 200)


def test_destination_with_encoded_name_is_decoded_once(seeded: Dav) -> None:
    dest = "https://proxy.example/dav/Folder/na%C3%AFve%20copy.txt"
    check(seeded("COPY", "/dav/doc.txt", Destination=dest), 201)
    check(seeded("GET", "/dav/Folder/na%C3%AFve%20copy.txt"), 200)
    check(seeded("COPY", "/dav/doc.txt", Destination="/dav/C%23%20notes%25.txt"), 201)
    check(seeded("GET", "/dav/C%23%20notes%25.txt"), 200)


@pytest.mark.parametrize(
    "destination",
    ["/dav/report;v2.txt", "/dav/report%3Bv2.txt", "https://proxy.example/dav/report;v2.txt"],
)
@pytest.mark.parametrize("method", ["COPY", "MOVE"])
def test_semicolon_in_the_destination_name_is_kept(
    seeded: Dav, method: str, destination: str
) -> None:
    """WsgiDAV's urlparse would read 'report;v2.txt' as 'report' with parameters."""
    check(seeded("PUT", "/dav/report", b"precious"), 201)
    check(seeded(method, "/dav/doc.txt", Destination=destination), 201)
    assert seeded("GET", "/dav/report").data == b"precious"
    assert seeded("GET", "/dav/report%3Bv2.txt").data == b"some text"


def test_semicolon_in_a_folder_destination_is_kept(seeded: Dav) -> None:
    check(seeded("MOVE", "/dav/Folder/", Destination="/dav/F;2/"), 201)
    check(seeded("PROPFIND", "/dav/F%3B2/", Depth="0"), 207)
    check(seeded("PROPFIND", "/dav/F/", Depth="0"), 404)


def test_question_mark_in_the_destination_is_refused_with_400(
    seeded: Dav, data_dir: Path
) -> None:
    """Decoded by WsgiDAV, '%3F' would start a query and cut the name ('what')."""
    before = snapshot(seeded, data_dir)
    check(seeded("COPY", "/dav/doc.txt", Destination="/dav/what%3F.txt"), 400)
    assert snapshot(seeded, data_dir) == before


@pytest.mark.parametrize("method", ["COPY", "MOVE"])
@pytest.mark.parametrize(
    "destination",
    [
        "https://proxy.example:8443/admin/a2.txt",
        "https://proxy.example/etc/passwd",
        "/etc/passwd",
        "/davx/a2.txt",
        "/",
        "http://localhost/other/a2.txt",
    ],
)
def test_destination_outside_the_mount_is_refused_with_502(
    seeded: Dav, data_dir: Path, method: str, destination: str
) -> None:
    before = snapshot(seeded, data_dir)
    response = seeded(method, "/dav/doc.txt", Destination=destination)
    check(response, 502)
    assert b"Internal error" not in response.data  # a client mistake, not a server fault
    assert snapshot(seeded, data_dir) == before


@pytest.mark.parametrize("method", ["COPY", "MOVE"])
@pytest.mark.parametrize(
    "destination",
    [
        "/dav/../etc/passwd",
        "/dav/%2e%2e/%2e%2e/etc/passwd",
        "https://proxy.example/dav/%2E%2E/x.txt",
        "/dav/a%2fb.txt",
        "/dav/a%5cb.txt",
        "/dav/a%00b.txt",
        "/dav/a%0ab.txt",
        "/dav/%c0%ae%c0%ae/x.txt",
        "/dav/%ff.txt",
        "/dav/%252e%252e",
        "/dav/%252e%252e/x.txt",
        "/dav/a\\b.txt",
    ],
)
def test_destination_with_traversal_or_bad_encoding_is_refused_with_400(
    seeded: Dav, data_dir: Path, method: str, destination: str
) -> None:
    before = snapshot(seeded, data_dir)
    check(seeded(method, "/dav/doc.txt", Destination=destination), 400)
    assert snapshot(seeded, data_dir) == before


def test_missing_destination_is_400(seeded: Dav) -> None:
    check(seeded("COPY", "/dav/doc.txt"), 400)


# --- header values that end up stored ------------------------------------------------------
# These exercise provider/resources.py and provider/errors.py (not the hardening layer).


@pytest.mark.parametrize(
    "mtime", ["9" * 25, "253402300800", "99999999999999"], ids=["25_digits", "year_10000", "big"]
)
def test_out_of_range_x_oc_mtime_is_refused_with_400(seeded: Dav, mtime: str) -> None:
    """A modification time no date formatter can render would make the file unreadable."""
    response = seeded("PUT", "/dav/m.txt", b"x", X_OC_Mtime=mtime)
    check(response, 400)
    check(seeded("GET", "/dav/m.txt"), 404)
    check(seeded("PROPFIND", "/dav/", Depth="1"), 207)


def test_x_oc_mtime_never_makes_a_file_unreadable(seeded: Dav) -> None:
    """Whatever the answer to the PUT, GET and PROPFIND of the file must never be 500."""
    status = seeded("PUT", "/dav/m.txt", b"x", X_OC_Mtime="9" * 25).status_code
    assert status in (201, 400)
    check(seeded("GET", "/dav/m.txt"), 200 if status == 201 else 404)
    listing = seeded("PROPFIND", "/dav/", Depth="1")
    check(listing, 207)
    assert b"500 Internal Server Error" not in listing.data


def test_non_ascii_digit_x_oc_mtime_is_refused_with_400_not_500(app: DriveApp, seeded: Dav) -> None:
    """'\\xb2' (superscript two, one latin-1 byte) passes str.isdigit() but not float()."""
    response = call(app, "PUT", "/dav/m.txt", b"x", environ={"HTTP_X_OC_MTIME": "\xb2"})
    assert response.status_code == 400
    check(seeded("GET", "/dav/m.txt"), 404)


def test_put_with_content_encoding_gets_its_reason_not_internal_error(
    seeded: Dav, data_dir: Path
) -> None:
    """WsgiDAV refuses Content-Encoding with 501: a deliberate answer, not an internal error."""
    before = snapshot(seeded, data_dir)
    response = seeded("PUT", "/dav/z.txt", b"x", Content_Encoding="gzip")
    check(response, 501)
    assert b"Internal error" not in response.data
    assert b"Content-encoding" in response.data
    assert snapshot(seeded, data_dir) == before


DEEP_BODIES = {
    "PROPPATCH": (
        '<D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:z"><D:set><D:prop><Z:p>{deep}</Z:p>'
        "</D:prop></D:set></D:propertyupdate>"
    ),
    "LOCK": (
        '<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope>'
        "<D:locktype><D:write/></D:locktype><D:owner>{deep}</D:owner></D:lockinfo>"
    ),
    "PROPFIND": '<D:propfind xmlns:D="DAV:"><D:prop>{deep}</D:prop></D:propfind>',
}


@pytest.mark.parametrize("method", sorted(DEEP_BODIES))
def test_deep_xml_in_any_dav_body_is_400_without_traceback(
    seeded: Dav, data_dir: Path, method: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 9, finding 10: a body nesting 1000 levels (lxml stops at 256): 400, one log line."""
    before = snapshot(seeded, data_dir)
    caplog.set_level(logging.INFO)
    caplog.clear()
    body = DEEP_BODIES[method].format(deep="<a>" * 1000 + "</a>" * 1000)
    response = seeded(method, "/dav/doc.txt", body, Depth="0", Timeout="Second-60")
    check(response, 400)
    assert b"nests deeper than" in response.data
    assert [r for r in caplog.records if r.exc_info] == []
    assert len([r for r in caplog.records if "nests deeper" in r.getMessage()]) == 1
    assert snapshot(seeded, data_dir) == before


def test_nesting_within_the_limit_is_accepted(seeded: Dav) -> None:
    """Dead property values may hold some XML structure: 20 levels are fine."""
    body = DEEP_BODIES["PROPPATCH"].format(deep="<a>" * 20 + "x" + "</a>" * 20)
    response = seeded("PROPPATCH", "/dav/doc.txt", body)
    assert response.status_code == 207
    assert b"200 OK" in response.data
