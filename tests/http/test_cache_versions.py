"""Per-process caches see a change made by another process at the next request.

Issue 12: "Per-process caches for the signed-in actor and each category's
folder rights, checked on use against version counters in the database (a
password, category or rights change is seen by every process at once)."
Each test signs in first (so the credential and the category's rights are
cached in this process), then changes the data folder with the real
``davdrive`` command in a separate process, then checks the very next
request. Rule for each: the answer is the one the changed row calls for
(DESIGN 3 and 5), as if nothing had been cached.
"""

from __future__ import annotations

import os
import subprocess
import sys

from werkzeug.test import Client

from davdrive import node_admin, tree
from davdrive.policy import SYSTEM
from davdrive.runtime import Runtime
from davdrive.server import DriveApp
from davdrive.services import Drive
from davdrive.settings import Settings
from tests.conftest import Dav, add_user, basic, put_file


def davdrive_cli(settings: Settings, *args: str, stdin: str | None = None) -> str:
    """Run the real command line in its own process on the app's data folder."""
    done = subprocess.run(
        [sys.executable, "-m", "davdrive.cli", "--data", str(settings.data_dir), *args],
        capture_output=True, text=True, timeout=120, check=False, input=stdin,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def team_folder(runtime: Runtime, category: str, level: str) -> None:
    """/Team with /Team/plan.txt, and ``category`` given ``level`` on /Team."""
    with runtime.sessions() as session:
        drive = Drive(session, runtime.blobs, SYSTEM, runtime.drive_options)
        folder = drive.make_folder(tree.get_root(session), "Team")
        put_file(drive, folder, "plan.txt", b"the plan\n")
        node_admin.set_folder_rights(session, folder, {category: level})
        session.commit()


def get_status(dav: Dav, path: str) -> int:
    return int(dav("GET", path).status_code)


def test_password_set_by_another_process_refuses_the_old_one_at_once(
    app: DriveApp, dav: Dav
) -> None:
    """GET /dav/ with the cached password, `davdrive user set --password-stdin`
    elsewhere: the old password gets 401 at the next request, the new one 200."""
    assert dav("PROPFIND", "/dav/", Depth="0").status_code == 207
    assert dav("PROPFIND", "/dav/", Depth="0").status_code == 207  # a cache hit
    davdrive_cli(app.settings, "user", "set", "tester", "--password-stdin",
                 stdin="brand-new-secret\n")
    assert dav("PROPFIND", "/dav/", Depth="0").status_code == 401
    dav.auth = basic("tester", "brand-new-secret")
    assert dav("PROPFIND", "/dav/", Depth="0").status_code == 207


def test_account_disabled_by_another_process_is_refused_at_once(
    app: DriveApp, dav: Dav
) -> None:
    """PROPFIND as a cached user, `davdrive user set --inactive` elsewhere: 401 next."""
    assert dav("PROPFIND", "/dav/", Depth="0").status_code == 207
    davdrive_cli(app.settings, "user", "set", "tester", "--inactive")
    assert dav("PROPFIND", "/dav/", Depth="0").status_code == 401


def test_category_of_the_user_changed_by_another_process_is_seen_at_once(
    app: DriveApp, runtime: Runtime, dav: Dav
) -> None:
    """PUT /dav/a.txt as a cached writer (201), then `davdrive user set
    --category readers` elsewhere (documents read): the next PUT is 403 (rule 5)."""
    add_user(runtime, "reader", "reader-pw", documents="read", category="readers")
    assert dav("PUT", "/dav/a.txt", b"one").status_code == 201
    davdrive_cli(app.settings, "user", "set", "tester", "--category", "readers")
    assert dav("PUT", "/dav/b.txt", b"two").status_code == 403
    assert get_status(dav, "/dav/a.txt") == 200  # reading is still allowed


def test_category_level_changed_by_another_process_is_seen_at_once(
    app: DriveApp, dav: Dav
) -> None:
    """PUT as a cached writer, `davdrive category set docs-write --documents none`
    elsewhere: the file the user just wrote is 404 at the next GET (rule 3)."""
    assert dav("PUT", "/dav/a.txt", b"one").status_code == 201
    assert get_status(dav, "/dav/a.txt") == 200
    davdrive_cli(app.settings, "category", "set", "docs-write", "--documents", "none")
    assert get_status(dav, "/dav/a.txt") == 404


def test_folder_right_removed_by_another_process_hides_the_folder_at_once(
    app: DriveApp, runtime: Runtime
) -> None:
    """GET /dav/Team/plan.txt as a reader whose category reads /Team only (200,
    rights now cached), then `davdrive folder rights /Team readers=inherit`
    elsewhere: the next GET is 404, as for a path that does not exist (rule 4)."""
    add_user(runtime, "reader", "reader-pw", documents="read", category="readers",
             root_right="none")
    team_folder(runtime, "readers", "read")
    dav = Dav(Client(app), basic("reader", "reader-pw"))
    assert get_status(dav, "/dav/Team/plan.txt") == 200
    assert get_status(dav, "/dav/Team/plan.txt") == 200
    davdrive_cli(app.settings, "folder", "rights", "/Team", "readers=inherit")
    assert get_status(dav, "/dav/Team/plan.txt") == 404
    assert dav("PROPFIND", "/dav/Team/", Depth="0").status_code == 404


def test_folder_right_granted_by_another_process_shows_the_folder_at_once(
    app: DriveApp, runtime: Runtime
) -> None:
    """The reverse: /Team hidden (404), `folder rights /Team readers=read`
    elsewhere, the next GET is 200."""
    add_user(runtime, "reader", "reader-pw", documents="read", category="readers",
             root_right="none")
    team_folder(runtime, "readers", "none")
    dav = Dav(Client(app), basic("reader", "reader-pw"))
    assert get_status(dav, "/dav/Team/plan.txt") == 404
    davdrive_cli(app.settings, "folder", "rights", "/Team", "readers=read")
    assert get_status(dav, "/dav/Team/plan.txt") == 200


def test_degree_lowered_by_another_process_is_seen_at_once(
    app: DriveApp, runtime: Runtime, dav: Dav
) -> None:
    """GET /dav/Secret/plan.txt (min degree 2) as a cached user of degree 2, then
    `davdrive user set --degree 1` elsewhere: 404 at the next GET (rule 3)."""
    with runtime.sessions() as session:
        drive = Drive(session, runtime.blobs, SYSTEM, runtime.drive_options)
        folder = drive.make_folder(tree.get_root(session), "Secret")
        put_file(drive, folder, "plan.txt", b"secret plan\n")
        node_admin.node_set(session, folder, min_degree=2)
        session.commit()
    davdrive_cli(app.settings, "user", "set", "tester", "--degree", "2")
    assert get_status(dav, "/dav/Secret/plan.txt") == 200
    assert get_status(dav, "/dav/Secret/plan.txt") == 200  # kept (readable_files)
    davdrive_cli(app.settings, "user", "set", "tester", "--degree", "1")
    assert get_status(dav, "/dav/Secret/plan.txt") == 404
