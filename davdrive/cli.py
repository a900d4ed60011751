"""The ``davdrive`` command line (DESIGN section 8: a stable contract, scripts use it).

``main(argv)`` parses the arguments, resolves the settings (TOML file, then
``DAVDRIVE_*`` environment, then flags) and runs one command in one database
session, committed only when the command succeeded. Failures print one line
``davdrive: error: ...`` on stderr and exit 1; configuration errors print
every problem, one per line, and exit 2. The HTTP stack is imported only by
``serve``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from davdrive import accounts, demo_files, node_admin, provisioning, records, tree
from davdrive.errors import BadRequest, ConfigError, DriveError, NotFound
from davdrive.models import FOLDER_LEVELS, LEVELS, RECORD_KINDS, VISIBILITIES, Node
from davdrive.passwords import Passwords, generate_password
from davdrive.policy import SYSTEM
from davdrive.runtime import Runtime, open_runtime
from davdrive.services import Drive
from davdrive.settings import Settings, load_settings

PROG = "davdrive"
DB_FILE = "davdrive.sqlite3"
CREDENTIALS_FILE = "demo-credentials.txt"


@dataclass(frozen=True)
class Context:
    """What every command gets: the resolved settings and the password hasher to use."""

    settings: Settings
    passwords: Passwords | None = None


Handler = Callable[[Context, argparse.Namespace], int]


# --- output helpers --------------------------------------------------------------


def out(text: str = "") -> None:
    print(text, file=sys.stdout)


def _json(items: list[dict[str, Any]]) -> None:
    out(json.dumps(items, indent=2, ensure_ascii=False))


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns separated by two spaces."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
             for row in [header, *rows]]
    return "\n".join(lines)


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


# --- database access ---------------------------------------------------------------


def _database_missing(settings: Settings) -> bool:
    """True when the default SQLite database has not been created by ``init`` yet."""
    return not settings["database.url"] and not (settings.data_dir / DB_FILE).exists()


def _require_initialised(settings: Settings) -> None:
    if _database_missing(settings):
        raise NotFound(
            f"no drive in {settings.data_dir}: run `davdrive --data {settings['data_dir']} init` "
            "first"
        )


@contextmanager
def _session(ctx: Context, *, require_init: bool = True) -> Iterator[tuple[Runtime, Session]]:
    """A runtime and a session; commits when the block ends without an exception."""
    if require_init:
        _require_initialised(ctx.settings)
    runtime = open_runtime(ctx.settings, ctx.passwords)
    try:
        with runtime.sessions() as session:
            yield runtime, session
            session.commit()
    finally:
        runtime.close()


# --- argument parsing helpers --------------------------------------------------------


def _pair(parser: argparse.ArgumentParser, dest: str, yes: str, no: str, help: str) -> None:
    """A --yes/--no flag pair writing True/False (None when neither is given) to ``dest``."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument(yes, dest=dest, action="store_const", const=True, help=help)
    group.add_argument(no, dest=dest, action="store_const", const=False, help="the opposite")
    parser.set_defaults(**{dest: None})


def _parse_expiry(text: str | None) -> dt.datetime | None:
    """An ISO date or date-time in server local time, as aware UTC; '' or 'never' = no expiry.

    A date alone means the account works until the end of that day.
    """
    if text is None or text.strip().lower() in ("", "never", "none"):
        return None
    value = text.strip()
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        day = None
    try:
        if day is not None:
            moment = dt.datetime.combine(day + dt.timedelta(days=1), dt.time())
        else:
            moment = dt.datetime.fromisoformat(value)
    except ValueError as exc:
        raise BadRequest(
            f"--expires: {text!r} is not an ISO date or date-time "
            "(e.g. 2026-06-30 or 2026-06-30T18:00)"
        ) from exc
    return moment.astimezone(dt.UTC)


def _read_password() -> str:
    line = sys.stdin.readline().rstrip("\r\n")
    if not line:
        raise BadRequest("--password-stdin: no password on the first line of standard input")
    return line


def _parse_rights(pairs: Sequence[str]) -> dict[str, str]:
    rights: dict[str, str] = {}
    for pair in pairs:
        slug, sep, level = pair.partition("=")
        if not sep or not slug or not level:
            raise BadRequest(f"{pair!r} is not SLUG=LEVEL (e.g. member=read)")
        rights[slug.strip()] = level.strip().lower()
    return rights


