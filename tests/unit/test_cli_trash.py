"""The ``davdrive trash`` and ``davdrive version`` commands (DESIGN 8): list (table or
JSON), restore (refusing a taken name until --as), purge (freeing the content only the
trash held), and one-line errors."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from davdrive import node_admin, tree
from davdrive.policy import SYSTEM
from davdrive.runtime import open_runtime
from davdrive.services import Drive
from tests.conftest import put_file
from tests.unit import test_cli
from tests.unit.test_cli import Cli, assert_one_line_error

BIG = os.urandom(100 * 1024)  # larger than storage.inline_blob_bytes: a blob file


# The command-line tests' fixtures: a clean environment, an initialised data folder.
clean_env, run, ready = test_cli.clean_env, test_cli.run, test_cli.ready


@contextmanager
def system_drive(cli: Cli) -> Iterator[tuple[Session, Drive]]:
    """A session on ``cli``'s data folder and the drive as the system."""
    runtime = open_runtime(cli.settings, cli.passwords)
    try:
        with runtime.sessions() as session:
            yield session, Drive(session, runtime.blobs, SYSTEM, runtime.drive_options)
    finally:
        runtime.close()


def put(cli: Cli, path: str, data: bytes) -> None:
    """Write ``data`` at ``path`` as the system (folders made as needed)."""
    with system_drive(cli) as (session, drive):
        *folders, name = [p for p in path.split("/") if p]
        parent = node_admin.make_folders(session, drive, "/" + "/".join(folders))[0]
        put_file(drive, parent, name, data)


def delete(cli: Cli, path: str) -> None:
    with system_drive(cli) as (session, drive):
        drive.delete(node_admin.resolve_path(session, path))


def blob_file(cli: Cli, data: bytes) -> Path:
    sha = hashlib.sha256(data).hexdigest()
    return cli.settings.blob_dir / sha[:2] / sha[2:4] / sha


def content(cli: Cli, path: str) -> bytes:
    with system_drive(cli) as (session, drive), drive.open_content(
        node_admin.resolve_path(session, path)
    ) as stream:
        return stream.read()


# --- trash -----------------------------------------------------------------------------------


