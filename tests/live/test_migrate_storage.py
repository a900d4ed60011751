"""``davdrive migrate-storage``: a drive moved between SQLite + a blob folder and
PostgreSQL + an S3 bucket, with real processes (docs/migrate-storage.md).

Rules: the demo drive moved to PostgreSQL + S3 and back holds every row and every
blob of the original (read here with sqlite3, psycopg and boto3, not with the
command's own digests), and a server on the moved drive serves the same bytes; a
move killed midway finishes when run again without copying again what it had
copied; no move while a server runs on either side, and no server while a move
runs (SQLite: the data folder's lock; PostgreSQL: the advisory serve lock); a
target holding a drive is refused; a damaged blob of the source stops the move,
named.
"""

from __future__ import annotations

import hashlib
import os
import re
import sqlite3
from pathlib import Path

import pytest
import requests

from davdrive import folder_lock, serve_guard, tree
from davdrive.blob_s3_client import make_client
from davdrive.passwords import Passwords
from davdrive.policy import SYSTEM
from davdrive.runtime import open_runtime
from davdrive.services import Drive
from davdrive.settings import DB_FILE, load_settings
from tests.conftest import basic, put_file
from tests.live.storage_tools import (
    bucket_blobs,
    folder_blobs,
    pg_counts,
    pg_scalar,
    run,
    serve,
    sqlite_rows,
    start,
    write_config,
)
from tests.live.test_serve_cli import demo_credentials, stop
from tests.s3 import s3_overrides, s3_settings

pytestmark = pytest.mark.live


def demo_drive(data: Path) -> None:
    done = run("--data", str(data), "demo")
    assert done.returncode == 0, done.stderr


def moved(*args: str) -> str:
    done = run(*args)
    assert done.returncode == 0, done.stderr
    assert "verified: every table's rows and" in done.stdout, done.stdout
    assert "The source was left as it was" in done.stdout
    return done.stdout


def test_the_demo_moves_to_postgresql_and_s3_and_back_unchanged(
    tmp_path: Path, postgresql_url: str, moto_endpoint: str, s3_bucket: str
) -> None:
    original = tmp_path / "original"
    demo_drive(original)
    before = sqlite_rows(original / DB_FILE)
    blob_files = folder_blobs(original / "blobs")
    assert blob_files and all(name == digest for name, digest in blob_files.items())
    source_db = (original / DB_FILE).read_bytes()

    scaled = write_config(tmp_path / "scaled.toml", tmp_path / "scaled-data",
                          database=postgresql_url, s3=s3_overrides(moto_endpoint, s3_bucket))
    out = moved("--data", str(original), "migrate-storage", "--to", str(scaled))
    assert f"{len(blob_files)} blobs copied, 0 already in the target" in out
    assert (original / DB_FILE).read_bytes() == source_db  # the source is not changed
    # PostgreSQL holds as many rows, the bucket the same contents, the marker is gone
    counts = pg_counts(postgresql_url)
    assert counts.pop("storage_move") == 0
    assert counts == {table: len(rows) for table, rows in before.items()
                      if table != "storage_move"}
    assert pg_scalar(postgresql_url, "SELECT version FROM tree_state") == \
        before["tree_state"][0][1]
    client = make_client(s3_settings(moto_endpoint, s3_bucket))
    assert bucket_blobs(client, s3_bucket) == blob_files
    # a new row gets a key past the copied ones (the sequences were set)
    largest = max(row[0] for row in before["audit_event"])
    assert pg_scalar(postgresql_url, "SELECT nextval(pg_get_serial_sequence("
                                     "'audit_event', 'id'))") == largest + 1

    back = write_config(tmp_path / "back.toml", tmp_path / "back")
    moved("--config", str(scaled), "migrate-storage", "--to", str(back))
    assert sqlite_rows(tmp_path / "back" / DB_FILE) == before  # every row, every value
    assert folder_blobs(tmp_path / "back" / "blobs") == blob_files
    assert run("--data", str(tmp_path / "back"), "check").returncode == 0

    # A server on the moved drive serves the demo's files byte for byte.
    with sqlite3.connect(original / DB_FILE) as conn:
        sha256 = conn.execute(
            "SELECT a.blob_sha256 FROM attachment a JOIN record r ON r.id = a.record_id "
            "WHERE r.name = 'Carol Petit' AND a.file_name = 'Membership card.pdf'"
        ).fetchone()[0]
    assert sha256 in blob_files  # a blob file, not content kept in the database
    server, url = serve("--config", str(scaled))
    try:
        carol = {"Authorization": basic("carol", demo_credentials(original)["carol"])}
        card = requests.get(url + "backoffice/members/Carol%20Petit/Membership%20card.pdf",
                            headers=carol, timeout=10)
        assert card.status_code == 200
        assert hashlib.sha256(card.content).hexdigest() == sha256
        assert card.content == next((original / "blobs").rglob(sha256)).read_bytes()
        welcome = requests.get(url + "Public/Welcome.md", headers=carol, timeout=10)
        assert welcome.status_code == 200 and welcome.content.startswith(b"# Welcome")
    finally:
        stop(server)


