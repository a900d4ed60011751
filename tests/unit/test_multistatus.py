"""String rendering of multistatus parts gives what WsgiDAV's helpers give."""

import datetime as dt
from email.utils import formatdate
from urllib.parse import quote

from sqlalchemy.dialects import sqlite
from wsgidav import util

from davdrive import tree
from davdrive.models import Node
from provider.multistatus import (
    _MEMO,
    ALLPROP_FILE,
    CONTENTLENGTH,
    CONTENTTYPE,
    CREATIONDATE,
    DISPLAYNAME,
    ETAG,
    HREF_SAFE,
    LASTMODIFIED,
    LIVE_PROPS,
    PLAIN_HREF,
    HttpDates,
    Item,
    Templates,
    escape_text,
    quote_href,
)


def test_memoised_dates_equal_wsgidav_dates_at_second_edges() -> None:
    """Rule: getlastmodified/Last-Modified and creationdate are WsgiDAV's formats,
    also where rounding to microseconds moves a stamp to the next second."""
    dates = HttpDates()
    for stamp in (0.0, 1.2, 1.9999999, 1.9999994, 2.0, 1_700_000_000.5,
                  1_700_000_000.9999996, 1_700_000_001.0):
        for _ in range(2):  # computed, then memoised
            assert dates.rfc1123(stamp) == util.get_rfc1123_time(stamp), stamp
            assert dates.rfc3339(stamp) == util.get_rfc3339_time(stamp), stamp
    assert dates.now()[-3:] == formatdate(usegmt=True)[-3:]


def test_escaping_and_quoting_match_the_slow_forms() -> None:
    for text in ("plain.txt", "R&D <b>.txt", "tab\there", "café", "a\rb", ""):
        expected = (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
                    .replace("\r", "&#13;"))
        assert escape_text(text) == expected
    for path in ("/dav/a b/", "/dav/100%/", "/dav/plain-name_1.txt", "/dav/ü/", "/dav/~x"):
        assert quote_href(path) == quote(path, safe=HREF_SAFE)


def _file_row(columns: tuple[str, ...], **values: object) -> tuple[object, ...]:
    """A listing row as ``tree.file_rows`` returns it: name, file key, columns."""
    node = {"owner_id": 1, "protected": False, "visibility": "shared", "min_degree": 0,
            "doc_type": None, **values}
    return tuple(node[c] for c in ("name", *tree.FILE_KEY_COLUMNS, *columns))


# SQLite's driver values: a date is text, converted as SQLAlchemy converts it.
_SQLITE = sqlite.dialect()


def _sqlite_convert(columns: tuple[str, ...]) -> tuple[object, ...]:
    table = Node.__table__
    return tuple(table.c[c].type.dialect_impl(_SQLITE).result_processor(_SQLITE, None)
                 for c in ("name", *tree.FILE_KEY_COLUMNS, *columns))


def _text(entries: list[bytes]) -> str:
    return b"".join(entries).decode("utf-8")


def test_compiled_file_rows_write_what_the_templates_write() -> None:
    """Rule: a listing's files are written exactly as ``Templates.render`` writes a file
    (itself WsgiDAV's serialisation), for every property set, with and without an ETag,
    whatever the name, from converted values or from SQLite's raw ones (a date as
    text), one row or a page of rows; the listing selects only the columns its
    properties need."""
    sets = [
        (ETAG, CONTENTLENGTH, LASTMODIFIED, "{DAV:}resourcetype"),
        tuple(LIVE_PROPS),
        ("{DAV:}ishidden", DISPLAYNAME),
        (DISPLAYNAME, "{DAV:}ishidden"),
        ("{DAV:}x{0}}{", CREATIONDATE, CONTENTTYPE),  # braces stay text, never a field
        (),
    ]
    templates = Templates(HttpDates())
    created = dt.datetime(2026, 1, 2, 3, 4, 5)
    base = "/dav/x/"
    for names in sets:
        for allprop in ((True, False) if names == () else (False,)):
            props = ALLPROP_FILE if allprop else names
            rows = templates.file_rows(props, allprop)
            plain_convert = (None,) * (6 + len(rows.columns))
            raw_convert = _sqlite_convert(rows.columns)
            page: list[tuple[object, ...]] = []
            raw_page: list[tuple[object, ...]] = []
            expected_page: list[str] = []
            for name in ("plain.txt", "R&D <b>.txt", "a\rb", "{0}.txt", 'q"uote.txt',
                         "it's (1)!.txt", "it's(1)!$~|*,-_.txt"):
                for etag in ("ab" * 32, None):
                    item = Item(base + quote_href(name), False, name,
                                created.timestamp(), 1_700_000_000.25, 1024,
                                "text/plain; x=<y>", etag)
                    row = _file_row(rows.columns, name=name, mtime=item.mtime,
                                    created_at=created, size=1024,
                                    content_type=item.content_type, blob_sha256=etag)
                    raw = _file_row(rows.columns, name=name, mtime=item.mtime,
                                    created_at=created.isoformat(" "), size=1024,
                                    content_type=item.content_type, blob_sha256=etag,
                                    protected=0)
                    expected = templates.render(item, props, allprop=allprop)
                    assert _text(rows.page(base, [row], plain_convert, False)) == expected, (
                        props, name, etag)
                    assert _text(rows.page(base, [raw], raw_convert, False)) == expected
                    if PLAIN_HREF(name):
                        assert _text(rows.page(base, [row], plain_convert, True)) == expected, (
                            props, name)
                    page.append(row)
                    raw_page.append(raw)
                    expected_page.append(expected)
            assert _text(rows.page(base, page, plain_convert, False)) == "".join(expected_page)
            assert _text(rows.page(base, raw_page, raw_convert, False)) == "".join(expected_page)
            assert _text(rows.page(base, [], raw_convert, True)) == ""
    assert templates.file_rows(
        (ETAG, CONTENTLENGTH, LASTMODIFIED, "{DAV:}resourcetype"), False
    ).columns == ("mtime", "size", "blob_sha256")
    assert templates.file_rows(("{DAV:}ishidden",), False).columns == ()


def test_dates_remembered_by_raw_value_are_bounded_per_app() -> None:
    """Rule (memory stays flat): the date texts a listing remembers by raw value are
    shared by every property set and bounded, whatever property sets clients ask
    for: 300 sets over 20,000 distinct dates hold at most ``_MEMO`` per date field."""
    templates = Templates(HttpDates())
    rows = [_file_row(("mtime", "created_at"), name=f"f{i}.txt", mtime=1_700_000_000.5 + i,
                      created_at=dt.datetime(2026, 1, 2) + dt.timedelta(seconds=i))
            for i in range(20_000)]
    for n in range(300):
        props = (LASTMODIFIED, CREATIONDATE, f"{{DAV:}}x{n}")
        files = templates.file_rows(props, False)
        convert = (None,) * (6 + len(files.columns))
        texts = files.page("/dav/x/", rows[n * 60:n * 60 + 100], convert, True)
        assert len(texts) == 100
    files.page("/dav/x/", rows, convert, True)
    assert 0 < templates.remembered_dates() <= 2 * _MEMO
