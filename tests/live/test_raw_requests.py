"""Hostile requests over raw sockets against the real cheroot server.

Client libraries normalise URLs (``..``, ``%2e``, backslashes) before sending
them, so these requests are written byte by byte. Each must get a 4xx, never
a 500, never a byte of a file outside the drive, and must create nothing.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from davdrive import tree
from davdrive.passwords import Passwords
from davdrive.runtime import open_runtime
from davdrive.server import create_app
from davdrive.settings import Settings
from tests.conftest import LiveServer, add_user, basic, serving

pytestmark = pytest.mark.live

AUTH = basic("tester", "secret")
OUTSIDE_SECRET = b"TOP-SECRET-OUTSIDE-THE-DRIVE"
PASSWD = Path("/etc/passwd")
PASSWD_LINES = (
    [line.encode() for line in PASSWD.read_text().splitlines() if line.strip()][:3]
    if PASSWD.exists()
    else []
)
LEAK_MARKERS = [b"Traceback", b'File "', b"root:x:0:0", OUTSIDE_SECRET, *PASSWD_LINES]
XXE = (
    b'<?xml version="1.0"?><!DOCTYPE D:propfind [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    b'<D:propfind xmlns:D="DAV:"><D:prop><D:displayname/></D:prop>'
    b"<D:owner>&xxe;</D:owner></D:propfind>"
)


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes


def _dechunk(body: bytes) -> bytes:
    out = b""
    while body:
        size_line, _, rest = body.partition(b"\r\n")
        size = int(size_line.split(b";")[0] or b"0", 16)
        if size == 0:
            break
        out += rest[:size]
        body = rest[size + 2 :]
    return out


def parse(raw: bytes) -> Reply:
    head, _, body = raw.partition(b"\r\n\r\n")
    while head.startswith(b"HTTP/1.1 1"):  # interim answer (100 Continue): skip it
        head, _, body = body.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert lines and lines[0].startswith(b"HTTP/1."), raw[:200]
    status = int(lines[0].split()[1])
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = _dechunk(body)
    return Reply(status, headers, body)


def exchange(port: int, data: bytes, timeout: float = 10) -> Reply:
    """Send ``data`` on a fresh connection and read the answer until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        # The server may answer and hang up before it has read everything.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(data)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except (ConnectionResetError, TimeoutError):
                break
            if not chunk:
                break
            chunks.append(chunk)
    reply = parse(b"".join(chunks))
    for marker in LEAK_MARKERS:
        assert marker not in reply.body, f"answer leaks {marker!r}: {reply.body[:300]!r}"
    return reply


def request(
    port: int,
    method: str,
    target: bytes | str,
    body: bytes = b"",
    *,
    headers: dict[str, str] | None = None,
    auth: str | None = AUTH,
    extra_head: bytes = b"",
    chunked: bool = False,
) -> Reply:
    if isinstance(target, str):
        target = target.encode("latin-1")
    hdrs = {"Host": f"127.0.0.1:{port}", "Connection": "close"}
    if auth is not None:
        hdrs["Authorization"] = auth
    if chunked:
        hdrs["Transfer-Encoding"] = "chunked"
        body = b"".join(
            b"%x\r\n%s\r\n" % (len(body[i : i + 4096]), body[i : i + 4096])
            for i in range(0, len(body), 4096)
        ) + b"0\r\n\r\n"
    elif body or method in ("PUT", "PROPFIND", "PROPPATCH", "LOCK"):
        hdrs["Content-Length"] = str(len(body))
    hdrs.update(headers or {})
    head = method.encode() + b" " + target + b" HTTP/1.1\r\n"
    head += b"".join(f"{k}: {v}\r\n".encode("latin-1") for k, v in hdrs.items())
    return exchange(port, head + extra_head + b"\r\n" + body)


def listing(port: int) -> bytes:
    reply = request(port, "PROPFIND", "/dav/", headers={"Depth": "1"})
    assert reply.status == 207
    return reply.body


def outside_files(data_dir: Path) -> set[str]:
    """Files anywhere under the test folder except the blob store and the database."""
    top = data_dir.parent
    found = set()
    for p in top.rglob("*"):
        if not p.is_file():
            continue
        rel = p.relative_to(top)
        if rel.parts[:2] == (data_dir.name, "blobs"):
            continue
        if rel.parts[0] == data_dir.name and p.name.startswith("davdrive.sqlite3"):
            continue
        found.add(str(rel))
    return found


