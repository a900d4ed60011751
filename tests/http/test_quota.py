"""RFC 4331 quota properties and the 507 of an upload that would pass a quota.

Issue 10: "quota-available-bytes / quota-used-bytes come back empty under 200,
so Finder, Windows, davfs2, gio and `rclone about` show no free space."
Rules checked (RFC 4331 and docs/decisions.md): on a folder, quota-used-bytes
is what the signed-in user owns (current file content, not other users'
files) and quota-available-bytes the smallest room left among the user's
category quota, the drive's quota and the free disk space; both are
returned when asked by name or by propname, never by allprop; they do not
exist (404 in their propstat) on files and in the read-only back-office
branch; a PUT or COPY that would pass a quota answers 507 and stores
nothing, while one that does not grow the owner's bytes always passes.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from lxml import etree
from werkzeug.test import Client

from davdrive import records
from davdrive.errors import ConfigError
from davdrive.runtime import Runtime, open_runtime
from davdrive.server import create_app
from davdrive.settings import Settings, load_settings
from tests.conftest import Dav, add_user, basic

D = "{DAV:}"
QUOTA = (
    '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop>'
    "<D:quota-available-bytes/><D:quota-used-bytes/></D:prop></D:propfind>"
)
ALLPROP = '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>'
MiB = 1024 * 1024


class Drive:
    """A drive with two users of category 'staff' and one of 'guest', all may write."""

    def __init__(self, data_dir: Path, fast_passwords, fresh: bool, **values: object) -> None:  # type: ignore[no-untyped-def]
        overrides = {"data_dir": str(data_dir), "server.port": 0}
        self.settings: Settings = load_settings(None, {}, overrides).replace(**values)
        self.runtime: Runtime = open_runtime(self.settings, fast_passwords)
        for login, category in (("ann", "staff"), ("bob", "staff"), ("gus", "guest")):
            if fresh:
                add_user(self.runtime, login, f"{login}-pw", documents="write", category=category)
        self.app = create_app(self.settings, self.runtime)

    def as_(self, login: str) -> Dav:
        return Dav(Client(self.app), basic(login, f"{login}-pw"))

    @property
    def blob_root(self) -> Path:
        return self.settings.blob_dir

    def blob_files(self) -> set[Path]:
        return {p for p in self.blob_root.rglob("*") if p.is_file()}


@pytest.fixture
def make_drive(tmp_path: Path, fast_passwords) -> Iterator[Callable[..., Drive]]:  # type: ignore[no-untyped-def]
    made: list[Drive] = []

    def make(data_dir: Path | None = None, **values: object) -> Drive:
        """A new drive, or (``data_dir``) a new app with other settings on an existing one."""
        where = data_dir or tmp_path / str(len(made))
        drive = Drive(where, fast_passwords, data_dir is None, **values)
        made.append(drive)
        return drive

    yield make
    for drive in made:
        drive.runtime.close()


def quota_of(dav: Dav, path: str, depth: str = "0") -> dict[str, tuple[str, str | None]]:
    """href -> (status of the quota-used-bytes propstat, its text) and the same for
    available under the key href + '#available'."""
    response = dav("PROPFIND", path, QUOTA, Depth=depth)
    assert response.status_code == 207, response.data
    found: dict[str, tuple[str, str | None]] = {}
    for resp in etree.fromstring(response.data).iter(f"{D}response"):
        href = resp.findtext(f"{D}href")
        for propstat in resp.iter(f"{D}propstat"):
            status = propstat.findtext(f"{D}status") or ""
            props = propstat.find(f"{D}prop")
            for prop in props if props is not None else []:
                key = href if prop.tag == f"{D}quota-used-bytes" else f"{href}#available"
                found[key] = (status.split()[1], prop.text)
    return found


def figures(dav: Dav, path: str = "/dav/") -> tuple[int, int]:
    """(used, available) of ``path`` as the user sees them; both must be 200 with digits."""
    found = quota_of(dav, path)
    href = next(k for k in found if not k.endswith("#available"))
    used_status, used = found[href]
    avail_status, avail = found[href + "#available"]
    assert (used_status, avail_status) == ("200", "200"), found
    assert used is not None and used.isdigit() and avail is not None and avail.isdigit(), found
    return int(used), int(avail)


def test_unlimited_drive_reports_own_bytes_and_free_disk_space(make_drive) -> None:  # type: ignore[no-untyped-def]
    """RFC 4331 on PROPFIND /dav/ Depth 0: used = the user's own files, available =
    free space of the blob folder when no quota is set (the default)."""
    drive = make_drive()
    ann, bob = drive.as_("ann"), drive.as_("bob")
    assert ann("PUT", "/dav/a.txt", b"x" * 1000).status_code == 201
    assert ann("MKCOL", "/dav/Sub").status_code == 201
    assert ann("PUT", "/dav/Sub/b.txt", b"y" * 234).status_code == 201
    assert bob("PUT", "/dav/bob.txt", b"z" * 5000).status_code == 201  # not ann's
    used, available = figures(ann)
    assert used == 1234
    free = shutil.disk_usage(drive.blob_root).free
    assert abs(available - free) < 64 * MiB  # the disk is shared with other processes
    assert figures(bob)[0] == 5000


def test_category_quota_limits_each_user_of_the_category(make_drive) -> None:  # type: ignore[no-untyped-def]
    """storage.category_quotas staff=10000: each staff user may own 10000 bytes; the
    figures of one do not depend on another's files; guest has no quota."""
    drive = make_drive(**{"storage.category_quotas": ["staff=10000"]})
    ann, bob, gus = drive.as_("ann"), drive.as_("bob"), drive.as_("gus")
    assert ann("PUT", "/dav/a.txt", b"x" * 4000).status_code == 201
    assert bob("PUT", "/dav/b.txt", b"x" * 3000).status_code == 201
    assert figures(ann) == (4000, 6000)
    assert figures(bob) == (3000, 7000)
    assert figures(gus)[1] > 10000  # the free disk space


