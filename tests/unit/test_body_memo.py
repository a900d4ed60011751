"""Request bodies' answers remembered per app (issue 12: a PROPFIND body was parsed
three times per request; clients send the same few bodies again and again)."""

from __future__ import annotations

import io

import pytest

from provider.body_memo import MISSING, BodyMemo
from provider.fast_propfind import requested_props
from provider.xml_body import BadXml, XmlBodyMiddleware, check_xml

RCLONE = (
    b'<?xml version="1.0" encoding="utf-8"?>\n<D:propfind xmlns:D="DAV:"><D:prop>'
    b"<D:resourcetype/><D:getcontentlength/><D:getlastmodified/><D:getetag/>"
    b"</D:prop></D:propfind>"
)
DEAD = b'<D:propfind xmlns:D="DAV:"><D:prop><x:y xmlns:x="urn:x"/></D:prop></D:propfind>'


def _environ(body: bytes) -> dict[str, object]:
    return {"REQUEST_METHOD": "PROPFIND", "CONTENT_LENGTH": str(len(body)),
            "wsgi.input": io.BytesIO(body)}


def test_a_remembered_answer_is_the_computed_one_and_the_body_is_put_back() -> None:
    memo = BodyMemo()
    for _ in range(2):  # computed, then remembered
        environ = _environ(RCLONE)
        assert requested_props(environ, memo) == (
            "{DAV:}resourcetype", "{DAV:}getcontentlength", "{DAV:}getlastmodified",
            "{DAV:}getetag",
        )
        assert environ["wsgi.input"].read() == RCLONE  # type: ignore[attr-defined]
    assert memo.get(RCLONE) is not MISSING
    for _ in range(2):  # a dead property: not on the whitelist, remembered as such
        assert requested_props(_environ(DEAD), memo) is None
    assert memo.get(DEAD) is None


def test_memo_is_bounded() -> None:
    memo = BodyMemo(max_entries=3, max_body=10)
    memo.put(b"x" * 11, "too long")
    assert memo.get(b"x" * 11) is MISSING
    for i in range(3):
        memo.put(bytes([i]), i)
    assert [memo.get(bytes([i])) for i in range(3)] == [0, 1, 2]
    memo.put(b"new", "new")  # full: everything else is forgotten
    assert memo.get(b"new") == "new" and memo.get(bytes([0])) is MISSING


def test_only_accepted_bodies_are_remembered_by_the_xml_check() -> None:
    """A refused body is checked (and refused) every time; an accepted one once."""
    passed: list[bytes] = []

    def app(environ: dict[str, object], start_response: object) -> list[bytes]:
        passed.append(environ["wsgi.input"].read())  # type: ignore[attr-defined]
        return []

    statuses: list[str] = []
    middleware = XmlBodyMiddleware(app, 100_000)
    bad = b"<D:propfind xmlns:D='DAV:'><unclosed></D:propfind>"
    for body in (RCLONE, RCLONE, bad, bad):
        middleware(_environ(body), lambda status, headers: statuses.append(status))
    assert passed == [RCLONE, RCLONE]
    assert [s[:3] for s in statuses] == ["400", "400"]
    assert middleware.accepted.get(RCLONE) is True and middleware.accepted.get(bad) is MISSING
    with pytest.raises(BadXml):  # the check itself still refuses it
        check_xml(bad)
