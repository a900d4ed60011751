"""Multistatus answers as strings: the bytes WsgiDAV's lxml machinery produces.

``Templates.render`` writes one ``<D:response>`` for an item and a list of
``{DAV:}`` property names, the way ``wsgidav.util.add_property_response``
serialises it (from a format string compiled once per property set and kind
of item) (one ``<D:propstat>`` per status, in order of first use; an
empty string is ``<D:x></D:x>``, a missing property an empty element in a
404 propstat). Text is escaped as lxml escapes element text, with a fast
path for plain ASCII. ``HttpDates`` memoises the RFC 1123 and RFC 3339 forms
of timestamps (``email.utils.formatdate`` costs microseconds per entry).
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from email.utils import formatdate
from string import Formatter
from typing import Any, NamedTuple
from urllib.parse import quote

HREF_SAFE = "/!*'(),$-_|."  # what WsgiDAV leaves unquoted in hrefs
HEAD = "<?xml version='1.0' encoding='UTF-8'?>\n<D:multistatus xmlns:D=\"DAV:\">"
CLOSE = "</D:multistatus>"

RESOURCETYPE = "{DAV:}resourcetype"
CREATIONDATE = "{DAV:}creationdate"
CONTENTLENGTH = "{DAV:}getcontentlength"
CONTENTTYPE = "{DAV:}getcontenttype"
LASTMODIFIED = "{DAV:}getlastmodified"
DISPLAYNAME = "{DAV:}displayname"
ETAG = "{DAV:}getetag"
LOCKDISCOVERY = "{DAV:}lockdiscovery"
SUPPORTEDLOCK = "{DAV:}supportedlock"

# The live properties rendered here; any other name goes to WsgiDAV.
LIVE_PROPS = frozenset({
    RESOURCETYPE, CREATIONDATE, CONTENTLENGTH, CONTENTTYPE, LASTMODIFIED, DISPLAYNAME,
    ETAG, LOCKDISCOVERY, SUPPORTEDLOCK,
})
# What allprop lists, in WsgiDAV's order (``get_property_names``); folders have no
# length, type or ETag.
ALLPROP_FILE = (RESOURCETYPE, CREATIONDATE, CONTENTLENGTH, CONTENTTYPE, LASTMODIFIED,
                DISPLAYNAME, ETAG, LOCKDISCOVERY, SUPPORTEDLOCK)
ALLPROP_FOLDER = (RESOURCETYPE, CREATIONDATE, LASTMODIFIED, DISPLAYNAME, LOCKDISCOVERY,
                  SUPPORTEDLOCK)

_SUPPORTEDLOCK = (
    "<D:supportedlock><D:lockentry><D:lockscope><D:exclusive/></D:lockscope><D:locktype>"
    "<D:write/></D:locktype></D:lockentry><D:lockentry><D:lockscope><D:shared/></D:lockscope>"
    "<D:locktype><D:write/></D:locktype></D:lockentry></D:supportedlock>"
)
_OK = "<D:status>HTTP/1.1 200 OK</D:status></D:propstat>"
_MISSING = "<D:status>HTTP/1.1 404 Not Found</D:status></D:propstat>"


def escape_text(text: str) -> str:
    """Element text as lxml writes it (``&``, ``<``, ``>`` and CR escaped)."""
    if (text.isascii() and text.isprintable()
            and "&" not in text and "<" not in text and ">" not in text):
        return text
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        .replace("\r", "&#13;")
    )


PLAIN_HREF = re.compile(r"[A-Za-z0-9/!*'(),$\-_|.~]*").fullmatch


def quote_href(path: str) -> str:
    """An unquoted path as WsgiDAV writes it in an href."""
    if PLAIN_HREF(path):
        return path  # nothing ``quote`` would change
    return quote(path, safe=HREF_SAFE)


class HttpDates:
    """Memoised date forms of timestamps; bounded, one per application."""

    def __init__(self, size: int = 8192) -> None:
        self._size = size
        self._rfc1123: dict[int, str] = {}
        self._rfc3339: dict[int, str] = {}
        self._now: tuple[int, str] = (-1, "")

    def rfc1123(self, stamp: float) -> str:
        """``util.get_rfc1123_time(stamp)`` (whole seconds, as ``formatdate`` uses)."""
        if stamp < 0:
            return formatdate(timeval=stamp, localtime=False, usegmt=True)
        # ``formatdate`` rounds to microseconds first (``datetime.fromtimestamp``), so
        # 1.9999999 shows second 2: the memo key is the second it will show.
        key = int(stamp)
        if stamp - key >= 0.9999995:
            fraction, whole = math.modf(stamp)
            key = int(whole) + (round(fraction * 1e6) >= 1_000_000)
        text = self._rfc1123.get(key)
        if text is None:
            text = formatdate(timeval=stamp, localtime=False, usegmt=True)
            self._remember(self._rfc1123, key, text)
        return text

    def rfc3339(self, stamp: float) -> str:
        """``util.get_rfc3339_time(stamp)``."""
        if stamp < 0:
            return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(stamp))
        key = int(stamp)
        text = self._rfc3339.get(key)
        if text is None:
            text = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(stamp))
            self._remember(self._rfc3339, key, text)
        return text

    def now(self) -> str:
        """The Date header value for this second."""
        second = int(time.time())
        if self._now[0] != second:
            self._now = (second, formatdate(timeval=second, localtime=False, usegmt=True))
        return self._now[1]

    def _remember(self, memo: dict[int, str], key: int, text: str) -> None:
        if len(memo) >= self._size:
            memo.clear()
        memo[key] = text


class Item(NamedTuple):
    """What a response needs of a node (from a Core row or an ORM node)."""

    href: str
    is_folder: bool
    name: str
    created: float
    mtime: float
    size: int
    content_type: str
    etag: str | None

    @classmethod
    def of(cls, href: str, node: Any) -> Item:
        return cls(href, node.kind == "folder", node.name, node.created_at.timestamp(),
                   node.mtime, node.size, node.content_type, node.blob_sha256)


# Each property as a template over the fields of ``Templates.render``; None: 404.
_FILE_VALUES = {
    CONTENTLENGTH: "<D:getcontentlength>{size}</D:getcontentlength>",
    ETAG: '<D:getetag>"{etag}"</D:getetag>',
    CONTENTTYPE: "<D:getcontenttype>{ctype}</D:getcontenttype>",
}
_VALUES = {
    LASTMODIFIED: "<D:getlastmodified>{mtime}</D:getlastmodified>",
    CREATIONDATE: "<D:creationdate>{created}</D:creationdate>",
    DISPLAYNAME: "<D:displayname>{name}</D:displayname>",
    SUPPORTEDLOCK: _SUPPORTEDLOCK,
    LOCKDISCOVERY: "<D:lockdiscovery/>",  # only rendered when no lock is held here
}


FIELDS = ("href", "mtime", "created", "name", "size", "ctype", "etag")


def _template(names: tuple[str, ...], is_folder: bool, has_etag: bool, allprop: bool) -> str:
    """The ``<D:response>`` of an item of this kind as a format string whose positional
    fields are ``FIELDS`` in that order, each escaped by the caller."""
    found: list[str] = []
    missing: list[str] = []
    missing_first = False
    for name in names:
        value = _VALUES.get(name)
        if name == RESOURCETYPE:
            value = ("<D:resourcetype><D:collection/></D:resourcetype>" if is_folder
                     else "<D:resourcetype></D:resourcetype>")
        elif value is None and not is_folder and (name != ETAG or has_etag):
            value = _FILE_VALUES.get(name)
        if value is None:
            if allprop:
                continue
            if not found:
                missing_first = True
            missing.append(f"<D:{name[6:]}/>".replace("{", "{{").replace("}", "}}"))
        else:
            found.append(value)
    ok = f"<D:propstat><D:prop>{''.join(found)}</D:prop>{_OK}" if found else ""
    bad = f"<D:propstat><D:prop>{''.join(missing)}</D:prop>{_MISSING}" if missing else ""
    body = bad + ok if missing_first else ok + bad
    text = f"<D:response><D:href>{{href}}</D:href>{body}</D:response>"
    for place, field in enumerate(FIELDS):  # positional fields format faster
        text = text.replace(f"{{{field}}}", f"{{{place}}}")
    return text


class Templates:
    """Compiled response templates per property set and kind of item; one per app."""

    def __init__(self, dates: HttpDates, size: int = 256) -> None:
        self.dates = dates
        self._size = size
        self._cache: dict[tuple[tuple[str, ...], bool, bool, bool], str] = {}
        self._types: dict[str, str] = {}
        self._rows: dict[tuple[tuple[str, ...], bool], FileRows] = {}
        # ``raw_dates``: (kind of date, driver conversion) -> texts by raw value
        self._raw: dict[tuple[int, Any], dict[Any, str]] = {}

    def render(self, item: Item, names: tuple[str, ...], *, allprop: bool = False) -> str:
        """One ``<D:response>``; ``names`` are live or other ``{DAV:}`` properties (the
        caller checks). With ``allprop`` a property the item lacks is left out, as
        WsgiDAV does; otherwise it is listed in a 404 propstat."""
        return self.template(names, item.is_folder, item.etag is not None, allprop).format(
            escape_text(item.href), self.dates.rfc1123(item.mtime),
            self.dates.rfc3339(item.created), escape_text(item.name), item.size,
            self.content_type(item.content_type), escape_text(item.etag or ""),
        )

    def template(self, names: tuple[str, ...], is_folder: bool, has_etag: bool,
                 allprop: bool) -> str:
        """The format string of a response (positional fields: ``FIELDS``)."""
        key = (names, is_folder, has_etag, allprop)
        template = self._cache.get(key)
        if template is None:
            if len(self._cache) >= self._size:
                self._cache.clear()
            template = self._cache[key] = _template(*key)
        return template

    def file_rows(self, names: tuple[str, ...], allprop: bool) -> FileRows:
        """How a listing writes its files for this property set (``FileRows``)."""
        key = (names, allprop)
        rows = self._rows.get(key)
        if rows is None:
            if len(self._rows) >= self._size:
                self._rows.clear()
            rows = self._rows[key] = FileRows(self, names, allprop)
        return rows

    def raw_dates(self, field: int, convert: Any) -> tuple[Callable[[Any], str | None],
                                                          Callable[[Any], str]]:
        """(get, make) of the text of a date field (1: last modified, 2: creation) by the
        driver's raw value of its column, ``convert`` turning that into the column's
        value (None: as is); ``get(raw) or make(raw)`` is the text. One memo per field
        and conversion for the whole app, bounded (``_MEMO`` entries, emptied when
        full), whatever the number of property sets."""
        memo = self._raw.get((field, convert))
        if memo is None:
            memo = self._raw[(field, convert)] = {}
        dates = self.dates

        def make(raw: Any) -> str:
            value = raw if convert is None else convert(raw)
            text = (dates.rfc1123(value) if field == 1
                    else dates.rfc3339(value.timestamp()))
            if len(memo) >= _MEMO:
                memo.clear()
            memo[raw] = text
            return text

        return memo.get, make

    def remembered_dates(self) -> int:
        """How many date texts ``raw_dates`` holds (all fields and conversions)."""
        return sum(len(memo) for memo in self._raw.values())

    def content_type(self, value: str) -> str:
        """``escape_text(value)``, memoised (a listing has few content types)."""
        text = self._types.get(value)
        if text is None:
            if len(self._types) >= self._size:
                self._types.clear()
            text = self._types[value] = escape_text(value)
        return text


# The ``Node`` column behind each field of ``FIELDS`` but the href and the name (a
# listing row starts with the name and the file key: ``tree.file_rows``).
_FIELD_COLUMNS = {1: "mtime", 2: "created_at", 4: "size", 5: "content_type", 6: "blob_sha256"}
_ROW_START = 6  # name, then the five ``tree.FILE_KEY_COLUMNS``
_MEMO = 16384  # date texts remembered by raw value, per date field (``raw_dates``)


class FileRows:
    """The files of a listing for one property set: ``columns`` are the ``Node`` columns
    to select after the file key (``tree.file_rows``), and ``page(base, rows,
    convert, plain)`` writes the ``<D:response>`` of each row, the same text as
    ``Templates.render`` for the file at ``base`` + its name, as UTF-8 bytes
    (each entry encoded on its own: see ``fast_propfind._answer``).

    A page is written by one function compiled from the two templates (with and
    without an ETag) into a list comprehension of f-strings over unpacked rows:
    a format string or a call per row costs several times more. Dates are
    remembered by the raw value of the row (most files of a folder keep their
    date across listings). Its source holds only generated names and numbers;
    the templates' text (which may hold property names from the request) is
    bound as values.
    """

    def __init__(self, templates: Templates, names: tuple[str, ...], allprop: bool) -> None:
        self._with_etag = _pieces(templates.template(names, False, True, allprop))
        self._without_etag = _pieces(templates.template(names, False, False, allprop))
        used = {f for _, f in self._with_etag + self._without_etag if f is not None}
        self.columns = tuple(_FIELD_COLUMNS[f] for f in sorted(used) if f in _FIELD_COLUMNS)
        self._templates = templates
        self._pages: dict[tuple[bool, tuple[Any, ...]], Callable[[str, Any], list[bytes]]] = {}

    def page(self, base: str, rows: list[tuple[Any, ...]], convert: tuple[Any, ...],
             plain: bool) -> list[bytes]:
        """The UTF-8 bytes of the response of each row of ``rows`` (``tree.file_rows``,
        raw values converted by ``convert``, see ``tree.FilePage``); ``plain``: every
        name matches ``PLAIN_HREF`` (nothing to quote or escape)."""
        key = (plain, convert)
        write = self._pages.get(key)
        if write is None:
            if len(self._pages) >= 8:
                self._pages.clear()
            write = self._pages[key] = _compile_page(
                self._with_etag, self._without_etag, self.columns, convert, plain,
                self._templates,
            )
        return write(base, rows)


Pieces = list[tuple[str, int | None]]


def _compile_page(with_etag: Pieces, without_etag: Pieces, columns: tuple[str, ...],
                  convert: tuple[Any, ...], plain: bool,
                  templates: Templates) -> Callable[[str, Any], list[bytes]]:
    """``write(base, rows)`` of ``FileRows.page``."""
    width = len(convert)  # a row may hold more cells than the writer reads
    place = {f: _ROW_START + columns.index(c) for f, c in _FIELD_COLUMNS.items()
             if c in columns}
    values: dict[str, object] = {"escape_text": escape_text, "quote": quote,
                                 "HREF_SAFE": HREF_SAFE}
    code: dict[int, str] = {
        0: "base + c0" if plain else "base + quote(c0, safe=HREF_SAFE)",
        3: "c0" if plain else "escape_text(c0)",
    }
    for field, at in place.items():
        cell, conv = f"c{at}", convert[at]
        if field in (1, 2):  # dates: remembered by raw value
            values[f"get{field}"], values[f"date{field}"] = templates.raw_dates(field, conv)
            code[field] = f"get{field}({cell}) or date{field}({cell})"
            continue
        if conv is not None:
            values[f"conv{field}"] = conv
            cell = f"conv{field}({cell})"
        code[field] = f"content_type({cell})" if field == 5 else cell
    values["content_type"] = templates.content_type
    with_text = _fstring(with_etag, code, values)
    if 6 in place:  # the ETag is asked for: a file without content has none
        without_text = _fstring(without_etag, code, values)
        item = f"({without_text} if c{place[6]} is None else {with_text})"
    else:
        item = with_text
    cells = ", ".join(f"c{i}" for i in range(width))
    source = (f"def write(base, rows):\n"
              f"    return [({item}).encode() for ({cells},) in rows]\n")
    namespace: dict[str, Any] = dict(values)
    exec(compile(source, "<FileRows>", "exec"), namespace)  # noqa: S102
    return namespace["write"]  # type: ignore[no-any-return]


def _pieces(template: str) -> list[tuple[str, int | None]]:
    """(literal text, positional field or None) of a format string of ``_template``."""
    pieces: list[tuple[str, int | None]] = []
    for literal, field, spec, conversion in Formatter().parse(template):
        assert not spec and not conversion
        pieces.append((literal, None if field is None else int(field)))
    return pieces


def _fstring(pieces: list[tuple[str, int | None]], code: dict[int, str],
             values: dict[str, object]) -> str:
    """An f-string expression of ``pieces``; literal text is bound in ``values``."""
    parts = []
    for literal, field in pieces:
        if literal:
            name = f"text{len(values)}"
            values[name] = literal
            parts.append(f"{{{name}}}")
        if field is not None:
            parts.append(f"{{{code[field]}}}")
    return 'f"' + "".join(parts) + '"'
