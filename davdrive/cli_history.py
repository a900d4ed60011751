"""``davdrive audit`` (the event history, ``audit verify``) and ``davdrive stats``.

They run as the system through the same core functions as the admin view
(``davdrive.history``, ``davdrive.stats_report``) and never write: their
session is rolled back. ``audit`` prints the newest events first (``--limit``,
default 50), ``--json`` a list of events; bad dates and limits are one-line
errors. ``audit verify`` exits 0 with "chain intact (N events)", else 1 naming
the first bad event on stderr. ``stats`` prints the totals of the last
``--days`` days (default 30) per login and interface, and overall, then what
the drive stores now: live files, the trash, the versions, the contents
(``davdrive.storage_usage``; ``--json`` under "storage").
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from davdrive import audit, history, stats_report
from davdrive.cli_common import PROG, Context, format_table, open_session, out, print_json
from davdrive.errors import BadRequest
from davdrive.paging import MAX_PER_PAGE
from davdrive.policy import SYSTEM
from davdrive.storage_usage import storage_usage

NOBODY = "(not signed in)"


def cmd_audit(ctx: Context, args: argparse.Namespace) -> int:
    if args.limit < 1:
        raise BadRequest(f"--limit: at least 1 event, not {args.limit}")
    filters: dict[str, Any] = {
        "user": args.user, "action": args.action, "path_prefix": args.path,
        "since": history.parse_moment(args.since, "--since"),
        "until": history.parse_moment(args.until, "--until", end_of_day=True),
    }
    events: list[dict[str, Any]] = []
    with open_session(ctx) as (_, session):
        number = 1
        while len(events) < args.limit:
            page = history.search_events(session, SYSTEM, page=number, per_page=MAX_PER_PAGE,
                                         **filters)
            events += [history.event_summary(e) for e in page.events]
            if page.page >= page.pages:
                break
            number += 1
        session.rollback()
    events = events[: args.limit]
    if args.json:
        print_json(events)
        return 0
    rows = [(e["time"], e["user"], e["ip"], e["action"], _paths(e), e["outcome"], e["detail"])
            for e in events]
    out(format_table(("time (UTC)", "user", "ip", "action", "path", "outcome", "detail"), rows))
    return 0


def _paths(event: dict[str, Any]) -> str:
    return f"{event['path']} -> {event['target']}" if event["target"] else event["path"]


def cmd_audit_verify(ctx: Context, args: argparse.Namespace) -> int:
    with open_session(ctx) as (_, session):
        result = audit.check_chain(session)
        session.rollback()
    if result.broken is None:
        out(f"chain intact ({result.events} events)")
        return 0
    print(f"{PROG}: audit verify failed: {result.broken.describe()}", file=sys.stderr)
    return 1


def cmd_stats(ctx: Context, args: argparse.Namespace) -> int:
    with open_session(ctx) as (_, session):
        report = stats_report.connection_totals(session, SYSTEM, args.days)
        storage = storage_usage(session)
        session.rollback()
    if args.json:
        out(json.dumps({**report.as_dict(), "storage": storage.as_dict()}, indent=2,
                       ensure_ascii=False))
        return 0
    rows = [(r.login or NOBODY, r.interface, *_figures(r)) for r in report.rows]
    rows.append(("all", "all", *_figures(report.overall)))
    out(f"connections from {report.first.isoformat()} to {report.last.isoformat()}")
    out(format_table(("login", "interface", "sign-ins", "failures", "requests", "bytes in",
                      "bytes out"), rows))
    out("")
    out("storage now")
    out(format_table(("what", "count", "bytes"), [
        (label, str(figures.count), str(figures.bytes)) for label, figures in (
            ("files in the drive", storage.live_files), ("files in the trash", storage.trash_files),
            ("previous versions", storage.versions), ("contents stored", storage.blobs),
        )
    ]))
    return 0


def _figures(totals: stats_report.Totals) -> tuple[str, ...]:
    return tuple(str(v) for v in (totals.successes, totals.failures, totals.requests,
                                  totals.bytes_in, totals.bytes_out))


def add_history_parsers(sub: Any) -> None:
    auditing = sub.add_parser(
        "audit", help="the event history, newest first (or `audit verify`: the hash chain)",
        usage=f"{PROG} audit [--user U] [--action A] [--path PREFIX] [--since ISO] "
              f"[--until ISO] [--limit N] [--json]\n       {PROG} audit verify",
    )
    auditing.add_argument("--user", metavar="U", help="events of this login (as recorded)")
    auditing.add_argument("--action", metavar="A", help="events of this action (e.g. delete)")
    auditing.add_argument("--path", metavar="PREFIX",
                          help="events on this path or below it (e.g. /Finance)")
    auditing.add_argument("--since", metavar="ISO",
                          help="from this date or local date-time on (included)")
    auditing.add_argument("--until", metavar="ISO",
                          help="up to this date (the whole day) or local date-time (excluded)")
    auditing.add_argument("--limit", type=int, default=50, metavar="N",
                          help="at most N events (default %(default)s)")
    auditing.add_argument("--json", action="store_true", help="the events as JSON")
    auditing.set_defaults(handler=cmd_audit)
    verbs = auditing.add_subparsers(dest="audit_command", metavar="verify")
    verify = verbs.add_parser(
        "verify", help="check the hash chain; exit 1 naming the first bad event"
    )
    verify.set_defaults(handler=cmd_audit_verify)

    stats = sub.add_parser("stats", help="connection statistics per user and interface")
    stats.add_argument("--days", type=int, default=30, metavar="N",
                       help="the last N days, today included (default %(default)s)")
    stats.add_argument("--json", action="store_true", help="the totals as JSON")
    stats.set_defaults(handler=cmd_stats)
