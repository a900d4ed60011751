"""webdav4 and webdavclient3 with their default settings against the live server
(issue 10): upload, list, download, move, copy, delete, info and checks work.

webdav4 sends PROPFIND without a Depth header (answered as Depth 1);
webdavclient3 checks folders with HEAD (answered 200, no body).
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from webdav3.client import Client as Client3
from webdav4.client import Client as Client4

from tests.conftest import LiveServer

pytestmark = pytest.mark.live

DATA = "Grüße & 100 % sûr\n".encode() * 500


def test_webdav4_round_trip(live: LiveServer) -> None:
    client = Client4(f"{live.url}/dav/", auth=("tester", "secret"))
    client.mkdir("Minutes")
    client.upload_fileobj(io.BytesIO(DATA), "Minutes/jan 2026.txt")
    names = sorted(entry["name"] for entry in client.ls("Minutes", detail=True))
    assert names == ["Minutes/jan 2026.txt"]
    assert client.isdir("Minutes") and client.isfile("Minutes/jan 2026.txt")
    assert client.exists("Minutes/jan 2026.txt") and not client.exists("Minutes/nope.txt")
    assert client.content_length("Minutes/jan 2026.txt") == len(DATA)
    assert client.etag("Minutes/jan 2026.txt")
    assert client.modified("Minutes/jan 2026.txt").year >= 2024
    client.copy("Minutes/jan 2026.txt", "Minutes/copy.txt")
    client.move("Minutes/copy.txt", "Minutes/feb.txt")
    out = io.BytesIO()
    client.download_fileobj("Minutes/feb.txt", out)
    assert out.getvalue() == DATA
    client.remove("Minutes/feb.txt")
    assert not client.exists("Minutes/feb.txt")
    assert [e["name"] for e in client.ls("/", detail=True)].count("Minutes") == 1


def test_webdavclient3_round_trip(live: LiveServer, tmp_path: Path) -> None:
    client = Client3({"webdav_hostname": live.url, "webdav_root": "/dav/",
                      "webdav_login": "tester", "webdav_password": "secret"})
    assert client.check("/")  # HEAD on a folder
    assert client.mkdir("Reports/")
    assert client.check("Reports/") and client.is_dir("Reports/")
    local = tmp_path / "q1.txt"
    local.write_bytes(DATA)
    client.upload_sync(remote_path="Reports/q1.txt", local_path=str(local))
    assert client.check("Reports/q1.txt") and not client.check("Reports/none.txt")
    assert client.list("Reports/") == ["q1.txt"]  # the folder itself is left out
    info = client.info("Reports/q1.txt")
    assert int(info["size"]) == len(DATA) and info["modified"]
    client.copy("Reports/q1.txt", "Reports/q2.txt")
    client.move("Reports/q2.txt", "Reports/q3.txt")
    back = tmp_path / "back.txt"
    client.download_sync(remote_path="Reports/q3.txt", local_path=str(back))
    assert back.read_bytes() == DATA
    client.clean("Reports/q3.txt")
    assert not client.check("Reports/q3.txt")
    assert client.check("Reports/q1.txt")