def _doc_types(text: str | None) -> list[str] | None:
    if text is None:
        return None
    return [p.strip() for p in text.split(",") if p.strip()]


# --- init, serve -----------------------------------------------------------------------


def cmd_init(ctx: Context, args: argparse.Namespace) -> int:
    data_dir = ctx.settings.data_dir
    new_dir = not data_dir.exists()
    new_db = _database_missing(ctx.settings)
    with _session(ctx, require_init=False) as (_, session):
        done = accounts.init_defaults(session)
    out(f"{'created' if new_dir else 'using'} data folder {data_dir}")
    if new_db:
        out(f"created database {data_dir / DB_FILE}")
    for line in done:
        out(line)
    if not done:
        out("already initialised: nothing to change")
    return 0


def cmd_serve(ctx: Context, args: argparse.Namespace) -> int:
    _require_initialised(ctx.settings)
    missing = [
        f"server.{name} {ctx.settings[f'server.{name}']!r}: file not found"
        for name in ("tls_cert", "tls_key")
        if ctx.settings[f"server.{name}"] and not Path(ctx.settings[f"server.{name}"]).is_file()
    ]
    if missing:
        raise ConfigError(missing)
    from davdrive.server import serve  # the HTTP stack is loaded only here

    return serve(ctx.settings)


# --- categories --------------------------------------------------------------------------


def _category_fields(args: argparse.Namespace) -> dict[str, Any]:
    fields = {
        "label": args.label,
        "description": args.description,
        "login": args.login,
        "documents": args.documents,
        "members": args.members,
        "config": args.cat_config,
        "hidden": args.hidden,
        "may_delete": args.may_delete,
        "excluded_doc_types": _doc_types(args.exclude_types),
        "is_default": True if args.default else None,
    }
    return {k: v for k, v in fields.items() if v is not None}


def cmd_category_add(ctx: Context, args: argparse.Namespace) -> int:
    with _session(ctx) as (_, session):
        category = accounts.add_category(session, args.slug, **_category_fields(args))
        out(f"added category {category.slug}")
    return 0


def cmd_category_set(ctx: Context, args: argparse.Namespace) -> int:
    fields = _category_fields(args)
    if not fields:
        raise BadRequest("nothing to change: give at least one option (see --help)")
    with _session(ctx) as (_, session):
        category = accounts.set_category(session, args.slug, **fields)
        out(f"updated category {category.slug}")
    return 0


def cmd_category_list(ctx: Context, args: argparse.Namespace) -> int:
    with _session(ctx) as (_, session):
        counts = accounts.users_per_category(session)
        items = [
            accounts.category_summary(c, counts.get(c.id, 0))
            for c in accounts.list_categories(session)
        ]
    if args.json:
        _json(items)
        return 0
    header = ("slug", "label", "login", "documents", "members", "config", "delete",
              "excluded", "flags", "users")
    rows = [
        (c["slug"], c["label"], _yes(c["login"]), c["documents"], c["members"],
         _yes(c["config"]), _yes(c["may_delete"]), ",".join(c["excluded_doc_types"]) or "-",
         ",".join(f for f in ("default", "hidden") if c["is_default" if f == "default" else f])
         or "-", str(c["users"]))
        for c in items
    ]
    out(_table(header, rows))
    return 0


# --- users ---------------------------------------------------------------------------------


def cmd_user_add(ctx: Context, args: argparse.Namespace) -> int:
    password = _read_password() if args.password_stdin else None
    expires = _parse_expiry(args.expires)
    with _session(ctx) as (runtime, session):
        user, secret = accounts.add_user(
            session, runtime.passwords, args.login, category=args.category,
            degree=1 if args.degree is None else args.degree, password=password,
            active=True if args.active is None else args.active, expires_at=expires,
            hours=args.hours or "", display_name=args.name or "", email=args.email or "",
        )
        out(f"added user {user.login} (category {user.category.slug}, degree {user.degree})")
    if password is None:
        out(f"password: {secret}")
        out("(shown only once: store it now)")
    return 0


