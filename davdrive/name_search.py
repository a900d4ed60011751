"""Finding files and folders by name below a folder, among what one user sees (the web
drive's search box).

``search(drive, folder, text)``: the live nodes below ``folder`` whose name contains
``text``, compared as names are everywhere (``paths.name_key`` of both: case and
Unicode normalisation ignored). One recursive query walks the subtree, carrying
each node's path, and keeps the names that match; the candidates' ancestors are
loaded with one query per batch, then each candidate is asked of the policy
(``Drive.facts_of``, ``Action.SEE``, the rule that lists it in its folder). What
the user does not see is simply not there: results, their number and the "more"
flag count only what the user sees. Junk files are never found. Results come in
path order, at most ``limit`` of them, with ``more`` when others exist.

The back-office branch is not searched: it is not part of the drive tree.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, Text, bindparam, cast, literal, select
from sqlalchemy.orm import Session

from davdrive import tree
from davdrive.errors import BadRequest
from davdrive.models import Node
from davdrive.paths import name_key, normalize_name
from davdrive.policy import Action
from davdrive.services import Drive

LIMIT = 200  # results shown
MAX_QUERY = 255  # characters: no name is longer (255 bytes)
BATCH = 500  # candidates decided per query of their ancestors
# Joins the name keys of a path into its sort key: it sorts before every character a
# name may hold (names have no control characters), so a folder's items follow it.
_SORT_SEPARATOR = "\x01"
_ESCAPE = "/"  # no name holds it
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Hit:
    """A file or folder found: its name, its path and the path of its folder."""

    name: str
    path: str
    folder: str
    is_folder: bool
    size: int | None
    modified: dt.datetime | None


@dataclass(frozen=True)
class Found:
    hits: list[Hit]
    more: bool  # other visible items match too


def clean_query(text: str) -> str:
    """The searched text, trimmed and NFC-normalised ("" for nothing to search);
    ``BadRequest`` for control characters or more than ``MAX_QUERY`` characters."""
    text = text.strip()
    if _CONTROL.search(text):
        raise BadRequest("The search contains control characters.")
    if len(text) > MAX_QUERY:
        raise BadRequest(f"A search is at most {MAX_QUERY} characters long.")
    return normalize_name(text)


def search(drive: Drive, folder: Node, text: str, limit: int = LIMIT) -> Found:
    """Items below ``folder`` whose name contains ``text``, as ``drive``'s actor
    sees them (see the module); ``folder`` is one the actor sees."""
    key = name_key(clean_query(text))
    if not key:
        raise BadRequest("Type part of a name to search.")
    if not folder.is_folder:
        raise BadRequest("Only a folder is searched.")
    top = drive.path(folder) if folder.parent_id is not None else "/"
    rows = drive.session.execute(_QUERY, {"folder": folder.id, "pattern": _pattern(key)}).all()
    hits: list[Hit] = []
    for start in range(0, len(rows), BATCH):
        batch = rows[start:start + BATCH]
        nodes = tree.with_ancestors(drive.session, [r.id for r in batch])
        for row in batch:
            node = nodes.get(row.id)
            if node is None or not _seen(drive, node):
                continue
            if len(hits) == limit:
                return Found(hits, more=True)
            hits.append(_hit(node, f"{top.rstrip('/')}/{row.path}"))
        _release(drive.session, nodes.values())
    return Found(hits, more=False)


def _seen(drive: Drive, node: Node) -> bool:
    if not node.is_folder and drive.is_junk(node.name):
        return False
    return bool(drive.decide(Action.SEE, node))


def _hit(node: Node, path: str) -> Hit:
    return Hit(
        name=node.name,
        path=path,
        folder=path.rsplit("/", 1)[0] or "/",
        is_folder=node.is_folder,
        size=None if node.is_folder else node.size,
        modified=dt.datetime.fromtimestamp(node.mtime, dt.UTC) if node.mtime else None,
    )


def _pattern(key: str) -> str:
    """The LIKE pattern of names containing ``key`` (its wildcards taken literally)."""
    for special in (_ESCAPE, "%", "_"):
        key = key.replace(special, _ESCAPE + special)
    return f"%{key}%"


def _release(session: Session, nodes: Any) -> None:
    """Detach the batch's files (a file is nobody's ancestor): memory stays bounded by
    the folders met, not by the number of candidates."""
    for node in nodes:
        if not node.is_folder and node in session:
            session.expunge(node)


def _query() -> Select[Any]:
    """The live nodes below the node ``folder`` whose name key is LIKE ``pattern``,
    with their path below it, in path order (parameters: folder, pattern)."""
    below = (
        select(Node.id, cast(Node.name, Text).label("path"),
               cast(Node.name_key, Text).label("sort"))
        .where(Node.parent_id == bindparam("folder"), Node.deleted_at.is_(None))
        .cte("below", recursive=True)
    )
    below = below.union_all(
        select(Node.id, below.c.path + literal("/") + Node.name,
               below.c.sort + literal(_SORT_SEPARATOR) + Node.name_key)
        .where(Node.parent_id == below.c.id, Node.deleted_at.is_(None))
    )
    return (
        select(below.c.id, below.c.path)
        .join(Node, Node.id == below.c.id)
        .where(Node.name_key.like(bindparam("pattern"), escape=_ESCAPE))
        .order_by(below.c.sort)
    )


# Built once (building the recursive statement costs more than running it).
_QUERY = _query()
