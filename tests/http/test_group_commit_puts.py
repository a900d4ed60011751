"""Concurrent small PUTs through the app, with their commits grouped
(davdrive/group_commit.py): every answer is the one the requests would get one after
another, and what was stored is exactly what was answered.

Rules: a 201 means the file is there with its bytes; identical content in parallel
never fails; two PUTs of one new name give one 201 and one overwrite (204), never two
files; the audit chain never forks.
"""

from __future__ import annotations

import threading
from collections import Counter

from sqlalchemy import func, select
from werkzeug.test import Client

from davdrive import audit
from davdrive.models import AuditEvent, Node
from davdrive.server import DriveApp
from tests.conftest import Dav

THREADS = 8
EACH = 6


def test_concurrent_small_puts_answer_and_store_as_if_one_after_another(app: DriveApp) -> None:
    assert Dav(Client(app))("MKCOL", "/dav/Box").status_code == 201
    results: list[tuple[str, int, bytes]] = []
    lock = threading.Lock()
    start = threading.Barrier(THREADS)

    def client(t: int) -> None:
        dav = Dav(Client(app))
        start.wait(10)
        for i in range(EACH):
            jobs = [
                (f"/dav/Box/t{t}-{i}.txt", f"unique {t} {i}".encode()),
                (f"/dav/Box/same-{t}-{i}.txt", b"identical content everywhere"),
                (f"/dav/Box/shared-{i}.txt", f"one name, writer {t}".encode()),
            ]
            for path, body in jobs:
                status = dav("PUT", path, body).status_code
                with lock:
                    results.append((path, status, body))

    threads = [threading.Thread(target=client, args=(t,)) for t in range(THREADS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)

    assert len(results) == THREADS * EACH * 3
    per_name: dict[str, Counter[int]] = {}
    for path, status, _ in results:
        per_name.setdefault(path, Counter())[status] += 1
    for path, statuses in per_name.items():
        if "/shared-" in path:
            assert statuses[201] == 1 and statuses[204] == THREADS - 1, (path, statuses)
        else:
            assert statuses == Counter({201: 1}), (path, statuses)

    reader = Dav(Client(app))
    for path, _, body in results:
        if "/shared-" not in path:
            assert reader("GET", path).data == body, path
    for i in range(EACH):  # the last overwrite won, whichever it was
        written = {body for path, _, body in results if path == f"/dav/Box/shared-{i}.txt"}
        assert reader("GET", f"/dav/Box/shared-{i}.txt").data in written

    with app.runtime.sessions() as session:
        live = session.scalar(
            select(func.count()).select_from(Node)
            .where(Node.kind == "file", Node.deleted_at.is_(None))
        )
        creates = session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "create")
        )
        assert live == len(per_name)  # one file per name, never two
        assert creates == sum(s[201] for s in per_name.values())
        assert audit.verify(session) is None