def cmd_user_set(ctx: Context, args: argparse.Namespace) -> int:
    if args.password_stdin and args.generate_password:
        raise BadRequest("give either --password-stdin or --generate-password, not both")
    password = _read_password() if args.password_stdin else None
    generated = None
    if args.generate_password:
        generated = password = generate_password()
    options: dict[str, Any] = {
        "category": args.category, "degree": args.degree, "password": password,
        "active": args.active, "hours": args.hours, "display_name": args.name,
        "email": args.email,
    }
    options = {k: v for k, v in options.items() if v is not None}
    if args.expires is not None:
        options["expires_at"] = _parse_expiry(args.expires)
    if not options:
        raise BadRequest("nothing to change: give at least one option (see --help)")
    with _session(ctx) as (runtime, session):
        user = accounts.set_user(session, runtime.passwords, args.login, **options)
        out(f"updated user {user.login}")
    if generated:
        out(f"new password: {generated}")
        out("(shown only once: store it now)")
    return 0


def cmd_user_list(ctx: Context, args: argparse.Namespace) -> int:
    with _session(ctx) as (_, session):
        items = [accounts.user_summary(u) for u in accounts.list_users(session)]
    if args.json:
        _json(items)
        return 0
    header = ("login", "name", "category", "degree", "active", "expires", "hours")
    rows = [
        (u["login"], u["display_name"] or "-", u["category"], str(u["degree"]),
         _yes(u["active"]), (u["expires_at"] or "never")[:16], u["login_hours"] or "always")
        for u in items
    ]
    out(_table(header, rows))
    return 0


def cmd_user_delete(ctx: Context, args: argparse.Namespace) -> int:
    with _session(ctx) as (_, session):
        accounts.delete_user(session, args.login)
    out(f"deleted user {args.login}")
    return 0


def cmd_user_app_password(ctx: Context, args: argparse.Namespace) -> int:
    with _session(ctx) as (_, session):
        token = accounts.app_password(session, args.login, args.label or "")
    out(f"app password for {args.login}: {token}")
    out("(shown only once: use it as the password in your sync client)")
    return 0


def cmd_user_revoke_app_password(ctx: Context, args: argparse.Namespace) -> int:
    with _session(ctx) as (_, session):
        count = accounts.revoke_app_password(session, args.login, args.label)
    out(f"revoked {count} app password(s) {args.label!r} of {args.login}")
    return 0


# --- folders and nodes ------------------------------------------------------------------


def make_folders(session: Session, runtime: Runtime, path: str) -> tuple[Node, list[str]]:
    """``mkdir -p`` as the system (see ``node_admin.make_folders``)."""
    drive = Drive(session, runtime.blobs, SYSTEM, runtime.drive_options)
    return node_admin.make_folders(session, drive, path)


def cmd_folder_add(ctx: Context, args: argparse.Namespace) -> int:
    with _session(ctx) as (runtime, session):
        _, created = make_folders(session, runtime, args.path)
    for path in created:
        out(f"created folder {path}")
    if not created:
        out(f"folder {args.path} already exists")
    return 0


def cmd_folder_rights(ctx: Context, args: argparse.Namespace) -> int:
    rights = _parse_rights(args.rights)
    with _session(ctx) as (_, session):
        folder = node_admin.resolve_path(session, args.path)
        if rights:
            node_admin.set_folder_rights(session, folder, rights)
        current = node_admin.folder_rights(session, folder)
    shown = ", ".join(f"{slug}={level}" for slug, level in current.items())
    out(f"rights on {args.path}: {shown or 'none set (inherited)'}")
    return 0


def cmd_node_set(ctx: Context, args: argparse.Namespace) -> int:
    options: dict[str, Any] = {
        "min_degree": args.min_degree, "doc_type": args.doc_type,
        "visibility": args.visibility, "protected": args.protected,
        "owner_login": args.owner, "new_files_private": args.new_files_private,
    }
    options = {k: v for k, v in options.items() if v is not None}
    if not options:
        raise BadRequest("nothing to change: give at least one option (see --help)")
    if options.get("doc_type", "").lower() == "none":
        options["doc_type"] = ""
    with _session(ctx) as (_, session):
        node = node_admin.resolve_path(session, args.path)
        node_admin.node_set(session, node, **options)
    out(f"updated {args.path}")
    return 0


