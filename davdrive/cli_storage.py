"""Storage command: ``migrate-storage --to TARGET`` (``davdrive.storage_move``).

The source is the drive the command's settings name (``--data``, ``--config``,
``DAVDRIVE_*``); TARGET a TOML settings file or a database URL
(``davdrive.storage_target``). Progress goes to stderr, line by line; the
summary to stdout (``--json``: one JSON object). Exit status 0 once every row
and every blob hash of the target equal the source's; 1 with the reason
otherwise (a refusal, a damaged blob, a failed verification), after which the
same command resumes.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from davdrive.cli_common import Context, out, require_initialised
from davdrive.storage_move import move_storage
from davdrive.storage_target import load_target


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def cmd_migrate_storage(ctx: Context, args: argparse.Namespace) -> int:
    require_initialised(ctx.settings)
    target = load_target(args.to, ctx.settings)
    result = move_storage(ctx.settings, target, say=_say)
    if args.json:
        out(json.dumps(result.as_dict(), indent=2, ensure_ascii=False))
        return 0
    rows = sum(result.tables.values())
    out(f"moved {result.source}")
    out(f"   to {result.target}")
    out(f"{result.blobs.copied} blobs copied, {result.blobs.skipped} already in the target, "
        f"{result.inline} kept in the database; {rows} rows in {len(result.tables)} tables")
    out(f"verified: every table's rows and {result.verified_blobs} blob hashes equal")
    out("The source was left as it was. Point the servers' configuration at the target, "
        "then start them.")
    return 0


def add_storage_parsers(sub: Any) -> None:
    move = sub.add_parser(
        "migrate-storage", help="copy the drive onto another database and blob store",
        description="Copy the drive (the source: this command's settings) onto TARGET: "
                    "every blob, then every row, then verify both. No server may run on "
                    "either side. The source is not changed; an interrupted move resumes "
                    "when run again. See docs/migrate-storage.md.",
    )
    move.add_argument("--to", required=True, metavar="TARGET",
                      help="a TOML settings file of the target (database, blobs, data_dir), "
                           "or a database URL (blobs stay where they are)")
    move.add_argument("--json", action="store_true", help="the summary as JSON")
    move.set_defaults(handler=cmd_migrate_storage)
