"""Protected provisioning (seed 003): system folders and files from a TOML file.

The file lists folders and files with their classification and folder
rights; ``provision`` creates what is missing and corrects what differs, as
the system, and marks every listed item protected (nobody renames, deletes
or overwrites it; only the system adds into a protected folder). A second
run with the same file changes nothing. The whole file is checked before
anything is written, and every problem is reported at once::

    [[folder]]
    path = "/Association"
    rights = { member = "read", office = "write" }   # exactly these rights
    min_degree = 0                                   # optional, default 0
    doc_type = "minutes"                             # optional, default none
    new_files_private = false                        # optional

    [[file]]
    path = "/Association/Statutes.pdf"
    source = "statutes.pdf"        # relative to the provisioning file
    min_degree = 0
    doc_type = "minutes"
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from davdrive import node_admin, tree
from davdrive.account_checks import audit_change
from davdrive.errors import ConfigError
from davdrive.models import FOLDER_LEVELS, Category, DocType, Node
from davdrive.paths import join, split_path, validate_name
from davdrive.policy import SYSTEM
from davdrive.services import Drive

FOLDER_KEYS = {"path", "rights", "min_degree", "doc_type", "new_files_private"}
FILE_KEYS = {"path", "source", "min_degree", "doc_type"}


@dataclass(frozen=True)
class Item:
    kind: str  # folder | file
    path: str
    min_degree: int = 0
    doc_type: str | None = None
    rights: dict[str, str] = field(default_factory=dict)
    new_files_private: bool = False
    source: Path | None = None


def load(path: Path, session: Session) -> list[Item]:
    """Read and check a provisioning file; ConfigError lists every problem."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError([f"{path}: {exc}"]) from None
    problems: list[str] = []
    unknown = set(data) - {"folder", "file"}
    if unknown:
        problems.append(f"{path}: unknown sections {sorted(unknown)} (use [[folder]], [[file]])")
    categories = set(session.scalars(select(Category.slug)))
    doc_types = set(session.scalars(select(DocType.slug)))
    items: list[Item] = []
    for kind, keys in (("folder", FOLDER_KEYS), ("file", FILE_KEYS)):
        for i, raw in enumerate(data.get(kind, [])):
            where = f"{path}: {kind} #{i + 1}"
            item = _item(kind, raw, keys, where, path.parent, categories, doc_types, problems)
            if item is not None:
                items.append(item)
    paths = [split_path(i.path) for i in items if i.kind == "file"]
    folders = {tuple(split_path(i.path)) for i in items if i.kind == "folder"}
    for parts in paths:
        if tuple(parts) in folders:
            problems.append(f"{path}: {join(parts)} is listed as both a folder and a file")
    if problems:
        raise ConfigError(problems)
    return sorted(items, key=lambda i: (i.kind != "folder", len(split_path(i.path))))


def _item(
    kind: str, raw: Any, keys: set[str], where: str, base: Path,
    categories: set[str], doc_types: set[str], problems: list[str],
) -> Item | None:
    if not isinstance(raw, dict):
        problems.append(f"{where}: expected a table")
        return None
    count = len(problems)
    for key in set(raw) - keys:
        problems.append(f"{where}: unknown key {key!r}")
    path = raw.get("path")
    if not isinstance(path, str) or not path.startswith("/"):
        problems.append(f"{where}: 'path' must be an absolute path such as \"/Association\"")
        path = "/"
    else:
        try:
            parts = split_path(path)
            for part in parts:
                validate_name(part)
            if not parts:
                problems.append(f"{where}: the root cannot be provisioned")
        except Exception as exc:  # noqa: BLE001 - reported with the item
            problems.append(f"{where}: {exc}")
    degree = raw.get("min_degree", 0)
    if not isinstance(degree, int) or isinstance(degree, bool) or degree < 0:
        problems.append(f"{where}: 'min_degree' must be a whole number, 0 or more")
    doc_type = raw.get("doc_type") or None
    if doc_type is not None and doc_type not in doc_types:
        problems.append(f"{where}: unknown doc type {doc_type!r} (add it with 'doctype add')")
    rights = raw.get("rights", {})
    if not isinstance(rights, dict):
        problems.append(f"{where}: 'rights' must be a table such as {{ member = \"read\" }}")
        rights = {}
    for slug, level in rights.items():
        if slug not in categories:
            problems.append(f"{where}: unknown category {slug!r}")
        if level not in FOLDER_LEVELS:
            problems.append(f"{where}: right {level!r} is not one of {', '.join(FOLDER_LEVELS)}")
    source = None
    if kind == "file":
        name = raw.get("source")
        if not isinstance(name, str):
            problems.append(f"{where}: 'source' (the file to copy) is missing")
        else:
            source = (base / name).resolve()
            if not source.is_file():
                problems.append(f"{where}: source file {str(source)!r} not found")
    if len(problems) > count:
        return None
    return Item(kind=kind, path=path, min_degree=degree, doc_type=doc_type, rights=dict(rights),
                new_files_private=bool(raw.get("new_files_private", False)), source=source)


def provision(
    session: Session, drive: Drive, items: list[Item], progress: Callable[[str], None]
) -> int:
    """Apply ``items`` as the system (``drive``'s actor); returns the number of changes."""
    changes = 0
    for item in items:
        if item.kind == "folder":
            node, created = node_admin.make_folders(session, drive, item.path)
            changes += len(created)
        else:
            parent, created = node_admin.make_folders(session, drive, str(Path(item.path).parent))
            changes += len(created)
            node, changed = _put_file(session, drive, parent, item)
            changes += changed
        changes += _settle(session, node, item)
        session.commit()
        progress(f"{item.kind} {item.path}: ok")
    return changes


def _put_file(session: Session, drive: Drive, parent: Node, item: Item) -> tuple[Node, int]:
    assert item.source is not None
    name = split_path(item.path)[-1]
    existing = tree.child_named(session, parent.id, name)
    data = item.source.read_bytes()
    if existing is not None and existing.blob_sha256 is not None:
        with drive.open_content(existing) as stream:
            if stream.read() == data:
                return existing, 0
    upload = drive.begin_upload(parent, name, existing)
    try:
        upload.writer.write(data)
    except BaseException:
        upload.writer.abort()
        raise
    return drive.finish_upload(upload), 1


def _settle(session: Session, node: Node, item: Item) -> int:
    """Make the node's classification, rights and protection those of ``item``."""
    wanted: dict[str, Any] = {
        "min_degree": item.min_degree, "doc_type": item.doc_type, "protected": True,
        "owner_id": None,
    }
    if item.kind == "folder":
        wanted["new_files_private"] = item.new_files_private
    changed = {key: value for key, value in wanted.items() if getattr(node, key) != value}
    for key, value in changed.items():
        setattr(node, key, value)
    changes = len(changed)
    if changed:
        session.flush()
        audit_change(session, SYSTEM, "provision", path=join(tree.path_of(session, node)),
                     detail=", ".join(f"{key}={value}" for key, value in changed.items()))
    if item.kind == "folder":
        current = node_admin.folder_rights(session, node)
        if current != item.rights:
            update = {slug: "inherit" for slug in current if slug not in item.rights}
            update.update(item.rights)
            node_admin.set_folder_rights(session, node, update)
            changes += 1
    session.flush()
    return changes