def test_drive_quota_counts_every_users_files(make_drive) -> None:  # type: ignore[no-untyped-def]
    """storage.quota_bytes 10000: available is what the whole drive has left."""
    drive = make_drive(**{"storage.quota_bytes": 10000})
    ann, gus = drive.as_("ann"), drive.as_("gus")
    assert ann("PUT", "/dav/a.txt", b"x" * 4000).status_code == 201
    assert gus("PUT", "/dav/g.txt", b"x" * 1000).status_code == 201
    assert figures(ann) == (4000, 5000)
    assert figures(gus) == (1000, 5000)


def test_smallest_room_wins(make_drive) -> None:  # type: ignore[no-untyped-def]
    """A category quota of 10000 under a drive quota of 6000: the drive's room is smaller."""
    drive = make_drive(**{"storage.quota_bytes": 6000, "storage.category_quotas": ["staff=10000"]})
    ann, bob = drive.as_("ann"), drive.as_("bob")
    assert bob("PUT", "/dav/b.txt", b"x" * 5000).status_code == 201
    assert figures(ann) == (0, 1000)


@pytest.mark.parametrize("stream", [True, False])
def test_listing_gives_figures_on_folders_and_404_on_files(make_drive, stream: bool) -> None:  # type: ignore[no-untyped-def]
    """PROPFIND Depth 1 of a folder (streamed and WsgiDAV's own): each folder carries
    the figures under 200, each file answers them 404 (never an empty 200)."""
    drive = make_drive(
        **{"storage.category_quotas": ["staff=10000"], "dav.stream_propfind": stream}
    )
    ann = drive.as_("ann")
    assert ann("MKCOL", "/dav/Box").status_code == 201
    assert ann("MKCOL", "/dav/Box/Inner").status_code == 201
    assert ann("PUT", "/dav/Box/f.txt", b"x" * 100).status_code == 201
    found = quota_of(ann, "/dav/Box/", depth="1")
    assert found["/dav/Box/"] == ("200", "100")
    assert found["/dav/Box/#available"] == ("200", "9900")
    assert found["/dav/Box/Inner/"] == ("200", "100")
    assert found["/dav/Box/f.txt"] == ("404", None)
    assert found["/dav/Box/f.txt#available"] == ("404", None)


def test_backoffice_branch_has_no_quota(make_drive) -> None:  # type: ignore[no-untyped-def]
    """The read-only back-office folder: 404 for both, not an empty value under 200."""
    drive = make_drive()
    with drive.runtime.sessions() as session:
        records.add_record(session, "member", "Ann Record", "ann")
        session.commit()
    found = quota_of(drive.as_("ann"), "/dav/backoffice/", depth="1")
    assert "/dav/backoffice/members/" in found
    assert set(found.values()) == {("404", None)}


