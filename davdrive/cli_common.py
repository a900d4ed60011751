"""What every ``davdrive`` command shares: its context, output, session and argument helpers.

``open_session`` yields a runtime and a database session and commits only
when the command's block ends without an exception; it refuses (NotFound)
when ``init`` has not created the drive yet. Output goes to standard output
through ``out``; the argument helpers raise ``BadRequest`` on input the
person must correct. Nothing here knows a particular command.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from davdrive.account_checks import parse_expiry as check_expiry
from davdrive.errors import BadRequest, NotFound
from davdrive.passwords import Passwords
from davdrive.runtime import Runtime, open_runtime
from davdrive.settings import DB_FILE, Settings

PROG = "davdrive"


@dataclass(frozen=True)
class Context:
    """What every command gets: the resolved settings and the password hasher to use."""

    settings: Settings
    passwords: Passwords | None = None


Handler = Callable[[Context, argparse.Namespace], int]


# --- output helpers --------------------------------------------------------------


def out(text: str = "") -> None:
    print(text, file=sys.stdout)


def print_json(items: list[dict[str, Any]]) -> None:
    out(json.dumps(items, indent=2, ensure_ascii=False))


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns separated by two spaces."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
             for row in [header, *rows]]
    return "\n".join(lines)


def yes_no(flag: bool) -> str:
    return "yes" if flag else "no"


# --- database access ---------------------------------------------------------------


def database_missing(settings: Settings) -> bool:
    """True when the default SQLite database has not been created by ``init`` yet."""
    return not settings["database.url"] and not (settings.data_dir / DB_FILE).exists()


def require_initialised(settings: Settings) -> None:
    if database_missing(settings):
        raise NotFound(
            f"no drive in {settings.data_dir}: run `davdrive --data {settings['data_dir']} init` "
            "first"
        )


@contextmanager
def open_session(ctx: Context, *, require_init: bool = True) -> Iterator[tuple[Runtime, Session]]:
    """A runtime and a session; commits when the block ends without an exception."""
    if require_init:
        require_initialised(ctx.settings)
    runtime = open_runtime(ctx.settings, ctx.passwords)
    try:
        with runtime.sessions() as session:
            yield runtime, session
            session.commit()
    finally:
        runtime.close()


# --- argument parsing helpers --------------------------------------------------------


def flag_pair(parser: argparse.ArgumentParser, dest: str, yes: str, no: str, help: str) -> None:
    """A --yes/--no flag pair writing True/False (None when neither is given) to ``dest``."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument(yes, dest=dest, action="store_const", const=True, help=help)
    group.add_argument(no, dest=dest, action="store_const", const=False, help="the opposite")
    parser.set_defaults(**{dest: None})


def parse_expiry(text: str | None) -> dt.datetime | None:
    """``account_checks.parse_expiry`` for ``--expires``."""
    return check_expiry(text, "--expires")


def read_password() -> str:
    line = sys.stdin.readline().rstrip("\r\n")
    if not line:
        raise BadRequest("--password-stdin: no password on the first line of standard input")
    return line


def parse_rights(pairs: Sequence[str]) -> dict[str, str]:
    rights: dict[str, str] = {}
    for pair in pairs:
        slug, sep, level = pair.partition("=")
        if not sep or not slug or not level:
            raise BadRequest(f"{pair!r} is not SLUG=LEVEL (e.g. member=read)")
        rights[slug.strip()] = level.strip().lower()
    return rights


def parse_doc_types(text: str | None) -> list[str] | None:
    if text is None:
        return None
    return [p.strip() for p in text.split(",") if p.strip()]
