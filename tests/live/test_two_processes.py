"""Two `davdrive serve` processes, A and B, on one drive: PostgreSQL metadata, S3 contents.

Each process has its own data folder (as on two hosts) and is configured by
the environment only; they share nothing but the database and the bucket
(docs/several-machines.md). Rules:

- a file written through A is read through B byte for byte, whole or by
  range, also one that went up in several parts;
- a LOCK taken through A is enforced by B (423 without its token, success
  with it);
- a password changed through A's web view is refused by B at its very next
  request, though B had it in its credential cache, and the new one accepted;
- a folder right removed through A's admin view hides the folder on B at its
  very next request (404 to PROPFIND and GET), though B had served it;
- 8 clients writing through both processes at once leave an event chain that
  verifies, with one event per write sent;
- litmus passes every suite against B.

The processes run for the whole module (starting them is most of its time);
each test works in its own folder or with its own user.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
import requests
from sqlalchemy import func, select

from davdrive.models import AuditEvent
from davdrive.passwords import Passwords
from davdrive.runtime import Runtime
from tests.conftest import add_user, basic, require_tool
from tests.live.test_litmus import run_litmus
from tests.live.two_hosts import Host, Shared, content_keys, make_folder, new_bucket
from tests.postgres import PostgresServer
from tests.s3 import bucket_keys, multipart_uploads
from tests.web_forms import csrf_token, signed_in

pytestmark = pytest.mark.live

MiB = 1024 * 1024
MEMBER, MEMBER_PW = "member", "member-pass-1"
PAT, PAT_OLD, PAT_NEW = "pat", "pat-old-password", "pat-new-password"
ADMIN, ADMIN_PW = "boss", "boss-pass-word"
LIT, LIT_PW = "lit", "litmus-pass-1"
CLIENTS, ROUNDS = 8, 3


@dataclass
class Pair:
    shared: Shared
    runtime: Runtime  # the same drive opened in the test process, to look at it
    a: Host
    b: Host


@pytest.fixture(scope="module")
def pair(
    request: pytest.FixtureRequest, postgres_server: PostgresServer, moto_endpoint: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Pair]:
    """A new database and bucket; users member and pat (category staff, write on the
    root), boss (admin), lit (category writer: nothing on the root, write on /litmus);
    then A and B serving them."""
    name = postgres_server.fresh()
    shared = Shared(postgres_server.url(name), moto_endpoint, new_bucket(moto_endpoint),
                    tmp_path_factory.mktemp("two-processes"))
    runtime = shared.runtime(Passwords(time_cost=1, memory_cost=8, parallelism=1))
    try:
        add_user(runtime, MEMBER, MEMBER_PW, category="staff")
        add_user(runtime, PAT, PAT_OLD, category="staff")
        add_user(runtime, ADMIN, ADMIN_PW, category="admin")
        add_user(runtime, LIT, LIT_PW, category="writer", root_right="none")
        make_folder(runtime, "/litmus", {"writer": "write"})
        a, b = shared.start("a", "b")
        yield Pair(shared, runtime, a, b)
    finally:
        shared.stop_all()
        runtime.close()
        postgres_server.drop(name)


def as_member(**headers: str) -> dict[str, str]:
    return {"Authorization": basic(MEMBER, MEMBER_PW), **headers}


def dav(host: Host, method: str, path: str, auth: tuple[str, str] = (MEMBER, MEMBER_PW),
        body: bytes = b"", **headers: str) -> requests.Response:
    """``method`` on ``host``'s ``/dav/<path>`` as ``auth``."""
    return requests.request(
        method, host.url + path, data=body, timeout=60,
        headers={"Authorization": basic(*auth), **{k.replace("_", "-"): v
                                                    for k, v in headers.items()}},
    )


def listing(host: Host, path: str, auth: tuple[str, str] = (MEMBER, MEMBER_PW)) -> list[str]:
    """The names PROPFIND Depth 1 lists in folder ``path`` (the folder itself left out)."""
    answer = dav(host, "PROPFIND", path, auth, Depth="1")
    assert answer.status_code == 207, answer.status_code
    hrefs = [unquote(urlsplit(h).path).rstrip("/")
             for h in re.findall(r"<(?:\w+:)?href>([^<]+)</", answer.text)]
    own = unquote(urlsplit(host.url).path + path).rstrip("/")
    return sorted(h.rsplit("/", 1)[1] for h in hrefs if h != own)


