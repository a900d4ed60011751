"""`davdrive serve --workers N`: N processes on one port, state shared through the database.

Rules (docs/large-files-and-workers.md):
- the parent forks N workers that accept on its one listening socket; each
  worker alone answers requests (checked by stopping the other with SIGSTOP);
- a LOCK taken through one worker is enforced by the others (423 without the
  token, success with it);
- a password changed with the CLI is refused at once by every worker, and the
  new one accepted (the credential caches are per process);
- a worker that dies is started again; SIGTERM to the parent stops every
  worker (exit status 0), and so does SIGKILL of the parent; a second `serve`
  on the data folder stays refused while the workers run.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest
import requests

from tests.conftest import basic
from tests.live.test_one_server_per_folder import _second_serve
from tests.live.test_serve_cli import run_cli, start_server, stop

pytestmark = pytest.mark.live

OLD, NEW = "first-secret-1", "second-secret-2"


def _children(pid: int) -> list[int]:
    """Live (not zombie) child processes of ``pid``, from /proc."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(entry))
    return sorted(found)


def _wait_for(predicate, timeout: float = 20) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return bool(predicate())


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], str, Path]]:
    """`serve --workers 2` on a drive with user dora (write on the root)."""
    data = tmp_path / "data"
    assert run_cli(data, "init").returncode == 0
    assert run_cli(data, "category", "add", "staff", "--documents", "write").returncode == 0
    added = run_cli(data, "user", "add", "dora", "--category", "staff",
                    "--password-stdin", stdin=OLD + "\n")
    assert added.returncode == 0, added.stderr
    assert run_cli(data, "folder", "rights", "/", "staff=write").returncode == 0
    server, url = start_server(data, "--workers", "2")
    try:
        assert _wait_for(lambda: len(_children(server.pid)) == 2), _children(server.pid)
        yield server, url, data
    finally:
        kids = _children(server.pid)
        for pid in kids:
            _signal(pid, signal.SIGCONT)
        server.terminate()
        try:
            server.wait(timeout=30)
        finally:
            for pid in kids:
                _signal(pid, signal.SIGKILL)


def _signal(pid: int, sig: int) -> None:
    with suppress(ProcessLookupError):
        os.kill(pid, sig)


@contextmanager
def only(worker: int, everyone: list[int]) -> Iterator[None]:
    """Every worker but ``worker`` stopped (SIGSTOP) for the block: new connections
    can only be accepted by ``worker``."""
    others = [pid for pid in everyone if pid != worker]
    for pid in others:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for pid in others:
            os.kill(pid, signal.SIGCONT)


def _propfind(url: str, password: str) -> int:
    answer = requests.request(
        "PROPFIND", url, timeout=15,
        headers={"Depth": "0", "Authorization": basic("dora", password), "Connection": "close"},
    )
    return answer.status_code


def test_two_workers_each_answer_and_many_concurrent_requests_succeed(workers) -> None:  # type: ignore[no-untyped-def]
    """serve --workers 2: two child processes; with either one stopped the other
    answers PROPFIND; 64 concurrent requests over 8 connections all get 207."""
    server, url, _ = workers
    kids = _children(server.pid)
    assert len(kids) == 2
    for worker in kids:
        with only(worker, kids):
            assert _propfind(url, OLD) == 207

    def one(_: int) -> int:
        return _propfind(url, OLD)

    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(one, range(64))) == [207] * 64


def test_a_lock_taken_through_one_worker_is_enforced_by_the_other(workers) -> None:  # type: ignore[no-untyped-def]
    """LOCK /dav/shared.txt through worker A; through worker B a PUT without the
    token gets 423 and one with it (If header) succeeds."""
    server, url, _ = workers
    first, second = _children(server.pid)
    auth = {"Authorization": basic("dora", OLD), "Connection": "close"}
    target = url + "shared.txt"
    with only(first, [first, second]):
        assert requests.put(target, data=b"v1", headers=auth, timeout=15).status_code == 201
        lock = requests.request(
            "LOCK", target, timeout=15, headers={**auth, "Timeout": "Second-600"},
            data=b'<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope>'
                 b"<D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype>"
                 b"<D:owner>a</D:owner></D:lockinfo>",
        )
        assert lock.status_code == 200, lock.text
        token = lock.headers["Lock-Token"]
    with only(second, [first, second]):
        refused = requests.put(target, data=b"v2", headers=auth, timeout=15)
        assert refused.status_code == 423
        allowed = requests.put(target, data=b"v2", timeout=15,
                               headers={**auth, "If": f"({token})"})
        assert allowed.status_code == 204, allowed.text
        assert requests.get(target, headers=auth, timeout=15).content == b"v2"


def test_password_changed_by_the_cli_is_refused_at_once_by_every_worker(workers) -> None:  # type: ignore[no-untyped-def]
    """dora signs in through both workers (each caches her password); `user set
    --password-stdin` changes it; through each worker the old one now gets 401 and
    the new one 207."""
    server, url, data = workers
    kids = _children(server.pid)
    for worker in kids:
        with only(worker, kids):
            assert _propfind(url, OLD) == 207
            assert _propfind(url, OLD) == 207
    changed = run_cli(data, "user", "set", "dora", "--password-stdin", stdin=NEW + "\n")
    assert changed.returncode == 0, changed.stderr
    for worker in kids:
        with only(worker, kids):
            assert _propfind(url, OLD) == 401
            assert _propfind(url, NEW) == 207


def test_a_dead_worker_is_replaced_and_sigterm_stops_all(workers) -> None:  # type: ignore[no-untyped-def]
    """SIGKILL one worker: a new one takes its place and requests keep working; a
    second serve is refused meanwhile; SIGTERM to the parent: it exits 0 and no
    worker is left."""
    server, url, data = workers
    first, second = _children(server.pid)
    os.kill(first, signal.SIGKILL)
    assert _wait_for(lambda: len(_children(server.pid)) == 2
                     and first not in _children(server.pid))
    kids = _children(server.pid)
    assert second in kids
    for worker in kids:
        with only(worker, kids):
            assert _propfind(url, OLD) == 207
    refused = _second_serve(data)
    assert refused.returncode == 1 and "already served" in refused.stderr
    server.send_signal(signal.SIGTERM)
    assert server.wait(timeout=30) == 0
    assert all(not Path(f"/proc/{pid}").exists() or _is_zombie(pid) for pid in kids)


def test_workers_end_when_the_parent_is_killed(workers) -> None:  # type: ignore[no-untyped-def]
    """SIGKILL to the parent: within a few seconds no worker is left running (none
    keeps the port or the data folder), and a new serve starts."""
    server, url, data = workers
    kids = _children(server.pid)
    server.send_signal(signal.SIGKILL)
    server.wait(timeout=10)
    assert _wait_for(lambda: all(not _running(pid) for pid in kids), timeout=20)
    again, _ = start_server(data)  # the folder lock went with the workers
    stop(again)


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def _running(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists() and not _is_zombie(pid)
