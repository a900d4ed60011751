"""The trash (list, restore, purge) and a file's previous versions (list, restore).

The trash needs ``policy.may_manage_trash``; versions are reached from the
folder pages and need ``may_administer_drive`` to find the file, then the
policy's ``modify`` on it (checked by ``Drive.versions``). Every change is the
CLI's use case (``davdrive.trash``, ``davdrive.trash_purge``,
``Drive.restore_version``). A restore over a name now taken is refused with
the reason next to the entry's "new name" field, and nothing changes.
"""

from __future__ import annotations

from typing import Any

from flask import g, redirect, render_template, request, url_for

from davdrive import node_admin
from davdrive.errors import status_of
from davdrive.policy import may_administer_drive, may_manage_trash
from davdrive.trash import list_trash, restore_from_trash
from davdrive.trash_purge import purge_trash
from web.acting import drive_of_actor, path_arg
from web.admin.blueprint import admin, needs
from web.forms import Errors, refusal, text, whole_number
from web.request_state import state


def _trash_page(errors: Errors | None = None, status: int = 200, failed: int | None = None,
                done: str = "") -> Any:
    settings = state().settings
    return render_template(
        "admin/trash.html", entries=list_trash(g.db, g.actor,
                                               retention_days=settings["storage.trash_days"]),
        retention=settings["storage.trash_days"], errors=errors or Errors(), failed=failed,
        asked_name=text("as_name", 255) if failed is not None else "",
        done=done or request.args.get("done", ""),
    ), status


@admin.get("/trash", endpoint="trash")
@needs(may_manage_trash)
def trash_page() -> Any:
    return _trash_page()


@admin.post("/trash/restore")
@needs(may_manage_trash)
def trash_restore() -> Any:
    path, entry = path_arg(request.form), text("id", 20)
    entry_id = int(entry) if entry.isdigit() else None
    as_name = text("as_name", 255) or None
    restored = []
    refused = refusal(lambda: restored.append(restore_from_trash(
        g.db, g.actor, path, entry_id=entry_id, as_name=as_name,
        windows_names=state().runtime.drive_options.windows_names)))
    if refused:
        return _trash_page(Errors({"restore": refused.message}), status_of(refused),
                           failed=entry_id)
    done = restored[0]
    return redirect(url_for("admin.trash", done=f"Restored {done.path} ({done.items} item(s))."),
                    303)


@admin.post("/trash/purge")
@needs(may_manage_trash)
def trash_purge() -> Any:
    errors = Errors()
    days = errors.check("purge", lambda: whole_number("older_than", "The age in days"))
    purged = []
    refused = None if days is None else refusal(lambda: purged.append(purge_trash(
        g.db, state().runtime.blobs, g.actor, older_than_days=days)))
    if refused:
        errors["purge"] = refused.message
    if errors:
        return _trash_page(errors, 400)
    done = purged[0]
    return redirect(url_for("admin.trash", done=(
        f"Removed for good {done.entries} entr{'y' if done.entries == 1 else 'ies'} "
        f"({done.items} item(s), {done.bytes} bytes).")), 303)


def _versions_page(path: str, errors: Errors | None = None, status: int = 200) -> Any:
    node = node_admin.resolve_path(g.db, path)
    entries = drive_of_actor().versions(node) if not node.is_folder else []
    return render_template(
        "admin/versions.html", node=node, path=path, entries=entries, errors=errors or Errors(),
        done=request.args.get("done", ""),
    ), status


@admin.get("/versions", endpoint="versions")
@needs(may_administer_drive)
def versions_page() -> Any:
    return _versions_page(path_arg(request.args))


@admin.post("/versions/restore")
@needs(may_administer_drive)
def version_restore() -> Any:
    path = path_arg(request.form)
    version = text("id", 20)
    node = node_admin.resolve_path(g.db, path)
    refused = refusal(lambda: drive_of_actor().restore_version(
        node, int(version) if version.isdigit() else 0))
    if refused:
        return _versions_page(path, Errors({"restore": refused.message}), status_of(refused))
    return redirect(url_for("admin.versions", path=path, done=(
        f"Version {version} is the current content again; the replaced content is kept "
        "as a version.")), 303)
