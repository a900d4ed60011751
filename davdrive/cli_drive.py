"""The ``davdrive`` commands on the drive itself and their parsers.

``init`` and ``serve`` set up and serve a drive; ``folder``, ``node``,
``explain`` and ``provision`` manage its folders and classification as the
system (the ``record`` commands are in ``cli_records``). Each ``cmd_*`` runs
in one session (``open_session``), prints what it did and returns the exit
status 0; errors are raised for ``main`` to report. The HTTP stack is
imported only by ``cmd_serve``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from davdrive import accounts, node_admin, provisioning
from davdrive.cli_common import (
    Context,
    database_missing,
    flag_pair,
    open_session,
    out,
    parse_rights,
    require_initialised,
)
from davdrive.errors import BadRequest, ConfigError, NotFound
from davdrive.models import FOLDER_LEVELS, VISIBILITIES, Node
from davdrive.policy import SYSTEM
from davdrive.runtime import Runtime
from davdrive.services import Drive
from davdrive.settings import DB_FILE

# --- init, serve -----------------------------------------------------------------------


def cmd_init(ctx: Context, args: argparse.Namespace) -> int:
    data_dir = ctx.settings.data_dir
    new_dir = not data_dir.exists()
    new_db = database_missing(ctx.settings)
    with open_session(ctx, require_init=False) as (_, session):
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
    require_initialised(ctx.settings)
    missing = [
        f"server.{name} {ctx.settings[f'server.{name}']!r}: file not found"
        for name in ("tls_cert", "tls_key")
        if ctx.settings[f"server.{name}"] and not Path(ctx.settings[f"server.{name}"]).is_file()
    ]
    if missing:
        raise ConfigError(missing)
    from davdrive.serve_command import serve  # the HTTP stack is loaded only here

    return serve(ctx.settings)


# --- folders and nodes ------------------------------------------------------------------


def make_folders(session: Session, runtime: Runtime, path: str) -> tuple[Node, list[str]]:
    """``mkdir -p`` as the system (see ``node_admin.make_folders``)."""
    drive = Drive(session, runtime.blobs, SYSTEM, runtime.drive_options)
    return node_admin.make_folders(session, drive, path)


def cmd_folder_add(ctx: Context, args: argparse.Namespace) -> int:
    with open_session(ctx) as (runtime, session):
        _, created = make_folders(session, runtime, args.path)
    for path in created:
        out(f"created folder {path}")
    if not created:
        out(f"folder {args.path} already exists")
    return 0


def cmd_folder_rights(ctx: Context, args: argparse.Namespace) -> int:
    rights = parse_rights(args.rights)
    with open_session(ctx) as (_, session):
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
    with open_session(ctx) as (_, session):
        node = node_admin.resolve_path(session, args.path)
        node_admin.node_set(session, node, **options)
    out(f"updated {args.path}")
    return 0


def cmd_explain(ctx: Context, args: argparse.Namespace) -> int:
    with open_session(ctx) as (_, session):
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
    with open_session(ctx) as (runtime, session):
        items = provisioning.load(path, session)
        out(f"provisioning {len(items)} item(s) from {path}")
        drive = Drive(session, runtime.blobs, SYSTEM, runtime.drive_options)
        changes = provisioning.provision(session, drive, items, out)
    out(f"done: {changes} change(s)" if changes else "done: nothing to change")
    return 0


# --- the parsers -----------------------------------------------------------------------------


def add_setup_parsers(sub: Any) -> None:
    sub.add_parser("init", help="create the data folder, database and defaults").set_defaults(
        handler=cmd_init
    )
    serve = sub.add_parser("serve", help="serve the drive over WebDAV")
    serve.add_argument("--host", metavar="H")
    serve.add_argument("--port", metavar="P")
    serve.add_argument("--tls-cert", metavar="F")
    serve.add_argument("--tls-key", metavar="F")
    serve.add_argument("--workers", metavar="N", help="server processes (server.workers)")
    serve.add_argument("--threads", metavar="N", help="threads per process (server.threads)")
    serve.set_defaults(handler=cmd_serve)


def add_drive_parsers(sub: Any) -> None:
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
    flag_pair(change, "protected", "--protected", "--unprotected", "only the system changes it")
    change.add_argument("--owner", metavar="LOGIN", help="new owner ('' = the system)")
    flag_pair(change, "new_files_private", "--new-files-private", "--new-files-shared",
          "a drop box: new files are seen only by their owner and managers")
    change.set_defaults(handler=cmd_node_set)

    provision = sub.add_parser(
        "provision", help="create and protect the system folders and files of a TOML file"
    )
    provision.add_argument("file", nargs="?", help=f"default: {DEFAULT_PROVISIONING}")
    provision.set_defaults(handler=cmd_provision)

    explain = sub.add_parser(
        "explain", help="what a user may do on a path, and why (the policy's reasons)"
    )
    explain.add_argument("login")
    explain.add_argument("path")
    explain.add_argument("--json", action="store_true")
    explain.set_defaults(handler=cmd_explain)
