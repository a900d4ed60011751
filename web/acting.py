"""What the views of both blueprints need to act as the signed-in user: their drive
(every use case checks its rights) and a drive path taken from a form or query."""

from __future__ import annotations

from typing import Any

from flask import g

from davdrive.paths import join, split_path
from davdrive.services import Drive
from web.request_state import client_address, state


def drive_of_actor() -> Drive:
    """The signed-in user's drive (the use cases called on it check their rights)."""
    st = state()
    return Drive(g.db, st.runtime.blobs, g.actor, st.runtime.drive_options,
                 ip=client_address())


def path_arg(source: Any, name: str = "path") -> str:
    """The drive path in the form or query ``source`` (its ``name`` field), normalised;
    "/" when absent."""
    return join(split_path(source.get(name, "/")[:4000] or "/"))