def test_trash_list_as_a_table_and_as_json(ready: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    assert ready("trash", "list").out.strip() == "the trash is empty"
    put(ready, "/Board/a.txt", b"abc")
    put(ready, "/Board/b.txt", b"de")
    delete(ready, "/Board")
    table = ready("trash", "list")
    assert table.code == 0, table.err
    header, row = table.out.strip().splitlines()
    assert header.split() == ["id", "path", "kind", "size", "deleted", "by", "expires"]
    assert "/Board" in row and "folder" in row and " 5 " in row and "system" in row
    monkeypatch.setenv("DAVDRIVE_STORAGE_TRASH_DAYS", "7")
    [entry] = ready("trash", "list", "--json").json
    assert set(entry) == {"id", "path", "kind", "items", "files", "size", "deleted_at",
                          "deleted_by", "expires_at"}
    assert (entry["path"], entry["items"], entry["files"], entry["size"]) == ("/Board", 3, 2, 5)
    deleted = dt.datetime.fromisoformat(entry["deleted_at"])
    assert dt.datetime.fromisoformat(entry["expires_at"]) - deleted == dt.timedelta(days=7)


def test_trash_restore_refuses_a_taken_name_then_restores_with_as(ready: Cli) -> None:
    put(ready, "/plan.txt", b"old plan")
    delete(ready, "/plan.txt")
    put(ready, "/plan.txt", b"new plan")
    assert_one_line_error(ready("trash", "restore", "/plan.txt"), "taken", "--as NAME")
    done = ready("trash", "restore", "/plan.txt", "--as", "plan (old).txt")
    assert done.code == 0, done.err
    assert "restored /plan (old).txt (1 item(s))" in done.out
    assert content(ready, "/plan (old).txt") == b"old plan"
    assert content(ready, "/plan.txt") == b"new plan"
    assert ready("trash", "list", "--json").json == []


def test_trash_restore_errors_are_one_line(ready: Cli) -> None:
    put(ready, "/Board/draft.txt", b"draft")
    delete(ready, "/Board/draft.txt")
    delete(ready, "/Board")
    assert_one_line_error(ready("trash", "restore", "/Board/draft.txt"),
                          "/Board", "restore it first")
    assert_one_line_error(ready("trash", "restore", "/Nothing"), "in the trash")
    assert_one_line_error(ready("trash", "restore", "/Board", "--as", "a:b"), "may not contain")
    assert ready("trash", "restore", "/Board").code == 0
    assert ready("trash", "restore", "/Board/draft.txt").code == 0
    assert content(ready, "/Board/draft.txt") == b"draft"


def test_trash_purge_keeps_recent_deletions_by_default_and_frees_what_it_removes(
    ready: Cli,
) -> None:
    """Rule: by default only what is past storage.trash_days goes; --older-than 0 empties
    the trash and frees the blob files only the trash used, not one a live file uses."""
    put(ready, "/gone.bin", BIG)
    put(ready, "/kept.bin", BIG[:-1])
    put(ready, "/copy.bin", BIG[:-1])
    delete(ready, "/gone.bin")
    delete(ready, "/copy.bin")
    past = time.time() - 3600  # written an hour ago: not a fresh upload
    for data in (BIG, BIG[:-1]):
        os.utime(blob_file(ready, data), (past, past))
    nothing = ready("trash", "purge")
    assert nothing.code == 0 and "purged 0 trash entries" in nothing.out
    assert len(ready("trash", "list", "--json").json) == 2
    purged = ready("trash", "purge", "--older-than", "0")
    assert purged.code == 0, purged.err
    assert "purged 2 trash entries" in purged.out
    assert f"removed 1 blob(s), {len(BIG)} bytes freed" in purged.out
    assert not blob_file(ready, BIG).exists()
    assert blob_file(ready, BIG[:-1]).exists()
    assert ready("trash", "list", "--json").json == []
    assert_one_line_error(ready("trash", "purge", "--older-than", "-1"), "0 or more")
    for session in ready.db():
        assert tree.resolve_chain(session, ["kept.bin"]) is not None


def test_trash_purge_leaves_a_fresh_blob_for_the_next_clean_up(ready: Cli) -> None:
    put(ready, "/fresh.bin", BIG)
    delete(ready, "/fresh.bin")
    purged = ready("trash", "purge", "--older-than", "0")
    assert "purged 1 trash entries" in purged.out
    assert "1 blob(s) written in the last minutes are left" in purged.out
    assert blob_file(ready, BIG).exists()


# --- versions --------------------------------------------------------------------------------


def test_version_list_and_restore(ready: Cli) -> None:
    put(ready, "/budget.txt", b"first")
    assert "has no previous version" in ready("version", "list", "/budget.txt").out
    put(ready, "/budget.txt", b"second")
    table = ready("version", "list", "/budget.txt")
    assert table.code == 0, table.err
    assert table.out.splitlines()[0].split() == ["id", "size", "replaced", "by", "sha256"]
    [version] = ready("version", "list", "/budget.txt", "--json").json
    assert version["sha256"] == hashlib.sha256(b"first").hexdigest()
    assert (version["size"], version["replaced_by"]) == (5, "system")
    done = ready("version", "restore", "/budget.txt", str(version["id"]))
    assert done.code == 0, done.err
    assert f"restored version {version['id']} of /budget.txt" in done.out
    assert content(ready, "/budget.txt") == b"first"
    [kept] = ready("version", "list", "/budget.txt", "--json").json
    assert kept["sha256"] == hashlib.sha256(b"second").hexdigest()


def test_version_errors_are_one_line(ready: Cli) -> None:
    put(ready, "/Board/budget.txt", b"only one")
    assert_one_line_error(ready("version", "list", "/missing.txt"), "/missing.txt")
    assert_one_line_error(ready("version", "list", "/Board"), "only files have versions")
    assert_one_line_error(ready("version", "restore", "/Board/budget.txt", "42"), "No version 42")
    assert ready("version", "restore", "/Board/budget.txt", "x").code == 2
