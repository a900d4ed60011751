"""Write races over the real cheroot server (issue "reliability", findings 1, 2 and 9).

Rule: every state change re-reads in its commit transaction what it depends on (the
parent still live where it was, the file it overwrites still the one that holds the
name), so the loser of a race gets the answer a client coming just after the winner
would get (404, 409, 412), never a success for a write that is not there afterwards,
never a 500; the tree never holds a live item under a trashed folder nor two live
items of one name in one folder.
"""

from __future__ import annotations

import http.client
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import LiveServer, add_user, basic
from tests.live.test_creation_races import (
    AUTH,
    CLIENTS,
    assert_consistent,
    race,
    request,
)
from tests.live.test_creation_races import (
    settings as settings,  # noqa: F401 (the racing clients' connection cap)
)

pytestmark = pytest.mark.live


def no_server_errors(results: list[tuple[int, bytes]]) -> Counter[int]:
    statuses = Counter(status for status, _ in results)
    bodies = b"\n".join(body for _, body in results)
    assert not any(s >= 500 or s < 0 for s in statuses), (statuses, bodies)
    assert b"Traceback" not in bodies and b"<html" not in bodies.lower(), bodies
    return statuses


def temp_files(live: LiveServer) -> list[Path]:
    tmp = live.app.runtime.blobs.tmp_dir
    return list(tmp.iterdir()) if tmp.exists() else []