def cmd_explain(ctx: Context, args: argparse.Namespace) -> int:
    with _session(ctx) as (_, session):
        explanation = node_admin.explain(session, args.login, args.path)
    if args.json:
        out(json.dumps(explanation.as_dict(), indent=2, ensure_ascii=False))
        return 0
    e = explanation
    out(f"{e.login} (category {e.category}, degree {e.degree}) on {e.path}")
    if not e.exists_for_user:
        out("  this item does not exist for them (404):")
    for path, decision in e.steps:
        if not decision.allowed:
            out(f"  not seen: {path} ({decision.reason})")
    width = max(len(a.value) for a, _ in e.decisions)
    for action, decision in e.decisions:
        verdict = "yes" if decision.allowed else "no "
        out(f"  {action.value:<{width}}  {verdict}  {decision.reason}")
    return 0


# --- provisioning ---------------------------------------------------------------------------

DEFAULT_PROVISIONING = Path("config") / "provisioning.toml"


def cmd_provision(ctx: Context, args: argparse.Namespace) -> int:
    path = Path(args.file) if args.file else DEFAULT_PROVISIONING
    if not path.is_file():
        raise NotFound(f"No provisioning file {str(path)!r}: give its path, "
                       f"or create {DEFAULT_PROVISIONING} (see config/provisioning.example.toml).")
    with _session(ctx) as (runtime, session):
        items = provisioning.load(path, session)
        out(f"provisioning {len(items)} item(s) from {path}")
        drive = Drive(session, runtime.blobs, SYSTEM, runtime.drive_options)
        changes = provisioning.provision(session, drive, items, out)
    out(f"done: {changes} change(s)" if changes else "done: nothing to change")
    return 0


# --- records ------------------------------------------------------------------------------


def cmd_record_add(ctx: Context, args: argparse.Namespace) -> int:
    with _session(ctx) as (_, session):
        record = records.add_record(session, args.kind, args.name, args.user)
        path = records.record_path(record)
    out(f"created {args.kind} record {args.name!r} at {path}")
    return 0


def cmd_record_attach(ctx: Context, args: argparse.Namespace) -> int:
    files = [Path(f) for f in args.files]
    with _session(ctx) as (runtime, session):
        record = records.find_record(session, args.kind, args.name)
        total = len(files)
        out(f"checking {total} file(s)...")
        allowed = frozenset(ctx.settings["attachments.allowed_types"])
        attached = records.attach(
            session, runtime.blobs, record, files, args.visibility, allowed=allowed
        )
        path = records.record_path(record)
    for i, attachment in enumerate(attached, 1):
        out(f"[{i}/{total}] attached {path}/{attachment.file_name} "
            f"({attachment.content_type}, {attachment.visibility})")
    return 0


# --- document types ------------------------------------------------------------------------


def cmd_doctype_add(ctx: Context, args: argparse.Namespace) -> int:
    with _session(ctx) as (_, session):
        accounts.add_doctype(session, args.slug, args.label)
    out(f"added document type {args.slug}")
    return 0


def cmd_doctype_list(ctx: Context, args: argparse.Namespace) -> int:
    with _session(ctx) as (_, session):
        items = [{"slug": d.slug, "label": d.label} for d in accounts.list_doctypes(session)]
    if args.json:
        _json(items)
    else:
        out(_table(("slug", "label"), [(d["slug"], d["label"]) for d in items]))
    return 0


# --- demo ------------------------------------------------------------------------------------

DEMO_USERS = (
    ("alice", "admin", 1, "Alice Martin"),
    ("bob", "office", 1, "Bob Durand"),
    ("carol", "member", 1, "Carol Petit"),
    ("dave", "member", 2, "Dave Moreau"),
    ("erin", "former", 1, "Erin Leroy"),
)

# (path, folder rights, doc type, minimum degree)
DEMO_FOLDERS: tuple[tuple[str, tuple[tuple[str, str], ...], str | None, int], ...] = (
    ("/Public", (("member", "read"), ("office", "write")), None, 0),
    ("/Members", (("member", "read"), ("office", "write")), None, 0),
    ("/Members/Committee", (), None, 2),
    ("/Board", (("office", "write"), ("member", "none")), None, 0),
    ("/Treasury", (("office", "write"), ("member", "read")), "treasury", 0),
)

