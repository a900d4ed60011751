"""Reading the drive: paths, listings, contents and properties, as the actor sees them."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, BinaryIO

from sqlalchemy import Connection, select

from davdrive import checksums, inline_blobs, tree
from davdrive.drive_base import (
    DriveBase,
)
from davdrive.errors import NotFound
from davdrive.models import (
    Blob,
    DeadProperty,
    Node,
    User,
)
from davdrive.paths import name_key
from davdrive.policy import Action, NodeFacts, decide


class DriveReading(DriveBase):
    """What the actor sees: missing and invisible are the same (None)."""

    def chain(self, parts: list[str]) -> list[Node] | None:
        """Nodes from the root to ``parts`` or None (missing, or not seen by the actor).

        One walk answers for the path and every prefix of it (a PUT or MKCOL then
        finds its parent folder without another query)."""
        key = tuple(name_key(p) for p in parts)
        if key not in self._chains:
            self._settle(key, tree.walk(self.session, parts))
        return self._chains[key]

    def readable_file_row(
        self, parts: list[str], conn: Connection | None = None
    ) -> tuple[Any, NodeFacts] | None:
        """For the read fast path: (row, facts) of the file at ``parts`` when the actor
        sees every node on the way and may read it, it is not junk and has content;
        else None, with the path settled as ``chain`` settles it (same SQL, and
        ``node_at`` then asks none). Decided by the same rules as ``chain``,
        ``node_at`` and ``decide(READ)``, on Core rows instead of ORM objects.
        The row is one of ``tree.walk_rows`` (with ``inline_data``), read on
        ``conn`` (default: the session's connection). A positive answer may come
        from the process's ``ReadableFiles`` (no SQL), kept under the tree's
        version, the actor and its rights stamp."""
        key = tuple(name_key(p) for p in parts)
        if key in self._chains:
            return None
        files, base = self._readable_files, self._readable_key
        if files is not None and base is not None:
            kept = files.get((*base, key))
            if kept is not None:
                return kept  # type: ignore[no-any-return]
        rows = tree.walk_rows(conn if conn is not None else self.session.connection(), parts)
        facts = self.facts.chain(rows)
        last = rows[-1]
        if (
            len(rows) == len(parts) + 1
            and all(decide(self.actor, Action.SEE, f) for f in facts)
            and not last.is_folder
            and last.blob_sha256 is not None
            and not self.is_junk(last.name)
            and decide(self.actor, Action.READ, facts[-1])
        ):
            if files is not None and base is not None:
                files.put((*base, key), last, facts[-1])
            return last, facts[-1]
        self._settle(key, tree.adopt(self.session, rows))
        return None

    def settle_rows(self, parts: list[str], rows: list[Any]) -> None:
        """Settle ``parts`` from ``tree.walk_rows`` rows of it, as ``chain`` settles it
        (no SQL but what ``chain`` runs for a hidden or missing path), for a fast path
        that read the walk and leaves the request to WsgiDAV."""
        key = tuple(name_key(p) for p in parts)
        if key not in self._chains:
            self._settle(key, tree.adopt(self.session, rows))

    def _settle(self, key: tuple[str, ...], rows: list[Node]) -> None:
        """Record the chains of ``key`` and its prefixes from the walk's ``rows``."""
        for n, f in zip(rows, self.facts.chain(rows), strict=True):
            self._facts[n.id] = f
        seen = True
        for depth in range(len(key) + 1):
            if depth < len(rows):
                seen = seen and bool(self.decide(Action.SEE, rows[depth]))
            self._chains.setdefault(
                key[:depth], rows[:depth + 1] if seen and depth < len(rows) else None
            )
        if self._chains[key] is None:
            # Hidden and missing paths do the same work (rule 4: no timing channel):
            # the folder rights and pass-through folders are loaded for both.
            self.facts.leads()

    def node_at(self, parts: list[str]) -> Node | None:
        """The visible node at ``parts``; a junk file (``davdrive.junk``) is never there."""
        chain = self.chain(parts)
        node = chain[-1] if chain else None
        if node is not None and not node.is_folder and self.is_junk(node.name):
            return None
        return node

    def children(self, folder: Node) -> list[Node]:
        """The children of ``folder`` that the actor sees (visible or pass-through)."""
        parent = self.facts_of(folder)
        seen = []
        for child in tree.children(self.session, folder.id):
            self._facts[child.id] = self.facts.child(parent, child)
            if self.decide(Action.SEE, child) and not self._junk(child):
                seen.append(child)
        return seen

    def children_batches(self, folder: Node, size: int) -> Iterator[list[Node]]:
        """What ``children`` lists, in the same order, a batch at a time.

        For listings of any size: rows are read ``size`` at a time (keyset), and
        the facts and session entries of a batch are dropped once the caller asks
        for the next one, so memory is bounded by the batch, not the folder.
        """
        parent = self.facts_of(folder)
        pending: list[Node] = []
        for kind in ("folder", "file"):
            after: str | None = None
            while True:
                rows = tree.children_page(self.session, folder.id, kind, after, size)
                for child in rows:
                    facts = self.facts.child(parent, child)
                    if decide(self.actor, Action.SEE, facts).allowed and not self._junk(child):
                        self._facts[child.id] = facts
                        pending.append(child)
                    else:
                        self.session.expunge(child)
                if len(pending) >= size:
                    yield pending
                    self._drop(pending)
                    pending = []
                if len(rows) < size:
                    break
                after = rows[-1].name_key
        if pending:
            yield pending
            self._drop(pending)

    def _junk(self, node: Node) -> bool:
        return node.kind == "file" and self.is_junk(node.name)

    def _drop(self, nodes: list[Node]) -> None:
        """Forget the facts of listed nodes and detach them from the session."""
        for node in nodes:
            self._facts.pop(node.id, None)
            if node in self.session:
                self.session.expunge(node)

    def open_content(self, node: Node) -> BinaryIO:
        self.require(Action.READ, node)
        if node.blob_sha256 is None:
            raise NotFound("This file has no content.")
        return inline_blobs.open_blob(self.session, self.blobs, node.blob_sha256)

    def dead_properties(self, node_ids: Iterable[int]) -> dict[int, dict[str, str]]:
        """Dead properties of many nodes in one query: {node_id: {name: xml}}."""
        ids = list(node_ids)
        result: dict[int, dict[str, str]] = {i: {} for i in ids}
        if ids:
            rows = self.session.execute(
                select(DeadProperty.node_id, DeadProperty.name, DeadProperty.value).where(
                    DeadProperty.node_id.in_(ids)
                )
            )
            for node_id, name, value in rows:
                result[node_id][name] = value
        return result

    def owner_logins(self, owner_ids: Iterable[int | None]) -> dict[int, str]:
        """{user id: login} for many owners in one query."""
        ids = {i for i in owner_ids if i is not None}
        if not ids:
            return {}
        rows = self.session.execute(select(User.id, User.login).where(User.id.in_(ids)))
        return {user_id: login for user_id, login in rows}

    def blob_info(self, node: Node) -> Blob | None:
        """The blob row (hashes, size) of a file's content, its sha1 and md5 computed
        if not yet known (``davdrive.checksums``)."""
        row = self.session.get(Blob, node.blob_sha256) if node.blob_sha256 else None
        checksums.complete(self.session, self.blobs, [row])
        return row

    def blob_infos(self, sha256s: Iterable[str | None]) -> dict[str, Blob]:
        """The blob rows (hashes, size) of several contents, in one query (checksums
        completed as by ``blob_info``)."""
        keys = {key for key in sha256s if key}
        if not keys:
            return {}
        rows = {row.sha256: row for row in
                self.session.scalars(select(Blob).where(Blob.sha256.in_(keys)))}
        checksums.complete(self.session, self.blobs, rows.values())
        return rows