class SlowPut:
    """A PUT whose body is held back halfway: the server has begun the upload (its
    temporary blob file exists or, for content received into memory, its URL is
    marked as being written) when ``__init__`` returns; ``finish`` sends the rest."""

    def __init__(
        self, live: LiveServer, path: str, body: bytes, auth: dict[str, str] = AUTH
    ) -> None:
        self.body = body
        before = set(temp_files(live))
        self.conn = http.client.HTTPConnection("127.0.0.1", live.port, timeout=30)
        self.conn.putrequest("PUT", path)
        for key, value in auth.items():
            self.conn.putheader(key, value)
        self.conn.putheader("Content-Length", str(len(body)))
        self.conn.endheaders()
        self.conn.send(body[: len(body) // 2])
        deadline = time.monotonic() + 10
        writes = live.app.provider.lock_manager
        while not set(temp_files(live)) - before and not writes.being_written(path):
            assert time.monotonic() < deadline, "the server never began the upload"
            time.sleep(0.01)

    def finish(self) -> tuple[int, bytes]:
        try:
            self.conn.send(self.body[len(self.body) // 2:])
            response = self.conn.getresponse()
            return response.status, response.read()
        finally:
            self.conn.close()


def test_slow_overwrite_of_a_file_deleted_meanwhile_creates_it_anew(live: LiveServer) -> None:
    """PUT /dav/slow.txt (an overwrite, body held back), DELETE /dav/slow.txt (204), then
    the rest of the body: the PUT's answer is the truth. A client sending its PUT after
    the DELETE creates the file, so 201, and GET returns the body (was: 204, then 404)."""
    assert request(live, "PUT", "/dav/slow.txt", b"old")[0] == 201
    body = b"new content " * 5000
    put = SlowPut(live, "/dav/slow.txt", body)
    assert request(live, "DELETE", "/dav/slow.txt")[0] == 204
    status, answer = put.finish()
    assert status == 201, answer
    assert request(live, "GET", "/dav/slow.txt") == (200, body)
    assert_consistent(live)


def test_slow_put_into_a_folder_deleted_meanwhile_is_409_and_stores_nothing(
    live: LiveServer,
) -> None:
    """PUT /dav/box/new.txt (body held back), DELETE /dav/box/ (204), rest of the body:
    409, the parent is missing (RFC 4918 9.7.1), as for a PUT sent after the DELETE;
    no live file under the trashed folder, nothing appears when the folder is made anew
    (was: 201, then 404 even after MKCOL), and the upload's temp file is gone."""
    assert request(live, "MKCOL", "/dav/box/")[0] == 201
    put = SlowPut(live, "/dav/box/new.txt", b"lost? " * 5000)
    assert request(live, "DELETE", "/dav/box/")[0] == 204
    status, answer = put.finish()
    assert status == 409, answer
    assert b"deleted by another request" in answer, answer
    assert_consistent(live)
    assert request(live, "MKCOL", "/dav/box/")[0] == 201
    assert request(live, "GET", "/dav/box/new.txt")[0] == 404
    assert temp_files(live) == []


def test_slow_put_racing_a_new_name_overwrites_the_winner(live: LiveServer) -> None:
    """PUT /dav/late.txt (new name, body held back), another PUT of /dav/late.txt
    completes (201), then the rest: the slow PUT overwrites it (204), as a PUT sent
    after the first would (finding 9: was 409 "name is not available")."""
    put = SlowPut(live, "/dav/late.txt", b"second " * 3000)
    assert request(live, "PUT", "/dav/late.txt", b"first")[0] == 201
    status, answer = put.finish()
    assert status == 204, answer
    assert request(live, "GET", "/dav/late.txt") == (200, b"second " * 3000)
    assert_consistent(live)


def test_slow_put_racing_a_new_name_never_overwrites_what_it_may_not_modify(
    live: LiveServer,
) -> None:
    """PUT /dav/theirs.txt by "other" (new name, body held back), tester's PUT of the
    same name completes (201), then the rest: other may not modify tester's file (rule:
    only the owner modifies), so 409 "created meanwhile" and tester's content stays; a
    lost race never widens a right."""
    add_user(live.app.runtime, "other", "other-secret", documents="write")
    put = SlowPut(live, "/dav/theirs.txt", b"other's " * 3000,
                  auth={"Authorization": basic("other", "other-secret")})
    assert request(live, "PUT", "/dav/theirs.txt", b"tester's")[0] == 201
    status, answer = put.finish()
    assert status == 409, answer
    assert b"created by another request" in answer, answer
    assert request(live, "GET", "/dav/theirs.txt") == (200, b"tester's")
    assert_consistent(live)


def test_put_and_delete_racing_on_one_file(live: LiveServer) -> None:
    """8 x PUT /dav/pd.txt and 8 x DELETE /dav/pd.txt at once: no 500; each DELETE 204
    or 404; each PUT 201 or 204; afterwards the file is either absent or holds the body
    of an acknowledged PUT, and the tree is sound."""
    assert request(live, "PUT", "/dav/pd.txt", b"start")[0] == 201
    bodies = [f"body {i}\n".encode() * 100 for i in range(CLIENTS)]

    def send(i: int) -> tuple[int, bytes]:
        if i % 2:
            return request(live, "DELETE", "/dav/pd.txt")
        return request(live, "PUT", "/dav/pd.txt", bodies[i])

    results = race(live, send)
    no_server_errors(results)
    puts = {results[i][0] for i in range(0, CLIENTS, 2)}
    deletes = {results[i][0] for i in range(1, CLIENTS, 2)}
    assert puts <= {201, 204}, results
    assert deletes <= {204, 404}, results
    acknowledged = {bodies[i] for i in range(0, CLIENTS, 2) if results[i][0] in (201, 204)}
    status, got = request(live, "GET", "/dav/pd.txt")
    assert (status, got in acknowledged) in ((200, True), (404, False)), (status, got)
    assert_consistent(live)


def test_puts_into_a_folder_being_deleted(live: LiveServer) -> None:
    """15 x PUT /dav/doomed/f-i.txt and 1 x DELETE /dav/doomed/ at once: no 500; every PUT
    201 (before the DELETE: trashed with the folder) or 409/404 (after it); never a live
    file under the trashed folder, and a folder made anew under the name is empty."""
    assert request(live, "MKCOL", "/dav/doomed/")[0] == 201

    def send(i: int) -> tuple[int, bytes]:
        if i == 0:
            return request(live, "DELETE", "/dav/doomed/")
        return request(live, "PUT", f"/dav/doomed/f-{i}.txt", f"file {i}".encode() * 200)

    results = race(live, send)
    no_server_errors(results)
    assert results[0][0] == 204, results[0]
    assert {status for status, _ in results[1:]} <= {201, 404, 409}, results
    assert_consistent(live)
    assert request(live, "MKCOL", "/dav/doomed/")[0] == 201
    for i in range(1, CLIENTS):
        assert request(live, "GET", f"/dav/doomed/f-{i}.txt")[0] == 404


def test_mkcol_copy_move_into_a_folder_being_deleted(live: LiveServer) -> None:
    """MKCOL, COPY and MOVE into /dav/target/ racing its DELETE: each either lands before
    the DELETE (and is trashed with it) or gets 409/404; never a live item under the
    trashed folder."""
    assert request(live, "MKCOL", "/dav/target/")[0] == 201
    for i in range(CLIENTS):
        assert request(live, "PUT", f"/dav/src-{i}.txt", b"s")[0] == 201

    def send(i: int) -> tuple[int, bytes]:
        if i == 0:
            return request(live, "DELETE", "/dav/target/")
        method = ("MKCOL", "COPY", "MOVE")[i % 3]
        if method == "MKCOL":
            return request(live, "MKCOL", f"/dav/target/d-{i}/")
        return request(live, method, f"/dav/src-{i}.txt",
                       Destination=f"{live.url}/dav/target/t-{i}.txt")

    results = race(live, send)
    no_server_errors(results)
    assert results[0][0] == 204, results[0]
    assert {status for status, _ in results[1:]} <= {201, 404, 409}, results
    assert_consistent(live)


def test_move_of_one_source_to_many_destinations_succeeds_once(live: LiveServer) -> None:
    """16 x MOVE /dav/solo.txt -> /dav/solo-i.txt: exactly one 201; the others 404 (the
    source is gone, as for a MOVE sent after it). One destination exists, with the
    content (was: 201 to 74 of 80)."""
    assert request(live, "PUT", "/dav/solo.txt", b"solo")[0] == 201
    results = race(live, lambda i: request(
        live, "MOVE", "/dav/solo.txt", Destination=f"{live.url}/dav/solo-{i}.txt"))
    statuses = no_server_errors(results)
    assert statuses == Counter({201: 1, 404: CLIENTS - 1}), (statuses, results)
    winner = next(i for i, (status, _) in enumerate(results) if status == 201)
    for i in range(CLIENTS):
        expected = (200, b"solo") if i == winner else (404,)
        assert request(live, "GET", f"/dav/solo-{i}.txt")[: len(expected)] == expected
    assert request(live, "GET", "/dav/solo.txt")[0] == 404
    assert_consistent(live)