DEMO_FILES = (
    ("/Public", "Welcome.md",
     "# Welcome to the association's drive\n\nEveryone who signs in can read this folder.\n"),
    ("/Public", "Statutes.txt",
     "Statutes of the association\n\nArticle 1: the association is named Demo.\n"),
    ("/Members", "Meeting schedule.md",
     "# Meetings\n\n- first Monday of the month, 19:00\n- general assembly in June\n"),
    ("/Members/Committee", "Committee notes.md",
     "# Committee notes\n\nOnly members of degree 2 or more see this folder.\n"),
    ("/Board", "Minutes 2025-01.md",
     "# Board minutes, January 2025\n\nMembers cannot see the board's folder.\n"),
    ("/Treasury", "Budget 2025.txt",
     "Budget 2025\n\nIncome: 1200\nExpenses: 950\n"),
)


def _demo_tree(session: Session, runtime: Runtime) -> None:
    """Folders, classification, rights and files of the demo (each step skipped if done)."""
    drive = Drive(session, runtime.blobs, SYSTEM, runtime.drive_options)
    for path, rights, doc_type, min_degree in DEMO_FOLDERS:
        folder, _ = make_folders(session, runtime, path)
        if doc_type or min_degree:
            node_admin.node_set(session, folder, min_degree=min_degree or None, doc_type=doc_type)
        if rights:
            node_admin.set_folder_rights(session, folder, dict(rights))
    for folder_path, name, text in DEMO_FILES:
        folder = node_admin.resolve_path(session, folder_path)
        if tree.child_named(session, folder.id, name) is None:
            upload = drive.begin_upload(folder, name, None)
            try:
                upload.writer.write(text.encode("utf-8"))
            except BaseException:
                upload.writer.abort()
                raise
            drive.finish_upload(upload)
    board_minutes = node_admin.resolve_path(session, "/Board/Minutes 2025-01.md")
    node_admin.node_set(session, board_minutes, doc_type="minutes")


# (kind, record name, linked user, ((file name, content, visibility), ...))
DEMO_RECORDS: tuple[tuple[str, str, str | None, tuple[tuple[str, str, str], ...]], ...] = (
    ("member", "Carol Petit", "carol", (
        ("Membership card.pdf", "Membership card - Carol Petit", "shared"),
        ("Medical certificate.pdf", "Medical certificate - Carol Petit", "private"))),
    ("member", "Dave Moreau", "dave", (
        ("Membership card.pdf", "Membership card - Dave Moreau", "shared"),)),
    ("product", "Honey jar", None, (
        ("Photo.jpg", "", "shared"),
        ("Purchase price.pdf", "Purchase price: 4.20 per jar", "private"))),
    ("activity", "Choir", None, (
        ("Schedule.pdf", "Choir: Thursdays 19:00", "shared"),)),
)


def _demo_records(session: Session, runtime: Runtime) -> None:
    """Records with attachments, so that /dav/backoffice/ shows something at once."""
    with tempfile.TemporaryDirectory() as folder:
        for kind, name, login, files in DEMO_RECORDS:
            record = records.add_record(session, kind, name, login)
            for visibility in ("shared", "private"):
                paths = []
                for file_name, text, seen_by in files:
                    if seen_by != visibility:
                        continue
                    path = Path(folder) / file_name
                    data = demo_files.JPEG_1X1 if file_name.endswith(".jpg") else (
                        demo_files.pdf_with_text(text))
                    path.write_bytes(data)
                    paths.append(path)
                if paths:
                    records.attach(session, runtime.blobs, record, paths, visibility)


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically, readable only by the owner (0600)."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, text.encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def cmd_demo(ctx: Context, args: argparse.Namespace) -> int:
    credentials = ctx.settings.data_dir / CREDENTIALS_FILE
    with _session(ctx, require_init=False) as (runtime, session):
        if accounts.find_user(session, "alice") is not None:
            out(f"demo data already loaded (accounts in {credentials})")
            return 0
        accounts.init_defaults(session)
        _demo_tree(session, runtime)
        rows = []
        for login, category, degree, name in DEMO_USERS:
            _, password = accounts.add_user(
                session, runtime.passwords, login, category=category, degree=degree,
                display_name=name,
            )
            rows.append((login, category, password))
        _demo_records(session, runtime)
        table = _table(("login", "category", "password"), rows)
        note = "# erin's category (former) may not sign in; dave has degree 2, carol degree 1.\n"
        _write_private(credentials, f"# davdrive demo accounts\n{note}{table}\n")
        try:
            session.commit()
        except BaseException:
            credentials.unlink(missing_ok=True)
            raise
    out("Loaded the demo association.")
    out(table)
    out(f"(also in {credentials}, readable only by you)")
    return 0


