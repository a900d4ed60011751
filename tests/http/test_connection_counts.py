"""Connection statistics of the WebDAV side (seed 002, DESIGN 2): what a flush stores.

Rules: after N requests by a user and a flush, the day's ``dav`` row of that user
has requests == N, bytes in == the request bodies read, bytes out == the response
bodies sent (file answers included, none for HEAD); the burst itself writes no
statistics row (no INSERT or UPDATE of login_stat until the flush); requests made
without signing in count under login "".
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from davdrive.models import LoginStat
from davdrive.server import DriveApp
from tests.conftest import Dav, basic, recorded_statements

SMALL = b"small file kept in the database\n"
LARGE = bytes(range(256)) * 400  # 102,400 bytes: a blob file, answered as a file body


def _flush(app: DriveApp) -> None:
    app.runtime.connection_stats.flush(app.runtime.sessions)


def _row(app: DriveApp, login: str, interface: str = "dav") -> LoginStat | None:
    with app.runtime.sessions() as session:
        return session.scalars(select(LoginStat).where(
            LoginStat.login == login, LoginStat.interface == interface,
            LoginStat.day == dt.date.today())).first()


def _stat_writes(statements: list[str]) -> list[str]:
    return [s for s in statements
            if s.split()[0] in ("INSERT", "UPDATE") and "login_stat" in s]


def test_n_requests_then_a_flush_count_requests_and_body_bytes(
    app: DriveApp, dav: Dav
) -> None:
    with recorded_statements(app.runtime.engine) as seen:
        answers = [
            dav("MKCOL", "/dav/docs"),
            dav("PUT", "/dav/docs/small.txt", SMALL),
            dav("PUT", "/dav/docs/large.bin", LARGE),
            dav("GET", "/dav/docs/small.txt"),
            dav("GET", "/dav/docs/large.bin"),
            dav("GET", "/dav/docs/large.bin", Range="bytes=0-99"),
            dav("HEAD", "/dav/docs/large.bin"),
            dav("PROPFIND", "/dav/docs", Depth="1"),
            dav("GET", "/dav/docs/missing.txt"),
        ]
    assert [a.status_code for a in answers] == [201, 201, 201, 200, 200, 206, 200, 207, 404]
    assert answers[4].data == LARGE and len(answers[5].data) == 100
    assert _stat_writes(seen) == [], "no statistics row is written per request"
    assert _row(app, "tester") is None
    with recorded_statements(app.runtime.engine) as seen:
        _flush(app)
    assert len(_stat_writes(seen)) == 2, "the flush: one UPDATE, then the day's INSERT"
    row = _row(app, "tester")
    assert row is not None
    sent = sum(len(a.data) for a in answers)  # HEAD answers carry no body
    assert (row.requests, row.bytes_in, row.bytes_out) == (
        len(answers), len(SMALL) + len(LARGE), sent)
    assert row.bytes_out > len(LARGE), "the file answer is counted"


def test_a_second_flush_adds_to_the_same_day_row(app: DriveApp, dav: Dav) -> None:
    put = dav("PUT", "/dav/a.txt", b"abc")
    _flush(app)
    get = dav("GET", "/dav/a.txt")
    _flush(app)
    row = _row(app, "tester")
    assert row is not None and (row.requests, row.bytes_in, row.bytes_out) == (
        2, 3, len(put.data) + len(get.data))


def test_requests_without_a_signed_in_user_count_under_an_empty_login(
    app: DriveApp, dav: Dav
) -> None:
    anonymous = dav.client.open("/dav/", method="PROPFIND", headers={"Depth": "0"},
                                buffered=True)
    refused = dav.client.open("/dav/", method="PROPFIND", buffered=True,
                              headers={"Depth": "0", "Authorization": "Basic dGVzdGVyOm5v"})
    assert (anonymous.status_code, refused.status_code) == (401, 401)
    _flush(app)
    row = _row(app, "")
    assert row is not None and row.requests == 2
    assert row.bytes_out == len(anonymous.data) + len(refused.data)
    tester = _row(app, "tester")
    assert tester is not None, "a refused password of a known account counts as its failure"
    assert (tester.failures, tester.successes, tester.requests) == (1, 0, 0), \
        "a refused password signs nobody in: its request is not the account's"


def test_webdav_sign_ins_count_once_per_password_check_not_per_request(
    app: DriveApp, dav: Dav
) -> None:
    """Seed 002: sign-ins per user and interface; a client's cached password is one
    sign-in however many requests it sends, and an unknown login adds no row."""
    for _ in range(3):
        assert dav("PROPFIND", "/dav/", Depth="0").status_code == 207
    stranger = dav.client.open("/dav/", method="PROPFIND", buffered=True, headers={
        "Depth": "0", "Authorization": basic("nobody-known", "guess")})
    assert stranger.status_code == 401
    _flush(app)
    row = _row(app, "tester")
    assert row is not None
    assert (row.successes, row.failures, row.requests) == (1, 0, 3)
    assert _row(app, "nobody-known") is None
