"""What a folder's zip holds for one user (the web drive's "download this folder").

``members(drive, folder)`` walks below ``folder`` with the drive's own visibility
(``Drive.children_batches``: what the user's PROPFIND lists, junk left out), depth
first, in each folder the folders then the files, each by name key, and yields:

- a directory entry for every folder the user sees in its own right, empty or not
  (a pass-through folder has none: it only leads to what is visible inside it);
- every file the policy lets the user read (``Action.READ``).

Paths are relative to ``folder``, joined with "/"; a directory's ends with "/".
A member's node stays usable (``Drive.open_content``) until the next member is
asked for, and memory holds one batch of children per level of depth.

``survey`` runs the same walk first and refuses, before a byte is sent, a folder
holding more than ``ArchiveLimits`` allows (counting only what the user may read).
``zip_members`` gives the members as ``zip_stream.ZipMember``, each file's content
opened through ``Drive.open_content`` when the writer reaches it.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from typing import BinaryIO

from davdrive.errors import BadRequest, TooLarge
from davdrive.models import Node
from davdrive.policy import Action, visibility
from davdrive.services import Drive
from davdrive.zip_stream import ZipMember

BATCH = 500  # children read per query (``Drive.children_batches``)
ROOT_NAME = "Files"  # the archive of the root folder is Files.zip


@dataclass(frozen=True)
class ArchiveLimits:
    """The most one archive holds: entries (files and folders) and bytes of content,
    counting only what the user may read."""

    entries: int = 20_000
    bytes: int = 16 * 1024**3


@dataclass(frozen=True)
class Member:
    """One entry of the archive: its path inside it and the node it comes from."""

    path: str
    node: Node

    @property
    def is_dir(self) -> bool:
        return self.path.endswith("/")


@dataclass(frozen=True)
class Survey:
    entries: int
    bytes: int


def archive_name(folder: Node) -> str:
    """The download's file name: the folder's name (``Files`` for the root) + .zip."""
    return f"{folder.name if folder.parent_id is not None else ROOT_NAME}.zip"


def members(drive: Drive, folder: Node) -> Iterator[Member]:
    """The archive's entries for ``drive``'s actor (see the module), in order."""
    if not folder.is_folder:
        raise BadRequest("Only a folder is downloaded as a zip.")
    stack: list[tuple[str, Iterator[Node]]] = [("", _children(drive, folder))]
    while stack:
        prefix, children = stack[-1]
        child = next(children, None)
        if child is None:
            stack.pop()
            continue
        path = prefix + child.name
        if child.is_folder:
            if visibility(drive.actor, drive.facts_of(child)):
                yield Member(path + "/", child)
            stack.append((path + "/", _children(drive, child)))
        elif drive.decide(Action.READ, child):
            yield Member(path, child)


def _children(drive: Drive, folder: Node) -> Iterator[Node]:
    for batch in drive.children_batches(folder, BATCH):
        yield from batch


def survey(drive: Drive, folder: Node, limits: ArchiveLimits) -> Survey:
    """Count what the archive of ``folder`` would hold; ``TooLarge`` past ``limits``."""
    entries = size = 0
    for member in members(drive, folder):
        entries += 1
        size += 0 if member.is_dir else member.node.size
        if entries > limits.entries:
            raise TooLarge(
                f"This folder holds more than {limits.entries:,} files and folders: too many "
                "for one zip. Download its folders one at a time, or sync it with a WebDAV "
                "client."
            )
        if size > limits.bytes:
            raise TooLarge(
                f"This folder holds more than {_gib(limits.bytes)}: too much for one zip. "
                "Download its folders one at a time, or sync it with a WebDAV client."
            )
    return Survey(entries, size)


def _gib(size: int) -> str:
    return f"{size / 1024**3:g} GiB" if size >= 1024**3 else f"{size:,} bytes"


def zip_members(drive: Drive, folder: Node) -> Iterator[ZipMember]:
    """``members`` as the zip writer takes them (``zip_stream.zip_chunks``)."""
    for member in members(drive, folder):
        node = member.node
        if member.is_dir:
            yield ZipMember(member.path, node.mtime)
        else:
            yield ZipMember(member.path, node.mtime, node.size, partial(_content, drive, node))


def _content(drive: Drive, node: Node) -> BinaryIO:
    """The file's content, read as the user (a file never written to has none)."""
    if node.blob_sha256 is None:
        return io.BytesIO(b"")
    return drive.open_content(node)