# --- the parser ----------------------------------------------------------------------------


def _add_category_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("slug", help="short name, e.g. 'board'")
    p.add_argument("--label", help="name shown to people")
    p.add_argument("--description", help="a comment for administrators")
    _pair(p, "login", "--login", "--no-login", "members may sign in")
    p.add_argument("--documents", choices=LEVELS, help="rights on the drive's documents")
    p.add_argument("--members", choices=LEVELS, help="rights on users and categories")
    _pair(p, "cat_config", "--config", "--no-config", "may change categories and settings")
    _pair(p, "hidden", "--hidden", "--visible", "listed only to administrators")
    p.add_argument("--exclude-types", metavar="A,B",
                   help="document types this category never sees ('' for none)")
    _pair(p, "may_delete", "--may-delete", "--no-delete", "may delete files")
    p.add_argument("--default", action="store_true", help="the category of new users")


def _add_user_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("login")
    p.add_argument("--category", metavar="SLUG", help="default: the default category")
    p.add_argument("--degree", type=int, metavar="N", help="clearance degree (0 or more)")
    p.add_argument("--password-stdin", action="store_true",
                   help="read the password from the first line of standard input")
    _pair(p, "active", "--active", "--inactive", "the account may sign in")
    p.add_argument("--expires", metavar="ISO",
                   help="expiry, server local time (2026-06-30 = until the end of that day; "
                        "'never' clears it)")
    p.add_argument("--hours", metavar="SPEC",
                   help="login hours, e.g. 'mon-fri 08:00-19:00; sat 09:00-12:00' ('' = always)")
    p.add_argument("--name", help="display name")
    p.add_argument("--email")


def _category_parsers(sub: Any) -> None:
    category = sub.add_parser("category", help="categories and their rights")
    csub = category.add_subparsers(dest="action", required=True, metavar="add|set|list")
    add = csub.add_parser("add", help="add a category")
    _add_category_options(add)
    add.set_defaults(handler=cmd_category_add)
    change = csub.add_parser("set", help="change a category")
    _add_category_options(change)
    change.set_defaults(handler=cmd_category_set)
    listing = csub.add_parser("list", help="list categories")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=cmd_category_list)


def _user_parsers(sub: Any) -> None:
    user = sub.add_parser("user", help="user accounts")
    usub = user.add_subparsers(
        dest="action", required=True,
        metavar="add|set|list|delete|app-password|revoke-app-password",
    )
    add = usub.add_parser("add", help="add a user (prints a generated password)")
    _add_user_options(add)
    add.set_defaults(handler=cmd_user_add)
    change = usub.add_parser("set", help="change a user")
    _add_user_options(change)
    change.add_argument("--generate-password", action="store_true",
                        help="set a new generated password and print it")
    change.set_defaults(handler=cmd_user_set)
    listing = usub.add_parser("list", help="list users")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=cmd_user_list)
    remove = usub.add_parser("delete", help="delete a user")
    remove.add_argument("login")
    remove.set_defaults(handler=cmd_user_delete)
    token = usub.add_parser("app-password", help="create an app password for a sync client")
    token.add_argument("login")
    token.add_argument("--label", help="what it is for, e.g. 'laptop rclone'")
    token.set_defaults(handler=cmd_user_app_password)
    revoke = usub.add_parser(
        "revoke-app-password", help="revoke an app password (refused from the next request)"
    )
    revoke.add_argument("login")
    revoke.add_argument("label", help="the label given when it was created")
    revoke.set_defaults(handler=cmd_user_revoke_app_password)