def state(live: LiveServer) -> tuple[bytes, set[str]]:
    return listing(live.port), outside_files(live.app.settings.data_dir)


@pytest.fixture
def seeded(live: LiveServer) -> LiveServer:
    data_dir = live.app.settings.data_dir
    # Targets a traversal would reach: next to the data folder and inside it.
    (data_dir.parent / "secret").write_bytes(OUTSIDE_SECRET)
    (data_dir / "secret").write_bytes(OUTSIDE_SECRET)
    assert request(live.port, "PUT", "/dav/doc.txt", b"inside").status == 201
    assert request(live.port, "MKCOL", "/dav/sub/").status == 201
    assert request(live.port, "PUT", "/dav/sub/doc.txt", b"nested").status == 201
    return live


def assert_alive(port: int) -> None:
    reply = request(port, "PROPFIND", "/dav/", headers={"Depth": "0"})
    assert reply.status == 207


# --- traversal and encodings ------------------------------------------------------------

BAD_TARGETS = [
    b"/dav/../etc/passwd",
    b"/dav/../../../../../../etc/passwd",
    b"/dav/sub/../../secret",
    b"/dav/./doc.txt",
    b"/dav/%2e%2e/%2e%2e/etc/passwd",
    b"/dav/%2E%2E/%2E%2E/%2E%2E/%2E%2E/etc/passwd",
    b"/dav/.%2e/secret",
    b"/dav/a%2fb",
    b"/dav/sub%2Fdoc.txt",
    b"/dav/%2E%2E%2Fsecret",
    b"/dav/%2e%2e%2f%2e%2e%2fsecret",
    b"/dav/%252e%252e/",
    b"/dav/%252e%252e/%252e%252e/etc/passwd",
    b"/dav/%252e%252e%252fsecret",
    b"/dav/%c0%ae%c0%ae/",
    b"/dav/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd",
    b"/dav/%c0%af",
    b"/dav/%e0%80%ae%e0%80%ae/secret",
    b"/dav/%ed%a0%80",
    b"/dav/%ff",
    b"/dav/%00",
    b"/dav/doc.txt%00.html",
    b"/dav/a%0d%0aSet-Cookie:%20x=1",
    b"/dav/a%5cb",
    b"/dav/..%5c..%5csecret",
    b"/dav/..\\..\\etc\\passwd",
    b"/dav\\..\\secret",
    b"/dav/sub\\doc.txt",
    b"/../etc/passwd",
    b"/%2e%2e/%2e%2e/etc/passwd",
    b"/admin/../dav/doc.txt",
]


@pytest.mark.parametrize("target", BAD_TARGETS, ids=[t.decode("latin-1") for t in BAD_TARGETS])
def test_traversal_and_encoding_tricks_are_refused_with_400_and_create_nothing(
    seeded: LiveServer, target: bytes
) -> None:
    data_dir = seeded.app.settings.data_dir
    before = state(seeded)
    blobs_before = sorted((data_dir / "blobs").rglob("*"))
    for method in ("GET", "HEAD", "PROPFIND", "PROPPATCH", "DELETE", "MKCOL", "LOCK", "PUT"):
        body = b"planted by a traversal" if method == "PUT" else b""
        reply = request(seeded.port, method, target, body, headers={"Depth": "0"})
        assert reply.status == 400, (method, reply.status, reply.body[:200])
    assert state(seeded) == before
    assert sorted((data_dir / "blobs").rglob("*")) == blobs_before
    assert (data_dir.parent / "secret").read_bytes() == OUTSIDE_SECRET
    assert (data_dir / "secret").read_bytes() == OUTSIDE_SECRET


def test_absolute_form_target_with_traversal_is_refused(seeded: LiveServer) -> None:
    target = f"http://127.0.0.1:{seeded.port}/dav/../../secret"
    assert request(seeded.port, "GET", target).status == 400


@pytest.mark.parametrize(
    "destination",
    [
        "/dav/../secret",
        "/dav/%2e%2e/%2e%2e/secret",
        "/dav/a%2fb.txt",
        "/dav/%252e%252e/secret",
        "/dav/%c0%ae%c0%ae/secret",
        "/dav/a%5cb.txt",
        "/dav/..\\..\\secret",
        "/dav/%00.txt",
        "/dav/a%0ab.txt",
    ],
)
@pytest.mark.parametrize("method", ["COPY", "MOVE"])
def test_copy_or_move_to_a_traversal_destination_creates_nothing(
    seeded: LiveServer, method: str, destination: str
) -> None:
    before = state(seeded)
    reply = request(seeded.port, method, "/dav/doc.txt", headers={"Destination": destination})
    assert reply.status == 400, (reply.status, reply.body[:200])
    assert state(seeded) == before


