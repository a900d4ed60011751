"""``davdrive check``: verify a data folder, and repair what is safe to repair.

Checks, in order: the database itself (SQLite: ``integrity_check`` and
``foreign_key_check``; PostgreSQL, which keeps its pages and enforces every
reference itself: that no foreign key constraint of the schema is missing or
left unvalidated, with a note saying so); every
row's blob (node, version, attachment) present and re-hashed to its sha256;
no live node under a trashed parent; no two live names (``name_key``) in one
folder; no upload temp file left (one untouched for ``temp_age`` seconds: an
upload in flight keeps writing, and the server removes older ones at start);
no blob file without a blob row (older than ``orphan_age``: a fresh one may be
waiting for its commit); the event chain (``audit.check_chain``).

``run_check`` returns a ``Report``: every problem found (``kind``, ``subject``,
``detail``), the first one names what to look at. ``repair=True`` removes the
stale temp files and the blob files no row refers to, nothing else. It runs on
any session and blob folder: the live data folder's, or a snapshot's
(``davdrive.snapshots.verify``). ``referenced`` and ``file_blobs`` name the
blobs the rows need, for the backup and the restore to copy exactly those.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from sqlalchemy import select, text
from sqlalchemy.orm import Session, aliased

from davdrive import audit, inline_blobs
from davdrive.blob_backend import BlobBackend
from davdrive.models import Attachment, Base, Blob, Node, NodeVersion

TEMP_AGE_SECONDS = 15 * 60
ORPHAN_AGE_SECONDS = 15 * 60
PROGRESS_EVERY = 1000


@dataclass(frozen=True)
class Problem:
    kind: str  # integrity | foreign_key | blob_missing | blob_corrupt | live_under_trash |
    #            duplicate_name | stale_temp | orphan_blob | event_chain | manifest
    subject: str
    detail: str

    def line(self) -> str:
        return f"{self.kind}: {self.subject}: {self.detail}"


@dataclass
class Report:
    problems: list[Problem] = field(default_factory=list)
    repaired: list[Problem] = field(default_factory=list)
    blobs_checked: int = 0
    notes: list[str] = field(default_factory=list)  # what was checked otherwise, and why

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, object]:
        def rows(items: list[Problem]) -> list[dict[str, str]]:
            return [{"kind": p.kind, "subject": p.subject, "detail": p.detail} for p in items]

        return {
            "ok": self.ok, "blobs_checked": self.blobs_checked,
            "problems": rows(self.problems), "repaired": rows(self.repaired),
            "notes": self.notes,
        }


Progress = Callable[[int], None]


def default_temp_age(blobs: BlobBackend) -> float:
    """Seconds after which an untouched upload temp item counts as stale: 15 minutes,
    or the store's own grace when longer (the S3 store's hour: on several hosts an
    upload in flight elsewhere may leave its parts untouched that long)."""
    return max(TEMP_AGE_SECONDS, float(getattr(blobs, "temp_grace", 0.0)))


def run_check(
    session: Session,
    blobs: BlobBackend,
    *,
    repair: bool = False,
    temp_age: float | None = None,
    orphan_age: float = ORPHAN_AGE_SECONDS,
    progress: Progress | None = None,
) -> Report:
    """Run every check (read-only unless ``repair``); see the module docstring.
    ``temp_age`` None: ``default_temp_age(blobs)``."""
    if temp_age is None:
        temp_age = default_temp_age(blobs)
    report = Report()
    report.problems += _database(session, report)
    report.problems += _row_blobs(session, blobs, report, progress)
    report.problems += _live_under_trash(session)
    report.problems += _duplicate_names(session)
    for problem, fix in _stale_temp(blobs, temp_age):
        _found(report, problem, fix, repair)
    for problem, fix in _orphan_blobs(session, blobs, orphan_age):
        _found(report, problem, fix, repair)
    broken = audit.check_chain(session).broken
    if broken is not None:
        report.problems.append(Problem("event_chain", f"event {broken.id}", broken.reason))
    return report


def _found(report: Report, problem: Problem, fix: Callable[[], None], repair: bool) -> None:
    if repair:
        fix()
        report.repaired.append(problem)
    else:
        report.problems.append(problem)


def _database(session: Session, report: Report) -> list[Problem]:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return _postgresql_constraints(session, report)
    if dialect != "sqlite":
        return []
    found = [
        Problem("integrity", "database", row[0])
        for row in session.execute(text("PRAGMA integrity_check")) if row[0] != "ok"
    ]
    for table, rowid, parent, _ in session.execute(text("PRAGMA foreign_key_check")):
        found.append(Problem(
            "foreign_key", f"{table} row {rowid}", f"refers to a missing {parent} row"
        ))
    return found


# The schema's foreign keys as PostgreSQL has them: (table, constraint, validated).
_PG_FOREIGN_KEYS = text(
    "SELECT c.relname, k.conname, k.convalidated FROM pg_constraint k "
    "JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE k.contype = 'f' AND n.nspname = current_schema()"
)


def _postgresql_constraints(session: Session, report: Report) -> list[Problem]:
    """PostgreSQL checks its pages and every reference on each write: no integrity or
    reference scan to run; what can be wrong is a constraint dropped or not validated."""
    found = {name: valid for _, name, valid in session.execute(_PG_FOREIGN_KEYS)}
    wanted = {str(fk.name): table.name for table in Base.metadata.tables.values()
              for fk in table.foreign_key_constraints if fk.name}
    problems = [
        Problem("foreign_key", f"table {table}", f"the constraint {name} is missing: "
                "the database no longer checks this reference")
        for name, table in sorted(wanted.items()) if name not in found
    ]
    problems += [
        Problem("foreign_key", f"constraint {name}", "not validated: rows written before it "
                "was added were never checked")
        for name, valid in sorted(found.items()) if not valid
    ]
    report.notes.append(
        "PostgreSQL: integrity and foreign keys are enforced by the server on every write "
        f"(no file to scan); its {len(found)} foreign key constraints are in place"
    )
    return problems


def referenced(session: Session) -> Iterator[tuple[str, str]]:
    """(sha256, the first row naming it) for every blob a row refers to."""
    seen: set[str] = set()
    queries = [
        ("node", select(Node.blob_sha256, Node.id).where(Node.blob_sha256.is_not(None))),
        ("node_version", select(NodeVersion.blob_sha256, NodeVersion.id)),
        ("attachment", select(Attachment.blob_sha256, Attachment.id)),
    ]
    for table, query in queries:
        for sha256, row_id in session.execute(query.order_by(text("2"))):
            if sha256 is not None and sha256 not in seen:
                seen.add(sha256)
                yield sha256, f"{table} {row_id}"


def file_blobs(session: Session) -> Iterator[tuple[str, str]]:
    """``referenced`` less the blobs kept in the database: those whose content is a file
    of the blob store."""
    kept_inline = inline_blobs.digests(session)
    return ((sha256, row) for sha256, row in referenced(session) if sha256 not in kept_inline)


def _row_blobs(
    session: Session, blobs: BlobBackend, report: Report, progress: Progress | None
) -> list[Problem]:
    found = []
    sizes = {sha: size for sha, size in session.execute(select(Blob.sha256, Blob.size))}
    kept_inline = inline_blobs.digests(session)
    for sha256, row in referenced(session):
        stored: int | None = None
        if sha256 in kept_inline:  # in the database (davdrive.inline_blobs)
            data = inline_blobs.read(session, sha256) or b""
            digest: str | None = hashlib.sha256(data).hexdigest()
            stored = len(data)
        else:
            try:
                digest = blobs.digest_of_file(sha256)
            except ValueError:
                digest = None
            if digest == sha256:
                stored = blobs.size(sha256)
        if digest is None:
            found.append(Problem("blob_missing", row, f"blob {sha256} is not in the store"))
        elif digest != sha256:
            found.append(Problem("blob_corrupt", row, f"blob {sha256} now hashes to {digest}"))
        elif sha256 in sizes and stored != sizes[sha256]:
            found.append(Problem("blob_corrupt", row, f"blob {sha256} has the wrong size"))
        report.blobs_checked += 1
        if progress is not None and report.blobs_checked % PROGRESS_EVERY == 0:
            progress(report.blobs_checked)
    return found


def _live_under_trash(session: Session) -> list[Problem]:
    parent = aliased(Node)
    rows = session.execute(
        select(Node.id, Node.name, parent.id)
        .join(parent, Node.parent_id == parent.id)
        .where(Node.deleted_at.is_(None), parent.deleted_at.is_not(None))
        .order_by(Node.id)
    )
    return [
        Problem("live_under_trash", f"node {node_id} {name!r}",
                f"is live but its parent folder {parent_id} is in the trash")
        for node_id, name, parent_id in rows
    ]


def _duplicate_names(session: Session) -> list[Problem]:
    other = aliased(Node)
    rows = session.execute(
        select(Node.id, other.id, Node.name_key, Node.parent_id)
        .join(other, (other.parent_id == Node.parent_id) & (other.name_key == Node.name_key)
              & (other.id > Node.id))
        .where(Node.deleted_at.is_(None), other.deleted_at.is_(None))
        .order_by(Node.id, other.id)
    )
    return [
        Problem("duplicate_name", f"nodes {first} and {second}",
                f"both live with the name {key!r} in folder {parent_id}")
        for first, second, key, parent_id in rows
    ]


def _stale_temp(blobs: BlobBackend, age: float) -> Iterator[tuple[Problem, Callable[[], None]]]:
    limit = time.time() - age
    for item in sorted(blobs.temp_items(), key=lambda item: item.name):
        if item.modified < limit:
            yield (
                Problem("stale_temp", f"temp file {item.name}",
                        "an upload temp file nothing is writing (left by a stopped process)"),
                lambda name=item.name: blobs.remove_temp(name),  # type: ignore[misc]
            )


def _orphan_blobs(
    session: Session, blobs: BlobBackend, age: float
) -> Iterator[tuple[Problem, Callable[[], None]]]:
    for sha256 in blobs.digests():
        if session.get(Blob, sha256) is not None:
            continue
        try:
            if blobs.age_seconds(sha256) < age:
                continue
        except FileNotFoundError:
            continue
        yield (
            Problem("orphan_blob", f"blob {sha256}", "a blob file no row refers to"),
            lambda s=sha256: blobs.delete(s),  # type: ignore[misc]
        )
