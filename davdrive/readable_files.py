"""What the read fast path decided about a path, kept per process while the tree
is unchanged.

A GET or HEAD of a file reads the path (one walk), builds the policy's facts
for each node on the way and asks the policy whether the actor sees each one
and may read the file (``DriveReading.readable_file_row``). For a file read
again and again, by the same account, in a tree nobody changed, the answer
is the same. ``ReadableFiles`` keeps it, under a key that holds everything
the answer depends on:

- the tree's version (``models.TreeState``), which the database bumps on every
  insert, change or delete of a node, whoever makes it (triggers, migration
  0006), and which sign-in reads with the account in the same statement;
- the actor (its category, degree, excluded doc types... the whole value) and
  its rights stamp (category id and version, bumped with every folder right);
- the path's name keys.

Only positive answers are kept (the file row, with its bytes when the database
keeps them, and its facts): a hidden or missing path always takes the walk, so
that both keep costing the same. Entries of an older version are never used
(the version is part of the key); the first entry of a newer version drops
them all. At most ``size`` entries, and only rows whose bytes, if any, are at
most ``inline_limit`` long: memory stays bounded (``size * inline_limit``).
"""

from __future__ import annotations

from typing import Any

Key = tuple[int, Any, Any, tuple[str, ...]]  # (tree version, rights stamp, actor, keys)


class ReadableFiles:
    """Readable files by (tree version, rights stamp, actor, path keys); thread-safe
    (each operation is one dict operation, or a swap of the dict)."""

    def __init__(self, size: int = 1024, inline_limit: int = 4096) -> None:
        self.size = size
        self.inline_limit = inline_limit
        self._version = -1
        self._entries: dict[Key, tuple[Any, Any]] = {}

    def get(self, key: Key) -> tuple[Any, Any] | None:
        """(row, facts) kept for ``key``, or None."""
        return self._entries.get(key)

    def put(self, key: Key, row: Any, facts: Any) -> None:
        """Keep (row, facts) for ``key`` (unless its bytes are too long to keep, or
        the key's version is older than the newest one seen)."""
        data = getattr(row, "inline_data", None)
        if data is not None and len(data) > self.inline_limit:
            return
        version = key[0]
        if version != self._version:
            if version < self._version:
                return  # read before a change another request has already seen
            self._version = version
            self._entries = {}
        entries = self._entries
        if len(entries) >= self.size:
            entries = self._entries = {}
        entries[key] = (row, facts)
