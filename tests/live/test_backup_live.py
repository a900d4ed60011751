"""Backups of a served drive (seed 000: "sauvegardés toutes les nuits"; DESIGN 4).

Rules: every file whose PUT was answered 201/204 before `davdrive backup` began is in
the snapshot byte for byte, whatever was uploaded meanwhile; the snapshot, restored
into a new folder, passes `davdrive check` and is served. Uploads are forced into the
backup's most delicate moment: after its database copy, before it links the blob
files. With `serve --workers N` one process only runs the nightly backup.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest
import requests
from sqlalchemy import Engine

from davdrive import backup, tree
from davdrive.cli import main
from davdrive.passwords import Passwords
from davdrive.runtime import open_runtime
from davdrive.server import create_app
from davdrive.settings import load_settings
from tests.conftest import LiveServer, basic, serving, stored_bytes
from tests.live.test_serve_cli import init_with_admin, start_server, stop
from tests.live.test_workers import OLD, _children, _propfind, _wait_for, only

pytestmark = [pytest.mark.live,
              pytest.mark.sqlite_only("backups snapshot the SQLite file")]

AUTH = {"Authorization": basic("tester", "secret")}
UPLOADERS = 4


def content(name: str, big: bool) -> bytes:
    """Unique content: small ones are kept in the database, big ones as blob files."""
    return name.encode() + os.urandom(70_000 if big else 200)


class Uploads:
    """Threads PUTting new files until stopped; records when each answer arrived."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.answered: list[tuple[float, str, bytes, int]] = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(n,)) for n in range(UPLOADERS)]

    def _run(self, n: int) -> None:
        with requests.Session() as http:
            i = 0
            while not self.stop.is_set():
                name = f"w{n}-{i}.bin"
                body = content(name, big=i % 2 == 1)
                status = http.put(f"{self.url}/{name}", data=body, headers=AUTH,
                                  timeout=30).status_code
                with self.lock:
                    self.answered.append((time.monotonic(), name, body, status))
                i += 1

    def count(self) -> int:
        with self.lock:
            return len(self.answered)

    def wait_for(self, count: int) -> None:
        deadline = time.monotonic() + 30
        while self.count() < count and time.monotonic() < deadline:
            time.sleep(0.01)
        assert self.count() >= count, "the uploads stalled"


def test_a_backup_during_uploads_restores_every_file_answered_before_it(
    live: LiveServer, tmp_path: Path, fast_passwords: Passwords,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    data = live.app.settings.data_dir
    uploads = Uploads(live.url + "/dav")
    real_copy = backup._copy_live_database
    during: list[int] = []

    def copy_then_let_uploads_land(engine: Engine, target: Path) -> None:
        real_copy(engine, target)
        during.append(uploads.count())
        uploads.wait_for(during[0] + 8)  # rows (and blob files) the snapshot must not need

    monkeypatch.setattr(backup, "_copy_live_database", copy_then_let_uploads_land)
    for thread in uploads.threads:
        thread.start()
    try:
        uploads.wait_for(12)
        began = time.monotonic()
        code = main(["--data", str(data), "backup"], passwords=fast_passwords)
        uploads.wait_for(uploads.count() + 4)  # and some after it
    finally:
        uploads.stop.set()
        for thread in uploads.threads:
            thread.join(timeout=30)
    out, err = capsys.readouterr()
    assert code == 0, err
    snapshot = Path(out.splitlines()[-1])
    before = [(name, body) for at, name, body, status in uploads.answered if at < began]
    assert all(status in (201, 204) for _, _, _, status in uploads.answered)
    assert len(before) >= 12 and len(uploads.answered) >= len(before) + 12
    # exactly the files of its rows: no blob of an upload that landed after its copy
    assert main(["--data", str(data), "backup", "--verify", str(snapshot)]) == 0

    restored = load_settings(None, {}, {"data_dir": str(tmp_path / "restored"),
                                        "server.port": 0})
    code = main(["--data", str(restored.data_dir), "restore", str(snapshot)],
                passwords=fast_passwords)
    assert code == 0, capsys.readouterr().err
    assert main(["--data", str(restored.data_dir), "check"], passwords=fast_passwords) == 0

    runtime = open_runtime(restored, fast_passwords)
    try:
        with runtime.sessions() as session:
            root = tree.get_root(session)
            for name, body in before:
                node = tree.child_named(session, root.id, name)
                assert node is not None and node.blob_sha256 is not None, name
                assert stored_bytes(runtime, node.blob_sha256, node.size) == body, name
    finally:
        runtime.close()

    app = create_app(restored)  # serve works on the restored folder
    try:
        with serving(app) as second:
            for name, body in before[:4]:
                got = requests.get(f"{second.url}/dav/{name}", headers=AUTH, timeout=10)
                assert got.status_code == 200 and got.content == body, name
    finally:
        app.close()


def test_with_workers_one_process_only_runs_the_nightly_backup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    init_with_admin(data, "dora", OLD)
    monkeypatch.setenv("DAVDRIVE_BACKUP_HOUR", "3")
    server, url = start_server(data, "--workers", "2")
    try:
        assert _wait_for(lambda: len(_children(server.pid)) == 2)
        kids = _children(server.pid)
        for worker in kids:  # each worker answers: each has set itself up
            with only(worker, kids):
                assert _propfind(url, OLD) == 207
    finally:
        stop(server)
    assert server.stderr is not None
    assert server.stderr.read().count("nightly backup at 03:00") == 1
