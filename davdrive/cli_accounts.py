"""The ``davdrive category``, ``user`` and ``doctype`` commands and their parsers.

Each ``cmd_*`` runs one command in one session (``open_session``) through the
account use cases, prints what it did and returns the exit status 0; errors
are raised as ``DriveError`` for ``main`` to report. The ``add_*_parsers``
functions register the sub-commands on the top-level parser.
"""

from __future__ import annotations

import argparse
from typing import Any

from davdrive import accounts, app_passwords
from davdrive.cli_common import (
    Context,
    flag_pair,
    format_table,
    open_session,
    out,
    parse_doc_types,
    parse_expiry,
    print_json,
    read_password,
    yes_no,
)
from davdrive.errors import BadRequest
from davdrive.models import LEVELS
from davdrive.passwords import generate_password

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
        "excluded_doc_types": parse_doc_types(args.exclude_types),
        "is_default": True if args.default else None,
    }
    return {k: v for k, v in fields.items() if v is not None}


def cmd_category_add(ctx: Context, args: argparse.Namespace) -> int:
    with open_session(ctx) as (_, session):
        category = accounts.add_category(session, args.slug, **_category_fields(args))
        out(f"added category {category.slug}")
    return 0


def cmd_category_set(ctx: Context, args: argparse.Namespace) -> int:
    fields = _category_fields(args)
    if not fields:
        raise BadRequest("nothing to change: give at least one option (see --help)")
    with open_session(ctx) as (_, session):
        category = accounts.set_category(session, args.slug, **fields)
        out(f"updated category {category.slug}")
    return 0


def cmd_category_list(ctx: Context, args: argparse.Namespace) -> int:
    with open_session(ctx) as (_, session):
        counts = accounts.users_per_category(session)
        items = [
            accounts.category_summary(c, counts.get(c.id, 0))
            for c in accounts.list_categories(session)
        ]
    if args.json:
        print_json(items)
        return 0
    header = ("slug", "label", "login", "documents", "members", "config", "delete",
              "excluded", "flags", "users")
    rows = [
        (c["slug"], c["label"], yes_no(c["login"]), c["documents"], c["members"],
         yes_no(c["config"]), yes_no(c["may_delete"]), ",".join(c["excluded_doc_types"]) or "-",
         ",".join(f for f in ("default", "hidden") if c["is_default" if f == "default" else f])
         or "-", str(c["users"]))
        for c in items
    ]
    out(format_table(header, rows))
    return 0


# --- users ---------------------------------------------------------------------------------


def cmd_user_add(ctx: Context, args: argparse.Namespace) -> int:
    password = read_password() if args.password_stdin else None
    expires = parse_expiry(args.expires)
    with open_session(ctx) as (runtime, session):
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
    password = read_password() if args.password_stdin else None
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
        options["expires_at"] = parse_expiry(args.expires)
    if not options:
        raise BadRequest("nothing to change: give at least one option (see --help)")
    with open_session(ctx) as (runtime, session):
        user = accounts.set_user(session, runtime.passwords, args.login, **options)
        out(f"updated user {user.login}")
    if generated:
        out(f"new password: {generated}")
        out("(shown only once: store it now)")
    return 0


def cmd_user_list(ctx: Context, args: argparse.Namespace) -> int:
    with open_session(ctx) as (_, session):
        items = [accounts.user_summary(u) for u in accounts.list_users(session)]
    if args.json:
        print_json(items)
        return 0
    header = ("login", "name", "category", "degree", "active", "expires", "hours")
    rows = [
        (u["login"], u["display_name"] or "-", u["category"], str(u["degree"]),
         yes_no(u["active"]), (u["expires_at"] or "never")[:16], u["login_hours"] or "always")
        for u in items
    ]
    out(format_table(header, rows))
    return 0


def cmd_user_delete(ctx: Context, args: argparse.Namespace) -> int:
    with open_session(ctx) as (_, session):
        accounts.delete_user(session, args.login)
    out(f"deleted user {args.login}")
    return 0


def cmd_user_app_password(ctx: Context, args: argparse.Namespace) -> int:
    with open_session(ctx) as (_, session):
        token = accounts.app_password(session, args.login, args.label or "")
    out(f"app password for {args.login}: {token}")
    out("(shown only once: use it as the password in your sync client)")
    return 0


def _when(moment: Any) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment is not None else "never"