def many_files(tmp_path: Path, count: int) -> Path:
    """A drive of ``count`` small files, each a blob file (nothing kept inline)."""
    config = write_config(tmp_path / "source.toml", tmp_path / "source",
                          storage={"inline_blob_bytes": 0})
    runtime = open_runtime(load_settings(config, {}), Passwords(time_cost=1, memory_cost=8,
                                                                 parallelism=1))
    try:
        with runtime.sessions() as session:
            drive = Drive(session, runtime.blobs, SYSTEM, runtime.drive_options)
            root = tree.get_root(session)
            for i in range(count):
                put_file(drive, root, f"file-{i:04d}.bin", f"{i}".encode() + os.urandom(1000))
            session.commit()
    finally:
        runtime.close()
    return config


def test_a_killed_move_resumes_without_copying_its_blobs_again(
    tmp_path: Path, postgresql_url: str, moto_endpoint: str, s3_bucket: str
) -> None:
    source = many_files(tmp_path, 300)
    target = write_config(tmp_path / "target.toml", tmp_path / "target-data",
                          database=postgresql_url, s3=s3_overrides(moto_endpoint, s3_bucket))
    move = start("--config", str(source), "migrate-storage", "--to", str(target))
    assert move.stderr is not None
    copied = 0
    for line in move.stderr:
        found = re.match(r"blobs copied (\d+)/300", line)
        if found and int(found.group(1)) >= 100:
            copied = int(found.group(1))
            move.kill()
            break
    move.wait(timeout=30)
    assert 100 <= copied < 300, "the move ended before it could be killed"
    marker = pg_scalar(postgresql_url, "SELECT source FROM storage_move")
    assert marker is not None and str(tmp_path / "source") in marker
    assert pg_scalar(postgresql_url, "SELECT count(*) FROM node") == 0

    again = run("--config", str(source), "migrate-storage", "--to", str(target), "--json")
    assert again.returncode == 0, again.stderr
    assert "resuming the unfinished move" in again.stderr
    skipped = int(re.search(r'"already_there": (\d+)', again.stdout).group(1))  # type: ignore[union-attr]
    assert skipped >= copied
    assert '"copied": ' + str(300 - skipped) in again.stdout
    assert pg_scalar(postgresql_url, "SELECT count(*) FROM storage_move") == 0
    assert pg_scalar(postgresql_url, "SELECT count(*) FROM node WHERE kind = 'file'") == 300
    client = make_client(s3_settings(moto_endpoint, s3_bucket))
    assert bucket_blobs(client, s3_bucket) == folder_blobs(tmp_path / "source" / "blobs")


