"""The ``davdrive record`` commands: back-office records and their attachments.

Each command runs as the system in one session (``open_session``) through the
same use cases as the admin view (``davdrive.records``,
``davdrive.attachments``), so no rule is written twice; it prints what it did
and returns 0. Errors are raised for ``main``, which prints them on one line;
``attach`` also prints every refused file with its reason first.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from davdrive import attachments, records
from davdrive.cli_common import Context, format_table, open_session, out, print_json
from davdrive.errors import AttachmentsRefused
from davdrive.models import RECORD_KINDS, VISIBILITIES
from davdrive.paging import MAX_PER_PAGE
from davdrive.policy import SYSTEM


def cmd_record_add(ctx: Context, args: argparse.Namespace) -> int:
    with open_session(ctx) as (_, session):
        record = records.add_record(session, args.kind, args.name, args.user)
        path = records.record_path(record)
    out(f"created {args.kind} record {args.name!r} at {path}")
    return 0


def cmd_record_attach(ctx: Context, args: argparse.Namespace) -> int:
    files = [Path(f) for f in args.files]
    total = len(files)
    allowed = frozenset(ctx.settings["attachments.allowed_types"])
    try:
        with open_session(ctx) as (runtime, session):
            record = records.find_record(session, args.kind, args.name)
            out(f"checking {total} file(s)...")
            with attachments.open_uploads(files) as uploads:
                attached = attachments.attach(
                    session, runtime.blobs, record, uploads, args.visibility, allowed=allowed
                )
            path = records.record_path(record)
    except AttachmentsRefused as refused:
        for _, reason in refused.refusals:
            out(f"refused: {reason}")
        raise
    for i, attachment in enumerate(attached, 1):
        out(f"[{i}/{total}] attached {path}/{attachment.file_name} "
            f"({attachment.content_type}, {attachment.visibility})")
    return 0


def cmd_record_list(ctx: Context, args: argparse.Namespace) -> int:
    items: list[dict[str, Any]] = []
    with open_session(ctx) as (_, session):
        number = 1
        while True:
            page = records.search_records(session, SYSTEM, args.kind, args.search,
                                          page=number, per_page=MAX_PER_PAGE)
            items += [records.record_summary(r, page.attachment_counts[r.id])
                      for r in page.records]
            if page.page >= page.pages:
                break
            number += 1
    if args.json:
        print_json(items)
        return 0
    rows = [(r["kind"], r["name"], r["folder_name"], str(r["attachments"])) for r in items]
    out(format_table(("kind", "name", "folder", "attachments"), rows))
    return 0


def cmd_record_rename(ctx: Context, args: argparse.Namespace) -> int:
    with open_session(ctx) as (_, session):
        record = records.find_record(session, args.kind, args.name)
        old = record.name
        records.rename_record(session, record, args.new_name)
        name, path = record.name, records.record_path(record)
    out(f"renamed {args.kind} record {old!r} to {name!r} (still at {path})")
    return 0


def cmd_record_delete(ctx: Context, args: argparse.Namespace) -> int:
    with open_session(ctx) as (_, session):
        record = records.find_record(session, args.kind, args.name)
        name, path = record.name, records.record_path(record)
        count = len(attachments.list_attachments(session, record))
        records.delete_record(session, record)
    out(f"deleted {args.kind} record {name!r} ({path}) and its {count} attachment(s)")
    return 0


def cmd_record_detach(ctx: Context, args: argparse.Namespace) -> int:
    with open_session(ctx) as (_, session):
        record = records.find_record(session, args.kind, args.name)
        attachment = attachments.find_attachment(session, record, args.file_name)
        path = f"{records.record_path(record)}/{attachment.file_name}"
        attachments.detach(session, attachment)
    out(f"detached {path}")
    return 0


def cmd_record_visibility(ctx: Context, args: argparse.Namespace) -> int:
    with open_session(ctx) as (_, session):
        record = records.find_record(session, args.kind, args.name)
        attachment = attachments.find_attachment(session, record, args.file_name)
        attachments.set_attachment_visibility(session, attachment, args.visibility)
        path = f"{records.record_path(record)}/{attachment.file_name}"
    out(f"{path} is now {args.visibility}")
    return 0


def add_record_parsers(sub: Any) -> None:
    record = sub.add_parser("record", help="back-office records and their attachments")
    rsub = record.add_subparsers(
        dest="action", required=True,
        metavar="add|attach|list|rename|delete|detach|visibility",
    )
    radd = rsub.add_parser("add", help="add a member, product or activity record")
    radd.add_argument("kind", choices=RECORD_KINDS)
    radd.add_argument("name")
    radd.add_argument("--user", metavar="LOGIN", help="link a member record to an account")
    radd.set_defaults(handler=cmd_record_add)

    rattach = rsub.add_parser(
        "attach", help="attach files (JPEG, PDF, Word, Excel, PowerPoint); all or nothing"
    )
    rattach.add_argument("kind", choices=RECORD_KINDS)
    rattach.add_argument("name")
    rattach.add_argument("files", nargs="+", metavar="FILE")
    rattach.add_argument("--visibility", choices=VISIBILITIES, default="private")
    rattach.set_defaults(handler=cmd_record_attach)

    rlist = rsub.add_parser("list", help="records by kind and name, with their attachments")
    rlist.add_argument("kind", nargs="?", choices=RECORD_KINDS)
    rlist.add_argument("--search", metavar="TEXT", default="",
                       help="only records whose display or folder name holds TEXT (any case)")
    rlist.add_argument("--json", action="store_true")
    rlist.set_defaults(handler=cmd_record_list)

    rrename = rsub.add_parser(
        "rename", help="change a record's display name (its folder name and links stay)"
    )
    rrename.add_argument("kind", choices=RECORD_KINDS)
    rrename.add_argument("name")
    rrename.add_argument("new_name", metavar="NEW_NAME")
    rrename.set_defaults(handler=cmd_record_rename)

    rdelete = rsub.add_parser("delete", help="delete a record and its attachments")
    rdelete.add_argument("kind", choices=RECORD_KINDS)
    rdelete.add_argument("name")
    rdelete.set_defaults(handler=cmd_record_delete)

    rdetach = rsub.add_parser("detach", help="remove one attachment from a record")
    rdetach.add_argument("kind", choices=RECORD_KINDS)
    rdetach.add_argument("name")
    rdetach.add_argument("file_name", metavar="FILE_NAME")
    rdetach.set_defaults(handler=cmd_record_detach)

    rvisibility = rsub.add_parser(
        "visibility", help="make an attachment shared (seen by its readers) or private (staff)"
    )
    rvisibility.add_argument("kind", choices=RECORD_KINDS)
    rvisibility.add_argument("name")
    rvisibility.add_argument("file_name", metavar="FILE_NAME")
    rvisibility.add_argument("visibility", metavar="shared|private")
    rvisibility.set_defaults(handler=cmd_record_visibility)
