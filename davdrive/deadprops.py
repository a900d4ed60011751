"""Dead properties of drive nodes: bounded per node, changed in one transaction.

RFC 4918 9.2: a PROPPATCH is atomic. The WebDAV side checks every property
of a request in a first pass (``dry_run``) and applies them, in the same
order, in a second pass inside one transaction. ``PropertyPlan`` follows one
node through one pass: the size of each property the node would hold after
the properties accepted so far. A property that would take the node past a
limit (count, total bytes, bytes of one value) raises ``InsufficientStorage``
(507) and is not counted; the request is then refused as a whole and nothing
is stored. A change that does not make a node bigger is always accepted, so
a node stored before the limits existed can still be trimmed.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from davdrive.errors import InsufficientStorage
from davdrive.models import DeadProperty


@dataclass(frozen=True)
class DeadPropLimits:
    """Per-node limits; sizes are UTF-8 bytes of the name and the serialised value."""

    max_count: int = 100
    max_bytes: int = 64 * 1024
    max_value_bytes: int = 16 * 1024


def prop_size(name: str, value: str) -> int:
    return len(name.encode("utf-8")) + len(value.encode("utf-8"))


class PropertyPlan:
    """The dead properties of one node as one PROPPATCH pass goes along."""

    def __init__(self, limits: DeadPropLimits, sizes: dict[str, int]) -> None:
        self.limits = limits
        self.sizes = sizes
        self.total = sum(sizes.values())

    @classmethod
    def load(cls, session: Session, node_id: int, limits: DeadPropLimits) -> PropertyPlan:
        rows = session.execute(
            select(DeadProperty.name, DeadProperty.value).where(DeadProperty.node_id == node_id)
        )
        return cls(limits, {name: prop_size(name, value) for name, value in rows})

    def check(self, name: str, value: str | None) -> None:
        """Raise ``InsufficientStorage`` if setting ``name`` to ``value`` passes a limit
        (``None`` removes it, which never does)."""
        if value is None:
            return
        limits = self.limits
        if len(value.encode("utf-8")) > limits.max_value_bytes:
            raise InsufficientStorage(
                f"The value of {name} is larger than {limits.max_value_bytes} bytes; "
                "nothing was stored."
            )
        old = self.sizes.get(name)
        count = len(self.sizes) + (old is None)
        total = self.total - (old or 0) + prop_size(name, value)
        if count > limits.max_count and count > len(self.sizes):
            raise InsufficientStorage(
                f"An item holds at most {limits.max_count} dead properties; nothing was stored."
            )
        if total > limits.max_bytes and total > self.total:
            raise InsufficientStorage(
                f"The dead properties of an item are limited to {limits.max_bytes} bytes; "
                "nothing was stored."
            )

    def accept(self, name: str, value: str | None) -> None:
        """Count a checked change."""
        old = self.sizes.pop(name, 0)
        self.total -= old
        if value is not None:
            self.sizes[name] = prop_size(name, value)
            self.total += self.sizes[name]

    def apply(self, session: Session, node_id: int, name: str, value: str | None) -> None:
        """Write a checked change into the session's transaction (no commit), then count it."""
        where = (DeadProperty.node_id == node_id, DeadProperty.name == name)
        if value is None:
            session.execute(delete(DeadProperty).where(*where))
        else:
            # An upsert: another request may have set the same new property meanwhile;
            # the later one wins, as if the two had come one after the other.
            insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" \
                else sqlite.insert
            session.execute(
                insert(DeadProperty)
                .values(node_id=node_id, name=name, value=value)
                .on_conflict_do_update(
                    index_elements=[DeadProperty.node_id, DeadProperty.name],
                    set_={"value": value},
                )
            )
        self.accept(name, value)
