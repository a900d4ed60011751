"""The members' web drive (``/files/``): the drive in a browser, with exactly the
rights WebDAV applies. One blueprint, one module of views per concern."""

from web.files import (  # noqa: F401  (each module adds its views to the blueprint)
    action_views,
    browse_views,
    connect_views,
    move_views,
    search_views,
    upload_views,
    zip_views,
)
from web.files.blueprint import files

__all__ = ["files"]
