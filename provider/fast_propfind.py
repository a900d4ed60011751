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

Visibility of each child is decided by ``davdrive.policy.decide`` on the facts
``FactBuilder.child`` gathers, exactly as ``Drive.children_batches`` does, but
on Core rows (``tree.children_rows``) instead of ORM objects.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

from lxml import etree
from sqlalchemy import and_, exists, or_, select
from wsgidav.lock_man.lock_manager import normalize_lock_root

from davdrive import tree
from davdrive.models import DeadProperty, Lock, Node
from davdrive.paths import join
from davdrive.policy import Action, decide, visibility
from davdrive.services import Drive
from provider.lock_storage import live_condition
from provider.multistatus import (
    ALLPROP_FILE,
    ALLPROP_FOLDER,
    CLOSE,
    HEAD,
    LIVE_PROPS,
    LOCKDISCOVERY,
    Item,
    Templates,
    escape_text,
    quote_href,
)
from provider.node_properties import LOCK_PROPS, QUOTA_PROPS

PAGE = 2000  # rows per listing query (keyset pages, as ``children_batches``)
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


def requested_props(environ: dict[str, Any]) -> tuple[str, ...] | None:
    """The property names asked for (``()`` for allprop), or None when the body is not
    on the whitelist. The body (already read and checked by ``XmlBodyMiddleware``) is
    put back for WsgiDAV either way."""
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
    drive: Drive, node: Any, root: str, *, listing: bool, locks: bool, dead: bool
) -> bool:
    """One query: does a live lock (item or below) or a dead property (item or, for a
    listing, a child) keep the request from the fast path?"""
    tests = []
    if locks:
        where = [Lock.root == root]
        if listing:
            prefix = root.rstrip("/") + "/"
            where.append(and_(Lock.root >= prefix, Lock.root < prefix[:-1] + "0"))
        tests.append(exists().where(or_(*where), live_condition(time.time())))
    if dead:
        owners = [DeadProperty.node_id == node.id]
        if listing:
            children = select(Node.id).where(Node.parent_id == node.id,
                                             Node.deleted_at.is_(None))
            owners.append(DeadProperty.node_id.in_(children))
        tests.append(exists().where(or_(*owners)))
    if not tests:
        return False
    return any(drive.session.execute(select(*tests)).one())


def fast_propfind(
    environ: dict[str, Any], drive: Drive, parts: list[str], prefixes: tuple[str, str],
    templates: Templates,
) -> Iterator[str] | None:
    """The answer's text chunks, or None to let WsgiDAV answer (see module doc)."""
    depth = environ.get("HTTP_DEPTH", "1").strip()
    if depth not in ("0", "1"):
        return None
    names = requested_props(environ)
    if names is None:
        return None
    node = drive.node_at(parts)
    if node is None or not visibility(drive.actor, drive.facts_of(node)):
        return None  # missing, hidden or pass-through: WsgiDAV's answer
    listing = depth == "1" and node.is_folder
    if listing and node.parent_id is None:
        return None  # the root lists the back-office branch
    allprop = names == ()
    locks = allprop or LOCKDISCOVERY in names
    # ``prefixes``: (mount path + share path) for hrefs, share path for lock roots.
    item_path = join(parts) + ("/" if node.is_folder and parts else "")
    if _blocked(drive, node, lock_root(prefixes[1], item_path), listing=listing,
                locks=locks, dead=allprop):
        return None
    return _answer(drive, node, quote_href(prefixes[0] + item_path), names, listing,
                   templates)


def _answer(
    drive: Drive, node: Node, base: str, names: tuple[str, ...], listing: bool,
    templates: Templates,
) -> Iterator[str]:
    allprop = names == ()
    folder_props = ALLPROP_FOLDER if allprop else names
    file_props = ALLPROP_FILE if allprop else names
    render = templates.render
    yield HEAD + render(
        Item.of(base, node), folder_props if node.is_folder else file_props, allprop=allprop
    )
    if not listing:
        yield CLOSE
        return
    parent = drive.facts_of(node)
    actor, facts, is_junk = drive.actor, drive.facts, drive.is_junk
    template, dates = templates.template, templates.dates
    rfc1123, rfc3339, content_type = dates.rfc1123, dates.rfc3339, templates.content_type
    # Files with equal facts keys have equal facts: decide once per key.
    seen_files: dict[tuple[object, ...], bool] = {}
    for kind in ("folder", "file"):
        folder = kind == "folder"
        props = folder_props if folder else file_props
        suffix = "/" if folder else ""
        with_etag = template(props, folder, True, allprop)  # fields: multistatus.FIELDS
        without_etag = template(props, folder, False, allprop)
        after: str | None = None
        while True:
            rows = tree.children_rows(drive.session, node.id, kind, after, PAGE)
            chunk: list[str] = []
            for row in rows:
                # Unpacked, not read by attribute (which costs more than the rest);
                # the order is ``tree.ROW_COLUMNS``.
                (_, _, name, _, _, _, owner, protected, degree, doc_type, shown, etag, size,
                 ctype, mtime, created) = row  # type: ignore[misc]
                if folder:
                    seen = decide(actor, Action.SEE, facts.child(parent, row)).allowed  # type: ignore[arg-type]
                else:
                    if is_junk(name):
                        continue
                    key = (owner, protected, shown, degree, doc_type)  # FactBuilder.file_key
                    seen = seen_files.get(key)  # type: ignore[assignment]
                    if seen is None:
                        child = facts.child(parent, row)  # type: ignore[arg-type]
                        seen = seen_files[key] = decide(actor, Action.SEE, child).allowed
                if not seen:
                    continue
                # hrefs are quoted (nothing to escape); ETags are hex digests
                chunk.append((with_etag if etag is not None else without_etag).format(
                    base + quote_href(name) + suffix, rfc1123(mtime),
                    rfc3339(created.timestamp()), escape_text(name), size,
                    content_type(ctype), etag,
                ))
            if chunk:
                yield "".join(chunk)
            if len(rows) < PAGE:
                break
            after = rows[-1].name_key
    yield CLOSE
