"""What a folder's zip holds for one user (``davdrive.folder_archive``): the files the
policy lets them read below it, in a fixed order, with paths relative to it; limits
counted on those files only."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from davdrive import node_admin
from davdrive.drive_base import DriveOptions
from davdrive.errors import BadRequest, TooLarge
from davdrive.folder_archive import (
    ArchiveLimits,
    Survey,
    archive_name,
    members,
    survey,
    zip_members,
)
from davdrive.models import Node
from davdrive.paths import split_path
from davdrive.policy import SYSTEM
from davdrive.server import DriveApp
from davdrive.services import Drive
from davdrive.users import actor_for, get_user
from tests.conftest import put_file
from tests.web.conftest import office  # noqa: F401  (a fixture)
from tests.web.drive_trees import drive_tree


@contextmanager
def drive_of(app: DriveApp, login: str | None, options: DriveOptions | None = None
             ) -> Iterator[Drive]:
    """The drive as ``login`` sees it (None: the system)."""
    rt = app.runtime
    with rt.sessions() as session:
        actor = SYSTEM if login is None else actor_for(get_user(session, login))
        yield Drive(session, rt.blobs, actor, options or rt.drive_options)


def _paths(drive: Drive, path: str) -> list[str]:
    folder = drive.node_at(split_path(path))
    assert folder is not None
    return [m.path for m in members(drive, folder)]


def test_members_come_depth_first_folders_before_files_by_name(
    office: DriveApp,  # noqa: F811
) -> None:
    with drive_of(office, None) as drive:
        top, _ = node_admin.make_folders(drive.session, drive, "/A")
        put_file(drive, top, "b.txt", b"b")
        put_file(drive, top, "a.txt", b"a")
        node_admin.make_folders(drive.session, drive, "/A/Z")
        inner, _ = node_admin.make_folders(drive.session, drive, "/A/m")
        put_file(drive, inner, "x.txt", b"x")
        drive.session.commit()
    with drive_of(office, "root") as drive:
        assert _paths(drive, "/A") == ["m/", "m/x.txt", "Z/", "a.txt", "b.txt"]


def test_a_member_gets_what_she_may_read_and_pass_through_folders_get_no_entry(
    office: DriveApp,  # noqa: F811
) -> None:
    drive_tree(office)
    with drive_of(office, "mary") as drive:
        # /Board: no right for members (pass-through); /Finance: treasury; board.txt:
        # degree 3; note.txt: olga's private file
        assert _paths(drive, "/") == ["Board/Public/", "Board/Public/agenda.txt", "Minutes/",
                                      "Minutes/assembly.txt"]
    with drive_of(office, "olga") as drive:
        assert _paths(drive, "/") == [
            "Board/", "Board/Public/", "Board/Public/agenda.txt", "Finance/",
            "Finance/budget.txt", "Minutes/", "Minutes/assembly.txt", "Minutes/note.txt"]


def test_junk_files_are_left_out(office: DriveApp) -> None:  # noqa: F811
    keep_all = DriveOptions(junk_names=())  # as stored before the junk names were set
    with drive_of(office, None, keep_all) as drive:
        folder, _ = node_admin.make_folders(drive.session, drive, "/Photos")
        put_file(drive, folder, "Thumbs.db", b"junk")
        put_file(drive, folder, "view.jpg", b"jpeg")
        drive.session.commit()
    with drive_of(office, "mary") as drive:
        assert _paths(drive, "/Photos") == ["view.jpg"]
    with drive_of(office, "mary", keep_all) as drive:
        assert _paths(drive, "/Photos") == ["Thumbs.db", "view.jpg"]


def test_limits_count_only_what_the_user_may_read(office: DriveApp) -> None:  # noqa: F811
    drive_tree(office)
    # mary: the folders Minutes and Board/Public, and a file in each
    readable = len(b"The assembly met on Monday.") + len(b"1. welcome")
    with drive_of(office, "mary") as drive:
        root = drive.node_at([])
        assert root is not None
        assert survey(drive, root, ArchiveLimits(entries=4, bytes=readable)) == Survey(
            4, readable)
        with pytest.raises(TooLarge, match="more than 3 files and folders"):
            survey(drive, root, ArchiveLimits(entries=3))
        with pytest.raises(TooLarge, match=f"more than {readable - 1} bytes"):
            survey(drive, root, ArchiveLimits(bytes=readable - 1))
    with drive_of(office, "root") as drive:  # an administrator reads 5 files in 4 folders
        root = drive.node_at([])
        assert root is not None
        assert survey(drive, root, ArchiveLimits()).entries == 9
        with pytest.raises(TooLarge):
            survey(drive, root, ArchiveLimits(entries=4))


def test_contents_are_read_as_the_user_when_their_turn_comes(
    office: DriveApp,  # noqa: F811
) -> None:
    drive_tree(office)
    with drive_of(office, None) as drive:
        minutes = drive.node_at(["Minutes"])
        assert minutes is not None
        drive.session.add(Node(parent_id=minutes.id, name="empty.txt", name_key="empty.txt",
                               kind="file", mtime=time.time()))  # never written: no content
        drive.session.commit()
    with drive_of(office, "mary") as drive:
        minutes = drive.node_at(["Minutes"])
        assert minutes is not None
        got = {}
        for member in zip_members(drive, minutes):
            assert member.open is not None
            with member.open() as content:
                got[member.path] = content.read()
        assert got == {"assembly.txt": b"The assembly met on Monday.", "empty.txt": b""}


def test_only_folders_make_archives_named_after_them(office: DriveApp) -> None:  # noqa: F811
    drive_tree(office)
    with drive_of(office, "mary") as drive:
        root, minutes = drive.node_at([]), drive.node_at(["Minutes"])
        assembly = drive.node_at(["Minutes", "assembly.txt"])
        assert root is not None and minutes is not None and assembly is not None
        assert (archive_name(root), archive_name(minutes)) == ("Files.zip", "Minutes.zip")
        with pytest.raises(BadRequest):
            next(members(drive, assembly))
