"""The ``davdrive trash`` and ``davdrive version`` commands.

Each runs as the system in one session (``open_session``) through the same use
cases as the admin view: ``davdrive.trash`` and ``davdrive.trash_purge`` for
the trash, ``Drive.versions`` and ``Drive.restore_version`` for versions. It
prints what it did and returns 0; errors are raised for ``main``.
"""

from __future__ import annotations

import argparse
from typing import Any

from davdrive import node_admin
from davdrive.cli_common import Context, format_table, open_session, out, print_json
from davdrive.errors import NameNotAvailable
from davdrive.policy import SYSTEM
from davdrive.services import Drive
from davdrive.trash import list_trash, restore_from_trash
from davdrive.trash_purge import purge_trash


def _when(value: Any) -> str:
    return str(value.isoformat(sep=" ", timespec="seconds"))


def cmd_trash_list(ctx: Context, args: argparse.Namespace) -> int:
    with open_session(ctx) as (_, session):
        entries = list_trash(session, SYSTEM, retention_days=ctx.settings["storage.trash_days"])
    if args.json:
        print_json([e.as_dict() for e in entries])
        return 0
    if not entries:
        out("the trash is empty")
        return 0
    rows = [(str(e.id), e.path, e.kind, str(e.size), _when(e.deleted_at), e.deleted_by,
             _when(e.expires_at)) for e in entries]
    out(format_table(("id", "path", "kind", "size", "deleted", "by", "expires"), rows))
    return 0


def cmd_trash_restore(ctx: Context, args: argparse.Namespace) -> int:
    with open_session(ctx) as (runtime, session):
        try:
            done = restore_from_trash(
                session, SYSTEM, args.path, entry_id=args.id, as_name=args.as_name,
                windows_names=runtime.drive_options.windows_names,
            )
        except NameNotAvailable as taken:
            raise NameNotAvailable(f"{taken.message} Give it with --as NAME.") from None
    out(f"restored {done.path} ({done.items} item(s))")
    return 0


def cmd_trash_purge(ctx: Context, args: argparse.Namespace) -> int:
    days = ctx.settings["storage.trash_days"] if args.older_than is None else args.older_than
    with open_session(ctx) as (runtime, session):
        purged = purge_trash(session, runtime.blobs, SYSTEM, older_than_days=days)
    freed = purged.collected
    out(f"purged {purged.entries} trash entries deleted over {days:g} day(s) ago "
        f"({purged.items} item(s), {purged.bytes} bytes); removed {freed.blobs} blob(s), "
        f"{freed.bytes} bytes freed")
    if freed.young:
        out(f"{freed.young} blob(s) written in the last minutes are left for the next clean-up")
    return 0


def cmd_version_list(ctx: Context, args: argparse.Namespace) -> int:
    with open_session(ctx) as (runtime, session):
        node = node_admin.resolve_path(session, args.path)
        entries = Drive(session, runtime.blobs, SYSTEM, runtime.drive_options).versions(node)
    if args.json:
        print_json([e.as_dict() for e in entries])
        return 0
    if not entries:
        out(f"{args.path} has no previous version")
        return 0
    rows = [(str(e.id), str(e.size), _when(e.replaced_at), e.replaced_by, e.sha256)
            for e in entries]
    out(format_table(("id", "size", "replaced", "by", "sha256"), rows))
    return 0


def cmd_version_restore(ctx: Context, args: argparse.Namespace) -> int:
    with open_session(ctx) as (runtime, session):
        node = node_admin.resolve_path(session, args.path)
        drive = Drive(session, runtime.blobs, SYSTEM, runtime.drive_options)
        drive.restore_version(node, args.id)
        size, etag = node.size, node.etag
    out(f"restored version {args.id} of {args.path} ({size} bytes, sha256 {etag}); "
        "the replaced content is kept as a version")
    return 0


def add_trash_parsers(sub: Any) -> None:
    trash = sub.add_parser("trash", help="deleted items: list, restore, purge")
    tsub = trash.add_subparsers(dest="action", required=True, metavar="list|restore|purge")
    tlist = tsub.add_parser("list", help="what the trash holds, newest first")
    tlist.add_argument("--json", action="store_true")
    tlist.set_defaults(handler=cmd_trash_list)
    restore = tsub.add_parser(
        "restore", help="bring an item back where it was, with everything deleted with it"
    )
    restore.add_argument("path")
    restore.add_argument("--as", dest="as_name", metavar="NAME",
                         help="restore it under this name (when its own is taken)")
    restore.add_argument("--id", type=int, metavar="ID",
                         help="which one, when the trash holds several at PATH "
                              "(default: the one deleted last)")
    restore.set_defaults(handler=cmd_trash_restore)
    purge = tsub.add_parser(
        "purge", help="remove for good what was deleted long ago, and free its content"
    )
    purge.add_argument("--older-than", type=float, metavar="DAYS",
                       help="deleted more than DAYS days ago (default: storage.trash_days; "
                            "0: everything)")
    purge.set_defaults(handler=cmd_trash_purge)

    version = sub.add_parser("version", help="previous versions of a file: list, restore")
    vsub = version.add_subparsers(dest="action", required=True, metavar="list|restore")
    vlist = vsub.add_parser("list", help="a file's previous versions, newest first")
    vlist.add_argument("path")
    vlist.add_argument("--json", action="store_true")
    vlist.set_defaults(handler=cmd_version_list)
    vrestore = vsub.add_parser(
        "restore", help="make a previous version current (the current one becomes a version)"
    )
    vrestore.add_argument("path")
    vrestore.add_argument("id", type=int, metavar="ID")
    vrestore.set_defaults(handler=cmd_version_restore)