def test_a_file_written_through_a_is_read_byte_for_byte_through_b(pair: Pair) -> None:
    medium, large = os.urandom(300_000), os.urandom(12 * MiB + 17)  # one PUT; three parts
    assert dav(pair.a, "MKCOL", "files/").status_code == 201
    assert dav(pair.a, "PUT", "files/medium.bin", body=medium).status_code == 201
    assert dav(pair.a, "PUT", "files/large.bin", body=large).status_code == 201
    for name, data in (("medium.bin", medium), ("large.bin", large)):
        whole = dav(pair.b, "GET", "files/" + name)
        assert whole.status_code == 200 and whole.content == data, name
        assert whole.headers["ETag"] == f'"{hashlib.sha256(data).hexdigest()}"'
    middle = dav(pair.b, "GET", "files/large.bin", Range="bytes=6000000-6000999")
    assert middle.status_code == 206 and middle.content == large[6_000_000:6_001_000]
    assert middle.headers["Content-Range"] == f"bytes 6000000-6000999/{len(large)}"
    tail = dav(pair.b, "GET", "files/large.bin", Range="bytes=-500")
    assert tail.status_code == 206 and tail.content == large[-500:]
    # B read them from the bucket: neither process keeps contents in its data folder.
    store = pair.shared.store(pair.runtime)
    keys = bucket_keys(store)
    for data in (medium, large):
        assert store.keys.blob(hashlib.sha256(data).hexdigest()) in keys
    assert content_keys(store, keys) == keys and multipart_uploads(store) == []
    for host in (pair.a, pair.b):
        assert not any(p.is_file() for p in (host.data / "blobs").rglob("*"))


LOCKINFO = (b'<?xml version="1.0" encoding="utf-8"?><D:lockinfo xmlns:D="DAV:">'
            b"<D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype>"
            b"<D:owner>A</D:owner></D:lockinfo>")


def test_a_lock_taken_through_a_is_enforced_by_b(pair: Pair) -> None:
    assert dav(pair.a, "PUT", "locked.txt", body=b"first").status_code == 201
    locked = dav(pair.a, "LOCK", "locked.txt", body=LOCKINFO, Timeout="Second-600",
                 Content_Type="application/xml")
    assert locked.status_code == 200, locked.text
    token = locked.headers["Lock-Token"]
    refused = dav(pair.b, "PUT", "locked.txt", body=b"from B without the token")
    assert refused.status_code == 423
    assert dav(pair.b, "DELETE", "locked.txt").status_code == 423
    assert dav(pair.b, "GET", "locked.txt").content == b"first"
    written = dav(pair.b, "PUT", "locked.txt", body=b"from B with the token", If=f"({token})")
    assert written.status_code == 204
    assert dav(pair.a, "GET", "locked.txt").content == b"from B with the token"
    assert dav(pair.b, "UNLOCK", "locked.txt", Lock_Token=token).status_code == 204
    assert dav(pair.a, "PUT", "locked.txt", body=b"free again").status_code == 204


def test_a_password_changed_through_a_is_refused_by_b_at_the_next_request(pair: Pair) -> None:
    old, new = (PAT, PAT_OLD), (PAT, PAT_NEW)
    for _ in range(2):  # B has the old password in its credential cache
        assert dav(pair.b, "PROPFIND", "", old, Depth="0").status_code == 207
    browser = signed_in(pair.a.root, PAT, PAT_OLD)
    page = browser.get(pair.a.root + "/admin/account", timeout=30)
    changed = browser.post(pair.a.root + "/admin/account/password", timeout=30,
                           allow_redirects=False, data={
                               "current": PAT_OLD, "new": PAT_NEW, "again": PAT_NEW,
                               "csrf_token": csrf_token(page.text)})
    assert changed.status_code == 303 and "saved=password" in changed.headers["Location"]
    assert dav(pair.b, "PROPFIND", "", old, Depth="0").status_code == 401
    assert dav(pair.b, "PROPFIND", "", new, Depth="0").status_code == 207
    assert dav(pair.a, "PROPFIND", "", old, Depth="0").status_code == 401


