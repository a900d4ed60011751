"""Deleting, moving and copying: all or nothing, over what the actor sees and not."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import update

from davdrive import tree
from davdrive.conflicts import claim
from davdrive.drive_writing import DriveWriting
from davdrive.errors import Conflict, Forbidden
from davdrive.models import (
    DeadProperty,
    Node,
    utcnow,
)
from davdrive.paths import name_key, validate_name
from davdrive.policy import Action


class DriveMoving(DriveWriting):
    """Delete, move and copy, each checked in full before anything changes."""

    def delete(self, node: Node, guard: Callable[[], None] | None = None) -> None:
        """Move ``node`` (and its subtree) to the trash, all or nothing.

        ``guard`` (e.g. the lock check) runs once the rights are granted, before
        anything changes: a refusal never depends on what the actor cannot see.
        """
        self.require_subtree(Action.DELETE, node)
        if guard is not None:
            guard()
        self._trash(node)
        self._audit("delete", node)
        self._commit()

    def _trash(self, node: Node) -> None:
        """Put ``node`` and everything below it in the trash, marked with one time and
        actor (what a restore brings back together): no live item under a trashed one."""
        self._claim(node)
        now = utcnow()
        self.session.execute(
            update(Node)
            .where(Node.id.in_(tree.live_subtree_ids(node.id)))
            .values(deleted_at=now, deleted_by=self.actor.user_id)
            .execution_options(synchronize_session=False)
        )
        node.deleted_at = now
        node.deleted_by = self.actor.user_id
        self.session.flush()

    def move(self, node: Node, dest_parent: Node, dest_name: str, replace: Node | None) -> Node:
        """Rename or move ``node``; ``replace`` is the existing target (Overwrite: T).

        The node keeps its owner and its effective classification: leaving its
        folder, it takes on the degree, doc type and privacy it inherited there.
        """
        self.check_move(node, dest_parent, dest_name, replace)
        inherited = self._effective_classification(node)
        source_path = self.path(node)
        dest_name = validate_name(dest_name, windows=self.options.windows_names)
        with self.creating(dest_parent, dest_name):
            self._hold_parent(dest_parent)
            self._claim(node)
            self._take_destination(node, dest_parent, dest_name, replace)
            if dest_parent.id != node.parent_id:
                node.min_degree, node.doc_type, node.visibility = inherited
            node.parent_id = dest_parent.id
            node.name = dest_name
            node.name_key = name_key(dest_name)
            node.updated_at = utcnow()
            self.session.flush()
            self._audit("move", node, source=source_path)
            self._commit()
        return node

    def copy(
        self, node: Node, dest_parent: Node, dest_name: str, replace: Node | None, recursive: bool
    ) -> Node:
        """Copy ``node`` (its subtree when ``recursive``); the copy belongs to the actor.

        Every node copied must be readable by the actor, or nothing is copied;
        the copied bytes count against the actor's quota (507 past it).
        The copy keeps the effective classification of what it copies: out of the
        folder, as its own (as ``move`` does); in the same folder it is the folder's
        item like the original, so it keeps the original's own values and inherits
        the rest, as an item created there does.
        """
        nodes = self.check_copy(node, dest_parent, dest_name, replace, recursive)
        top_class = (
            self._effective_classification(node) if dest_parent.id != node.parent_id
            else (node.min_degree, node.doc_type, node.visibility)
        )
        dest_name = validate_name(dest_name, windows=self.options.windows_names)
        with self.creating(dest_parent, dest_name):
            self._hold_parent(dest_parent)
            self._take_destination(node, dest_parent, dest_name, replace)
            props = self.dead_properties(n.id for n in nodes)
            new_ids: dict[int, Node] = {}
            for n in nodes:
                parent = dest_parent if n is node else new_ids[n.parent_id or 0]
                degree, doc_type, visibility = (
                    top_class if n is node else (n.min_degree, n.doc_type, n.visibility)
                )
                copy = self._new_node(
                    parent, dest_name if n is node else n.name, n.kind,
                    blob_sha256=n.blob_sha256, size=n.size, content_type=n.content_type,
                    mtime=n.mtime, doc_type=doc_type, min_degree=degree,
                )
                if visibility == "private":
                    copy.visibility = "private"
                self.session.flush()
                new_ids[n.id] = copy
                for pname, value in props[n.id].items():
                    self.session.add(DeadProperty(node_id=copy.id, name=pname, value=value))
            self.session.flush()
            self._audit("copy", new_ids[node.id], source=self.path(node))
            self._commit()
        return new_ids[node.id]

    def _effective_classification(self, node: Node) -> tuple[int, str | None, str]:
        """(min degree, doc type, visibility) that ``node`` has where it stands."""
        facts = self.facts_of(node)
        visibility = "private" if facts.private_marks else node.visibility
        return facts.min_degree, facts.doc_type, visibility

    def check_move(
        self, node: Node, dest_parent: Node, dest_name: str, replace: Node | None
    ) -> None:
        """Every right a MOVE needs (rules 7 and 8), checked without changing anything;
        a folder never goes into itself or below itself (409)."""
        self.require_subtree(Action.MOVE, node)
        self._check_destination(dest_parent, dest_name, replace, moving=node)
        if node.is_folder and any(
            n.id == node.id for n in tree.ancestors(self.session, dest_parent)
        ):
            raise Conflict(
                "A folder cannot be moved into itself or into one of its subfolders; "
                "nothing was changed."
            )

    def check_copy(
        self, node: Node, dest_parent: Node, dest_name: str, replace: Node | None,
        recursive: bool,
    ) -> list[Node]:
        """Every right a COPY needs, destination first, then the room for the copied
        bytes in the actor's quota (507 past it); returns the nodes to copy.

        The destination is checked first, so someone who may not create there
        learns nothing about what the source holds.
        """
        self._check_destination(dest_parent, dest_name, replace, moving=node)
        if not recursive:
            self.require(Action.READ, node)
            nodes = [node]
        else:
            nodes = self.require_subtree(Action.READ, node)
        size = sum(n.size for n in nodes if not n.is_folder)
        self.check_room(None, size, on_disk=False, what="copy")
        return nodes

    def _check_destination(
        self, dest_parent: Node, dest_name: str, replace: Node | None, moving: Node
    ) -> str:
        if not dest_parent.is_folder:
            raise Conflict("The destination parent is not a folder.")
        self.require(Action.CREATE, dest_parent)
        if not moving.is_folder and self.is_junk(dest_name):
            raise Forbidden(
                f"Files named {dest_name!r} are not kept by this drive (desktop clients' "
                "junk); nothing was changed."
            )
        self._refuse_reserved(dest_parent, dest_name)
        dest_name = validate_name(dest_name, windows=self.options.windows_names)
        if replace is not None:
            self.require_subtree(Action.DELETE, replace)
        else:
            self._refuse_taken(dest_parent, dest_name, moving=moving)
        return dest_name

    def _take_destination(
        self, node: Node, dest_parent: Node, dest_name: str, replace: Node | None
    ) -> str:
        """Trash what the destination replaces; the destination's valid name.

        A replaced item that another request moved or deleted meanwhile is left
        alone: the name is then free (or taken anew, which ``_refuse_taken`` tells).
        """
        dest_name = validate_name(dest_name, windows=self.options.windows_names)
        if replace is not None and claim(self.session, replace):
            self._trash(replace)
        self._refuse_taken(dest_parent, dest_name, moving=node)
        return dest_name
