"""The folder tree with its rights and classification, and "view as".

Both show every item, so both need ``may_administer_drive``; each change is
the CLI's use case (``node_admin.set_folder_rights``, ``node_admin.node_set``,
``node_admin.make_folders``), checked again by the policy there.
"""

from __future__ import annotations

from typing import Any

from flask import g, redirect, render_template, request, url_for

from davdrive import node_admin, tree
from davdrive.categories import list_categories, list_doctypes
from davdrive.errors import DriveError, status_of
from davdrive.models import FOLDER_LEVELS, Node
from davdrive.paths import join, split_path
from davdrive.policy import may_administer_drive
from davdrive.view_as import listing_as
from web.acting import drive_of_actor, path_arg
from web.admin.blueprint import admin, needs
from web.forms import Errors, checked, refusal, text, whole_number
from web.request_state import state


def _folder_page(path: str, errors: Errors | None = None, done: str = "",
                 status: int = 200) -> Any:
    node = node_admin.resolve_path(g.db, path)
    children = tree.children(g.db, node.id) if node.is_folder else []
    owners = {c.owner_id for c in [node, *children] if c.owner_id}
    return render_template(
        "admin/folders.html", node=node, path=path, crumbs=_crumbs(path),
        facts=node_admin.facts_for(g.db, g.actor, node),
        rights=node_admin.folder_rights(g.db, node) if node.is_folder else {},
        children=[(c, join([*split_path(path), c.name]),
                   node_admin.folder_rights(g.db, c) if c.is_folder else {}) for c in children],
        categories=list_categories(g.db, g.actor), levels=FOLDER_LEVELS,
        doctypes=list_doctypes(g.db), owners=drive_of_actor().owner_logins(owners),
        errors=errors or Errors(),
        done=done,
    ), status


def _crumbs(path: str) -> list[tuple[str, str]]:
    parts = split_path(path)
    return [("drive", "/")] + [(p, join(parts[: i + 1])) for i, p in enumerate(parts)]


@admin.get("/folders", endpoint="folders")
@needs(may_administer_drive)
def folders_page() -> Any:
    return _folder_page(path_arg(request.args), done=request.args.get("done", ""))


def _node(path: str) -> Node:
    return node_admin.resolve_path(g.db, path)


def _saved(path: str, message: str) -> Any:
    return redirect(url_for("admin.folders", path=path, done=message), 303)


@admin.post("/folders/rights")
@needs(may_administer_drive)
def folder_rights() -> Any:
    path = path_arg(request.form)
    folder = _node(path)
    current = node_admin.folder_rights(g.db, folder)
    wanted = {}
    for category in list_categories(g.db, g.actor):
        level = request.form.get(f"right-{category.slug}")
        if level is not None and level != current.get(category.slug, node_admin.INHERIT):
            wanted[category.slug] = level
    refused = refusal(lambda: node_admin.set_folder_rights(g.db, folder, wanted, actor=g.actor))
    if refused:
        return _folder_page(path, Errors({"rights": refused.message}), status=status_of(refused))
    return _saved(path, "Rights saved." if wanted else "Nothing changed.")


@admin.post("/folders/settings")
@needs(may_administer_drive)
def folder_settings() -> Any:
    path = path_arg(request.form)
    node = _node(path)
    errors = Errors()
    degree = errors.check("min_degree", lambda: whole_number("min_degree", "The minimum degree"))
    if errors:
        return _folder_page(path, errors, status=400)
    doc_type = text("doc_type", 64)
    changes: dict[str, Any] = {}
    if degree != node.min_degree:
        changes["min_degree"] = degree
    if (doc_type or None) != node.doc_type:
        changes["doc_type"] = doc_type
    visibility = text("visibility", 16)
    if visibility != node.visibility:
        changes["visibility"] = visibility
    if checked("protected") != node.protected:
        changes["protected"] = checked("protected")
    if node.is_folder and checked("new_files_private") != bool(node.new_files_private):
        changes["new_files_private"] = checked("new_files_private")
    refused = refusal(lambda: node_admin.node_set(g.db, node, actor=g.actor, **changes))
    if refused:
        return _folder_page(path, Errors({"settings": refused.message}),
                            status=status_of(refused))
    return _saved(path, "Settings saved." if changes else "Nothing changed.")


@admin.post("/folders/new")
@needs(may_administer_drive)
def folder_new() -> Any:
    parent = path_arg(request.form)
    name = text("name", 255)
    drive = drive_of_actor()
    if not name:
        return _folder_page(parent, Errors({"name": "Give the new folder a name."}), status=400)
    created: list[str] = []
    refused = refusal(lambda: created.extend(
        node_admin.make_folders(g.db, drive, join([*split_path(parent), name]))[1]))
    if refused:
        return _folder_page(parent, Errors({"name": refused.message}), status=status_of(refused))
    return _saved(parent, f"Folder {name} created." if created else f"{name} already exists.")


# --- view as ----------------------------------------------------------------------------


@admin.get("/view-as", endpoint="view_as")
@needs(may_administer_drive)
def view_as_page() -> Any:
    login = request.args.get("login", "")[:200].strip()
    path = path_arg(request.args)
    explanation = listing = None
    error = ""
    if login:
        try:
            listing = listing_as(g.db, state().runtime.blobs, state().runtime.drive_options,
                                 login, path)
            explanation = node_admin.explain(g.db, login, path)
        except DriveError as exc:  # no such user; or a path missing for everybody
            if listing is None or not listing.exists_for_user:
                error = exc.message
    return render_template("admin/view_as.html", login=login, path=path,
                           explanation=explanation, listing=listing, error=error)
