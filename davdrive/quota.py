"""Storage quotas: the RFC 4331 figures and the room check behind 507.

What counts (docs/decisions.md): the current content of live files (not
versions, not the trash). A category quota limits each user of that category
to that many bytes of files they own; the global quota limits the whole
drive. Both are off by default, and the free space of the blob store always
limits (a local folder's disk; an S3 bucket sets none). ``figures`` is what a
user sees as used/available; ``check_room`` raises ``QuotaExceeded`` (or
``DiskFull``) when storing ``size`` bytes would pass one of the limits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from davdrive.blob_backend import UNLIMITED_BYTES
from davdrive.errors import DiskFull, QuotaExceeded
from davdrive.models import Category, Node, User


@dataclass(frozen=True)
class QuotaLimits:
    """Configured limits in bytes; 0 (or no entry for a category) means no limit."""

    drive_bytes: int = 0
    category_bytes: tuple[tuple[str, int], ...] = ()

    def for_category(self, slug: str) -> int:
        return dict(self.category_bytes).get(slug, 0)


@dataclass(frozen=True)
class QuotaFigures:
    used: int
    available: int


def parse_category_quotas(entries: list[str]) -> tuple[tuple[tuple[str, int], ...], list[str]]:
    """``["member=5000000000", ...]`` -> ((slug, bytes), ...) and the entries that are wrong."""
    parsed: list[tuple[str, int]] = []
    bad: list[str] = []
    for entry in entries:
        slug, sep, raw = str(entry).partition("=")
        slug, raw = slug.strip(), raw.strip()
        if not sep or not slug or not (raw.isascii() and raw.isdigit()) or int(raw) <= 0:
            bad.append(entry)
        else:
            parsed.append((slug, int(raw)))
    return tuple(parsed), bad


def owned_bytes(session: Session, user_id: int | None) -> int:
    """Bytes of live files owned by ``user_id`` (the system owns what has no owner)."""
    owner = Node.owner_id.is_(None) if user_id is None else Node.owner_id == user_id
    query = select(func.coalesce(func.sum(Node.size), 0)).where(
        owner, Node.kind == "file", Node.deleted_at.is_(None)
    )
    return int(session.scalar(query) or 0)


def drive_bytes(session: Session) -> int:
    """Bytes of every live file of the drive."""
    query = select(func.coalesce(func.sum(Node.size), 0)).where(
        Node.kind == "file", Node.deleted_at.is_(None)
    )
    return int(session.scalar(query) or 0)


FreeBytes = Callable[[], int | None]  # the blob store's room left; None: no limit


def category_of(session: Session, user_id: int) -> str:
    query = select(Category.slug).join(User, User.category_id == Category.id).where(
        User.id == user_id
    )
    return session.scalar(query) or ""


def figures(
    session: Session, limits: QuotaLimits, free_bytes: FreeBytes, user_id: int | None,
    category: str,
) -> QuotaFigures:
    """What ``user_id`` has stored and may still store (the smallest room left;
    ``UNLIMITED_BYTES`` when nothing limits it)."""
    used = owned_bytes(session, user_id)
    free = free_bytes()
    rooms = [UNLIMITED_BYTES if free is None else free]
    own_limit = limits.for_category(category) if user_id is not None else 0
    if own_limit:
        rooms.append(own_limit - used)
    if limits.drive_bytes:
        rooms.append(limits.drive_bytes - drive_bytes(session))
    return QuotaFigures(used=used, available=max(0, min(rooms)))


def check_room(
    session: Session,
    limits: QuotaLimits,
    free_bytes: FreeBytes,
    *,
    owner_id: int | None,
    category: str,
    size: int,
    replaces: int = 0,
    on_disk: bool,
    what: str = "upload",
) -> None:
    """Raise when ``size`` new bytes (replacing ``replaces`` bytes of the same owner)
    would pass the owner's category quota or the drive's quota; with ``on_disk``
    also when the blob store has less than ``size`` bytes free (checked before
    streaming: afterwards the bytes are already on the disk). ``what`` names the
    operation in the message."""
    free = free_bytes() if on_disk else None
    if free is not None and size > free:
        raise DiskFull(f"The server has not enough free space for this {what}; nothing was stored.")
    growth = size - replaces
    if growth <= 0:
        return
    own_limit = limits.for_category(category) if owner_id is not None else 0
    if own_limit and owned_bytes(session, owner_id) + growth > own_limit:
        raise QuotaExceeded(
            f"This {what} would pass the storage quota of {own_limit} bytes of category "
            f"{category!r}; nothing was stored."
        )
    if limits.drive_bytes and drive_bytes(session) + growth > limits.drive_bytes:
        raise QuotaExceeded(
            f"This {what} would pass the drive's storage quota of {limits.drive_bytes} bytes; "
            "nothing was stored."
        )