def _drive_parsers(sub: Any) -> None:
    folder = sub.add_parser("folder", help="folders and their rights")
    fsub = folder.add_subparsers(dest="action", required=True, metavar="add|rights")
    add = fsub.add_parser("add", help="create a folder and missing parents")
    add.add_argument("path")
    add.set_defaults(handler=cmd_folder_add)
    rights = fsub.add_parser(
        "rights", help="set rights per category (none stored explicitly = no access)"
    )
    rights.add_argument("path")
    rights.add_argument("rights", nargs="*", metavar="SLUG=LEVEL",
                        help=f"LEVEL is {'|'.join(FOLDER_LEVELS)}, or inherit to remove; "
                             "none given: show the rights")
    rights.set_defaults(handler=cmd_folder_rights)

    node = sub.add_parser("node", help="classification of a file or folder")
    nsub = node.add_subparsers(dest="action", required=True, metavar="set")
    change = nsub.add_parser("set", help="change a node's settings")
    change.add_argument("path")
    change.add_argument("--min-degree", type=int, metavar="N")
    change.add_argument("--doc-type", metavar="T", help="a document type, or 'none' to clear")
    change.add_argument("--visibility", choices=VISIBILITIES)
    _pair(change, "protected", "--protected", "--unprotected", "only the system changes it")
    change.add_argument("--owner", metavar="LOGIN", help="new owner ('' = the system)")
    _pair(change, "new_files_private", "--new-files-private", "--new-files-shared",
          "a drop box: new files are seen only by their owner and managers")
    change.set_defaults(handler=cmd_node_set)

    provision = sub.add_parser(
        "provision", help="create and protect the system folders and files of a TOML file"
    )
    provision.add_argument("file", nargs="?", help=f"default: {DEFAULT_PROVISIONING}")
    provision.set_defaults(handler=cmd_provision)

    record = sub.add_parser("record", help="back-office records and their attachments")
    rsub = record.add_subparsers(dest="action", required=True, metavar="add|attach")
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

    explain = sub.add_parser(
        "explain", help="what a user may do on a path, and why (the policy's reasons)"
    )
    explain.add_argument("login")
    explain.add_argument("path")
    explain.add_argument("--json", action="store_true")
    explain.set_defaults(handler=cmd_explain)

    doctype = sub.add_parser("doctype", help="document types")
    dsub = doctype.add_subparsers(dest="action", required=True, metavar="add|list")
    add_type = dsub.add_parser("add", help="add a document type")
    add_type.add_argument("slug")
    add_type.add_argument("--label")
    add_type.set_defaults(handler=cmd_doctype_add)
    list_types = dsub.add_parser("list", help="list document types")
    list_types.add_argument("--json", action="store_true")
    list_types.set_defaults(handler=cmd_doctype_list)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="A secure WebDAV document drive for associations."
    )
    parser.add_argument("--data", metavar="DIR", help="data folder (default ./data)")
    parser.add_argument("--config", dest="config_file", metavar="FILE",
                        help="TOML settings file (also DAVDRIVE_CONFIG)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser("init", help="create the data folder, database and defaults").set_defaults(
        handler=cmd_init
    )
    serve = sub.add_parser("serve", help="serve the drive over WebDAV")
    serve.add_argument("--host", metavar="H")
    serve.add_argument("--port", metavar="P")
    serve.add_argument("--tls-cert", metavar="F")
    serve.add_argument("--tls-key", metavar="F")
    serve.add_argument("--workers", metavar="N", help="worker threads")
    serve.set_defaults(handler=cmd_serve)
    sub.add_parser("demo", help="load a demo association (prints generated passwords)"
                   ).set_defaults(handler=cmd_demo)
    _category_parsers(sub)
    _user_parsers(sub)
    _drive_parsers(sub)
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    config = args.config_file or os.environ.get("DAVDRIVE_CONFIG") or None
    overrides: dict[str, Any] = {"data_dir": args.data}
    if args.command == "serve":
        overrides.update({
            "server.host": args.host, "server.port": args.port,
            "server.tls_cert": args.tls_cert, "server.tls_key": args.tls_key,
            "server.threads": args.workers,
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