def cmd_user_app_passwords(ctx: Context, args: argparse.Namespace) -> int:
    with open_session(ctx) as (_, session):
        tokens = app_passwords.list_app_passwords(
            session, args.login, include_revoked=args.all
        )
    if args.json:
        print_json([
            {"label": t.label, "created_at": t.created_at.isoformat(),
             "last_used_at": t.last_used_at.isoformat() if t.last_used_at else None,
             "revoked_at": t.revoked_at.isoformat() if t.revoked_at else None}
            for t in tokens
        ])
        return 0
    rows = [
        (t.label or "-", _when(t.created_at), _when(t.last_used_at),
         _when(t.revoked_at) if t.revoked_at else "-")
        for t in tokens
    ]
    out(format_table(("label", "created", "last used", "revoked"), rows))
    return 0


def cmd_user_revoke_app_password(ctx: Context, args: argparse.Namespace) -> int:
    with open_session(ctx) as (_, session):
        count = accounts.revoke_app_password(session, args.login, args.label)
    out(f"revoked {count} app password(s) {args.label!r} of {args.login}")
    return 0


# --- document types ------------------------------------------------------------------------


def cmd_doctype_add(ctx: Context, args: argparse.Namespace) -> int:
    with open_session(ctx) as (_, session):
        accounts.add_doctype(session, args.slug, args.label)
    out(f"added document type {args.slug}")
    return 0


def cmd_doctype_list(ctx: Context, args: argparse.Namespace) -> int:
    with open_session(ctx) as (_, session):
        items = [{"slug": d.slug, "label": d.label} for d in accounts.list_doctypes(session)]
    if args.json:
        print_json(items)
    else:
        out(format_table(("slug", "label"), [(d["slug"], d["label"]) for d in items]))
    return 0


# --- the parsers -----------------------------------------------------------------------------


def _add_category_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("slug", help="short name, e.g. 'board'")
    p.add_argument("--label", help="name shown to people")
    p.add_argument("--description", help="a comment for administrators")
    flag_pair(p, "login", "--login", "--no-login", "members may sign in")
    p.add_argument("--documents", choices=LEVELS, help="rights on the drive's documents")
    p.add_argument("--members", choices=LEVELS, help="rights on users and categories")
    flag_pair(p, "cat_config", "--config", "--no-config", "may change categories and settings")
    flag_pair(p, "hidden", "--hidden", "--visible", "listed only to administrators")
    p.add_argument("--exclude-types", metavar="A,B",
                   help="document types this category never sees ('' for none)")
    flag_pair(p, "may_delete", "--may-delete", "--no-delete", "may delete files")
    p.add_argument("--default", action="store_true", help="the category of new users")


def _add_user_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("login")
    p.add_argument("--category", metavar="SLUG", help="default: the default category")
    p.add_argument("--degree", type=int, metavar="N", help="clearance degree (0 or more)")
    p.add_argument("--password-stdin", action="store_true",
                   help="read the password from the first line of standard input")
    flag_pair(p, "active", "--active", "--inactive", "the account may sign in")
    p.add_argument("--expires", metavar="ISO",
                   help="expiry, server local time (2026-06-30 = until the end of that day; "
                        "'never' clears it)")
    p.add_argument("--hours", metavar="SPEC",
                   help="login hours, e.g. 'mon-fri 08:00-19:00; sat 09:00-12:00' ('' = always)")
    p.add_argument("--name", help="display name")
    p.add_argument("--email")


def add_category_parsers(sub: Any) -> None:
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


def add_user_parsers(sub: Any) -> None:
    user = sub.add_parser("user", help="user accounts")
    usub = user.add_subparsers(
        dest="action", required=True,
        metavar="add|set|list|delete|app-password|app-passwords|revoke-app-password",
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
    tokens = usub.add_parser(
        "app-passwords", help="list a user's app passwords (label, created, last use)"
    )
    tokens.add_argument("login")
    tokens.add_argument("--all", action="store_true", help="include revoked ones")
    tokens.add_argument("--json", action="store_true", help="JSON output")
    tokens.set_defaults(handler=cmd_user_app_passwords)
    revoke = usub.add_parser(
        "revoke-app-password", help="revoke an app password (refused from the next request)"
    )
    revoke.add_argument("login")
    revoke.add_argument("label", help="the label given when it was created")
    revoke.set_defaults(handler=cmd_user_revoke_app_password)


def add_doctype_parsers(sub: Any) -> None:
    doctype = sub.add_parser("doctype", help="document types")
    dsub = doctype.add_subparsers(dest="action", required=True, metavar="add|list")
    add_type = dsub.add_parser("add", help="add a document type")
    add_type.add_argument("slug")
    add_type.add_argument("--label")
    add_type.set_defaults(handler=cmd_doctype_add)
    list_types = dsub.add_parser("list", help="list document types")
    list_types.add_argument("--json", action="store_true")
    list_types.set_defaults(handler=cmd_doctype_list)
