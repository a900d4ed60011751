"""The ``davdrive`` command line (DESIGN section 8: a stable contract, scripts use it).

``main(argv)`` parses the arguments, resolves the settings (TOML file, then
``DAVDRIVE_*`` environment, then flags) and runs one command in one database
session, committed only when the command succeeded. Failures print one line
``davdrive: error: ...`` on stderr and exit 1; configuration errors print
every problem, one per line, and exit 2. The HTTP stack is imported only by
``serve``.

This module is the entry point (``main``, ``build_parser``); the commands live
by group in ``cli_drive`` (init, serve, folder, node, explain, provision),
``cli_records`` (record), ``cli_accounts`` (category, user, doctype),
``cli_trash`` (trash, version), ``cli_maintenance`` (check), ``cli_backup`` (backup,
restore), ``cli_storage`` (migrate-storage), ``cli_history`` (audit, stats) and
``cli_demo``, on the helpers of ``cli_common``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from davdrive import (
    cli_accounts,
    cli_backup,
    cli_demo,
    cli_drive,
    cli_history,
    cli_maintenance,
    cli_records,
    cli_storage,
    cli_trash,
)
from davdrive.cli_common import PROG, Context, Handler
from davdrive.errors import ConfigError, DriveError
from davdrive.passwords import Passwords
from davdrive.settings import Settings, load_settings


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="A secure WebDAV document drive for associations."
    )
    parser.add_argument("--data", metavar="DIR", help="data folder (default ./data)")
    parser.add_argument("--config", dest="config_file", metavar="FILE",
                        help="TOML settings file (also DAVDRIVE_CONFIG)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    cli_drive.add_setup_parsers(sub)
    cli_demo.add_demo_parser(sub)
    cli_accounts.add_category_parsers(sub)
    cli_accounts.add_user_parsers(sub)
    cli_drive.add_drive_parsers(sub)
    cli_records.add_record_parsers(sub)
    cli_accounts.add_doctype_parsers(sub)
    cli_trash.add_trash_parsers(sub)
    cli_maintenance.add_maintenance_parsers(sub)
    cli_backup.add_backup_parsers(sub)
    cli_storage.add_storage_parsers(sub)
    cli_history.add_history_parsers(sub)
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    config = args.config_file or os.environ.get("DAVDRIVE_CONFIG") or None
    overrides: dict[str, Any] = {"data_dir": args.data}
    if args.command == "serve":
        overrides.update({
            "server.host": args.host, "server.port": args.port,
            "server.tls_cert": args.tls_cert, "server.tls_key": args.tls_key,
            "server.threads": args.threads, "server.workers": args.workers,
        })
    return load_settings(Path(config) if config else None, os.environ, overrides)


def _fail(message: str) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return 1


def main(argv: Sequence[str] | None = None, *, passwords: Passwords | None = None) -> int:
    """Run one command; return the exit status (0 ok, 1 error, 2 usage or configuration).

    ``passwords`` replaces the production argon2 parameters (tests only).
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help or a usage error, already printed by argparse
        return exc.code if isinstance(exc.code, int) else 2
    handler: Handler = args.handler
    try:
        ctx = Context(_settings(args), passwords)
        return handler(ctx, args)
    except ConfigError as exc:
        for error in exc.errors:
            print(f"{PROG}: configuration error: {error}", file=sys.stderr)
        return 2
    except DriveError as exc:
        return _fail(exc.message.rstrip("."))
    except SQLAlchemyError as exc:
        return _fail(f"database: {str(exc).splitlines()[0]}")
    except OSError as exc:
        return _fail(str(exc))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
