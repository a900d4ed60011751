"""Maintenance commands: ``check`` (verify the data folder; ``--repair`` what is safe).

Exit status: 0 when everything holds (after ``--repair``, when nothing else is
wrong), 1 naming the first problem on stderr (every problem is listed on
stdout, or as JSON with ``--json``).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from davdrive.check import ORPHAN_AGE_SECONDS, TEMP_AGE_SECONDS, Report, run_check
from davdrive.cli_common import PROG, Context, open_session, out


def check_progress(count: int) -> None:
    print(f"{count} blobs checked", file=sys.stderr, flush=True)


def cmd_check(ctx: Context, args: argparse.Namespace) -> int:
    with open_session(ctx) as (runtime, session):
        report = run_check(
            session, runtime.blobs, repair=args.repair, temp_age=args.temp_age,
            orphan_age=args.orphan_age, progress=None if args.json else check_progress,
        )
        session.rollback()  # a check never writes to the database
    return show_report(report, args.json, "check failed")


def show_report(report: Report, as_json: bool, failure: str) -> int:
    """Print ``report`` (every problem on stdout, or JSON) and return the exit status:
    0 when it holds, else 1 with ``failure`` and the first problem on stderr."""
    if as_json:
        out(json.dumps(report.as_dict(), indent=2, ensure_ascii=False))
    else:
        for fixed in report.repaired:
            out(f"repaired {fixed.line()}")
        for note in report.notes:
            out(f"note: {note}")
        for problem in report.problems:
            out(problem.line())
        out(f"{report.blobs_checked} blobs checked; "
            + ("no problem found" if report.ok else f"{len(report.problems)} problem(s)"))
    if report.ok:
        return 0
    print(f"{PROG}: {failure}: {report.problems[0].line()}", file=sys.stderr)
    return 1


def add_maintenance_parsers(sub: Any) -> None:
    check = sub.add_parser(
        "check", help="verify the database, every blob, the tree and the event chain"
    )
    check.add_argument("--repair", action="store_true",
                       help="remove stale temp files and blob files no row refers to")
    check.add_argument("--json", action="store_true", help="the report as JSON")
    check.add_argument("--temp-age", type=float, default=None, metavar="SECONDS",
                       help="an upload temp item untouched this long is stale (default "
                            f"{TEMP_AGE_SECONDS:.0f}, or the S3 store's blobs temp grace, "
                            "3600, when longer)")
    check.add_argument("--orphan-age", type=float, default=ORPHAN_AGE_SECONDS,
                       metavar="SECONDS",
                       help="a blob file without a row this old is collected "
                            "(default %(default)s)")
    check.set_defaults(handler=cmd_check)
