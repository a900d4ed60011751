"""Rights before locks: what WsgiDAV would check about locks, the policy checks first.

WsgiDAV looks for conflicting locks (``_check_write_permission``) before it
calls the provider's hooks, and a "423 Locked" answer names the locked items.
If the lock sat on something the actor cannot see, that answer would reveal
it (rule 4). So:

- ``check_put``, ``check_delete`` and ``check_copy_move`` run every right the
  method needs (for COPY and MOVE: source subtree, destination folder, the item
  an ``Overwrite: T`` replaces) before WsgiDAV's own checks, then the lock
  check; the hooks run the rights again when they act;
- ``visible_hrefs`` keeps, in a lock-conflict answer, only the items the actor
  sees: a last line of defence for any path that still reached a lock first.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlparse

from wsgidav import util
from wsgidav.dav_error import HTTP_PRECONDITION_FAILED, DAVError

from davdrive.errors import BadRequest
from davdrive.paths import join, split_path
from davdrive.policy import Action
from provider.errors import dav_errors, method_key


def destination_path(environ: dict[str, Any], provider: Any) -> str | None:
    """The ``Destination`` as a path inside ``provider``, computed as WsgiDAV does."""
    raw = environ.get("HTTP_DESTINATION")
    if not raw:
        return None
    path = util.normalize_path(urlparse(unquote(raw), allow_fragments=False).path)
    prefix = provider.mount_path + provider.share_path
    if path.startswith(prefix + "/"):
        return path[len(prefix):]
    if provider.mount_path and path.startswith(provider.mount_path + "/"):
        return path[len(provider.mount_path):]
    return None


def check_copy_move(provider: Any, environ: dict[str, Any]) -> None:
    """Raise the policy's refusal (or 412) for a COPY/MOVE before any lock is looked at.

    Anything this does not recognise (missing source, bad headers, the back
    office) is left to WsgiDAV's usual answers, which come before its lock checks.
    """
    from provider.resources import FolderResource, _NodeMixin

    source = provider.get_resource_inst(environ.get("PATH_INFO", ""), environ)
    dest = destination_path(environ, provider)
    if not isinstance(source, _NodeMixin) or dest is None:
        return
    try:
        parts = split_path(dest)
    except BadRequest:
        return
    if not parts:
        return
    parent = provider.get_resource_inst(join(parts[:-1]), environ)
    existing = provider.get_resource_inst(join(parts), environ)
    if not isinstance(parent, FolderResource) or (
        existing is not None and not isinstance(existing, _NodeMixin)
    ):
        return
    overwrite = environ.get("HTTP_OVERWRITE", "T").strip().upper() != "F"
    same = existing is not None and existing.node.id == source.node.id
    if existing is not None and not overwrite and not same:
        raise DAVError(
            HTTP_PRECONDITION_FAILED,
            context_info="The destination exists and Overwrite is F: nothing was changed.",
        )
    replace = existing.node if existing is not None else None
    drive = source.drive
    with dav_errors(method_key(environ)):
        if environ.get("REQUEST_METHOD") == "MOVE":
            drive.check_move(source.node, parent.node, parts[-1], replace)
        else:
            depth = environ.get("HTTP_DEPTH", "infinity").strip().lower()
            recursive = source.is_collection and depth == "infinity"
            drive.check_copy(source.node, parent.node, parts[-1], replace, recursive)


def check_delete(provider: Any, environ: dict[str, Any]) -> None:
    """Raise the policy's refusal for a DELETE, then the lock conflict, if any.

    Raised from here, both reach the error printer as clean answers, instead of
    the page WsgiDAV renders for errors of its delete hook.
    """
    from provider.resources import _NodeMixin

    target = provider.get_resource_inst(environ.get("PATH_INFO", ""), environ)
    if not isinstance(target, _NodeMixin):
        return
    with dav_errors():
        target.drive.require_subtree(Action.DELETE, target.node)
    target.check_locks()


def check_put(provider: Any, environ: dict[str, Any]) -> None:
    """Raise the policy's refusal for a PUT over an existing file (a new name is
    checked when WsgiDAV creates its placeholder), before locks and the body."""
    from provider.resources import FileResource

    target = provider.get_resource_inst(environ.get("PATH_INFO", ""), environ)
    if isinstance(target, FileResource) and target.node is not None:
        with dav_errors():
            target.drive.require(Action.MODIFY, target.node)


def visible_hrefs(environ: dict[str, Any], hrefs: list[str]) -> list[str]:
    """The hrefs of ``hrefs`` that name an item the signed-in actor sees."""
    provider = environ.get("wsgidav.provider")
    if provider is None or environ.get("davdrive.ctx") is None:
        return []
    prefix = provider.mount_path + (provider.share_path or "")
    kept = []
    for href in hrefs:
        path = unquote(href)
        if not path.startswith(prefix + "/"):
            continue
        try:
            if provider.get_resource_inst(path[len(prefix):], environ) is not None:
                kept.append(href)
        except Exception:  # noqa: S112  (anything unresolvable is simply not shown)
            continue
    return kept
