"""Backup commands: ``backup``, ``backup --verify [SNAPSHOT]``, ``restore SNAPSHOT``.

``backup`` shows its progress on stderr and prints the snapshot's path as the
last line of stdout (scripts use it); it exits 1 when the live store lacked a
blob file its database names (the snapshot is kept, nothing is rotated). It
works on SQLite and PostgreSQL alike, with local or S3 blobs. ``--verify`` checks a
snapshot (the newest of ``backup.dir`` by default) with ``davdrive check``'s
code and reports the same way. ``restore`` writes into the ``--data`` folder,
which must be new or empty, or into the empty PostgreSQL database the settings
name (``davdrive.restore``).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from davdrive import snapshots
from davdrive.backup import run_backup
from davdrive.cli_common import PROG, Context, out, require_initialised
from davdrive.cli_maintenance import check_progress, show_report
from davdrive.restore import restore
from davdrive.runtime import open_runtime


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def cmd_backup(ctx: Context, args: argparse.Namespace) -> int:
    if args.verify is not None:
        return _verify(ctx, args.verify or None, args.json)
    require_initialised(ctx.settings)
    runtime = open_runtime(ctx.settings, ctx.passwords)
    try:
        result = run_backup(
            runtime, progress=lambda linked, copied: _say(
                f"{linked} blob files linked, {copied} copied so far")
        )
    finally:
        runtime.close()
    out(result.summary())
    for path in result.removed:
        out(f"removed snapshot {path.name} (rotation)")
    if not result.complete:
        _say(f"{PROG}: error: the store lacks {len(result.missing)} blob file(s) the database "
             f"names (first {result.missing[0]}): the snapshot misses them and no snapshot "
             "was removed; run `davdrive check`")
    out(str(result.path))
    return 0 if result.complete else 1


def _verify(ctx: Context, given: str | None, as_json: bool) -> int:
    path = snapshots.find(ctx.settings.backup_dir, given)
    _say(f"verifying snapshot {path}")
    report = snapshots.verify(path, progress=None if as_json else check_progress)
    return show_report(report, as_json, f"snapshot {path.name} failed verification")


def cmd_restore(ctx: Context, args: argparse.Namespace) -> int:
    snapshot = snapshots.find(ctx.settings.backup_dir, args.snapshot)
    result = restore(snapshot, ctx.settings,
                     progress=lambda copied: _say(f"{copied} blob files copied so far"))
    out(f"restored snapshot {snapshot.name} into {result.target}: {result.copied} blob files "
        f"copied, {result.inline} kept in the database")
    return show_report(result.report, False, "restored, but the check failed")


def add_backup_parsers(sub: Any) -> None:
    backup = sub.add_parser(
        "backup", help="snapshot the drive into backup.dir (or --verify a snapshot)",
        description="Take a consistent snapshot of the drive, even while it is served, then "
                    "rotate (8 daily, 5 weekly, 12 monthly). The snapshot's path is the last "
                    "line printed.",
    )
    backup.add_argument("--verify", nargs="?", const="", metavar="SNAPSHOT",
                        help="check SNAPSHOT (a path or a name in backup.dir; default the "
                             "newest) like `davdrive check` instead of taking one")
    backup.add_argument("--json", action="store_true", help="with --verify: the report as JSON")
    backup.set_defaults(handler=cmd_backup)
    restore_parser = sub.add_parser(
        "restore", help="restore a snapshot into the --data folder (new or empty)",
    )
    restore_parser.add_argument("snapshot", metavar="SNAPSHOT", type=str,
                                help="the snapshot folder (or its name in backup.dir)")
    restore_parser.set_defaults(handler=cmd_restore)

