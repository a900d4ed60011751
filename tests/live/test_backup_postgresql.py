"""Backups of a drive on PostgreSQL and S3 (davdrive.backup, davdrive.restore_pg).

Rules: a snapshot taken while uploads land holds the tables as one consistent
point (exported into the snapshot's SQLite file) and exactly the blobs of its
rows; ``backup --verify`` checks it as any snapshot; restored into a new
database and a new bucket it passes ``check`` and holds every file answered
before the backup began, byte for byte; ``check`` on PostgreSQL + S3 names a
damaged object; restore refuses a database that holds a drive; of several
servers of one drive, one takes the nightly backup.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from davdrive import backup, nightly, snapshots, tree
from davdrive.blob_s3_client import make_client
from davdrive.cli import main
from davdrive.passwords import Passwords
from davdrive.runtime import Runtime, open_runtime
from davdrive.server import create_app
from davdrive.settings import DB_FILE, load_settings
from tests.conftest import add_user, serving, stored_bytes
from tests.live.storage_tools import write_config
from tests.live.test_backup_live import Uploads
from tests.postgres import PostgresServer
from tests.s3 import s3_overrides, s3_settings

pytestmark = pytest.mark.live


def config_of(tmp_path: Path, name: str, url: str, endpoint: str, bucket: str) -> Path:
    return write_config(tmp_path / f"{name}.toml", tmp_path / name, database=url,
                        s3=s3_overrides(endpoint, bucket))


@pytest.fixture
def other_database(postgres_server: PostgresServer) -> Iterator[str]:
    """A second fresh, migrated database on the session's server."""
    name = postgres_server.fresh()
    yield postgres_server.url(name)
    postgres_server.drop(name)


def new_bucket(endpoint: str) -> str:
    name = f"t-{uuid.uuid4().hex[:20]}"
    make_client(s3_settings(endpoint, name)).create_bucket(Bucket=name)
    return name


def test_a_backup_during_uploads_restores_into_a_new_database_and_bucket(
    tmp_path: Path, postgresql_url: str, other_database: str, moto_endpoint: str,
    s3_bucket: str, fast_passwords: Passwords, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = config_of(tmp_path, "live", postgresql_url, moto_endpoint, s3_bucket)
    settings = load_settings(config, {}, {"server.port": 0})
    runtime = open_runtime(settings, fast_passwords)
    with runtime.sessions() as session:
        tree.get_root(session)
        session.commit()
    add_user(runtime, "tester", "secret", documents="write")
    app = create_app(settings, runtime)
    real_copy = backup._copy_live_database
    with serving(app) as live:
        uploads = Uploads(live.url + "/dav")
        during: list[int] = []

        def copy_then_let_uploads_land(engine: Engine, target: Path) -> None:
            real_copy(engine, target)
            during.append(uploads.count())
            uploads.wait_for(during[0] + 8)  # rows and blobs the snapshot must not need

        monkeypatch.setattr(backup, "_copy_live_database", copy_then_let_uploads_land)
        for thread in uploads.threads:
            thread.start()
        try:
            uploads.wait_for(12)
            began = time.monotonic()
            code = main(["--config", str(config), "backup"], passwords=fast_passwords)
            uploads.wait_for(uploads.count() + 4)
        finally:
            uploads.stop.set()
            for thread in uploads.threads:
                thread.join(timeout=30)
    app.close()
    out, err = capsys.readouterr()
    assert code == 0, err
    snapshot = Path(out.splitlines()[-1])
    assert (snapshot / DB_FILE).is_file() and not (snapshot / f"{DB_FILE}-wal").exists()
    before = [(name, body) for at, name, body, status in uploads.answered if at < began]
    assert all(status in (201, 204) for _, _, _, status in uploads.answered)
    assert len(before) >= 12 and len(uploads.answered) >= len(before) + 12
    # the snapshot has exactly the blobs of its rows: none of an upload after its copy
    assert main(["--config", str(config), "backup", "--verify", str(snapshot)]) == 0
    assert snapshots.read_manifest(snapshot).blobs

    bucket = new_bucket(moto_endpoint)
    restored = config_of(tmp_path, "restored", other_database, moto_endpoint, bucket)
    code = main(["--config", str(restored), "restore", str(snapshot)], passwords=fast_passwords)
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "note: PostgreSQL: integrity and foreign keys are enforced" in out
    assert main(["--config", str(restored), "check"]) == 0
    again = main(["--config", str(restored), "restore", str(snapshot)])
    assert again == 1 and "restore writes only into an empty database" in \
        capsys.readouterr().err

    second = open_runtime(load_settings(restored, {}), fast_passwords)
    try:
        with second.sessions() as session:
            root = tree.get_root(session)
            damaged = None
            for name, body in before:
                node = tree.child_named(session, root.id, name)
                assert node is not None and node.blob_sha256 is not None, name
                assert stored_bytes(second, node.blob_sha256, node.size) == body, name
                if len(body) > 65536:
                    damaged = node.blob_sha256
        # check names an object of the bucket whose content changed
        assert damaged is not None
        key = second.blobs.keys.blob(damaged)  # type: ignore[attr-defined]
        second.blobs.client.put_object(Bucket=bucket, Key=key, Body=b"damaged")  # type: ignore[attr-defined]
    finally:
        second.close()
    capsys.readouterr()
    assert main(["--config", str(restored), "check"]) == 1
    out, _ = capsys.readouterr()
    assert "blob_corrupt: node" in out and damaged in out


def test_of_the_servers_of_one_drive_one_takes_the_nightly_backup(
    tmp_path: Path, postgresql_url: str, moto_endpoint: str, s3_bucket: str,
    fast_passwords: Passwords,
) -> None:
    hour = dt.datetime.now().hour
    runtimes: list[Runtime] = []
    for host in ("one", "two"):
        config = config_of(tmp_path, host, postgresql_url, moto_endpoint, s3_bucket)
        runtimes.append(open_runtime(load_settings(config, {}, {"backup.hour": hour}),
                                     fast_passwords))
    first, other = runtimes
    try:
        with first.sessions() as session:
            tree.get_root(session)
            session.commit()
        with other.engine.connect() as holder:  # as a server taking the backup holds it
            holder.execute(text("SELECT pg_advisory_lock(:key)"), {"key": nightly.NIGHTLY_KEY})
            assert "another server of the drive is taking" in nightly.nightly_backup(first)
            holder.execute(text("SELECT pg_advisory_unlock(:key)"),
                           {"key": nightly.NIGHTLY_KEY})
        done = nightly.nightly_backup(first)
        assert str(first.settings.backup_dir) in done
        assert len(snapshots.listing(first.settings.backup_dir)) == 1
        assert "took tonight's backup" in nightly.nightly_backup(other)
        assert snapshots.listing(other.settings.backup_dir) == []
        # a day later it is the turn of whichever comes first
        tomorrow = dt.datetime.now() + dt.timedelta(days=1)
        assert str(other.settings.backup_dir) in nightly.nightly_backup(other, tomorrow)
    finally:
        for runtime in runtimes:
            runtime.close()
