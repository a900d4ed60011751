"""Path <-> node resolution over the live (not trashed) drive tree.

Each function runs a fixed number of SQL statements whatever the depth of the
path or the size of a folder: resolution loads every live node whose name
matches a segment in one query and chains them in Python; subtrees come from
one recursive CTE.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from functools import lru_cache
from typing import Any, NamedTuple, cast

from sqlalchemy import Connection, Dialect, Row, Select, bindparam, case, literal, select
from sqlalchemy.orm import Session, make_transient_to_detached

from davdrive.models import BlobInline, Node
from davdrive.paths import name_key
from davdrive.prepared import Prepared, result_processors


def get_root(session: Session) -> Node:
    root = session.scalars(
        select(Node).where(Node.parent_id.is_(None), Node.deleted_at.is_(None))
    ).first()
    if root is None:
        root = Node(parent_id=None, name="", name_key="", kind="folder", mtime=time.time())
        session.add(root)
        session.flush()
    return root


def resolve_chain(session: Session, parts: list[str]) -> list[Node] | None:
    """Nodes from the root to ``parts`` (root first), or None if a segment is missing."""
    rows = walk(session, parts)
    return rows if len(rows) == len(parts) + 1 else None


def walk(session: Session, parts: list[str]) -> list[Node]:
    """The live nodes along ``parts`` from the root, root first, as far as they exist
    (all ``len(parts) + 1`` of them when the path resolves).

    One query walks down from the root, one (parent, name key) index lookup per
    segment, so the cost depends on the depth of the path, never on the size of
    the drive.
    """
    keys = {f"key{depth}": name_key(p) for depth, p in enumerate(parts)}
    return list(session.execute(_chain_query(len(parts)), keys).scalars().all())


def walk_rows(conn: Connection, parts: list[str], *, inline: bool = True) -> list[Any]:
    """``walk`` as rows of values on ``conn`` (named tuples, ``davdrive.prepared``),
    for the fast paths: every column of ``node``, ``is_folder`` (read like
    ``Node.is_folder``, so rules read a row as a node), and (``inline``)
    ``inline_data``, the bytes of the node's content when the database keeps them
    (``davdrive.inline_blobs``), else None. Same walk as ``walk``; the content costs
    one primary-key lookup per node (a PUT, which does not read it, passes
    ``inline=False``)."""
    keys = {f"key{depth}": name_key(p) for depth, p in enumerate(parts)}
    return _walk_rows_prepared(len(parts), inline).rows(conn, keys)


@lru_cache(maxsize=128)
def _walk_rows_prepared(depth: int, inline: bool) -> Prepared:
    return Prepared(_chain_query(depth, True) if inline else _core_chain_query(depth))


_NODE_COLUMNS = tuple(c.key for c in Node.__table__.columns)


def adopt(session: Session, rows: list[Row[Any]]) -> list[Node]:
    """The ``Node`` objects of rows from ``walk_rows``, as ``walk`` would have loaded
    them (persistent in ``session``, no SQL)."""
    nodes = []
    for row in rows:
        node = Node(**{key: getattr(row, key) for key in _NODE_COLUMNS})
        make_transient_to_detached(node)
        nodes.append(session.merge(node, load=False))
    return nodes


@lru_cache(maxsize=128)
def _chain_query(depth: int, inline: bool = False) -> Select[Any]:
    """The statement of ``walk`` for paths of ``depth`` segments, built once (building
    it cost more than running it); the name keys are the parameters key0, key1....
    ``inline``: with the column ``inline_data`` (see ``walk_rows``)."""
    steps = (
        select(Node.id.label("id"), literal(0).label("depth"))
        .where(Node.parent_id.is_(None), Node.deleted_at.is_(None))
        .cte("walk", recursive=True)
    )
    if depth:
        # The key wanted below a node of depth d is the parameter key<d>.
        wanted = case({d: bindparam(f"key{d}") for d in range(depth)}, value=steps.c.depth)
        step = select(Node.id, steps.c.depth + 1).where(
            Node.parent_id == steps.c.id, Node.name_key == wanted, Node.deleted_at.is_(None)
        )
        steps = steps.union_all(step)
    if not inline:
        return select(Node).join(steps, Node.id == steps.c.id).order_by(steps.c.depth)
    return (
        select(
            *Node.__table__.columns,
            (Node.kind == "folder").label("is_folder"),  # read like ``Node.is_folder``
            BlobInline.data.label("inline_data"),
        )
        .join(steps, Node.id == steps.c.id)
        .outerjoin(BlobInline, BlobInline.sha256 == Node.blob_sha256)
        .order_by(steps.c.depth)
    )


@lru_cache(maxsize=128)
def _core_chain_query(depth: int) -> Select[Any]:
    """``_chain_query(depth)`` selecting the columns of ``node`` and ``is_folder``."""
    return _chain_query(depth).with_only_columns(
        *Node.__table__.columns, (Node.kind == "folder").label("is_folder")
    )


def children(session: Session, folder_id: int) -> list[Node]:
    """Live children of a folder, folders first, then by name."""
    return list(
        session.scalars(
            select(Node)
            .where(Node.parent_id == folder_id, Node.deleted_at.is_(None))
            .order_by(Node.kind.desc(), Node.name_key)
        )
    )


def children_page(
    session: Session, folder_id: int, kind: str, after: str | None, limit: int
) -> list[Node]:
    """Up to ``limit`` live children of one kind, by name key, after the key ``after``.

    Keyset paging: each page costs one indexed query whatever the folder size;
    folders then files, each by name key, is the order of ``children``.
    """
    query = select(Node).where(
        Node.parent_id == folder_id, Node.deleted_at.is_(None), Node.kind == kind
    )
    if after is not None:
        query = query.where(Node.name_key > after)
    return list(session.scalars(query.order_by(Node.name_key).limit(limit)))


def child_named(
    session: Session, folder_id: int, name: str, *, fresh: bool = False
) -> Node | None:
    """The live child ``name`` of a folder; ``fresh`` reloads its values from the
    database even when the session already holds the row."""
    query = _FRESH_CHILD if fresh else _CHILD
    return session.scalars(query, {"folder": folder_id, "key": name_key(name)}).first()


# Built once: a PUT asks twice (the name is free; what holds it at the commit).
_CHILD = select(Node).where(
    Node.parent_id == bindparam("folder"),
    Node.name_key == bindparam("key"),
    Node.deleted_at.is_(None),
)
_FRESH_CHILD = _CHILD.execution_options(populate_existing=True)


def live_subtree_ids(node_id: int) -> Select[tuple[int]]:
    """A query of the ids of node ``node_id`` and all its live descendants."""
    down = select(Node.id).where(Node.id == node_id).cte(recursive=True)
    down = down.union_all(
        select(Node.id).where(Node.parent_id == down.c.id, Node.deleted_at.is_(None))
    )
    return select(down.c.id)


def subtree(session: Session, node: Node) -> list[Node]:
    """``node`` and all its live descendants, parents before children."""
    if not node.is_folder:
        return [node]
    tree = select(Node.id, Node.parent_id).where(Node.id == node.id).cte(recursive=True)
    below = select(Node.id, Node.parent_id).where(
        Node.parent_id == tree.c.id, Node.deleted_at.is_(None)
    )
    tree = tree.union_all(below)
    nodes = session.scalars(select(Node).join(tree, Node.id == tree.c.id)).all()
    order: dict[int | None, list[Node]] = {}
    for n in nodes:
        if n.id != node.id:
            order.setdefault(n.parent_id, []).append(n)
    result = [node]
    i = 0
    while i < len(result):
        result.extend(sorted(order.get(result[i].id, []), key=lambda n: n.name_key))
        i += 1
    return result


def path_of(session: Session, node: Node) -> list[str]:
    """Segments from the root to ``node`` (walks parents; for CLI and audit use)."""
    parts: list[str] = []
    current: Node | None = node
    while current is not None and current.parent_id is not None:
        parts.append(current.name)
        current = session.get(Node, current.parent_id)
    return list(reversed(parts))


def ancestors(session: Session, node: Node) -> list[Node]:
    """``node`` and its ancestors, root first (walks parents through the session)."""
    chain = [node]
    while chain[-1].parent_id is not None:
        parent = session.get(Node, chain[-1].parent_id)
        if parent is None:
            break
        chain.append(parent)
    return list(reversed(chain))


def with_ancestors(session: Session, ids: Iterable[int]) -> dict[int, Node]:
    """The live nodes ``ids`` and all their live ancestors, in one recursive query."""
    return {n.id: n for n in session.scalars(_WITH_ANCESTORS, {"ids": list(ids)})}


def _with_ancestors() -> Select[Node]:
    up = (
        select(Node.id, Node.parent_id)
        .where(Node.id.in_(bindparam("ids", expanding=True)), Node.deleted_at.is_(None))
        .cte(recursive=True)
    )
    parent = select(Node.id, Node.parent_id).where(
        Node.id == up.c.parent_id, Node.deleted_at.is_(None)
    )
    up = up.union(parent)
    return select(Node).join(up, Node.id == up.c.id)


# Built once: a PUT of a new name asks it (rule 4: missing paths load the
# pass-through folders), and building the recursive query cost more than running it.
_WITH_ANCESTORS = _with_ancestors()


def typed_below(session: Session, excluded: Iterable[str]) -> set[int]:
    """Live nodes with their own doc type, not in ``excluded``, below a node whose own
    doc type is in ``excluded`` (the only nodes that escape an excluded type)."""
    kinds = list(excluded)
    down = (
        select(Node.id, Node.doc_type)
        .where(Node.doc_type.in_(kinds), Node.deleted_at.is_(None))
        .cte(recursive=True)
    )
    child = select(Node.id, Node.doc_type).where(
        Node.parent_id == down.c.id, Node.deleted_at.is_(None)
    )
    down = down.union(child)
    rows = session.execute(
        select(down.c.id).where(down.c.doc_type.is_not(None), down.c.doc_type.not_in(kinds))
    )
    return {row[0] for row in rows}


# Columns of a listing entry as a Core row: what the rights facts and a PROPFIND
# answer need (``is_folder`` as ``Node.is_folder`` reads it), without ORM objects.
ROW_COLUMNS = (
    Node.id, Node.parent_id, Node.name, Node.name_key, Node.kind,
    (Node.kind == "folder").label("is_folder"), Node.owner_id, Node.protected,
    Node.min_degree, Node.doc_type, Node.visibility, Node.blob_sha256, Node.size,
    Node.content_type, Node.mtime, Node.created_at,
)


def children_rows(
    conn: Connection, folder_id: int, kind: str, after: str | None, limit: int
) -> list[Row[Any]]:
    """``children_page`` as Core rows of ``ROW_COLUMNS`` on ``conn``: same order, same
    index."""
    params = {"folder": folder_id, "kind": kind, "after": after, "limit": limit}
    return list(conn.execute(_children_query(after is not None), params).all())


@lru_cache(maxsize=2)
def _children_query(paged: bool) -> Select[Any]:
    """The statement of ``children_rows``, built once (parameters: folder, kind, after,
    limit)."""
    query = select(*ROW_COLUMNS).where(
        Node.parent_id == bindparam("folder"), Node.deleted_at.is_(None),
        Node.kind == bindparam("kind"),
    )
    if paged:
        query = query.where(Node.name_key > bindparam("after"))
    return query.order_by(Node.name_key).limit(bindparam("limit"))  # type: ignore[return-value]


# What ``FactBuilder.child`` reads of a file, in ``FactBuilder.file_key``'s order.
FILE_KEY_COLUMNS = ("owner_id", "protected", "visibility", "min_degree", "doc_type")


class FilePage(NamedTuple):
    """A page of ``file_rows``: the rows as the driver gives them, and for each column
    the function turning the driver's value into the column's Python value (None
    where they are the same: on SQLite, a boolean is 0 or 1, a date is text)."""

    rows: list[tuple[Any, ...]]
    convert: tuple[Any, ...]


def file_rows(
    conn: Connection, folder_id: int, columns: tuple[str, ...], after: str | None,
    limit: int, *, folders: bool = False,
) -> FilePage:
    """Up to ``limit`` live files of a folder by name key after the key ``after`` (the
    order and index of ``children_page``), on ``conn``, as plain tuples of ``name``,
    the ``FILE_KEY_COLUMNS`` and then ``columns`` (``Node`` attribute names): a
    listing reads only what it will write. The next page starts after
    ``name_key(name)`` of the last row (the key stored is that of the name).

    ``folders``: the folders too, in the same order, each row ending with whether
    it is a folder (true) or a file (false): one pass over the children where a
    query per kind reads every child twice (the kind is not in the index).

    The values are the driver's, not converted (a SQLAlchemy ``Row`` per entry
    cost a fifth of a listing): ``FilePage.convert`` says where they need it."""
    params = {"folder": folder_id, "after": after, "limit": limit}
    result = conn.execute(_file_query(columns, after is not None, folders), params)
    try:
        cursor = result.cursor
        codes = tuple(d[1] for d in cursor.description)
        rows = cast(list[tuple[Any, ...]], cursor.fetchall())
        return FilePage(rows, _converters(conn.dialect, columns, codes))
    finally:
        result.close()


@lru_cache(maxsize=32)
def _file_query(columns: tuple[str, ...], paged: bool, folders: bool = False) -> Select[Any]:
    """The statement of ``file_rows``, built once per column set (parameters: folder,
    after, limit)."""
    selected: list[Any] = [getattr(Node, n) for n in _file_columns(columns)]
    where = [Node.parent_id == bindparam("folder"), Node.deleted_at.is_(None)]
    if folders:
        selected.append(Node.kind == "folder")
    else:
        where.append(Node.kind == "file")
    if paged:
        where.append(Node.name_key > bindparam("after"))
    query = select(*selected).where(*where).order_by(Node.name_key)
    return query.limit(bindparam("limit"))  # type: ignore[return-value]


def _file_columns(columns: tuple[str, ...]) -> tuple[str, ...]:
    return ("name", *FILE_KEY_COLUMNS, *columns)


@lru_cache(maxsize=64)
def _converters(
    dialect: Dialect, columns: tuple[str, ...], codes: tuple[Any, ...]
) -> tuple[Any, ...]:
    """What SQLAlchemy applies to each column of a ``file_rows`` result (``codes``: the
    driver's type codes of its cursor description); the folder flag is read as is
    (true or false on every database)."""
    table = Node.__table__
    names = _file_columns(columns)
    types = [table.c[c].type for c in names]
    return result_processors(dialect, types, codes) + (None,) * (len(codes) - len(names))