def test_a_right_removed_through_a_hides_the_folder_on_b_at_the_next_request(
    pair: Pair,
) -> None:
    assert dav(pair.a, "MKCOL", "Board/").status_code == 201
    assert dav(pair.a, "PUT", "Board/minutes.txt", body=b"The board met.").status_code == 201
    # B serves the folder to the member (its caches of rights and paths are warm).
    assert listing(pair.b, "Board/") == ["minutes.txt"]
    assert dav(pair.b, "GET", "Board/minutes.txt").content == b"The board met."
    assert "Board" in listing(pair.b, "")
    browser = signed_in(pair.a.root, ADMIN, ADMIN_PW)
    page = browser.get(pair.a.root + "/admin/folders", params={"path": "/Board"}, timeout=30)
    assert 'name="right-staff"' in page.text
    saved = browser.post(pair.a.root + "/admin/folders/rights", timeout=30,
                         allow_redirects=False, data={
                             "path": "/Board", "right-staff": "none",
                             "csrf_token": csrf_token(page.text)})
    assert saved.status_code == 303 and "Rights+saved" in saved.headers["Location"]
    assert dav(pair.b, "PROPFIND", "Board/", Depth="1").status_code == 404
    assert dav(pair.b, "GET", "Board/minutes.txt").status_code == 404
    assert "Board" not in listing(pair.b, "")
    # The admin still sees it, through either process.
    assert dav(pair.b, "GET", "Board/minutes.txt", (ADMIN, ADMIN_PW)).status_code == 200


def _client(hosts: tuple[Host, Host], i: int, barrier: threading.Barrier,
            sent: list[tuple[str, int, int]]) -> None:
    """Client ``i``: MKCOL its folder, then rounds of PUT (create), PUT (overwrite) and
    MOVE, then one DELETE; each request through the other process than the last."""
    sessions = [requests.Session(), requests.Session()]
    folder = f"load/c{i}/"
    steps: list[tuple[str, str, bytes, dict[str, str], int]] = [
        ("MKCOL", folder, b"", {}, 201)]
    for r in range(ROUNDS):
        steps += [
            ("PUT", f"{folder}f{r}.txt", b"one %d %d" % (i, r), {}, 201),
            ("PUT", f"{folder}f{r}.txt", b"two %d %d" % (i, r), {}, 204),
            ("MOVE", f"{folder}f{r}.txt", b"",
             {"Destination": f"{folder}g{r}.txt", "Overwrite": "F"}, 201),
        ]
    steps.append(("DELETE", f"{folder}g0.txt", b"", {}, 204))
    barrier.wait(timeout=30)
    for n, (method, path, body, extra, expected) in enumerate(steps):
        which = (i + n) % 2
        host = hosts[which]
        headers = as_member(**extra)
        if "Destination" in headers:
            headers["Destination"] = host.url + headers["Destination"]
        answer = sessions[which].request(method, host.url + path, data=body, headers=headers,
                                         timeout=60)
        sent.append((method, answer.status_code, expected))


def test_eight_clients_writing_through_both_processes_leave_a_chain_that_verifies(
    pair: Pair,
) -> None:
    assert dav(pair.a, "MKCOL", "load/").status_code == 201
    with pair.runtime.sessions() as session:
        before = session.scalar(select(func.max(AuditEvent.id)))
    sent: list[tuple[str, int, int]] = []
    barrier = threading.Barrier(CLIENTS)
    threads = [threading.Thread(target=_client, args=((pair.a, pair.b), i, barrier, sent))
               for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(sent) == CLIENTS * (2 + 3 * ROUNDS)
    assert [(m, got) for m, got, expected in sent if got != expected] == []
    verified = pair.shared.cli("tools", "audit", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "chain intact" in verified.stdout
    with pair.runtime.sessions() as session:
        events = session.execute(
            select(AuditEvent.action, AuditEvent.user_login).where(AuditEvent.id > before)
        ).all()
    assert {login for _, login in events} == {MEMBER}
    # A process audits a password it verifies (not one it has cached): sign-ins aside,
    # one event per write.
    actions = Counter(action for action, _ in events if action != "login")
    assert actions == {"mkcol": CLIENTS, "create": CLIENTS * ROUNDS,
                       "overwrite": CLIENTS * ROUNDS, "move": CLIENTS * ROUNDS,
                       "delete": CLIENTS}
    names = sorted(listing(pair.b, "load/c0/"))
    assert names == [f"g{r}.txt" for r in range(1, ROUNDS)]


def test_litmus_passes_every_suite_against_the_second_process(
    pair: Pair, tmp_path: Path,
) -> None:
    litmus = require_tool("litmus")
    outside = dav(pair.b, "PUT", "outside.txt", (LIT, LIT_PW), body=b"x")
    assert outside.status_code == 403  # the root is only a way through for this user
    run_litmus(litmus, pair.b.url + "litmus/", LIT, LIT_PW, tmp_path)
