"""Multistatus answers as strings: the bytes WsgiDAV's lxml machinery produces.

``render_response`` writes one ``<D:response>`` for an item and a list of live
``{DAV:}`` property names, the way ``wsgidav.util.add_property_response``
serialises it (one ``<D:propstat>`` per status, in order of first use; an
empty string is ``<D:x></D:x>``, a missing property an empty element in a
404 propstat). Text is escaped as lxml escapes element text, with a fast
path for plain ASCII. ``HttpDates`` memoises the RFC 1123 and RFC 3339 forms
of timestamps (``email.utils.formatdate`` costs microseconds per entry).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any
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


def quote_href(path: str) -> str:
    """An unquoted path as WsgiDAV writes it in an href."""
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
        key = int(stamp)
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


@dataclass(frozen=True)
class Item:
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
        return cls(
            href=href,
            is_folder=node.kind == "folder",
            name=node.name,
            created=node.created_at.timestamp(),
            mtime=node.mtime,
            size=node.size,
            content_type=node.content_type,
            etag=node.blob_sha256,
        )


def _value(item: Item, name: str, dates: HttpDates) -> str | None:
    """The serialised property, or None where WsgiDAV answers 404 for it."""
    if name == RESOURCETYPE:
        if item.is_folder:
            return "<D:resourcetype><D:collection/></D:resourcetype>"
        return "<D:resourcetype></D:resourcetype>"
    if name == LASTMODIFIED:
        return f"<D:getlastmodified>{dates.rfc1123(item.mtime)}</D:getlastmodified>"
    if name == CREATIONDATE:
        return f"<D:creationdate>{dates.rfc3339(item.created)}</D:creationdate>"
    if name == DISPLAYNAME:
        return f"<D:displayname>{escape_text(item.name)}</D:displayname>"
    if name == SUPPORTEDLOCK:
        return _SUPPORTEDLOCK
    if name == LOCKDISCOVERY:
        return "<D:lockdiscovery/>"  # only rendered when no lock is held here
    if item.is_folder:
        return None
    if name == CONTENTLENGTH:
        return f"<D:getcontentlength>{item.size}</D:getcontentlength>"
    if name == ETAG:
        if item.etag is None:
            return None
        return f'<D:getetag>"{escape_text(item.etag)}"</D:getetag>'
    if name == CONTENTTYPE:
        if item.content_type is None:
            return None
        return f"<D:getcontenttype>{escape_text(item.content_type)}</D:getcontenttype>"
    return None


def render_response(
    item: Item, names: tuple[str, ...], dates: HttpDates, *, allprop: bool = False
) -> str:
    """One ``<D:response>``; ``names`` are in ``LIVE_PROPS`` (the caller checks).
    With ``allprop`` a property the item lacks is left out, as WsgiDAV does."""
    found: list[str] = []
    missing: list[str] = []
    missing_first = False
    for name in names:
        value = _value(item, name, dates)
        if value is None:
            if allprop:
                continue
            if not found:
                missing_first = True
            missing.append(f"<D:{name[6:]}/>")
        else:
            found.append(value)
    ok = f"<D:propstat><D:prop>{''.join(found)}</D:prop>{_OK}" if found else ""
    bad = f"<D:propstat><D:prop>{''.join(missing)}</D:prop>{_MISSING}" if missing else ""
    body = bad + ok if missing_first else ok + bad
    return f"<D:response><D:href>{escape_text(item.href)}</D:href>{body}</D:response>"
