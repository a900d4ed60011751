"""PROPFIND Depth 0/1 of live properties, answered as a stream of string templates.

``fast_propfind`` returns None (the caller hands the request to WsgiDAV, body
put back) unless the request is on the whitelist of ``docs/fast-path.md``:
no ``If`` header, Depth 0 or 1, a body that is empty, ``<allprop/>`` alone or
one ``<prop>`` of the live properties ``provider.multistatus`` renders (or
other ``{DAV:}`` names, answered 404 as WsgiDAV does), a
target the actor sees (not through a pass-through folder), not the root's
listing (it holds the back-office branch), no live lock on the item or below
it when ``lockdiscovery`` is asked for, and, for allprop, no dead property on
the item or its children. What it answers is what WsgiDAV answers for such a
request; ``tests/http/test_fast_path_differential.py`` compares both.

The target is read with ``tree.walk_rows`` and every page with the request's
plain read connection (``RequestContext.reads``: no ORM session) and decided
as ``Drive.node_at`` decides; when the fast path does not answer, the path is
settled for WsgiDAV (``Drive.settle_rows``). Visibility of each child is
decided by ``davdrive.policy.decide`` on the facts ``FactBuilder.child``
gathers, exactly as ``Drive.children_batches`` does, but on Core rows instead
of ORM objects: a first page of both kinds and further pages of files from
``tree.file_rows`` (driver tuples, only the columns the property set needs),
folders from ``tree.children_rows``, written by the compiled
``multistatus.FileRows`` page writer.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from functools import lru_cache
from operator import itemgetter
from typing import Any, NamedTuple
from urllib.parse import quote

from lxml import etree
from sqlalchemy import Connection, Float, Select, and_, bindparam, exists, or_, select
from wsgidav.lock_man.lock_manager import normalize_lock_root

from davdrive import tree
from davdrive.models import DeadProperty, Lock, Node
from davdrive.paths import join, name_key
from davdrive.policy import Action, NodeFacts, decide, visibility
from davdrive.services import Drive
from provider.body_memo import MISSING, BodyMemo
from provider.context import RequestContext
from provider.lock_storage import live_condition
from provider.multistatus import (
    ALLPROP_FILE,
    ALLPROP_FOLDER,
    CLOSE,
    HEAD,
    LIVE_PROPS,
    LOCKDISCOVERY,
    PLAIN_HREF,
    FileRows,
    Item,
    Templates,
    escape_text,
    quote_href,
)
from provider.node_properties import LOCK_PROPS, QUOTA_PROPS

PAGE = 2000  # rows per listing query (keyset pages, as ``children_batches``)
CHUNK = 64 * 1024  # characters of a chunk of the answer before it is sent
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


def requested_props(
    environ: dict[str, Any], memo: BodyMemo | None = None
) -> tuple[str, ...] | None:
    """The property names asked for (``()`` for allprop), or None when the body is not
    on the whitelist. The body (already read and checked by ``XmlBodyMiddleware``) is
    put back for WsgiDAV either way. ``memo``: answers remembered by body."""
    raw = (environ.get("CONTENT_LENGTH") or "").strip()
    if raw in ("", "0"):
        return () if "HTTP_TRANSFER_ENCODING" not in environ else None
    if not raw.isdigit():
        return None
    body = environ["wsgi.input"].read(int(raw))
    environ["wsgi.input"] = io.BytesIO(body)
    if len(body) != int(raw):
        return None
    if not body.strip():
        return ()
    if memo is None:
        return _names(body)
    names = memo.get(body)
    if names is MISSING:
        names = _names(body)
        memo.put(body, names)
    return names  # type: ignore[no-any-return]


def _names(body: bytes) -> tuple[str, ...] | None:
    """``requested_props`` of a non-empty body."""
    try:
        root = etree.fromstring(body, parser=_PARSER)
    except etree.XMLSyntaxError:
        return None
    children = list(root)
    if root.tag != "{DAV:}propfind" or len(children) != 1:
        return None
    (mode,) = children
    if mode.tag == "{DAV:}allprop" and len(mode) == 0:
        return ()
    if mode.tag != "{DAV:}prop":
        return None
    names = tuple(child.tag for child in mode)
    if not names or len(set(names)) != len(names):
        return None
    if not all(isinstance(n, str) and _rendered(n) for n in names):
        return None
    return names


def _rendered(name: str) -> bool:
    """A property rendered here: a live one of ``LIVE_PROPS``, or another ``{DAV:}``
    name WsgiDAV answers 404 for (Windows asks for ``ishidden``, ``iscollection``...);
    the quota properties have values and go to WsgiDAV."""
    if name in LIVE_PROPS:
        return True
    return name.startswith("{DAV:}") and name not in QUOTA_PROPS and name not in LOCK_PROPS


def lock_root(share_path: str, path: str) -> str:
    """The lock storage's key of an unquoted drive path (from WsgiDAV's ref URL)."""
    return normalize_lock_root(quote(share_path + path))


def _blocked(
    conn: Connection, node_id: int, root: str, *, listing: bool, locks: bool, dead: bool
) -> bool:
    """One query: does a live lock (item or below) or a dead property (item or, for a
    listing, a child) keep the request from the fast path?"""
    if not (locks or dead):
        return False
    prefix = root.rstrip("/") + "/"
    params = {"root": root, "low": prefix, "high": prefix[:-1] + "0", "node": node_id,
              "now": time.time()}
    return any(conn.execute(_blocked_query(listing, locks, dead), params).one())


@lru_cache(maxsize=8)
def _blocked_query(listing: bool, locks: bool, dead: bool) -> Select[Any]:
    """The statement of ``_blocked``, built once (building it cost more than running
    it); parameters: root, low and high (the lock roots below), node, now."""
    tests = []
    if locks:
        where = [Lock.root == bindparam("root")]
        if listing:
            where.append(and_(Lock.root >= bindparam("low"), Lock.root < bindparam("high")))
        now = bindparam("now", type_=Float)
        tests.append(exists().where(or_(*where), live_condition(now)))  # type: ignore[arg-type]
    if dead:
        owners = [DeadProperty.node_id == bindparam("node")]
        if listing:
            children = select(Node.id).where(Node.parent_id == bindparam("node"),
                                             Node.deleted_at.is_(None))
            owners.append(DeadProperty.node_id.in_(children))
        tests.append(exists().where(or_(*owners)))
    return select(*tests)  # type: ignore[return-value]


def fast_propfind(
    environ: dict[str, Any], ctx: RequestContext, parts: list[str],
    prefixes: tuple[str, str], templates: Templates, memo: BodyMemo | None = None,
) -> Iterator[tuple[bytes, bool]] | None:
    """The answer's chunks, each with whether it is the last, or None to let WsgiDAV
    answer (see module doc)."""
    depth = environ.get("HTTP_DEPTH", "1").strip()
    if depth not in ("0", "1"):
        return None
    names = requested_props(environ, memo)
    if names is None:
        return None
    drive = ctx.drive
    target = _target(drive, ctx.reads, parts)
    if target is None:
        return None  # missing, hidden or pass-through: WsgiDAV's answer
    node = target.chain[-1]
    listing = depth == "1" and node.is_folder
    allprop = names == ()
    locks = allprop or LOCKDISCOVERY in names
    # ``prefixes``: (mount path + share path) for hrefs, share path for lock roots.
    item_path = join(parts) + ("/" if node.is_folder and parts else "")
    if (listing and node.parent_id is None) or _blocked(  # the root lists the back office
        ctx.reads, node.id, lock_root(prefixes[1], item_path), listing=listing,
        locks=locks, dead=allprop,
    ):
        drive.settle_rows(parts, target.chain)
        return None
    return _answer(ctx, node, target.facts, quote_href(prefixes[0] + item_path), names, listing,
                   templates)


class _Target(NamedTuple):
    chain: list[Any]  # root first: rows of ``tree.walk_rows`` (read as nodes)
    facts: NodeFacts  # of the target


def _target(drive: Drive, conn: Connection, parts: list[str]) -> _Target | None:
    """The item at ``parts`` when the actor sees it (itself, not as a pass-through
    folder) and every folder on the way, as ``Drive.node_at`` and ``visibility``
    decide, from Core rows of ``tree.walk_rows`` on ``conn``; else None, with the
    path settled for WsgiDAV (``Drive.settle_rows``)."""
    rows = chain = tree.walk_rows(conn, parts)
    if len(rows) == len(parts) + 1:
        facts = drive.facts.chain(chain)
        node = chain[-1]
        if (
            all(decide(drive.actor, Action.SEE, f) for f in facts)
            and (node.is_folder or not drive.is_junk(node.name))
            and visibility(drive.actor, facts[-1])
        ):
            return _Target(chain, facts[-1])
    drive.settle_rows(parts, rows)
    return None


def _answer(
    ctx: RequestContext, node: Any, facts: NodeFacts, base: str,
    names: tuple[str, ...], listing: bool, templates: Templates,
) -> Iterator[tuple[bytes, bool]]:
    allprop = names == ()
    folder_props = ALLPROP_FOLDER if allprop else names
    file_props = ALLPROP_FILE if allprop else names
    head = HEAD + templates.render(
        Item.of(base, node), folder_props if node.is_folder else file_props, allprop=allprop
    )
    if not listing:
        yield (head + CLOSE).encode("utf-8"), True
        return
    seen = _Seen(ctx.drive, facts, node.id)
    pages = _pages(ctx, node.id, base, folder_props, allprop, templates, seen,
                   templates.file_rows(file_props, allprop))
    # Fewer, larger chunks: each one is a write to the socket and, before it, the
    # release of the DB connection that the next page takes again. A chunk is sent
    # once it holds ``CHUNK`` characters (a page of 2,000 files is about 660,000) or
    # the last page: a listing of a thousand entries is one chunk, and the first byte
    # of a long one waits for its first page only.
    # A chunk is made of the UTF-8 bytes of each entry, joined: one large block of
    # memory. Joining texts, then encoding, needs a second large block while the
    # first is held, and each such block came fresh from the system (page faults).
    pending, size = [head.encode("utf-8")], len(head)
    for entries, last in pages:
        pending += entries
        size += sum(map(len, entries))
        if last:
            break
        if size >= CHUNK:
            yield b"".join(pending), False
            pending, size = [], 0
    pending.append(_CLOSE)
    yield b"".join(pending), True


_CLOSE = CLOSE.encode("utf-8")


class _Seen:
    """Whether the actor sees a child of the listed folder (``policy.decide`` on the
    facts ``FactBuilder.child`` gathers, as ``Drive.children_batches`` decides)."""

    def __init__(self, drive: Drive, parent: NodeFacts, parent_id: int) -> None:
        self.actor, self.facts, self.parent = drive.actor, drive.facts, parent
        self.parent_id = parent_id
        # Files with equal facts keys have equal facts: decided once per key.
        self.files: dict[tuple[object, ...], bool] = {}

    def folder(self, row: Any) -> bool:
        return decide(self.actor, Action.SEE, self.facts.child(self.parent, row)).allowed

    def file(self, key: tuple[object, ...], convert: tuple[Any, ...]) -> bool:
        """``key``: the driver's values of ``tree.FILE_KEY_COLUMNS`` of a file of the
        folder, ``convert`` their conversions (``tree.FilePage``)."""
        seen = self.files.get(key)
        if seen is None:
            values: list[Any] = [v if f is None else f(v)
                                 for v, f in zip(key, convert, strict=True)]
            node = _FileFacts(self.parent_id, *values)
            child = self.facts.child(self.parent, node)  # type: ignore[arg-type]
            seen = self.files[key] = decide(self.actor, Action.SEE, child).allowed
        return seen


class _FileFacts(NamedTuple):
    """What ``FactBuilder.child`` reads of a file (``tree.FILE_KEY_COLUMNS``)."""

    parent_id: int
    owner_id: int | None
    protected: bool
    visibility: str
    min_degree: int
    doc_type: str | None
    is_folder: bool = False
    id: int = 0  # never read for a file


def _folders(
    ctx: RequestContext, folder_id: int, base: str, props: tuple[str, ...], allprop: bool,
    templates: Templates, seen: _Seen,
) -> Iterator[tuple[list[bytes], bool]]:
    template, dates = templates.template, templates.dates
    rfc1123, rfc3339 = dates.rfc1123, dates.rfc3339
    text = template(props, True, False, allprop)  # fields: multistatus.FIELDS
    after: str | None = None
    while True:
        # ``ctx.reads`` each time: deciding may have used the session meanwhile
        rows = tree.children_rows(ctx.reads, folder_id, "folder", after, PAGE)
        chunk: list[str] = []
        for row in rows:
            if seen.folder(row):
                # hrefs are quoted (nothing to escape)
                chunk.append(text.format(
                    base + quote_href(row.name) + "/", rfc1123(row.mtime),
                    rfc3339(row.created_at.timestamp()), escape_text(row.name), row.size,
                    "", None,
                ))
        if chunk:
            yield [text.encode("utf-8") for text in chunk], False  # the files come after
        if len(rows) < PAGE:
            return
        after = rows[-1].name_key


_NAME = itemgetter(0)
_KEY = itemgetter(1, 2, 3, 4, 5)  # ``tree.FILE_KEY_COLUMNS`` of a ``tree.file_rows`` row
_FOLDER = itemgetter(-1)  # the folder flag of a row of ``file_rows(folders=True)``


def _pages(
    ctx: RequestContext, folder_id: int, base: str, folder_props: tuple[str, ...],
    allprop: bool, templates: Templates, seen: _Seen, files: FileRows,
) -> Iterator[tuple[list[bytes], bool]]:
    """The visible children's responses, folders first, then files, each by name key:
    the texts of each page, each with whether it is the last page.

    The first page holds children of both kinds (the kind is not in the index:
    a query for the folders reads every child); the folders' own query runs only
    when that page holds a folder or is full (more folders may follow)."""
    first = tree.file_rows(ctx.reads, folder_id, files.columns, None, PAGE, folders=True)
    rows = first.rows
    if len(rows) == PAGE or any(map(_FOLDER, rows)):
        yield from _folders(ctx, folder_id, base, folder_props, allprop, templates, seen)
        rows = [row for row in rows if not row[-1]]
    yield from _files(ctx, folder_id, base, files, seen,
                      tree.FilePage(rows, first.convert), len(first.rows) < PAGE,
                      first.rows[-1][0] if first.rows else None)


def _files(
    ctx: RequestContext, folder_id: int, base: str, files: FileRows, seen: _Seen,
    page: tree.FilePage, last: bool, name: str | None,
) -> Iterator[tuple[list[bytes], bool]]:
    """The visible files' responses from ``page`` on (``last``: whether it is the last
    one, ``name`` the name of its last child), the texts of each page
    (``tree.file_rows``), each with whether it is the last page."""
    columns, junk, visible = files.columns, ctx.drive.is_junk, seen.file
    while True:
        rows, convert = page.rows, page.convert
        names = list(map(_NAME, rows))
        # one match tells a page of plain names (nothing to quote in an href, nothing
        # to escape in XML text)
        plain = PLAIN_HREF("/".join(names)) is not None
        # A page's files have few distinct facts keys: decided per key.
        hidden = {key for key in set(map(_KEY, rows)) if not visible(key, convert[1:6])}
        junk_names = {name for name in names if junk(name)} if junk.any_in(names) else None
        if hidden or junk_names:
            skip = junk_names or set()
            rows = [row for row in rows if row[1:6] not in hidden and row[0] not in skip]
        if rows or last:
            yield files.page(base, rows, convert, plain), last
        if last or name is None:
            return
        page = tree.file_rows(ctx.reads, folder_id, columns, name_key(name), PAGE)
        last = len(page.rows) < PAGE
        name = page.rows[-1][0] if page.rows else None