def test_no_move_while_a_server_runs_on_the_sqlite_source_and_no_server_during_a_move(
    tmp_path: Path
) -> None:
    original = tmp_path / "original"
    demo_drive(original)
    target = write_config(tmp_path / "target.toml", tmp_path / "target")
    server, _ = serve("--data", str(original))
    try:
        refused = run("--data", str(original), "migrate-storage", "--to", str(target))
    finally:
        stop(server)
    assert refused.returncode == 1
    assert f"is served by a davdrive process (pid {server.pid})" in refused.stderr
    assert "stop every server" in refused.stderr
    assert not (tmp_path / "target" / DB_FILE).exists()  # nothing was written
    with folder_lock.serving(original, folder_lock.MOVE):  # as a move holds it
        started = run("--data", str(original), "serve", "--port", "0", timeout=60)
    assert started.returncode == 1
    assert f"a storage move (davdrive migrate-storage, pid {os.getpid()})" in started.stderr


def test_no_move_while_a_server_runs_on_postgresql_and_no_server_during_a_move(
    tmp_path: Path, postgresql_url: str
) -> None:
    source = write_config(tmp_path / "source.toml", tmp_path / "source",
                          database=postgresql_url)
    assert run("--config", str(source), "init").returncode == 0
    target = write_config(tmp_path / "target.toml", tmp_path / "target")
    # a server on another data folder (another host): only the database is shared
    (tmp_path / "elsewhere").mkdir()
    server, _ = serve("--config", str(source), "--data", str(tmp_path / "elsewhere"))
    try:
        refused = run("--config", str(source), "migrate-storage", "--to", str(target))
    finally:
        stop(server)
    assert refused.returncode == 1
    assert f"in use by 1 davdrive server(s) (davdrive serve pid {server.pid} on" \
        in refused.stderr, refused.stderr
    assert not (tmp_path / "target" / DB_FILE).exists()
    with serve_guard.moving(postgresql_url):  # as a move holds it
        started = run("--config", str(source), "serve", "--port", "0", timeout=60)
    assert started.returncode == 1
    assert "a storage move (davdrive migrate-storage) is running on the database" \
        in started.stderr, started.stderr
    assert f"davdrive migrate-storage pid {os.getpid()}" in started.stderr
    # once the servers are gone, the move goes
    moved("--config", str(source), "migrate-storage", "--to", str(target))


def test_a_target_holding_a_drive_is_refused(tmp_path: Path, postgresql_url: str) -> None:
    original = tmp_path / "original"
    demo_drive(original)
    assert run("--data", str(tmp_path / "other"), "--config",
               str(write_config(tmp_path / "other.toml", tmp_path / "other",
                                database=postgresql_url)), "init").returncode == 0
    refused = run("--data", str(original), "migrate-storage", "--to", postgresql_url)
    assert refused.returncode == 1
    assert "already holds data" in refused.stderr and "copies only into an empty" \
        in refused.stderr
    assert "***" in refused.stderr or "postgres@" in refused.stderr  # never a password
    assert pg_scalar(postgresql_url, "SELECT count(*) FROM storage_move") == 0


def test_a_damaged_blob_of_the_source_stops_the_move_naming_it(tmp_path: Path) -> None:
    original = tmp_path / "original"
    demo_drive(original)
    damaged = next(path for path in sorted((original / "blobs").rglob("*"))
                   if path.is_file() and len(path.name) == 64)
    damaged.chmod(0o644)
    damaged.write_bytes(b"x" * damaged.stat().st_size)
    target = write_config(tmp_path / "target.toml", tmp_path / "target")
    refused = run("--data", str(original), "migrate-storage", "--to", str(target))
    assert refused.returncode == 1
    assert f"blob {damaged.name} (" in refused.stderr
    assert "of the source now hashes to" in refused.stderr
    assert not list((tmp_path / "target" / "blobs").rglob(damaged.name))


def test_the_target_must_be_another_database(tmp_path: Path) -> None:
    original = tmp_path / "original"
    demo_drive(original)
    same = write_config(tmp_path / "same.toml", original)
    refused = run("--data", str(original), "migrate-storage", "--to", str(same))
    assert refused.returncode == 1 and "the target's database is the source's" in refused.stderr
    missing = run("--data", str(original), "migrate-storage", "--to", str(tmp_path / "no.toml"))
    assert missing.returncode == 1 and "no such settings file" in missing.stderr
