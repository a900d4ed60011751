"""Per-process cache of each category's folder rights, checked against a version.

Every change of a category's folder rights (and of any category field) bumps
``category.version`` in the same transaction (``davdrive.node_admin``,
``davdrive.categories``). A request learns the (category id, version) stamp
of its actor when it signs in (``davdrive.signin``); ``rights(session, slug,
stamp)`` returns the cached map when the stamp matches and otherwise reads
the rights and the stamp together in one statement, so a stored map always
belongs to the stamp it is stored under. A change made by any process is
therefore seen by the next request that signs in after its commit.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from types import MappingProxyType

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from davdrive.models import Category, FolderRight

Stamp = tuple[int, int]  # (category id, category version)
EMPTY: Mapping[int, str] = MappingProxyType({})


_RIGHTS = (
    select(Category.id, Category.version, FolderRight.folder_id, FolderRight.level)
    .select_from(Category)
    .outerjoin(FolderRight, FolderRight.category_id == Category.id)
    .where(Category.slug == bindparam("slug"))
)  # built once; executed through the session's connection (Core)


def load_rights(session: Session, slug: str) -> tuple[Stamp | None, Mapping[int, str]]:
    """(stamp, {folder id: level}) of category ``slug``, read in one statement."""
    rows = session.connection().execute(_RIGHTS, {"slug": slug}).all()
    if not rows:
        return None, EMPTY
    stamp = (rows[0][0], rows[0][1])
    rights = {folder_id: level for _, _, folder_id, level in rows if folder_id is not None}
    return stamp, MappingProxyType(rights)


class RightsCache:
    """{category slug: (stamp, read-only rights map)}, shared by a process's requests."""

    def __init__(self, max_categories: int = 1000) -> None:
        self._max = max_categories
        self._entries: dict[str, tuple[Stamp, Mapping[int, str]]] = {}
        self._lock = threading.Lock()
        self.loads = 0  # how often the database was read (for tests and the docs)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def rights(
        self, session: Session | Callable[[], Session], slug: str, stamp: Stamp | None
    ) -> Mapping[int, str]:
        """The folder rights of ``slug``; no SQL when ``stamp`` matches the cached entry
        (``session`` may be a function giving the session: then a hit opens none).

        ``stamp=None`` (unknown) always reads the database and refreshes the entry.
        """
        if stamp is not None:
            with self._lock:
                entry = self._entries.get(slug)
            if entry is not None and entry[0] == stamp:
                return entry[1]
        read_stamp, rights = load_rights(session if isinstance(session, Session) else session(),
                                         slug)
        with self._lock:
            self.loads += 1
            if read_stamp is not None:
                current = self._entries.get(slug)
                if current is None or current[0] <= read_stamp:
                    if len(self._entries) >= self._max:
                        self._entries.clear()
                    self._entries[slug] = (read_stamp, rights)
        return rights