@pytest.mark.parametrize("method", ["COPY", "MOVE"])
def test_copy_or_move_outside_the_mount_is_refused_with_502(
    seeded: LiveServer, method: str
) -> None:
    before = state(seeded)
    for destination in ("https://proxy.example/secret", "/admin/x.txt", "/davx/x.txt"):
        reply = request(seeded.port, method, "/dav/doc.txt", headers={"Destination": destination})
        assert reply.status == 502, (destination, reply.body[:200])
    assert state(seeded) == before


def test_destination_from_a_tls_proxy_is_accepted(seeded: LiveServer) -> None:
    reply = request(
        seeded.port, "COPY", "/dav/doc.txt",
        headers={"Destination": "https://proxy.example:8443/dav/a2.txt"},
    )
    assert reply.status == 201
    assert request(seeded.port, "GET", "/dav/a2.txt").body == b"inside"


def test_encoded_utf8_names_work(seeded: LiveServer) -> None:
    assert request(seeded.port, "PUT", "/dav/na%C3%AFve%20file.txt", b"ok").status == 201
    reply = request(seeded.port, "GET", "/dav/na%C3%AFve%20file.txt")
    assert reply.status == 200
    assert reply.body == b"ok"
    assert b"/dav/na%C3%AFve%20file.txt" in listing(seeded.port)


def test_raw_utf8_destination_is_understood(seeded: LiveServer) -> None:
    """Some clients send the Destination path unescaped: same name as the %-escaped form."""
    head_value = "/dav/caf\u00e9.txt".encode().decode("latin-1")
    reply = request(seeded.port, "COPY", "/dav/doc.txt", headers={"Destination": head_value})
    assert reply.status == 201
    assert request(seeded.port, "GET", "/dav/caf%C3%A9.txt").body == b"inside"


# --- headers ----------------------------------------------------------------------------------


def test_headers_over_64_kib_get_431_and_the_server_keeps_answering(seeded: LiveServer) -> None:
    before = state(seeded)
    reply = request(seeded.port, "PUT", "/dav/new.txt", b"x", headers={"X-Pad": "a" * 70_000})
    assert reply.status == 431
    assert_alive(seeded.port)
    assert state(seeded) == before


def test_headers_far_over_the_limit_get_a_4xx_from_cheroot(seeded: LiveServer) -> None:
    before = state(seeded)
    reply = request(seeded.port, "PUT", "/dav/new.txt", b"x", headers={"X-Pad": "a" * 300_000})
    assert 400 <= reply.status < 500
    assert_alive(seeded.port)
    assert state(seeded) == before


def test_many_small_headers_over_64_kib_get_431(seeded: LiveServer) -> None:
    extra = b"".join(b"X-Pad-%d: %s\r\n" % (i, b"b" * 1000) for i in range(68))
    reply = request(seeded.port, "PROPFIND", "/dav/", headers={"Depth": "0"}, extra_head=extra)
    assert reply.status == 431
    assert_alive(seeded.port)


@pytest.mark.parametrize("byte", [b"\x00", b"\x01", b"\x7f"])
def test_control_bytes_in_a_header_value_get_400(seeded: LiveServer, byte: bytes) -> None:
    before = state(seeded)
    extra = b"X-Evil: a" + byte + b"b\r\n"
    reply = request(seeded.port, "PUT", "/dav/ctl.txt", b"x", extra_head=extra)
    assert reply.status == 400
    assert state(seeded) == before
    assert_alive(seeded.port)


def test_malformed_authorization_headers_never_give_500(seeded: LiveServer) -> None:
    for value, status in [
        ("Basic !!!", 400),
        ("Basic dGVzdGVy", 400),  # "tester" without ':'
        ("Basic dGVzdGVyOnP pY3I=", 400),
        ("Basic " + "QUFB" * 2000, 400),
        ("Digest username=\"tester\"", 401),
        (basic("tester", "wrong"), 401),
    ]:
        reply = request(seeded.port, "PROPFIND", "/dav/", headers={"Depth": "0"}, auth=value)
        assert reply.status == status, value
        if status == 401:
            assert reply.headers["www-authenticate"].startswith("Basic ")
    raw_latin1 = b"Authorization: Basic " + b"\xe9\xe9\xe9\r\n"
    reply = request(seeded.port, "PROPFIND", "/dav/", headers={"Depth": "0"}, auth=None,
                    extra_head=raw_latin1)
    assert reply.status == 400


