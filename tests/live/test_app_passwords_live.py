"""App passwords over the real server, used by the real rclone.

Issue 10: "sync clients use them instead of the main password; each token's
last use is kept; revoking takes effect at once, also in the credential
cache." Rules checked: rclone (vendor other) signs in with a token and
syncs; the token's last use is stored; right after revocation (the token
having just been accepted many times) the very next request gets 401 and
rclone fails with 401, while the main password still works; a token signs in
only the user it belongs to.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from davdrive import accounts
from davdrive.models import AppPassword
from tests.conftest import LiveServer, add_user, basic
from tests.live.rclone import Rclone

pytestmark = pytest.mark.live


def make_token(live: LiveServer, login: str, label: str) -> str:
    with live.app.runtime.sessions() as session:
        token = accounts.app_password(session, login, label)
        session.commit()
    return token


def last_used(live: LiveServer, label: str) -> object:
    with live.app.runtime.sessions() as session:
        return session.scalars(
            select(AppPassword.last_used_at).where(AppPassword.label == label)
        ).one()


def propfind(live: LiveServer, login: str, password: str) -> int:
    return requests.request(
        "PROPFIND", live.url + "/dav/", headers={"Authorization": basic(login, password),
                                                 "Depth": "0"}, timeout=10,
    ).status_code


def test_rclone_syncs_with_an_app_password_until_it_is_revoked(
    live: LiveServer, tmp_path: Path
) -> None:
    token = make_token(live, "tester", "rclone laptop")
    assert last_used(live, "rclone laptop") is None
    source = tmp_path / "src"
    (source / "Notes").mkdir(parents=True)
    (source / "Notes" / "a.txt").write_bytes(b"written by rclone\n")
    rclone = Rclone(live.url + "/dav/", "tester", token, "other", tmp_path / "rc")
    rclone.ok("sync", str(source), "drive:Laptop")
    assert rclone.ok("lsf", "-R", "drive:Laptop").split() == ["Notes/", "Notes/a.txt"]
    assert rclone.errors() == []
    assert last_used(live, "rclone laptop") is not None
    for _ in range(5):  # accepted again and again: a cache would now hold it
        assert propfind(live, "tester", token) == 207

    with live.app.runtime.sessions() as session:
        assert accounts.revoke_app_password(session, "tester", "rclone laptop") == 1
        session.commit()
    assert propfind(live, "tester", token) == 401
    refused = rclone.run("lsf", "drive:Laptop")
    assert refused.returncode != 0
    assert "401" in rclone.log_text()
    assert propfind(live, "tester", "secret") == 207  # the main password is untouched


def test_a_token_signs_in_only_its_own_user(live: LiveServer) -> None:
    add_user(live.app.runtime, "other", "other-secret", documents="write")
    token = make_token(live, "tester", "phone")
    assert propfind(live, "other", token) == 401
    assert propfind(live, "tester", token) == 207
