"""Gathering the policy's facts about nodes, for one actor, in few queries.

``FactBuilder`` turns nodes (with their ancestors) into ``NodeFacts``: the
chain-wide facts (highest minimum degree, effective doc type, private nodes
on the way, the category's nearest folder right) are carried from parent to
child, so a path or a listing needs no query per level. The category's
folder rights are loaded once; whether an invisible folder leads to
something visible (a pass-through folder) is computed once per builder, with
two queries, and only when an invisible folder is met.

No rule is decided here: visibility is asked of ``davdrive.policy``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from operator import attrgetter

from sqlalchemy.orm import Session

from davdrive import tree
from davdrive.models import Node
from davdrive.policy import Actor, NodeFacts, PrivateMark, level_at_least, visibility
from davdrive.rights_cache import EMPTY, RightsCache, Stamp, load_rights


class FactBuilder:
    """Facts about nodes as seen by ``actor``; caches live for one unit of work."""

    def __init__(
        self,
        session: Session | Callable[[], Session],
        actor: Actor,
        rights_cache: RightsCache | None = None,
        rights_stamp: Stamp | None = None,
    ) -> None:
        """``rights_cache`` and ``rights_stamp`` (the actor's category id and
        version, read at sign-in) let the rights come from the process's cache."""
        self._session_source = session
        self.actor = actor
        self._rights_cache = rights_cache
        self._rights_stamp = rights_stamp
        self._rights: Mapping[int, str] | None = None
        self._leads: set[int] | None = None

    @property
    def session(self) -> Session:
        """The unit of work's session (made on first use when given as a function)."""
        source = self._session_source
        if not isinstance(source, Session):
            source = self._session_source = source()
        return source

    def reset(self) -> None:
        """Forget cached rights and pass-through folders (after a change): the
        next use reads the rights from the database again."""
        self._rights = None
        self._rights_stamp = None
        self._leads = None

    # --- the category's folder rights -----------------------------------------

    def rights(self) -> Mapping[int, str]:
        """{folder id: level} of every explicit folder right for the actor's category."""
        if self._rights is None:
            slug = self.actor.category
            if self.actor.is_system or not slug:
                self._rights = EMPTY
            elif self._rights_cache is not None:
                self._rights = self._rights_cache.rights(
                    lambda: self.session, slug, self._rights_stamp
                )
            else:
                self._rights = load_rights(self.session, slug)[1]
        return self._rights

    # --- facts ----------------------------------------------------------------

    def child(self, parent: NodeFacts | None, node: Node, *, with_leads: bool = True) -> NodeFacts:
        """Facts of ``node`` given the facts of its parent (None for the root)."""
        rights = self.rights()
        inherited = parent.right if parent is not None else "none"
        right = rights.get(node.id, inherited) if node.is_folder else inherited
        marks = parent.private_marks if parent is not None else ()
        if node.visibility == "private":
            marks = (*marks, PrivateMark(node.owner_id, inherited))
        facts = NodeFacts(
            is_folder=node.is_folder,
            owner_id=node.owner_id,
            protected=node.protected,
            is_root=node.parent_id is None,
            min_degree=max(node.min_degree, parent.min_degree if parent is not None else 0),
            doc_type=node.doc_type or (parent.doc_type if parent is not None else None),
            private_marks=marks,
            right=right,
        )
        if (
            with_leads
            and node.is_folder
            and not visibility(self.actor, facts)
            and node.id in self.leads()
        ):
            facts = replace(facts, leads_to_visible=True)
        return facts

    # All that ``child`` reads of a file: the files of one folder with equal keys have
    # equal facts, so a listing may decide once per key.
    file_key = staticmethod(attrgetter("owner_id", "protected", "visibility", "min_degree",
                                       "doc_type"))

    def chain(self, nodes: list[Node], *, with_leads: bool = True) -> list[NodeFacts]:
        """Facts of each node of a root-first chain."""
        result: list[NodeFacts] = []
        parent: NodeFacts | None = None
        for node in nodes:
            parent = self.child(parent, node, with_leads=with_leads)
            result.append(parent)
        return result

    def subtree(self, top: NodeFacts, nodes: list[Node]) -> dict[int, NodeFacts]:
        """Facts of a subtree listed parents first (``tree.subtree``), ``top`` for its head.

        Pass-through is not computed: it never allows a change.
        """
        result = {nodes[0].id: top}
        for node in nodes[1:]:
            assert node.parent_id is not None
            result[node.id] = self.child(result[node.parent_id], node, with_leads=False)
        return result

    # --- pass-through folders -------------------------------------------------

    def leads(self) -> set[int]:
        """Ids of the folders that have a descendant visible to the actor."""
        if self._leads is None:
            self._leads = self._compute_leads()
        return self._leads

    def _compute_leads(self) -> set[int]:
        """Only two kinds of node can be visible below an invisible folder: a
        folder whose own right lets the category read, and a node whose own doc
        type replaces an excluded one (degrees and private marks only add up
        along a path). Check those candidates and collect their ancestors."""
        if self.actor.is_system or not level_at_least(self.actor.documents, "read"):
            return set()
        candidates = {fid for fid, level in self.rights().items() if level != "none"}
        excluded = self.actor.excluded_doc_types
        if excluded:
            candidates |= tree.typed_below(self.session, excluded)
        if not candidates:
            return set()
        nodes = tree.with_ancestors(self.session, candidates)
        memo: dict[int, NodeFacts | None] = {}
        leads: set[int] = set()
        for node_id in candidates:
            facts = self._facts_from(nodes, node_id, memo)
            if facts is not None and visibility(self.actor, facts):
                parent_id = nodes[node_id].parent_id
                while parent_id is not None and parent_id not in leads:
                    leads.add(parent_id)
                    parent_id = nodes[parent_id].parent_id
        return leads

    def _facts_from(
        self, nodes: dict[int, Node], node_id: int, memo: dict[int, NodeFacts | None]
    ) -> NodeFacts | None:
        """Facts of a node whose live ancestors are all in ``nodes`` (None if cut off)."""
        path: list[int] = []
        current: int | None = node_id
        while current is not None and current not in memo:
            node = nodes.get(current)
            if node is None:  # a trashed ancestor: not reachable
                memo[current] = None
                break
            path.append(current)
            current = node.parent_id
        for nid in reversed(path):
            parent_id = nodes[nid].parent_id
            parent = memo.get(parent_id) if parent_id is not None else None
            if parent_id is not None and parent is None:
                memo[nid] = None
            else:
                memo[nid] = self.child(parent, nodes[nid], with_leads=False)
        return memo[node_id]