def test_quota_properties_are_not_in_allprop(make_drive) -> None:  # type: ignore[no-untyped-def]
    """RFC 4331 section 3: "not returned by an allprop PROPFIND request"."""
    drive = make_drive()
    ann = drive.as_("ann")
    assert ann("PUT", "/dav/f.txt", b"1").status_code == 201
    allprop = ann("PROPFIND", "/dav/", ALLPROP, Depth="1")
    assert allprop.status_code == 207
    assert b"quota-" not in allprop.data


def test_put_past_category_quota_is_507_and_stores_nothing(make_drive) -> None:  # type: ignore[no-untyped-def]
    """PUT with Content-Length past the owner's quota: 507 before the body is stored;
    no node, no blob, no temp file; an upload that fits still works."""
    drive = make_drive(**{"storage.category_quotas": ["staff=1000"]})
    ann = drive.as_("ann")
    assert ann("PUT", "/dav/a.txt", b"x" * 600).status_code == 201
    blobs_before = drive.blob_files()
    response = ann("PUT", "/dav/big.txt", b"y" * 401)
    assert response.status == "507 Insufficient Storage"  # RFC 4918 11.5, not "507 Status"
    assert b"quota" in response.data and b"Status" not in response.data
    assert b"quota-not-exceeded" in response.data  # the RFC 4331 precondition
    assert ann("GET", "/dav/big.txt").status_code == 404
    assert drive.blob_files() == blobs_before
    assert ann("PUT", "/dav/fits.txt", b"y" * 400).status_code == 201
    assert figures(ann) == (1000, 0)


def test_overwrite_counts_only_the_growth(make_drive) -> None:  # type: ignore[no-untyped-def]
    """Replacing 600 bytes by 900 under a 1000-byte quota fits (growth 300); by 1001
    does not (507, old content kept); shrinking always passes, even over quota."""
    drive = make_drive(**{"storage.category_quotas": ["staff=1000"]})
    ann = drive.as_("ann")
    assert ann("PUT", "/dav/a.txt", b"x" * 600).status_code == 201
    assert ann("PUT", "/dav/a.txt", b"y" * 900).status_code == 204
    assert ann("PUT", "/dav/a.txt", b"z" * 1001).status_code == 507
    assert ann("GET", "/dav/a.txt").data == b"y" * 900
    lowered = make_drive(drive.settings.data_dir, **{"storage.category_quotas": ["staff=10"]})
    ann2 = lowered.as_("ann")
    assert figures(ann2) == (900, 0)
    assert ann2("PUT", "/dav/a.txt", b"s" * 500).status_code == 204


def test_copy_past_quota_is_507_and_copies_nothing(make_drive) -> None:  # type: ignore[no-untyped-def]
    """COPY of a folder whose files would pass the copier's quota: 507, no copy."""
    drive = make_drive(**{"storage.category_quotas": ["staff=1000", "guest=100000"]})
    ann, gus = drive.as_("ann"), drive.as_("gus")
    assert gus("MKCOL", "/dav/Src").status_code == 201
    assert gus("PUT", "/dav/Src/a.bin", b"x" * 700).status_code == 201
    assert gus("PUT", "/dav/Src/b.bin", b"x" * 700).status_code == 201
    response = ann("COPY", "/dav/Src/", Destination="http://localhost/dav/Copy/")
    assert response.status == "507 Insufficient Storage"
    assert b"copy would pass the storage quota" in response.data
    assert ann("PROPFIND", "/dav/Copy/", Depth="0").status_code == 404
    one = ann("COPY", "/dav/Src/a.bin", Destination="http://localhost/dav/one.bin")
    assert one.status_code == 201
    assert figures(ann)[0] == 700


def test_bad_category_quota_entries_are_refused_at_start(tmp_path: Path) -> None:
    """storage.category_quotas entries read 'slug=bytes' with bytes > 0."""
    env = {"DAVDRIVE_STORAGE_CATEGORY_QUOTAS": "staff=10,guest,member=-1,x=1G"}
    with pytest.raises(ConfigError) as caught:
        load_settings(None, env, {"data_dir": str(tmp_path)})
    assert "got ['guest', 'member=-1', 'x=1G']" in str(caught.value)