def test_options_root_without_credentials_and_propfind_challenge(live: LiveServer) -> None:
    reply = request(live.port, "OPTIONS", "/", auth=None)
    assert reply.status == 200
    assert {"1", "2"} <= {c.strip() for c in reply.headers["dav"].split(",")}
    reply = request(live.port, "PROPFIND", "/dav/", headers={"Depth": "1"}, auth=None)
    assert reply.status == 401
    assert reply.headers["www-authenticate"].startswith("Basic ")


# --- bodies -----------------------------------------------------------------------------------


def test_xxe_over_the_wire_is_refused_with_400(seeded: LiveServer) -> None:
    reply = request(seeded.port, "PROPFIND", "/dav/", XXE, headers={"Depth": "0"})
    assert reply.status == 400
    reply = request(seeded.port, "PROPFIND", "/dav/", XXE, headers={"Depth": "0"}, chunked=True)
    assert reply.status == 400
    assert_alive(seeded.port)


def test_xml_body_over_one_mib_gets_413_and_the_server_keeps_answering(
    seeded: LiveServer,
) -> None:
    body = b'<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:allprop/>' + b" " * (
        1024 * 1024
    ) + b"</D:propfind>"
    for chunked in (False, True):
        reply = request(seeded.port, "PROPFIND", "/dav/", body, headers={"Depth": "1"},
                        chunked=chunked)
        assert reply.status == 413, chunked
        assert_alive(seeded.port)


def test_propfind_depth_rules(seeded: LiveServer) -> None:
    reply = request(seeded.port, "PROPFIND", "/dav/", headers={"Depth": "infinity"})
    assert reply.status == 403
    assert b"propfind-finite-depth" in reply.body
    # Without a Depth header: Depth 1, as SabreDAV answers it (issue 10, docs/decisions.md).
    reply = request(seeded.port, "PROPFIND", "/dav/")
    assert reply.status == 207
    assert reply.body == request(seeded.port, "PROPFIND", "/dav/", headers={"Depth": "1"}).body


# --- upload limit with the real server ----------------------------------------------------------


@pytest.fixture
def small_live(
    settings: Settings, fast_passwords: Passwords, tmp_path: Path
) -> Iterator[LiveServer]:
    limited = settings.replace(
        **{"dav.max_upload_bytes": 1000, "data_dir": str(tmp_path / "small" / "data")}
    )
    rt = open_runtime(limited, fast_passwords)
    with rt.sessions() as session:
        tree.get_root(session)
        session.commit()
    add_user(rt, "tester", "secret")
    app = create_app(limited, rt)
    with serving(app) as server:
        yield server
    rt.close()


def no_temp_files(data_dir: Path) -> bool:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if not any((data_dir / "blobs" / "tmp").iterdir()):
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("chunked", [False, True], ids=["content_length", "chunked"])
def test_upload_over_the_limit_gets_413_and_stores_nothing(
    small_live: LiveServer, chunked: bool
) -> None:
    before = state(small_live)
    reply = request(small_live.port, "PUT", "/dav/big.bin", b"z" * 50_000, chunked=chunked)
    assert reply.status == 413
    assert request(small_live.port, "GET", "/dav/big.bin").status == 404
    assert state(small_live) == before
    assert no_temp_files(small_live.app.settings.data_dir)
    assert_alive(small_live.port)


def test_finder_style_upload_over_the_limit_gets_413(small_live: LiveServer) -> None:
    reply = request(
        small_live.port, "PUT", "/dav/finder.bin", b"z" * 100, chunked=True,
        headers={"X-Expected-Entity-Length": "50000"},
    )
    assert reply.status == 413
    assert request(small_live.port, "GET", "/dav/finder.bin").status == 404


def test_oversized_upload_with_expect_continue_is_refused_before_the_body(
    small_live: LiveServer,
) -> None:
    """The 413 comes without the body being sent.

    cheroot answers "100 Continue" on its own before the application runs (so a
    client may start sending); the final answer is still the 413.
    """
    head = (
        f"PUT /dav/expect.bin HTTP/1.1\r\nHost: 127.0.0.1:{small_live.port}\r\n"
        f"Authorization: {AUTH}\r\nContent-Length: 50000\r\nExpect: 100-continue\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    reply = exchange(small_live.port, head, timeout=5)
    assert reply.status == 413
    assert request(small_live.port, "GET", "/dav/expect.bin").status == 404
