"""A 201/204 to PUT means durable; an aborted PUT leaves the old content intact."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import requests

from tests.conftest import LiveServer, basic


def put(live: LiveServer, path: str, data: bytes, **headers: str) -> requests.Response:
    hdrs = {"Authorization": basic("tester", "secret"), **headers}
    return requests.put(live.url + path, data=data, headers=hdrs, timeout=10)


def get(live: LiveServer, path: str) -> requests.Response:
    return requests.get(live.url + path, headers={"Authorization": basic("tester", "secret")},
                        timeout=10)


def send_truncated_put(live: LiveServer, path: str, announced: int, sent: bytes) -> None:
    """Announce ``announced`` bytes, send fewer, then hang up."""
    with socket.create_connection(("127.0.0.1", live.port), timeout=5) as sock:
        head = (
            f"PUT {path} HTTP/1.1\r\nHost: 127.0.0.1:{live.port}\r\n"
            f"Authorization: {basic('tester', 'secret')}\r\n"
            f"Content-Length: {announced}\r\nContent-Type: text/plain\r\n\r\n"
        )
        sock.sendall(head.encode() + sent)
        sock.shutdown(socket.SHUT_WR)
        sock.settimeout(5)
        try:
            while sock.recv(4096):
                pass
        except OSError:
            pass


def wait_for_no_temp_files(data_dir: Path) -> list[Path]:
    deadline = time.monotonic() + 5
    leftovers = list((data_dir / "blobs" / "tmp").iterdir())
    while leftovers and time.monotonic() < deadline:
        time.sleep(0.05)
        leftovers = list((data_dir / "blobs" / "tmp").iterdir())
    return leftovers


def test_aborted_put_keeps_previous_content(live: LiveServer) -> None:
    assert put(live, "/dav/report.txt", b"version one").status_code == 201
    send_truncated_put(live, "/dav/report.txt", 100_000, b"partial new content")
    response = get(live, "/dav/report.txt")
    assert response.status_code == 200
    assert response.content == b"version one"
    assert wait_for_no_temp_files(live.app.settings.data_dir) == []


def test_aborted_put_of_new_file_leaves_nothing(live: LiveServer) -> None:
    send_truncated_put(live, "/dav/never.txt", 50_000, b"x" * 1000)
    assert get(live, "/dav/never.txt").status_code == 404
    assert wait_for_no_temp_files(live.app.settings.data_dir) == []


def test_completed_put_is_readable_with_content_hash_etag(live: LiveServer) -> None:
    import hashlib

    body = b"durable bytes" * 1000
    response = put(live, "/dav/d.bin", body)
    assert response.status_code == 201
    digest = hashlib.sha256(body).hexdigest()
    assert response.headers["ETag"] == f'"{digest}"'
    got = get(live, "/dav/d.bin")
    assert got.content == body
    assert got.headers["ETag"] == f'"{digest}"'


def test_stale_if_match_gets_412_and_keeps_content(live: LiveServer) -> None:
    first = put(live, "/dav/doc.txt", b"one")
    stale = first.headers["ETag"]
    second = put(live, "/dav/doc.txt", b"two", **{"If-Match": stale})
    assert second.status_code == 204
    refused = put(live, "/dav/doc.txt", b"three", **{"If-Match": stale})
    assert refused.status_code == 412
    assert get(live, "/dav/doc.txt").content == b"two"
    current = second.headers["ETag"]
    assert put(live, "/dav/doc.txt", b"four", **{"If-Match": current}).status_code == 204
    assert get(live, "/dav/doc.txt").content == b"four"


def test_if_none_match_star_refuses_overwrite(live: LiveServer) -> None:
    assert put(live, "/dav/once.txt", b"first", **{"If-None-Match": "*"}).status_code == 201
    assert put(live, "/dav/once.txt", b"second", **{"If-None-Match": "*"}).status_code == 412
    assert get(live, "/dav/once.txt").content == b"first"


def test_etag_survives_a_new_app_on_the_same_data(live: LiveServer) -> None:
    """ETags are content hashes: the same across processes and restarts."""
    from werkzeug.test import Client

    from davdrive.server import create_app

    etag = put(live, "/dav/stable.txt", b"same").headers["ETag"]
    other = create_app(live.app.settings, live.app.runtime)
    response = Client(other).get(
        "/dav/stable.txt", headers={"Authorization": basic("tester", "secret")}
    )
    assert response.headers["ETag"] == etag
